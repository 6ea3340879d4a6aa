"""The same guests on KVM and on Xen: same image bytes, same kernel, PV drivers on both sides.

Runs on the lab hosts (molecule's `host` fixture: kvm1, xen1) and, through each host, inside
its guests (ssh_config written by converge.yml). Each guest test checks one guest; the
cross-stack tests compare what both hosts or both copies of a guest report.
"""

import json
import os
from functools import cache
from pathlib import Path

import pytest
import testinfra
import yaml

from hvlab.ownership import libvirt_ownership

# The guests as the scenario's molecule.yml gives them to the roles: one spec, read, not repeated.
LAB_GUESTS = yaml.safe_load((Path(__file__).resolve().parents[1] / "molecule.yml").read_text())[
    "provisioner"]["inventory"]["group_vars"]["all"]["hvlab_guests"]
SPEC = {g["name"]: g for g in LAB_GUESTS}
NIC_ADDRESSES = {g["name"]: tuple(nic["address"] for nic in g["nics"]) for g in LAB_GUESTS if g.get("nics")}
HOSTS = {"kvm1": "kvm", "xen1": "xen"}
SSH_CONFIG = Path(os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY", ".")) / "guests.ssh_config"
GUESTS = [(host, name) for host in HOSTS for name in SPEC]
PV_DRIVERS = {"kvm": ("virtio_blk", "virtio_net"), "xen": ("xen_blkfront", "xen_netfront")}


@cache
def guest(host_name: str, name: str) -> testinfra.host.Host:
    return testinfra.get_host(f"ssh://{host_name}-{name}", ssh_config=str(SSH_CONFIG))


@cache
def lab_host(host_name: str) -> testinfra.host.Host:
    inventory = os.environ["MOLECULE_INVENTORY_FILE"]
    return testinfra.get_host(f"ansible://{host_name}", ansible_inventory=inventory)


def root_disk(g: testinfra.host.Host) -> str:
    return g.check_output("findmnt -n -o SOURCE /").removeprefix("/dev/")


def test_same_image_bytes_on_both_hosts() -> None:
    sums = {}
    for name in HOSTS:
        fact = json.loads(lab_host(name).file("/etc/ansible/facts.d/hvlab_guest_image.fact").content_string)
        measured = lab_host(name).check_output(f"sha256sum {fact['path']}").split()[0]
        assert measured == fact["sha256"], f"{name}: image on disk differs from the recorded sha256"
        sums[name] = measured
    assert sums["kvm1"] == sums["xen1"]


@pytest.mark.parametrize("name", SPEC)
def test_same_kernel_in_both_copies_of_a_guest(name: str) -> None:
    releases = {host: guest(host, name).check_output("uname -r") for host in HOSTS}
    assert releases["kvm1"] == releases["xen1"], releases


@pytest.mark.parametrize(("host_name", "name"), GUESTS)
def test_paravirtual_drivers(host_name: str, name: str) -> None:
    g = guest(host_name, name)
    disk = root_disk(g)
    block = g.check_output(f"basename $(readlink -f /sys/block/{disk}/device/driver/module)")
    net = g.check_output("basename $(readlink -f /sys/class/net/eth0/device/driver/module)")
    assert (block, net) == PV_DRIVERS[HOSTS[host_name]]


@pytest.mark.parametrize(("host_name", "name"), GUESTS)
def test_vcpus_memory_and_disk_as_specified(host_name: str, name: str) -> None:
    g = guest(host_name, name)
    spec = SPEC[name]
    assert int(g.check_output("nproc")) == spec["vcpus"]
    mem_total_kib = int(g.check_output("awk '/^MemTotal:/ {print $2}' /proc/meminfo"))
    # The kernel keeps some memory for itself; MemTotal is what it hands out.
    assert 0.8 * spec["memory_mib"] * 1024 < mem_total_kib <= spec["memory_mib"] * 1024
    disk_bytes = int(g.check_output(f"lsblk -b -d -n -o SIZE /dev/{root_disk(g)}"))
    assert disk_bytes == spec["disk_gib"] * 2**30


@pytest.mark.parametrize(("host_name", "name"), GUESTS)
def test_xen_guest_type(host_name: str, name: str) -> None:
    if HOSTS[host_name] != "xen":
        kvm = lab_host(host_name).check_output(f"virsh --connect qemu:///system domstate {name}")
        assert kvm == "running"
        return
    domains = json.loads(lab_host(host_name).check_output("xl list -l"))
    types = {d["config"]["c_info"]["name"]: d["config"]["c_info"]["type"] for d in domains}
    assert types[name] == SPEC[name]["xen_type"]


@pytest.mark.parametrize(("host_name", "name"), GUESTS)
def test_key_login_works_and_password_login_is_refused(host_name: str, name: str) -> None:
    g = guest(host_name, name)
    assert g.check_output("hostname") == name  # this very connection logged in by key
    assert "passwordauthentication no" in g.check_output("sudo sshd -T").lower()
    address = g.check_output("ip -4 -o addr show eth0").split()[3].split("/")[0]
    # The refused ssh exits 255, which testinfra's own ssh to the host would take for its
    # failure: its exit status comes back as text instead.
    attempt = lab_host(host_name).check_output(
        "ssh -o BatchMode=yes -o PubkeyAuthentication=no -o PreferredAuthentications=password,keyboard-interactive "
        f"-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o ConnectTimeout=20 hvlab@{address} true"
        " 2>&1; echo hvlab-ssh-exit=$?"
    )
    assert "hvlab-ssh-exit=0" not in attempt
    assert "Permission denied (publickey)" in attempt


@pytest.mark.parametrize(("host_name", "name"), GUESTS)
def test_guest_is_marked_as_hvlab_owned(host_name: str, name: str) -> None:
    h = lab_host(host_name)
    assert h.file(f"/var/lib/hvlab/guests/{name}/.hvlab-guest").exists
    guest_dir = f"/var/lib/hvlab/guests/{name}"
    if HOSTS[host_name] == "kvm":
        # The mark hvlab.ownership accepts: this guest, this lab's directory, disks inside it.
        xml_text = h.check_output(f"virsh --connect qemu:///system dumpxml --inactive {name}")
        assert libvirt_ownership(xml_text, name, guest_dir) == ""
    else:
        # The running domain's uuid is the one xl_domain recorded from the config.
        record = h.file(f"{guest_dir}/xl.cfg.applied").content_string
        running = {entry["config"]["c_info"]["name"]: entry["config"]["c_info"].get("uuid")
                   for entry in json.loads(h.check_output("xl list -l")) if entry.get("config")}
        assert f'uuid = "{running[name]}"' in record
    # The seed was built with the instance-id its meta-data carries (derived from its content).
    built_id = h.file(f"{guest_dir}/seed.iso.id").content_string.strip()
    assert f'instance-id: "{built_id}"' in h.file(f"{guest_dir}/seed/meta-data").content_string


@pytest.mark.parametrize(("host_name", "name", "address"),
                         [(host, name, a) for host in HOSTS for name, addrs in NIC_ADDRESSES.items() for a in addrs])
def test_guest_answers_ssh_on_each_static_address(host_name: str, name: str, address: str) -> None:
    # The same ssh_config entry (key, jump through the host), reaching the guest at one NIC's address.
    g = testinfra.get_host(f"ssh://{host_name}-{name}", ssh_config=str(SSH_CONFIG),
                           ssh_extra_args=f"-o HostName={address}")
    assert g.check_output("hostname") == name
    addresses = {line.split()[3] for line in g.check_output("ip -4 -o addr show").splitlines()}
    assert f"{address}/24" in addresses
    assert len(addresses - {"127.0.0.1/8"}) == len(NIC_ADDRESSES[name])
