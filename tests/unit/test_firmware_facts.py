"""plugins/modules/firmware_facts.py: the firmware mode read from a fake /sys/firmware/efi."""

from pathlib import Path
from types import ModuleType

import pytest
from plugin_loader import load_plugin


def load_module() -> ModuleType:
    return load_plugin("plugins/modules/firmware_facts.py", "firmware_facts_under_test")


firmware_facts = load_module()


@pytest.fixture
def efi_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "sys" / "firmware" / "efi"
    (directory / "efivars").mkdir(parents=True)
    return directory


def secure_boot_var(efi_dir: Path) -> Path:
    return efi_dir / firmware_facts.SECURE_BOOT_VAR


def test_no_efi_dir_is_bios(tmp_path: Path) -> None:
    assert firmware_facts.firmware_mode(tmp_path / "sys" / "firmware" / "efi") == "bios"


def test_efi_dir_without_secure_boot_var_is_uefi(efi_dir: Path) -> None:
    assert firmware_facts.firmware_mode(efi_dir) == "uefi"


def test_efi_dir_without_efivars_is_uefi(tmp_path: Path) -> None:
    bare = tmp_path / "efi"
    bare.mkdir()
    assert firmware_facts.firmware_mode(bare) == "uefi"


def test_secure_boot_enforcing(efi_dir: Path) -> None:
    secure_boot_var(efi_dir).write_bytes(b"\x06\x00\x00\x00\x01")  # 4 bytes of attributes, then 1
    assert firmware_facts.firmware_mode(efi_dir) == "uefi-secureboot"


def test_secure_boot_off(efi_dir: Path) -> None:
    secure_boot_var(efi_dir).write_bytes(b"\x06\x00\x00\x00\x00")
    assert firmware_facts.firmware_mode(efi_dir) == "uefi"


def test_attribute_bytes_alone_are_not_secure_boot(efi_dir: Path) -> None:
    secure_boot_var(efi_dir).write_bytes(b"\x01\x00\x00\x00")  # a 1 among the attributes, no value
    assert firmware_facts.firmware_mode(efi_dir) == "uefi"


def test_secure_boot_var_is_the_global_variable() -> None:
    assert firmware_facts.SECURE_BOOT_VAR == "efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c"
    assert str(firmware_facts.SYS_FIRMWARE_EFI) == "/sys/firmware/efi"
