"""A whole-disk cloud image from a URL, booted through its own bootloader on both stacks.

Runs on the lab hosts (kvm1, xen1) and, through each host, inside the guest gcloud (ssh_config
written by ../lab/converge.yml). The image is prepare.yml's stand-in, served with a SHA512SUMS
file from 127.0.0.1.
"""

import json
import os
import re
from functools import cache
from pathlib import Path

import pytest
import testinfra

GUEST = "gcloud"  # molecule.yml
HOSTS = {"kvm1": "kvm", "xen1": "xen"}
STATE = Path(os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY", ".")) / "standin"
SSH_CONFIG = Path(os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY", ".")) / "guests.ssh_config"


@cache
def lab_host(host_name: str) -> testinfra.host.Host:
    return testinfra.get_host(f"ansible://{host_name}", ansible_inventory=os.environ["MOLECULE_INVENTORY_FILE"])


@cache
def guest(host_name: str) -> testinfra.host.Host:
    return testinfra.get_host(f"ssh://{host_name}-{GUEST}", ssh_config=str(SSH_CONFIG))


def image_fact(host_name: str) -> dict[str, str]:
    return json.loads(lab_host(host_name).file("/etc/ansible/facts.d/hvlab_guest_image.fact").content_string)


@pytest.mark.parametrize("host_name", HOSTS)
def test_image_came_from_the_url_verified_by_the_published_sha512sums(host_name: str) -> None:
    fact = image_fact(host_name)
    published = (STATE / "www" / "SHA512SUMS").read_text().split()[0]
    port = (STATE / "server.port").read_text().strip()
    assert fact["source"] == "url"
    assert fact["published_checksum"] == f"sha512:http://127.0.0.1:{port}/SHA512SUMS"
    assert fact["published_digest"] == f"sha512:{published}"
    assert fact["kernel"] == ""  # no kernel from outside the disk
    assert lab_host(host_name).check_output(f"sha256sum {fact['path']}").split()[0] == fact["sha256"]


def test_same_image_bytes_on_both_hosts() -> None:
    assert image_fact("kvm1")["sha256"] == image_fact("xen1")["sha256"]


@pytest.mark.parametrize("host_name", HOSTS)
def test_domain_boots_the_disks_own_bootloader(host_name: str) -> None:
    h = lab_host(host_name)
    if HOSTS[host_name] == "kvm":
        xml = h.check_output(f"virsh --connect qemu:///system dumpxml --inactive {GUEST}")
        assert "<kernel>" not in xml
        assert re.search(r"<boot dev=.hd./>", xml)
    else:
        domains = {d["config"]["c_info"]["name"]: d["config"]
                   for d in json.loads(h.check_output("xl list -l")) if d.get("config")}
        build = domains[GUEST]["b_info"]
        # libxl keeps it in b_info (Xen >= 4.10) or, as older configs did, in b_info's type.pv.
        assert (build.get("bootloader") or build.get("type.pv", {}).get("bootloader")) == "pygrub"


@pytest.mark.parametrize("host_name", HOSTS)
def test_guest_runs_the_kernel_and_words_of_the_disks_grub_cfg(host_name: str) -> None:
    g = guest(host_name)
    assert g.check_output("hostname") == GUEST  # cloud-init gave it its name; SSH by key works
    cmdline = g.check_output("cat /proc/cmdline").split()
    # The words of the stand-in's grub.cfg (hvlab.cloud_standin): the guests role's direct-boot
    # command line names one console, without a speed.
    assert {"console=ttyS0,115200n8", "console=hvc0", "root=LABEL=hvlab-guest"} <= set(cmdline)
    root = g.check_output("findmnt -n -o SOURCE /")
    assert root in {"/dev/vda1", "/dev/xvda1"}, root  # the first partition of a whole disk
    assert g.check_output("uname -r") == guest("kvm1" if host_name == "xen1" else "xen1").check_output("uname -r")


@pytest.mark.parametrize("host_name", HOSTS)
def test_paravirtual_drivers(host_name: str) -> None:
    g = guest(host_name)
    disk = g.check_output("lsblk -n -d -o PKNAME $(findmnt -n -o SOURCE /)")
    block = g.check_output(f"basename $(readlink -f /sys/block/{disk}/device/driver/module)")
    expected = "virtio_blk" if HOSTS[host_name] == "kvm" else "xen_blkfront"
    assert block == expected
