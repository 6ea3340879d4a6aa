"""xen_host rejects bad input before it changes anything, naming the variable.

Runs the real role with ansible-playbook against localhost in check mode: the
variable checks come before the host preflight (CPU flags, kernel config, OS
support), so they fail the same way on any controller, and check mode plus
failing first guarantee nothing on this machine changes.
"""

import re
import subprocess
from pathlib import Path

import pytest
from role_runner import ROOT, run_role_check

FIRST_PREFLIGHT_TASK = "TASK [xen_host : Check the host is x86_64]"


def run_role(tmp_path: Path, variables: dict[str, object],
             commands: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return run_role_check("xen_host", tmp_path, variables, commands=commands)


CASES = {
    "dom0_mem larger than the host": ({"xen_host_dom0_mem_mb": 64 * 1024 * 1024}, "xen_host_dom0_mem_mb"),
    "dom0_mem below 512 MiB": ({"xen_host_dom0_mem_mb": 256}, "xen_host_dom0_mem_mb"),
    "dom0_mem not a number": ({"xen_host_dom0_mem_mb": "1G"}, "xen_host_dom0_mem_mb"),
    "unknown scheduler": ({"xen_host_scheduler": "rtds"}, "xen_host_scheduler"),
    "more Dom0 vCPUs than host CPUs": ({"xen_host_dom0_max_vcpus": 4096}, "xen_host_dom0_max_vcpus"),
    "zero Dom0 vCPUs": ({"xen_host_dom0_max_vcpus": 0}, "xen_host_dom0_max_vcpus"),
    "extra arg with a double quote": ({"xen_host_extra_args": ['loglvl="all"']}, "xen_host_extra_args"),
    "extra arg with a single quote": ({"xen_host_extra_args": ["loglvl='all'"]}, "xen_host_extra_args"),
    "extra arg with a newline": ({"xen_host_extra_args": ["smap=0\nGRUB_DEFAULT=0"]}, "xen_host_extra_args"),
    "extra arg with a space": ({"xen_host_extra_args": ["smap=0 iommu=off"]}, "xen_host_extra_args"),
    "extra arg with a tab": ({"xen_host_extra_args": ["smap=0\tiommu=off"]}, "xen_host_extra_args"),
    "extra args not a list of words": ({"xen_host_extra_args": [{"smap": 0}]}, "xen_host_extra_args"),
    "Dom0 kernel arg with a quote": ({"xen_host_dom0_kernel_args": ['console="hvc0"']}, "xen_host_dom0_kernel_args"),
    # The drop-in is sourced as shell by update-grub: only an allow-list of characters passes.
    "extra arg with a command substitution": (
        {"xen_host_extra_args": ["$(touch${IFS}/root/x)"]}, "xen_host_extra_args"),
    "extra arg with a ;": ({"xen_host_extra_args": ["a;reboot"]}, "xen_host_extra_args"),
    "extra arg with a backtick": ({"xen_host_extra_args": ["`reboot`"]}, "xen_host_extra_args"),
    "extra arg with a variable": ({"xen_host_extra_args": ["x=$HOME"]}, "xen_host_extra_args"),
    "extra arg with a pipe": ({"xen_host_extra_args": ["a|reboot"]}, "xen_host_extra_args"),
    "extra arg with an &": ({"xen_host_extra_args": ["a&reboot"]}, "xen_host_extra_args"),
    "Dom0 kernel arg with a command substitution": (
        {"xen_host_dom0_kernel_args": ["$(touch${IFS}/root/x)"]}, "xen_host_dom0_kernel_args"),
    "Dom0 kernel arg with a ;": ({"xen_host_dom0_kernel_args": ["a;reboot"]}, "xen_host_dom0_kernel_args"),
    "Dom0 kernel arg with a non-ASCII letter": ({"xen_host_dom0_kernel_args": ["consol\u00e9=hvc0"]},
                                                "xen_host_dom0_kernel_args"),
    "bridge name over 15 chars": ({"xen_host_bridge_name": "xenbr-much-too-long"}, "xen_host_bridge_name"),
    "bridge address not CIDR": ({"xen_host_bridge_address": "10.0.100.1"}, "xen_host_bridge_address"),
    "console log not a bool": ({"xen_host_console_log": "sometimes"}, "xen_host_console_log"),
    # hvlab_networks (lab-wide): hvlab.netspec's checks, then the ones against the guest bridge and the host
    "lab network with a bad name": ({"hvlab_networks": [{"name": "Lab", "cidr": "10.80.0.0/24"}]},
                                    "invalid hvlab_networks: 1 problem(s): network #1: name must be"),
    "lab network with a gateway outside it": (
        {"hvlab_networks": [{"name": "lab", "cidr": "10.80.0.0/24", "gateway": "10.81.0.1"}]},
        "invalid hvlab_networks: 1 problem(s): network lab: gateway 10.81.0.1 is not a host address of 10.80.0.0/24"),
    "lab networks that overlap": (
        {"hvlab_networks": [{"name": "a", "cidr": "10.80.0.0/16"}, {"name": "b", "cidr": "10.80.1.0/24"}]},
        "network b: 10.80.1.0/24 overlaps network a (10.80.0.0/16)"),
    "lab network overlapping the guest bridge's address": (
        {"hvlab_networks": [{"name": "lab", "cidr": "10.0.0.0/8"}], "xen_host_bridge_address": "10.0.100.1/24"},
        "hvlab_networks: network lab (10.0.0.0/8) overlaps 10.0.100.0/24, the network of xen_host_bridge_address"),
    "lab network inside the guest bridge's network": (
        {"hvlab_networks": [{"name": "lab", "cidr": "10.0.100.128/25"}], "xen_host_bridge_address": "10.0.100.1/24"},
        "hvlab_networks: network lab (10.0.100.128/25) overlaps 10.0.100.0/24, the network of xen_host_bridge_address"),
    # every host has 127.0.0.0/8 on lo
    "lab network overlapping the host": (
        {"hvlab_networks": [{"name": "lab", "cidr": "127.0.0.0/24"}]},
        "hvlab_networks: network lab (127.0.0.0/24) overlaps 127.0.0.0/8 on the host's interface lo"),
    "lab network whose bridge is the guest bridge": (
        {"hvlab_networks": [{"name": "lab", "cidr": "10.80.0.0/24"}], "xen_host_bridge_name": "hvbr-lab"},
        "hvlab_networks: the bridge of network lab is hvbr-lab, which is xen_host_bridge_name too"),
}


@pytest.mark.parametrize(("variables", "named"), CASES.values(), ids=CASES.keys())
def test_bad_input_is_rejected_naming_the_variable(tmp_path: Path, variables: dict[str, object], named: str) -> None:
    result = run_role(tmp_path, variables)
    out = result.stdout + result.stderr
    assert result.returncode != 0, out
    assert named in out
    # rejected by validation, before any host preflight (this CI machine has no vmx/svm)
    assert FIRST_PREFLIGHT_TASK not in result.stdout
    assert re.search(r"localhost\s*:.*changed=0", result.stdout), result.stdout


def test_good_input_passes_validation(tmp_path: Path) -> None:
    """The same run with valid variables gets past validation (and fails later, on this host, or not at all)."""
    result = run_role(tmp_path, {"xen_host_dom0_mem_mb": 1024, "xen_host_extra_args": ["smap=0"],
                                 # every character of the allow-list: letters, digits, _ . , : = + / @ % -
                                 "xen_host_dom0_kernel_args": ["console=hvc0", "a_b.c,d:e=f+g/h@i%j-k"]})
    assert FIRST_PREFLIGHT_TASK in result.stdout or "Xen is not packaged" in result.stdout, result.stdout
    assert re.search(r"localhost\s*:.*changed=0", result.stdout), result.stdout


# --- the guest bridge never takes over an interface hvlab did not make ----------------------

ROLE_VARS = ROOT / "roles" / "xen_host" / "vars" / "main.yml"
BRIDGE_TEMPLATE = ROOT / "roles" / "xen_host" / "templates" / "etc" / "systemd" / "network"
BRIDGE_TEMPLATE = BRIDGE_TEMPLATE / "10-xen-host-bridge.netdev.j2"


def hvlab_netdev(name: str) -> str:
    """The .netdev file hvlab writes for its bridge `name`, with its mark."""
    return f"# Ansible managed\n# hvlab-owner: xen_host bridge {name}\n[NetDev]\nName={name}\nKind=bridge\n"


def fake_host_net(tmp_path: Path, name: str, *, bridge: bool, netdev: str | None) -> dict[str, str]:
    """A /sys/class/net with the interface `name` (a bridge or not), and a networkd directory."""
    sys_net = tmp_path / "sys" / "class" / "net"
    (sys_net / name).mkdir(parents=True)
    if bridge:
        (sys_net / name / "bridge").mkdir()
    networkd = tmp_path / "networkd"
    networkd.mkdir()
    if netdev is not None:
        (networkd / f"10-xen-host-{name}.netdev").write_text(netdev)
    return {"__xen_host_sys_class_net": str(sys_net), "__xen_host_networkd_dir": str(networkd)}


def assert_bridge_refused(result: subprocess.CompletedProcess[str], name: str) -> None:
    out = result.stdout + result.stderr
    assert result.returncode != 0, out
    assert f"xen_host_bridge_name {name} is an interface of this host that hvlab did not make" in out, out[-3000:]
    assert FIRST_PREFLIGHT_TASK not in result.stdout
    assert "Define the guest bridge" not in result.stdout
    assert re.search(r"localhost\s*:.*changed=0", result.stdout), result.stdout


def test_a_bridge_name_of_an_existing_interface_is_refused(tmp_path: Path) -> None:
    """lo exists on every host: a networkd file matching it would take its addresses."""
    assert_bridge_refused(run_role(tmp_path, {"xen_host_bridge_name": "lo"}), "lo")


def test_an_existing_bridge_without_hvlab_s_netdev_is_refused(tmp_path: Path) -> None:
    result = run_role(tmp_path, {"xen_host_bridge_name": "br9",
                                 **fake_host_net(tmp_path, "br9", bridge=True, netdev=None)})
    assert_bridge_refused(result, "br9")


def test_an_existing_bridge_whose_netdev_only_mentions_hvlab_is_refused(tmp_path: Path) -> None:
    netdev = "# not hvlab-owner: xen_host bridge br9 (copied)\n[NetDev]\nName=br9\nKind=bridge\n"
    result = run_role(tmp_path, {"xen_host_bridge_name": "br9",
                                 **fake_host_net(tmp_path, "br9", bridge=True, netdev=netdev)})
    assert_bridge_refused(result, "br9")


def test_an_interface_that_is_not_a_bridge_is_refused_even_with_hvlab_s_netdev(tmp_path: Path) -> None:
    result = run_role(tmp_path, {"xen_host_bridge_name": "br9",
                                 **fake_host_net(tmp_path, "br9", bridge=False, netdev=hvlab_netdev("br9"))})
    assert_bridge_refused(result, "br9")


def test_hvlab_s_own_bridge_is_used_again(tmp_path: Path) -> None:
    # the mark the fake file carries is the one the role writes
    assert "# {{ __xen_host_bridge_mark }} {{ xen_host_bridge_name }}\n" in BRIDGE_TEMPLATE.read_text()
    assert '__xen_host_bridge_mark: "hvlab-owner: xen_host bridge"' in ROLE_VARS.read_text()
    result = run_role(tmp_path, {"xen_host_bridge_name": "br9",
                                 **fake_host_net(tmp_path, "br9", bridge=True, netdev=hvlab_netdev("br9"))})
    assert "is an interface of this host that hvlab did not make" not in result.stdout + result.stderr
    assert FIRST_PREFLIGHT_TASK in result.stdout, result.stdout[-3000:]


# --- the lab networks' bridges never take over an interface hvlab did not make -------------

LAB = {"hvlab_networks": [{"name": "lab", "cidr": "10.80.0.0/24", "dhcp_range": ["10.80.0.100", "10.80.0.199"]}]}


def assert_lab_bridge_refused(result: subprocess.CompletedProcess[str]) -> None:
    out = result.stdout + result.stderr
    assert result.returncode != 0, out
    assert ("hvlab_networks: the bridge of network lab, hvbr-lab, is an interface of this host that hvlab did not make"
            in out), out[-3000:]
    assert FIRST_PREFLIGHT_TASK not in result.stdout
    assert "Define the lab networks' bridges" not in result.stdout
    assert re.search(r"localhost\s*:.*changed=0", result.stdout), result.stdout


def test_a_lab_bridge_name_of_an_existing_bridge_without_hvlab_s_netdev_is_refused(tmp_path: Path) -> None:
    result = run_role(tmp_path, {**LAB, **fake_host_net(tmp_path, "hvbr-lab", bridge=True, netdev=None)})
    assert_lab_bridge_refused(result)


def test_a_lab_bridge_name_of_an_interface_that_is_not_a_bridge_is_refused(tmp_path: Path) -> None:
    result = run_role(tmp_path, {**LAB, **fake_host_net(tmp_path, "hvbr-lab", bridge=False,
                                                         netdev=hvlab_netdev("hvbr-lab"))})
    assert_lab_bridge_refused(result)


def test_a_lab_bridge_whose_netdev_lacks_hvlab_s_mark_is_refused(tmp_path: Path) -> None:
    netdev = "# copied by hand\n[NetDev]\nName=hvbr-lab\nKind=bridge\n"
    result = run_role(tmp_path, {**LAB, **fake_host_net(tmp_path, "hvbr-lab", bridge=True, netdev=netdev)})
    assert_lab_bridge_refused(result)


def test_hvlab_s_own_lab_bridge_is_used_again(tmp_path: Path) -> None:
    # the .netdev the role writes for a lab bridge carries the guest bridge's mark (its own unit test renders it)
    lab_template = BRIDGE_TEMPLATE.with_name("10-xen-host-lab.netdev.j2").read_text()
    assert "# {{ __xen_host_bridge_mark }} {{ _bridge }}\n" in lab_template
    result = run_role(tmp_path, {**LAB, "xen_host_bridge_address": "10.0.100.1/24",
                                 **fake_host_net(tmp_path, "hvbr-lab", bridge=True, netdev=hvlab_netdev("hvbr-lab"))})
    out = result.stdout + result.stderr
    assert "invalid hvlab_networks" not in out and "hvlab_networks: " not in out, out[-3000:]
    assert FIRST_PREFLIGHT_TASK in result.stdout, result.stdout[-3000:]
    assert re.search(r"localhost\s*:.*changed=0", result.stdout), result.stdout


def test_the_guest_bridge_and_a_lab_bridge_are_refused_each_naming_its_variable(tmp_path: Path) -> None:
    """One check covers both kinds of bridge: each refusal names the variable to change."""
    result = run_role(tmp_path, {**LAB, "xen_host_bridge_name": "lo",
                                 **fake_host_net(tmp_path, "hvbr-lab", bridge=True, netdev=None)})
    assert_bridge_refused(result, "lo")
    assert_lab_bridge_refused(result)
    out = result.stdout + result.stderr
    assert "Choose another xen_host_bridge_name (default xenbr0)." in out
    assert "Give the network another name." in out


# --- GRUB must be able to clear grub-reboot's one-shot entry --------------------------------

BOOT_ENV_CASES = {
    "LVM": ("/dev/mapper/vg0-root ext4", "device-mapper"),
    "device-mapper node": ("/dev/dm-0 xfs", "device-mapper"),
    "md RAID": ("/dev/md0 ext4", "md RAID"),
    "md RAID by name": ("/dev/md/boot ext4", "md RAID"),
    "btrfs": ("/dev/sda2[/@/boot] btrfs", "btrfs"),
    "zfs": ("bpool/BOOT/debian zfs", "zfs"),
}


def findmnt(line: str) -> dict[str, str]:
    """A stand-in for findmnt that says /boot/grub is on `line` (SOURCE FSTYPE)."""
    return {"findmnt": f"echo '{line}'"}


@pytest.mark.parametrize(("line", "why"), BOOT_ENV_CASES.values(), ids=BOOT_ENV_CASES.keys())
def test_boot_where_grub_cannot_write_its_environment_is_refused(tmp_path: Path, line: str, why: str) -> None:
    result = run_role(tmp_path, {}, commands=findmnt(line))
    out = result.stdout + result.stderr
    assert result.returncode != 0, out
    assert "cannot write its environment block there" in out and why in out, out[-3000:]
    assert "xen_host_boot_env_ok" in out
    assert FIRST_PREFLIGHT_TASK not in result.stdout
    assert re.search(r"localhost\s*:.*changed=0", result.stdout), result.stdout


def test_boot_env_ok_lets_a_user_who_knows_better_go_on(tmp_path: Path) -> None:
    result = run_role(tmp_path, {"xen_host_boot_env_ok": True}, commands=findmnt("/dev/mapper/vg0-root ext4"))
    assert "cannot write its environment block there" not in result.stdout + result.stderr
    assert FIRST_PREFLIGHT_TASK in result.stdout, result.stdout[-3000:]


def test_boot_on_a_plain_partition_passes(tmp_path: Path) -> None:
    result = run_role(tmp_path, {}, commands=findmnt("/dev/sda1 ext4"))
    assert "cannot write its environment block there" not in result.stdout + result.stderr
    assert FIRST_PREFLIGHT_TASK in result.stdout, result.stdout[-3000:]
