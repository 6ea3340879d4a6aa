"""kvm_host rejects bad input before it changes anything, naming the variable.

Runs the real role with ansible-playbook against localhost in check mode: the
variable checks come before any host preflight, so they fail the same way on
any controller, and check mode guarantees nothing on this machine changes.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PLAY = """- name: Apply kvm_host
  hosts: all
  gather_facts: true
  roles:
    - role: kvm_host
"""


def run_role(tmp_path: Path, variables: dict[str, object]) -> subprocess.CompletedProcess[str]:
    play = tmp_path / "play.yml"
    play.write_text(PLAY)
    extra = tmp_path / "vars.json"
    extra.write_text(json.dumps({"ansible_python_interpreter": sys.executable, **variables}))
    env = dict(os.environ, ANSIBLE_ROLES_PATH=str(ROOT / "roles"), ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
               ANSIBLE_NOCOLOR="1")
    return subprocess.run(
        [str(Path(sys.executable).with_name("ansible-playbook")), "--check", "-i", "localhost,", "-c", "local",
         "-e", f"@{extra}", str(play)],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300,
    )


def a_regular_file(tmp_path: Path) -> str:
    f = tmp_path / "not-a-dir"
    f.write_text("")
    return str(f)


CASES = {
    "invalid THP mode": ({"kvm_host_thp_mode": "sometimes"}, "kvm_host_thp_mode"),
    "negative hugepages": ({"kvm_host_hugepages": -4}, "kvm_host_hugepages"),
    # every host has 127.0.0.0/8 on lo
    "CIDR overlapping the host": ({"kvm_host_network_cidr": "127.0.0.0/24"}, "kvm_host_network_cidr"),
    "CIDR that is not a network": ({"kvm_host_network_cidr": "10.77.0.0/33"}, "kvm_host_network_cidr"),
    "bridge name over 15 chars": ({"kvm_host_network_bridge": "virbr-much-too-long"}, "kvm_host_network_bridge"),
    "host bridge name over 15 chars": ({"kvm_host_bridge_name": "br-much-too-long-0"}, "kvm_host_bridge_name"),
    "network name with markup": ({"kvm_host_network_name": "x'/><evil"}, "kvm_host_network_name"),
    "pool name with a space": ({"kvm_host_pool_name": "my pool"}, "kvm_host_pool_name"),
}


@pytest.mark.parametrize(("variables", "named"), CASES.values(), ids=CASES.keys())
def test_bad_input_is_rejected_naming_the_variable(tmp_path: Path, variables: dict[str, object], named: str) -> None:
    result = run_role(tmp_path, variables)
    assert result.returncode != 0
    assert named in result.stdout + result.stderr
    # rejected by validation, not by a later host check
    assert "TASK [kvm_host : Read hardware virtualization flags]" not in result.stdout


def test_pool_path_that_is_a_file_is_rejected(tmp_path: Path) -> None:
    result = run_role(tmp_path, {"kvm_host_pool_path": a_regular_file(tmp_path)})
    assert result.returncode != 0
    assert "kvm_host_pool_path" in result.stdout
    assert "is not a directory" in result.stdout
