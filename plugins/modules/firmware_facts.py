#!/usr/bin/python
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read how the host booted: BIOS, UEFI, or UEFI with Secure Boot (see DOCUMENTATION)."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: firmware_facts
short_description: Read the firmware mode a Linux host booted in
description:
  - Reports V(bios), V(uefi) or V(uefi-secureboot), read from the running kernel only
    (C(/sys/firmware/efi) and the C(SecureBoot) EFI variable); changes nothing.
  - Debian's Xen is not signed for shim, so with Secure Boot on GRUB refuses to load it;
    the xen_host role reads this before any change to refuse such a host.
version_added: "0.1.0"
author:
  - hvlab
options: {}
notes:
  - Supports check mode; it only reads.
"""

EXAMPLES = r"""
- name: Read the firmware mode
  hvlab.lab.firmware_facts:
  register: firmware
"""

RETURN = r"""
firmware:
  description: V(bios), V(uefi) or V(uefi-secureboot).
  returned: always
  type: str
secure_boot:
  description: Whether the firmware enforces Secure Boot.
  returned: always
  type: bool
"""

from pathlib import Path  # noqa: E402

from ansible.module_utils.basic import AnsibleModule  # noqa: E402

SYS_FIRMWARE_EFI = Path("/sys/firmware/efi")
# EFI_GLOBAL_VARIABLE's GUID: SecureBoot is a one-byte variable (1 = enforcing).
SECURE_BOOT_VAR = "efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c"


def firmware_mode(efi_dir: Path = SYS_FIRMWARE_EFI) -> str:
    """Why efivarfs and not mokutil: it is there on every UEFI boot, mokutil may not be.

    An efivarfs file is 4 bytes of attributes, then the value.
    """
    if not efi_dir.is_dir():
        return "bios"
    try:
        value = (efi_dir / SECURE_BOOT_VAR).read_bytes()[4:]
    except OSError:
        return "uefi"
    return "uefi-secureboot" if value[:1] == b"\x01" else "uefi"


def main() -> None:
    module = AnsibleModule(argument_spec={}, supports_check_mode=True)
    mode = firmware_mode()
    module.exit_json(changed=False, firmware=mode, secure_boot=mode == "uefi-secureboot")


if __name__ == "__main__":
    main()
