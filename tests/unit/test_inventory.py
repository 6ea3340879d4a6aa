"""The generated virtual-lab inventory and the lab's default release, firmware and image kind."""

import json
import os
from pathlib import Path

import pytest
import yaml

from hvlab.errors import HvlabError
from hvlab.vlab import inventory
from hvlab.vlab.machines import Boot, Machine, spec_for

ROOT = Path(__file__).resolve().parents[2]


def parse(text: str) -> dict:
    assert text.startswith(inventory.HEADER)
    return yaml.safe_load(text)


def test_render_groups_ports_and_addresses(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HVLAB_ACCEL", "tcg")
    data = parse(inventory.render())
    top = data["all"]
    assert set(top["children"]) == {"kvm_hosts", "xen_hosts"}
    kvm1 = top["children"]["kvm_hosts"]["hosts"]["kvm1"]
    xen1 = top["children"]["xen_hosts"]["hosts"]["xen1"]
    assert (kvm1["ansible_host"], kvm1["ansible_port"]) == ("127.0.0.1", 2221)
    assert (xen1["ansible_host"], xen1["ansible_port"]) == ("127.0.0.1", 2222)
    state = tmp_path / "state" / "vlab"
    assert f"UserKnownHostsFile={state / 'kvm1' / 'known_hosts'}" in kvm1["ansible_ssh_common_args"]
    assert f"UserKnownHostsFile={state / 'xen1' / 'known_hosts'}" in xen1["ansible_ssh_common_args"]
    assert top["vars"]["ansible_user"] == "root"
    assert top["vars"]["ansible_ssh_private_key_file"] == str(state / "id_ed25519")
    assert Path(top["vars"]["ansible_ssh_private_key_file"]).exists()
    assert top["vars"]["hvlab_host_emulated"] is True


def test_render_not_emulated_under_kvm(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HVLAB_ACCEL", "kvm")
    assert parse(inventory.render())["all"]["vars"]["hvlab_host_emulated"] is False


def test_write_goes_to_project_dir_and_is_stable(tmp_path: Path) -> None:
    path = inventory.write()
    assert path == tmp_path / "project" / "inventories" / "vlab" / "hosts.yml"
    assert path.read_text() == inventory.render()
    os.utime(path, (1_000_000, 1_000_000))
    assert inventory.write() == path
    assert path.stat().st_mtime == 1_000_000  # unchanged content is not rewritten
    path.write_text("stale\n")
    inventory.write()
    assert path.read_text() == inventory.render()


# --- default_boot: the release and firmware of new lab machines -----------------------------

def write_settings(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "project" / "inventories" / "vlab" / "group_vars" / "all.yml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_default_boot_without_settings_is_debian_13_uefi_prepared() -> None:
    assert inventory.default_boot() == Boot("13", "uefi", "prepared")


def test_default_boot_reads_the_vlab_group_vars(tmp_path: Path) -> None:
    path = write_settings(tmp_path, "hvlab_vlab_release: '12'\nhvlab_vlab_firmware: bios\nhvlab_guests: []\n")
    assert inventory.settings_path() == path
    assert inventory.default_boot() == Boot("12", "bios", "prepared")
    write_settings(tmp_path, "hvlab_vlab_release: 12\n")  # unquoted YAML: an int
    assert inventory.default_boot() == Boot("12", "uefi", "prepared")
    write_settings(tmp_path, "hvlab_vlab_firmware: uefi-secureboot\n")
    assert inventory.default_boot() == Boot("13", "uefi-secureboot", "prepared")
    write_settings(tmp_path, "hvlab_vlab_image: bare\n")
    assert inventory.default_boot() == Boot("13", "uefi", "bare")


def test_committed_vlab_settings_are_valid() -> None:
    data = yaml.safe_load((ROOT / "inventories" / "vlab" / "group_vars" / "all.yml").read_text())
    Boot(str(data["hvlab_vlab_release"]), str(data["hvlab_vlab_firmware"]),
         str(data["hvlab_vlab_image"]))  # raises on a bad value


@pytest.mark.parametrize(("text", "needles"), [
    ("hvlab_vlab_release: '11'\n", ["'11'", "13, 12"]),
    ("hvlab_vlab_firmware: efi\n", ["'efi'", "uefi, uefi-secureboot, bios"]),
    ("hvlab_vlab_image: weird\n", ["hvlab_vlab_image", "'weird'", "prepared, bare"]),
    ("hvlab_vlab_release: [13\n", ["not valid YAML"]),
])
def test_default_boot_names_the_file_on_a_bad_value(tmp_path: Path, text: str, needles: list[str]) -> None:
    path = write_settings(tmp_path, text)
    with pytest.raises(HvlabError) as exc:
        inventory.default_boot()
    message = str(exc.value)
    assert message.startswith(f"{path}: ")
    for needle in needles:
        assert needle in message


# --- hosts.yml: each machine's own release and firmware ------------------------------------

def hosts(data: dict) -> dict[str, dict]:
    children = data["all"]["children"]
    return {name: host for group in children.values() for name, host in group["hosts"].items()}


def test_render_carries_the_boot_of_machines_with_a_disk(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HVLAB_ACCEL", "tcg")
    kvm1 = Machine(spec_for("kvm1"))
    kvm1.dir.mkdir(parents=True)
    kvm1.overlay.write_bytes(b"overlay")
    kvm1.boot_file.write_text(json.dumps({"release": "12", "firmware": "uefi-secureboot", "image": "prepared"}))
    xen1 = Machine(spec_for("xen1"))
    xen1.dir.mkdir(parents=True)
    xen1.boot_file.write_text(json.dumps({"release": "13", "firmware": "bios"}))  # no disk: not a machine yet
    data = hosts(parse(inventory.render()))
    assert (data["kvm1"]["hvlab_lab_release"], data["kvm1"]["hvlab_lab_firmware"],
            data["kvm1"]["hvlab_lab_image"]) == ("12", "uefi-secureboot", "prepared")
    assert not {"hvlab_lab_release", "hvlab_lab_firmware", "hvlab_lab_image"} & set(data["xen1"])


def test_render_says_bare_for_a_disk_made_before_image_kinds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HVLAB_ACCEL", "tcg")
    xen1 = Machine(spec_for("xen1"))
    xen1.dir.mkdir(parents=True)
    xen1.overlay.write_bytes(b"overlay")
    xen1.boot_file.write_text(json.dumps({"release": "13", "firmware": "uefi"}))
    assert hosts(parse(inventory.render()))["xen1"]["hvlab_lab_image"] == "bare"


def test_render_refuses_a_disk_without_its_boot_record() -> None:
    kvm1 = Machine(spec_for("kvm1"))
    kvm1.dir.mkdir(parents=True)
    kvm1.overlay.write_bytes(b"overlay")
    with pytest.raises(HvlabError, match=r"boot\.json is missing or unreadable; run: hvlab vlab down kvm1"):
        inventory.render()
