"""playbooks/guests.yml refuses a lab whose hosts were given different specs, before any role
runs: identical guests need one hvlab_guests, and their identical network-configs one
hvlab_networks."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GUESTS = [{"name": "g1", "vcpus": 1, "memory_mib": 512, "disk_gib": 4, "xen_type": "pv"}]
LAB = [{"name": "lab", "cidr": "10.80.0.0/24"}]


def run_guests_playbook(tmp_path: Path, kvm_vars: dict[str, object], xen_vars: dict[str, object]) -> str:
    local = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(json.dumps({"all": {"children": {
        "kvm_hosts": {"hosts": {"kvm-a": {**local, **kvm_vars}}},
        "xen_hosts": {"hosts": {"xen-b": {**local, **xen_vars}}},
    }}}))
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    result = subprocess.run(
        [str(Path(sys.executable).with_name("ansible-playbook")), "--check", "-i", str(inventory),
         str(ROOT / "playbooks" / "guests.yml")],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300,
    )
    assert result.returncode != 0, result.stdout
    assert "TASK [guest_image" not in result.stdout, "no role may run on a lab with two specs"
    return result.stdout


@pytest.mark.parametrize(
    ("kvm_vars", "xen_vars", "expected"),
    [
        ({"hvlab_guests": GUESTS}, {"hvlab_guests": GUESTS[:0]}, "hvlab_guests differs between hosts"),
        ({"hvlab_guests": GUESTS, "hvlab_networks": LAB}, {"hvlab_guests": GUESTS},
         "hvlab_networks differs between hosts"),
    ],
)
def test_hosts_with_different_specs_are_refused(
    tmp_path: Path, kvm_vars: dict[str, object], xen_vars: dict[str, object], expected: str
) -> None:
    assert expected in run_guests_playbook(tmp_path, kvm_vars, xen_vars)
