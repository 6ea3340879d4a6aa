"""kvm1 booted with Secure Boot enforced, after xen_host refused it: no Xen installed or configured."""

import os
import re

import pytest

SECURE_BOOT_VAR = "/sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c"

# HVLAB_TEST_FIRMWARE (e.g. bios, for the Debian 12 run) boots kvm1 without Secure Boot, and
# secure_boot_refusal.yml then does not apply xen_host.
pytestmark = pytest.mark.skipif(
    os.environ.get("HVLAB_TEST_FIRMWARE", "uefi-secureboot") != "uefi-secureboot",
    reason="kvm1 booted without Secure Boot (HVLAB_TEST_FIRMWARE)",
)


def test_secure_boot_is_enforced(host):
    # The premise of the scenario: OVMF with Microsoft's keys and Debian's signed boot chain.
    value = host.check_output(f"od -An -tu1 -j4 -N1 {SECURE_BOOT_VAR}").strip()
    assert value == "1"


def test_no_xen_installed_or_configured(host):
    assert not host.package("xen-system-amd64").is_installed
    assert not host.file("/etc/default/grub.d/40-xen-host.cfg").exists
    assert not host.file("/etc/ansible/facts.d/hvlab_xen.fact").exists


def test_grub_has_no_xen_entry_and_default_untouched(host):
    cfg = host.file("/boot/grub/grub.cfg").content_string
    assert not re.search(r"(?m)^menuentry .*--class xen", cfg)
    env = host.check_output("grub-editenv list")
    assert "next_entry=" not in env or re.search(r"(?m)^next_entry=$", env)
    assert "Xen" not in env
