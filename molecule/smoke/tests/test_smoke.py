"""A freshly booted lab machine is the image hvlab built, bootable and able to host KVM and Xen."""

from hvlab.vlab.accel import choose_acceleration
from hvlab.vlab.image import recipe_id
from hvlab.vlab.releases import STACKS, LabTarget


def lab_target(host, stack: str = "") -> LabTarget:
    """An image the machine may be made from, read from the machine: its Debian release and
    firmware; bare, or prepared for `stack`."""
    os_release = dict(
        line.split("=", 1) for line in host.file("/etc/os-release").content_string.splitlines() if "=" in line
    )
    release = os_release["VERSION_ID"].strip('"')
    return LabTarget(release, "uefi" if host.file("/sys/firmware/efi").is_directory else "bios", stack)


def test_ssh_reaches_the_named_machine(host):
    assert host.check_output("hostname") == host.backend.get_hostname()


def test_machine_runs_the_built_image(host):
    marker = host.file("/etc/hvlab-image")
    assert marker.exists
    # The bare image or one prepared for a stack (kvm_host's scenario boots the KVM one).
    recipes = {f"recipe={recipe_id(lab_target(host, stack))}" for stack in ("", *STACKS)}
    assert marker.content_string.strip() in recipes


def test_grub_installed_for_real(host):
    assert host.file("/var/lib/hvlab/firstboot.done").exists
    if lab_target(host).layout == "uefi":
        assert host.mount_point("/boot/efi").filesystem == "vfat"
        assert host.file("/boot/efi/EFI/debian/grubx64.efi").exists
        assert "debian" in host.check_output("efibootmgr")  # grub-install's entry, in the machine's own store
    else:
        mbr = host.run("dd if=/dev/vda bs=512 count=1 status=none | grep -c GRUB")
        assert mbr.stdout.strip() == "1"
    cfg = host.file("/boot/grub/grub.cfg")
    assert "### BEGIN /etc/grub.d/10_linux ###" in cfg.content_string
    assert host.run("grub-editenv list").rc == 0


def test_cpu_offers_hardware_virtualization(host):
    cpuinfo = host.file("/proc/cpuinfo").content_string
    flags = next(line for line in cpuinfo.splitlines() if line.startswith("flags")).split()
    if choose_acceleration().name == "tcg":
        # TCG's -cpu max is an AMD CPU with SVM (it cannot emulate VMX).
        assert "AuthenticAMD" in cpuinfo
        assert "svm" in flags
    else:
        assert "svm" in flags or "vmx" in flags


def test_boot_finished_cleanly(host):
    assert host.run("systemctl is-system-running").stdout.strip() == "running"
