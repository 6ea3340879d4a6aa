"""kvm_host rejects bad input before it changes anything, naming the variable.

Runs the real role with ansible-playbook against localhost in check mode: the
variable checks come before any host preflight, so they fail the same way on
any controller, and check mode guarantees nothing on this machine changes.
"""

import re
import subprocess
from pathlib import Path

import pytest
from role_runner import run_role_check


def run_role(tmp_path: Path, variables: dict[str, object]) -> subprocess.CompletedProcess[str]:
    return run_role_check("kvm_host", tmp_path, variables)


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
    # existing system directories would be chmodded 0711 and chowned (see hvlab.hostdirs)
    "pool path /": ({"kvm_host_pool_path": "/"}, "kvm_host_pool_path / is a system directory"),
    "pool path /home": ({"kvm_host_pool_path": "/home"}, "kvm_host_pool_path /home is a system directory"),
    "pool path /var/lib/libvirt/images": ({"kvm_host_pool_path": "/var/lib/libvirt/images"},
                                          "is a system directory"),
    "pool path with ..": ({"kvm_host_pool_path": "/var/lib/hvlab/../../../etc"}, "kvm_host_pool_path"),
    "pool path with a trailing slash": ({"kvm_host_pool_path": "/var/lib/hvlab/images/"}, "kvm_host_pool_path"),
    "pool path with //": ({"kvm_host_pool_path": "//var/lib/hvlab"}, "kvm_host_pool_path"),
    # hvlab_networks (lab-wide): hvlab.netspec's checks, then the ones against this host's other networks
    "lab network with a bad name": ({"hvlab_networks": [{"name": "Lab", "cidr": "10.80.0.0/24"}]},
                                    "invalid hvlab_networks: 1 problem(s): network #1: name must be"),
    "lab network with host bits": ({"hvlab_networks": [{"name": "lab", "cidr": "10.80.0.1/24"}]},
                                   "invalid hvlab_networks: 1 problem(s): network lab: cidr must be"),
    "lab network with its gateway in its DHCP range": (
        {"hvlab_networks": [{"name": "lab", "cidr": "10.80.0.0/24", "dhcp_range": ["10.80.0.1", "10.80.0.9"]}]},
        "invalid hvlab_networks: 1 problem(s): network lab: the gateway 10.80.0.1 is inside dhcp_range"),
    "lab network that is not a mapping": ({"hvlab_networks": ["lab"]}, "Elements value for option 'hvlab_networks'"),
    "lab network overlapping the NAT network": (
        {"hvlab_networks": [{"name": "lab", "cidr": "10.77.0.0/16"}]},
        "hvlab_networks: network lab (10.77.0.0/16) overlaps kvm_host_network_cidr 10.77.0.0/24"),
    "lab network inside the NAT network": (
        {"hvlab_networks": [{"name": "lab", "cidr": "10.80.0.128/25"}], "kvm_host_network_cidr": "10.80.0.0/24"},
        "hvlab_networks: network lab (10.80.0.128/25) overlaps kvm_host_network_cidr 10.80.0.0/24"),
    # every host has 127.0.0.0/8 on lo
    "lab network overlapping the host": (
        {"hvlab_networks": [{"name": "lab", "cidr": "127.0.0.0/24"}]},
        "hvlab_networks: network lab (127.0.0.0/24) overlaps 127.0.0.0/8 on the host's interface lo"),
    "lab network named as the NAT network": (
        {"hvlab_networks": [{"name": "nat", "cidr": "10.80.0.0/24"}], "kvm_host_network_name": "hvlab-nat"},
        "hvlab_networks: network nat's libvirt network hvlab-nat is kvm_host_network_name"),
    "lab network on the NAT network's bridge": (
        {"hvlab_networks": [{"name": "nat", "cidr": "10.80.0.0/24"}], "kvm_host_network_bridge": "hvbr-nat"},
        "hvlab_networks: network nat's bridge hvbr-nat is kvm_host_network_bridge"),
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


def test_lab_networks_pass_validation(tmp_path: Path) -> None:
    """Valid hvlab_networks get past validation to the host preflight (which may fail on this machine)."""
    result = run_role(tmp_path, {"hvlab_networks": [
        {"name": "lab", "cidr": "10.80.0.0/24"},
        {"name": "store", "cidr": "10.81.0.0/24", "gateway": "10.81.0.254",
         "dhcp_range": ["10.81.0.100", "10.81.0.199"]},
    ]})
    out = result.stdout + result.stderr
    assert "TASK [kvm_host : Read the firmware mode" in result.stdout, out[-3000:]
    assert "invalid hvlab_networks" not in out and "hvlab_networks: network" not in out
    assert re.search(r"localhost\s*:.*changed=0", result.stdout), result.stdout
