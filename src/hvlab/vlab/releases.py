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
# A lab image is bare (what any fresh host has) or prepared for one stack: that stack's
# host packages installed at build time, natively on the controller, so a role finds
# them present instead of installing them through an emulated CPU.
STACKS = ("kvm", "xen")
IMAGE_KINDS = ("prepared", "bare")
DEFAULT_IMAGE = "prepared"


def check_release(release: str, what: str = "release") -> str:
    if release not in RELEASES:
        raise HvlabError(f"unknown {what} {release!r}; accepted: {', '.join(RELEASES)} (Debian version)")
    return release


def check_firmware(firmware: str, what: str = "firmware") -> str:
    if firmware not in FIRMWARES:
        raise HvlabError(f"unknown {what} {firmware!r}; accepted: {', '.join(FIRMWARES)}")
    return firmware


def check_image_kind(kind: str, what: str = "image") -> str:
    if kind not in IMAGE_KINDS:
        raise HvlabError(f"unknown {what} {kind!r}; accepted: {', '.join(IMAGE_KINDS)}")
    return kind


@dataclass(frozen=True)
class LabTarget:
    """What a lab image is built for: a Debian release, a disk layout (bios or uefi), and
    the stack whose host packages it carries ("" for a bare image)."""

    release: str = DEFAULT_RELEASE
    layout: str = FIRMWARES[DEFAULT_FIRMWARE]
    stack: str = ""

    def __post_init__(self) -> None:
        check_release(self.release)
        if self.layout not in set(FIRMWARES.values()):
            raise HvlabError(f"unknown disk layout {self.layout!r}; accepted: bios, uefi")
        if self.stack not in ("", *STACKS):
            raise HvlabError(f"unknown stack {self.stack!r}; accepted: {', '.join(STACKS)}")

    @classmethod
    def for_machine(cls, release: str, firmware: str, stack: str = "") -> "LabTarget":
        return cls(check_release(release), FIRMWARES[check_firmware(firmware)], stack)

    @property
    def name(self) -> str:
        return f"debian-{self.release}-{self.layout}" + (f"-{self.stack}" if self.stack else "")

    @property
    def suite(self) -> str:
        return RELEASES[self.release]
