"""xen1 after a Xen boot whose Dom0 never came up: back on plain Linux, GRUB's default untouched."""

import re


def grub_env(host):
    return dict(line.split("=", 1) for line in host.check_output("grub-editenv list").splitlines() if "=" in line)


def xen_entry(host):
    cfg = host.file("/boot/grub/grub.cfg").content_string
    match = re.search(r"(?m)^menuentry '([^']+)'.*--class xen", cfg)
    assert match, "grub.cfg has no Xen entry: the role did not get as far as the boot"
    return match.group(1)


def test_back_on_plain_linux(host):
    caps = host.file("/proc/xen/capabilities")
    assert not (caps.exists and "control_d" in caps.content_string)
    assert "console=hvc0" not in host.file("/proc/cmdline").content_string


def test_saved_default_is_not_xen(host):
    saved = grub_env(host).get("saved_entry", "")
    assert "Xen" not in saved
    assert saved != xen_entry(host)


def test_one_shot_entry_spent(host):
    assert grub_env(host).get("next_entry", "") == ""


def test_xen_config_left_for_the_next_attempt(host):
    assert host.file("/etc/default/grub.d/40-xen-host.cfg").exists
    assert not host.file("/etc/ansible/facts.d/hvlab_xen.fact").exists
