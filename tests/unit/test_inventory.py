"""The generated virtual-lab inventory."""

import os
from pathlib import Path

import pytest
import yaml

from hvlab.vlab import inventory


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
