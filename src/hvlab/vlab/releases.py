"""The Debian releases and firmware the virtual lab can be built for, in one place.

Debian 13 on UEFI is what lab machines run in 2026, so it is the default; Debian 12
and BIOS stay buildable for the older labs. A firmware decides the disk layout
(msdos + grub-pc for BIOS, GPT + EFI system partition + signed shim/GRUB for UEFI);
Secure Boot is a firmware setting over the same UEFI disk.
"""

from dataclasses import dataclass

from hvlab.errors import HvlabError

RELEASES: dict[str, str] = {"13": "trixie", "12": "bookworm"}
DEFAULT_RELEASE = "13"
FIRMWARES: dict[str, str] = {"uefi": "uefi", "uefi-secureboot": "uefi", "bios": "bios"}
DEFAULT_FIRMWARE = "uefi"


def check_release(release: str, what: str = "release") -> str:
    if release not in RELEASES:
        raise HvlabError(f"unknown {what} {release!r}; accepted: {', '.join(RELEASES)} (Debian version)")
    return release


def check_firmware(firmware: str, what: str = "firmware") -> str:
    if firmware not in FIRMWARES:
        raise HvlabError(f"unknown {what} {firmware!r}; accepted: {', '.join(FIRMWARES)}")
    return firmware


@dataclass(frozen=True)
class LabTarget:
    """What a lab image is built for: a Debian release and a disk layout (bios or uefi)."""

    release: str = DEFAULT_RELEASE
    layout: str = FIRMWARES[DEFAULT_FIRMWARE]

    def __post_init__(self) -> None:
        check_release(self.release)
        if self.layout not in set(FIRMWARES.values()):
            raise HvlabError(f"unknown disk layout {self.layout!r}; accepted: bios, uefi")

    @classmethod
    def for_machine(cls, release: str, firmware: str) -> "LabTarget":
        return cls(check_release(release), FIRMWARES[check_firmware(firmware)])

    @property
    def suite(self) -> str:
        return RELEASES[self.release]
