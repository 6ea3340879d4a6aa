"""The lab's Debian releases, firmware, stacks and image kinds: accepted values, defaults, LabTarget."""

import pytest

from hvlab.errors import HvlabError
from hvlab.vlab import releases
from hvlab.vlab.releases import LabTarget, check_firmware, check_image_kind, check_release


def test_defaults_are_debian_13_on_uefi() -> None:
    assert (releases.DEFAULT_RELEASE, releases.DEFAULT_FIRMWARE) == ("13", "uefi")
    target = LabTarget()
    assert (target.release, target.layout, target.suite) == ("13", "uefi", "trixie")
    assert LabTarget("12", "bios").suite == "bookworm"


@pytest.mark.parametrize("release", ["13", "12"])
def test_known_releases_pass(release: str) -> None:
    assert check_release(release) == release


@pytest.mark.parametrize("firmware", ["uefi", "uefi-secureboot", "bios"])
def test_known_firmwares_pass(firmware: str) -> None:
    assert check_firmware(firmware) == firmware


@pytest.mark.parametrize("release", ["11", "trixie", "", "13.1"])
def test_unknown_release_names_the_accepted_ones(release: str) -> None:
    with pytest.raises(HvlabError) as exc:
        check_release(release)
    message = str(exc.value)
    assert repr(release) in message
    assert "13" in message and "12" in message and "accepted" in message


@pytest.mark.parametrize("firmware", ["efi", "UEFI", "secureboot", ""])
def test_unknown_firmware_names_the_accepted_ones(firmware: str) -> None:
    with pytest.raises(HvlabError) as exc:
        check_firmware(firmware)
    message = str(exc.value)
    assert repr(firmware) in message
    assert "uefi, uefi-secureboot, bios" in message


def test_for_machine_maps_firmware_to_disk_layout() -> None:
    assert LabTarget.for_machine("13", "uefi") == LabTarget("13", "uefi")
    assert LabTarget.for_machine("13", "uefi-secureboot") == LabTarget("13", "uefi")  # same disk, other firmware
    assert LabTarget.for_machine("12", "bios") == LabTarget("12", "bios")


def test_for_machine_refuses_unknown_values() -> None:
    with pytest.raises(HvlabError, match=r"unknown release '11'.*13, 12"):
        LabTarget.for_machine("11", "uefi")
    with pytest.raises(HvlabError, match=r"unknown firmware 'efi'.*uefi, uefi-secureboot, bios"):
        LabTarget.for_machine("13", "efi")


def test_lab_target_refuses_unknown_release_and_layout() -> None:
    with pytest.raises(HvlabError, match="unknown release '14'"):
        LabTarget("14", "uefi")
    with pytest.raises(HvlabError, match="unknown disk layout 'uefi-secureboot'; accepted: bios, uefi"):
        LabTarget("13", "uefi-secureboot")  # Secure Boot is a firmware setting, not a layout


# --- stacks and image kinds --------------------------------------------------------------

def test_stacks_and_image_kinds() -> None:
    assert releases.STACKS == ("kvm", "xen")
    assert releases.IMAGE_KINDS == ("prepared", "bare")
    assert releases.DEFAULT_IMAGE == "prepared"
    assert LabTarget().stack == ""  # a bare image unless a stack is named


@pytest.mark.parametrize("kind", ["prepared", "bare"])
def test_known_image_kinds_pass(kind: str) -> None:
    assert check_image_kind(kind) == kind


@pytest.mark.parametrize("kind", ["weird", "Prepared", "", "kvm"])
def test_unknown_image_kind_names_the_accepted_ones(kind: str) -> None:
    with pytest.raises(HvlabError) as exc:
        check_image_kind(kind)
    assert f"unknown image {kind!r}; accepted: prepared, bare" in str(exc.value)


@pytest.mark.parametrize("stack", ["kvm", "xen"])
def test_lab_target_takes_a_known_stack(stack: str) -> None:
    assert LabTarget("13", "uefi", stack).stack == stack
    assert LabTarget.for_machine("13", "uefi-secureboot", stack) == LabTarget("13", "uefi", stack)


@pytest.mark.parametrize("stack", ["bhyve", "KVM", "xen ", "prepared"])
def test_lab_target_refuses_an_unknown_stack(stack: str) -> None:
    with pytest.raises(HvlabError, match=f"unknown stack {stack!r}; accepted: kvm, xen"):
        LabTarget("13", "uefi", stack)
    with pytest.raises(HvlabError, match="unknown stack"):
        LabTarget.for_machine("12", "bios", stack)


def test_lab_target_name_carries_release_layout_and_stack() -> None:
    assert LabTarget().name == "debian-13-uefi"
    assert LabTarget("12", "bios").name == "debian-12-bios"
    assert LabTarget("13", "uefi", "xen").name == "debian-13-uefi-xen"
    assert LabTarget.for_machine("12", "uefi-secureboot", "kvm").name == "debian-12-uefi-kvm"
    assert LabTarget("13", "uefi", "kvm") != LabTarget("13", "uefi")  # a prepared image is another target
