"""A stand-in for a distribution's cloud image, made offline from hvlab's guest image.

Debian's genericcloud and Ubuntu's cloud images are whole disks: a partition table, a root
filesystem holding the kernel, GRUB in the disk's boot code and cloud-init. hvlab cannot
download them here (no internet), so the cloud-image path (a `url` source whose checksum is
a published SHA512SUMS, guests booting the disk's own bootloader) is tested with this
stand-in of the same shape:

  - an MBR partition table with one bootable partition at 1 MiB: the guest image's ext4
    filesystem (label hvlab-guest, cloud-init NoCloud, its fstab names the label);
  - BIOS GRUB: boot.img in the MBR, a core.img in the gap before the partition with what
    reading grub.cfg and booting Linux needs built in (no module directory in the disk);
  - /boot/grub/grub.cfg with one entry naming the kernel and initramfs inside the disk,
    which GRUB reads on KVM (SeaBIOS) and Xen HVM, and pygrub reads for a Xen PV guest;
  - SHA512SUMS beside the qcow2, as Debian publishes it.

No loop device and no mount: the filesystem is edited with debugfs, the disk assembled in a
file. GRUB's BIOS files come from the controller (grub-pc-bin).
"""

import hashlib
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from hvlab.errors import HvlabError
from hvlab.guest_image import FS_LABEL, GuestImage, verify
from hvlab.vlab.hostcheck import require_tools
from hvlab.vlab.image import MIB, Progress, run_tool, write_at, write_boot_code

STANDIN_NAME = "hvlab-cloud-standin.qcow2"
SUMS_NAME = "SHA512SUMS"
GRUB_BIOS_DIR = Path("/usr/lib/grub/i386-pc")
STANDIN_TOOLS = {"qemu-img": "qemu-utils", "debugfs": "e2fsprogs", "parted": "parted",
                 "grub-mkimage": "grub-pc-bin"}
# Built into core.img: the disk holds no /boot/grub/i386-pc, so nothing is loaded later.
CORE_MODULES = ("biosdisk", "part_msdos", "ext2", "normal", "linux", "configfile", "echo", "test")
# Both stacks' consoles: the last one named is /dev/console where it exists (hvc0 on Xen PV).
KERNEL_ARGS = ("ro", "console=ttyS0,115200n8", "console=hvc0", "net.ifnames=0")
_BOOT_ENTRY = re.compile(r"^/\d+/(?P<mode>\d+)/\d+/\d+/(?P<name>[^/]+)/\d*/$")
_KERNEL = re.compile(r"^vmlinuz-(?P<version>[0-9][A-Za-z0-9.+~_-]*)$")


def _version_key(version: str) -> list[tuple[int, str]]:
    return [(int(part), "") if part.isdigit() else (-1, part) for part in re.split(r"[.+~_-]", version)]


def newest_kernel(boot_listing: str) -> tuple[str, str]:
    """The newest vmlinuz-VERSION with its initrd.img-VERSION, from `debugfs -R 'ls -p /boot'`.

    Only regular files count (mode 100xxx): the guest image's hvlab-vmlinuz links are not
    followed by every reader of the disk.
    """
    files = set()
    for line in boot_listing.splitlines():
        match = _BOOT_ENTRY.match(line.strip())
        if match and match["mode"].startswith("100"):
            files.add(match["name"])
    versions = [m["version"] for name in files if (m := _KERNEL.match(name)) and f"initrd.img-{m['version']}" in files]
    if not versions:
        raise HvlabError("the guest image's /boot holds no vmlinuz-VERSION with its initrd.img-VERSION")
    version = max(versions, key=_version_key)
    return f"vmlinuz-{version}", f"initrd.img-{version}"


def grub_cfg(kernel: str, initrd: str) -> str:
    """One menu entry, in the subset of GRUB 2's syntax that pygrub parses too."""
    args = " ".join((f"root=LABEL={FS_LABEL}", *KERNEL_ARGS))
    return (
        "set default=0\n"
        "set timeout=1\n"
        "menuentry 'Debian GNU/Linux (hvlab cloud-image stand-in)' {\n"
        f"  linux /boot/{kernel} {args}\n"
        f"  initrd /boot/{initrd}\n"
        "}\n"
    )


def sums_line(path: Path) -> str:
    """The SHA512SUMS line for `path`, in sha512sum's format (two spaces, the file name)."""
    with path.open("rb") as fh:
        return f"{hashlib.file_digest(fh, 'sha512').hexdigest()}  {path.name}\n"


def build(image: GuestImage, out_dir: Path, progress: Progress = lambda _msg: None) -> Path:
    """Write the stand-in and its SHA512SUMS into `out_dir` (made if missing); return the qcow2."""
    require_tools(STANDIN_TOOLS)
    if not (GRUB_BIOS_DIR / "boot.img").exists():
        raise HvlabError(f"GRUB's BIOS files are missing ({GRUB_BIOS_DIR}); "
                         "install them with: apt-get install grub-pc-bin")
    verify(image)
    out_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".hvlab-standin-", dir=out_dir))
    try:
        progress("unpacking the guest image's filesystem")
        fs = work / "fs.raw"
        run_tool(["qemu-img", "convert", "-f", "qcow2", "-O", "raw", str(image.directory / "disk.qcow2"), str(fs)],
                 "qemu-img convert")
        listing = _debugfs(fs, "ls -p /boot", write=False)
        kernel, initrd = newest_kernel(listing)
        cfg = work / "grub.cfg"
        cfg.write_text(grub_cfg(kernel, initrd))
        _debugfs(fs, "mkdir /boot/grub", write=True)
        _debugfs(fs, f"write {cfg} /boot/grub/grub.cfg", write=True)

        progress(f"assembling the whole disk (MBR, BIOS GRUB, the filesystem at 1 MiB; boots {kernel})")
        disk = work / "disk.raw"
        with disk.open("wb") as fh:
            fh.truncate(MIB + fs.stat().st_size)
        run_tool(["parted", "-s", str(disk), "mklabel", "msdos", "mkpart", "primary", "ext4", "1MiB", "100%",
                  "set", "1", "boot", "on"], "parted")
        core = work / "core.img"
        run_tool(["grub-mkimage", "-O", "i386-pc", "-d", str(GRUB_BIOS_DIR), "-o", str(core),
                  "-p", "(hd0,msdos1)/boot/grub", *CORE_MODULES], "grub-mkimage")
        write_boot_code(disk, GRUB_BIOS_DIR / "boot.img", core)
        write_at(disk, MIB, fs)
        fs.unlink()

        progress("compressing to qcow2")
        partial = work / STANDIN_NAME
        run_tool(["qemu-img", "convert", "-c", "-f", "raw", "-O", "qcow2", str(disk), str(partial)], "qemu-img convert")
        partial.chmod(0o644)
        sums = work / SUMS_NAME
        sums.write_text(sums_line(partial))
        sums.chmod(0o644)
        target = out_dir / STANDIN_NAME
        partial.replace(target)
        sums.replace(out_dir / SUMS_NAME)
        return target
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _debugfs(fs: Path, request: str, write: bool) -> str:
    """Run one debugfs request on the filesystem image; debugfs reports failures on stderr only."""
    cmd = ["debugfs", *(["-w"] if write else []), "-R", request, str(fs)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    errors = [line for line in done.stderr.splitlines() if line.strip() and not line.startswith("debugfs ")]
    if done.returncode != 0 or errors:
        raise HvlabError(f"debugfs {request!r} failed: {' '.join(errors) or done.returncode}")
    return done.stdout
