"""xen1 after the xen_host role: running on Xen with a stock Dom0, Xen is GRUB's saved default."""

import hashlib
import json
import os
import re
import shlex

import pytest

DOM0_MEM_MB = 1024  # molecule.yml group_vars
SCHEDULER = "credit2"
BRIDGE = "xenbr0"
BRIDGE_ADDRESS = "10.0.100.1/24"


@pytest.fixture(scope="module")
def xl_info(host):
    out = host.check_output("xl info")
    return dict(re.findall(r"(?m)^(\w+)[ \t]*:[ \t]*(.*?)[ \t]*$", out))


def xen_entry(host):
    cfg = host.file("/boot/grub/grub.cfg").content_string
    match = re.search(r"(?m)^menuentry '([^']+)'.*--class xen", cfg)
    assert match, "grub.cfg has no Xen entry"
    return match.group(1)


def test_running_on_xen_as_dom0(host):
    assert "control_d" in host.file("/proc/xen/capabilities").content_string


def test_dom0_kernel_is_the_stock_distro_kernel(host):
    release = host.check_output("uname -r")
    major, minor = (int(x) for x in release.split(".")[:2])
    assert (major, minor) >= (3, 0)
    # The distribution's metapackage depends on exactly the running kernel's package.
    depends = host.check_output("dpkg-query -W -f='${Depends}' linux-image-amd64")
    assert f"linux-image-{release}" in depends
    assert host.package(f"linux-image-{release}").is_installed


def test_domain0_has_the_configured_memory(host):
    line = next(x for x in host.check_output("xl list").splitlines() if x.startswith("Domain-0"))
    mem = int(line.split()[2])
    assert abs(mem - DOM0_MEM_MB) <= 16, line


def test_scheduler_as_configured(xl_info):
    assert xl_info["xen_scheduler"] == SCHEDULER
    assert f"sched={SCHEDULER}" in xl_info["xen_commandline"].split()
    assert "smap=0" in xl_info["xen_commandline"].split()


def test_autoballoon_off(host):
    assert re.search(r'(?m)^autoballoon="off"$', host.file("/etc/xen/xl.conf").content_string)


def test_bridge_up(host):
    link = json.loads(host.check_output(f"ip -j addr show dev {BRIDGE}"))[0]
    assert "UP" in link["flags"]
    assert link.get("linkinfo", {}).get("info_kind", "bridge") == "bridge"
    addrs = [f"{a['local']}/{a['prefixlen']}" for a in link["addr_info"]]
    assert BRIDGE_ADDRESS in addrs
    assert host.file(f"/sys/class/net/{BRIDGE}/bridge").is_directory


def test_lab_network_bridge_up_with_a_dhcp_server(host):
    # group_vars/all.yml's hvlab_networks: lab, 10.80.0.0/24, DHCP from .100 to .199.
    link = json.loads(host.check_output("ip -j addr show dev hvbr-lab"))[0]
    assert "UP" in link["flags"]
    assert "10.80.0.1/24" in [f"{a['local']}/{a['prefixlen']}" for a in link["addr_info"]]
    assert host.file("/sys/class/net/hvbr-lab/bridge").is_directory
    network = host.file("/etc/systemd/network/10-xen-host-hvbr-lab.network").content_string
    assert "DHCPServer=yes" in network and "PoolOffset=100" in network and "PoolSize=100" in network
    fact = json.loads(host.file("/etc/ansible/facts.d/hvlab_xen.fact").content_string)
    assert fact["lab_networks"] == {"lab": {"cidr": "10.80.0.0/24", "gateway": "10.80.0.1", "bridge": "hvbr-lab"}}


def test_uplink_still_configured(host):
    assert "routable" in host.check_output("networkctl list --no-pager --no-legend")


def test_xen_is_the_saved_default(host):
    env = host.check_output("grub-editenv list").splitlines()
    assert f"saved_entry={xen_entry(host)}" in env
    assert not any(x.startswith("next_entry=") and x != "next_entry=" for x in env)


def test_grub_dropin_sorts_before_xen_cfg(host):
    dropins = sorted(host.file("/etc/default/grub.d").listdir())
    assert dropins.index("40-xen-host.cfg") < dropins.index("xen.cfg")


def test_xen_services_enabled(host):
    for svc in ("xen", "xendomains"):
        assert host.run(f"systemctl is-enabled {svc}").stdout.strip() == "enabled"


def test_local_fact(host, xl_info):
    fact = json.loads(host.file("/etc/ansible/facts.d/hvlab_xen.fact").content_string)
    assert fact["xen_version"] == xl_info["xen_version"]
    assert fact["scheduler"] == SCHEDULER
    assert abs(fact["dom0_mem_mb"] - DOM0_MEM_MB) <= 16
    assert fact["dom0_mem_mb_configured"] == DOM0_MEM_MB
    assert fact["dom0_kernel"] == host.check_output("uname -r")


def test_local_fact_records_the_verified_xen_entry(host):
    """The record that later runs compare grub.cfg's Xen entry with: the entry that booted."""
    cfg = host.file("/boot/grub/grub.cfg").content_string
    block = re.search(r"(?ms)^menuentry [^\n]*--class xen.*?^}$", cfg)
    assert block, "grub.cfg has no Xen entry"
    fact = json.loads(host.file("/etc/ansible/facts.d/hvlab_xen.fact").content_string)
    assert fact["verified_entry_sha256"] == hashlib.sha256((block.group(0) + "\n").encode()).hexdigest()
    assert block.group(0).count("vmlinuz-" + host.check_output("uname -r")) == 1


def test_xenconsoled_logs_guest_consoles(host):
    # A throwaway PV guest: Dom0's own kernel without a root disk prints its boot
    # messages to hvc0 and panics (the crashed domain stays until destroyed below);
    # xenconsoled must have written those messages to the guest's log.
    name = "hvlab-console-probe"
    log = f"/var/log/xen/console/guest-{name}.log"
    config = f"/tmp/{name}.cfg"
    kernel = "/boot/vmlinuz-" + host.check_output("uname -r")
    settings = f'name = "{name}"\ntype = "pv"\nmemory = 128\nkernel = "{kernel}"\n' \
               'cmdline = "console=hvc0"\non_crash = "preserve"\n'
    host.check_output(f"printf %s {shlex.quote(settings)} > {config}")
    try:
        host.check_output(f"xl create {config}")
        found = host.run(f"timeout 180 sh -c 'until grep -qs \"Linux version\" {log}; do sleep 2; done'")
    finally:
        host.run(f"xl destroy {name}")
        host.run(f"rm -f {config} {log}")
    assert found.rc == 0, f"{log} never showed the guest's boot messages"
    assert host.file("/var/log/xen/console").mode == 0o750


def test_local_fact_names_the_console_log_dir(host):
    fact = json.loads(host.file("/etc/ansible/facts.d/hvlab_xen.fact").content_string)
    assert fact["console_log_dir"] == "/var/log/xen/console"


def test_local_fact_names_the_firmware_and_release(host):
    # The lab machine boots through UEFI (molecule.yml; HVLAB_TEST_FIRMWARE overrides it), and
    # Xen was loaded by GRUB EFI: Xen's own boot log shows the memory map it took from EFI.
    firmware = os.environ.get("HVLAB_TEST_FIRMWARE", "uefi")
    fact = json.loads(host.file("/etc/ansible/facts.d/hvlab_xen.fact").content_string)
    assert fact["firmware"] == firmware
    assert ("EFI RAM map" in host.check_output("xl dmesg")) == (firmware == "uefi")
    os_release = dict(re.findall(r'(?m)^(\w+)="?([^"\n]*)"?$', host.file("/etc/os-release").content_string))
    assert fact["distribution"].startswith(f"Debian {os_release['VERSION_ID']}")
