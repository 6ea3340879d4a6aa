"""kvm_host converged on a lab machine: libvirt up, Linux memory features as configured, a real nested guest."""

import json
import os
import time

import pytest

# Must match the scenario's group_vars in molecule.yml.
THP_MODE = "always"
KSM_PAGES_TO_SCAN = 256
HUGEPAGES = 16
MARKER = "HVLAB-NESTED-GUEST-OK"
# A deadline, not a timing goal: the nested guest is emulated twice over, and the test script
# runs another scenario's machine beside this one.
NESTED_DEADLINE_S = 480
NESTED_DIR = "/var/lib/libvirt/images/hvlab-nested-test"


def test_dev_kvm_present(host):
    assert host.run("test -c /dev/kvm").rc == 0


def test_libvirtd_enabled_and_its_socket_listening(host):
    # libvirtd is socket-activated and exits when idle, so the socket is what must be up.
    assert host.service("libvirtd").is_enabled
    socket = host.service("libvirtd.socket")
    assert socket.is_running
    assert socket.is_enabled
    assert host.run("virsh -c qemu:///system version").rc == 0


def test_nat_network_active_and_autostarted(host):
    info = host.check_output("virsh -c qemu:///system net-info hvlab")
    assert "Active:         yes" in info
    assert "Autostart:      yes" in info
    assert host.interface("virbr-hvlab").exists
    assert "10.77.0.1" in host.interface("virbr-hvlab").addresses


def test_lab_network_is_isolated_active_and_autostarted(host):
    # molecule.yml's hvlab_networks: lab, 10.80.0.0/24, DHCP from .100 to .199.
    info = host.check_output("virsh -c qemu:///system net-info hvlab-lab")
    assert "Active:         yes" in info
    assert "Autostart:      yes" in info
    xml = host.check_output("virsh -c qemu:///system net-dumpxml hvlab-lab")
    assert "<forward" not in xml, "a lab network is host-only"
    assert "<range start='10.80.0.100' end='10.80.0.199'" in xml
    assert "10.80.0.1" in host.interface("hvbr-lab").addresses
    fact = json.loads(host.check_output("/etc/ansible/facts.d/hvlab_kvm.fact"))
    assert fact["lab_networks"] == {"lab": {"cidr": "10.80.0.0/24", "gateway": "10.80.0.1",
                                            "bridge": "hvbr-lab", "libvirt_network": "hvlab-lab"}}


def test_pool_active_and_autostarted(host):
    info = host.check_output("virsh -c qemu:///system pool-info hvlab")
    assert "State:          running" in info
    assert "Autostart:      yes" in info
    assert host.file("/var/lib/hvlab/images").is_directory


def test_thp_ksm_hugepages_in_effect(host):
    assert f"[{THP_MODE}]" in host.file("/sys/kernel/mm/transparent_hugepage/enabled").content_string
    assert host.file("/sys/kernel/mm/ksm/run").content_string.strip() == "1"
    assert int(host.file("/sys/kernel/mm/ksm/pages_to_scan").content_string) == KSM_PAGES_TO_SCAN
    assert int(host.file("/proc/sys/vm/nr_hugepages").content_string) == HUGEPAGES


def test_settings_persist_as_drop_ins(host):
    tmpfiles = host.file("/etc/tmpfiles.d/hvlab-kvm.conf").content_string
    assert f"transparent_hugepage/enabled - - - - {THP_MODE}" in tmpfiles
    assert f"ksm/pages_to_scan - - - - {KSM_PAGES_TO_SCAN}" in tmpfiles
    assert f"vm.nr_hugepages={HUGEPAGES}" in host.file("/etc/sysctl.d/90-hvlab-kvm.conf").content_string


def test_local_fact_reports_what_is_in_effect(host):
    fact = json.loads(host.check_output("/etc/ansible/facts.d/hvlab_kvm.fact"))
    assert fact["thp_enabled"] == THP_MODE
    assert fact["ksm_run"] == 1
    assert fact["hugepages_total"] == HUGEPAGES
    assert fact["nested"] is True
    # No hvlab_host_emulated in this scenario, so nested paging stays on, as written in the drop-in.
    assert fact["nested_paging"] is True
    assert f"{fact['kvm_module'].removeprefix('kvm_').replace('amd', 'npt').replace('intel', 'ept')}=1" in (
        host.file("/etc/modprobe.d/hvlab-kvm-nested.conf").content_string
    )
    assert fact["dev_kvm"] is True


def test_local_fact_names_the_firmware(host):
    # The lab machine boots through UEFI with Secure Boot (molecule.yml; HVLAB_TEST_FIRMWARE overrides it).
    fact = json.loads(host.check_output("/etc/ansible/facts.d/hvlab_kvm.fact"))
    assert fact["firmware"] == os.environ.get("HVLAB_TEST_FIRMWARE", "uefi-secureboot")
    assert host.file("/sys/firmware/efi").is_directory == (fact["firmware"] != "bios")


def test_virt_host_validate_has_no_fail(host):
    out = host.run("virt-host-validate qemu").stdout
    assert "PASS" in out
    assert ": FAIL" not in out


NESTED_XML = f"""<domain type='kvm'>
  <name>hvlab-nested-test</name>
  <memory unit='MiB'>256</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='q35'>hvm</type>
    <kernel>{NESTED_DIR}/vmlinuz</kernel>
    <initrd>{NESTED_DIR}/initrd.cpio</initrd>
    <cmdline>console=ttyS0 quiet panic=-1</cmdline>
  </os>
  <features><acpi/><apic/></features>
  <cpu mode='host-passthrough'/>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>destroy</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <serial type='file'><source path='{NESTED_DIR}/console.log'/><target port='0'/></serial>
  </devices>
</domain>
"""

# A 1-file userland: klibc's shell (shipped by initramfs-tools) prints the marker and powers off.
# The layout is merged-/usr (lib -> usr/lib) because the binaries' ELF interpreter is
# /lib/klibc-*.so on Debian 12 and /usr/lib/klibc-*.so on Debian 13.
BUILD_INITRAMFS = f"""set -e
rm -rf {NESTED_DIR} && mkdir -p {NESTED_DIR}/root/bin {NESTED_DIR}/root/usr/lib
ln -s usr/lib {NESTED_DIR}/root/lib
cp /boot/vmlinuz-$(uname -r) {NESTED_DIR}/vmlinuz
cp /usr/lib/klibc/bin/sh {NESTED_DIR}/root/bin/sh
cp /usr/lib/klibc/bin/poweroff {NESTED_DIR}/root/bin/poweroff
cp /usr/lib/klibc-*.so {NESTED_DIR}/root/usr/lib/
printf '#!/bin/sh\\necho {MARKER}\\n/bin/poweroff -f\\n' > {NESTED_DIR}/root/init
chmod 755 {NESTED_DIR}/root/init
cd {NESTED_DIR}/root && find . | cpio -o -H newc --quiet > {NESTED_DIR}/initrd.cpio
"""


@pytest.fixture
def nested_guest(host):
    host.run_expect([0], BUILD_INITRAMFS)
    host.check_output(f"cat > {NESTED_DIR}/domain.xml <<'XML'\n{NESTED_XML}XML")
    yield
    host.run("virsh -c qemu:///system destroy hvlab-nested-test")
    host.run(f"rm -rf {NESTED_DIR}")


def test_nested_guest_runs_with_kvm_and_shuts_off(host, nested_guest):
    start = host.run(f"virsh -c qemu:///system create {NESTED_DIR}/domain.xml")
    assert start.rc == 0, start.stderr
    deadline = time.monotonic() + NESTED_DEADLINE_S
    while time.monotonic() < deadline:
        if host.run("virsh -c qemu:///system domstate hvlab-nested-test").rc != 0:
            break  # a transient domain disappears when it shuts off
        time.sleep(3)
    else:
        pytest.fail(f"nested guest did not shut off within {NESTED_DEADLINE_S} s")
    console = host.file(f"{NESTED_DIR}/console.log").content_string
    assert MARKER in console
