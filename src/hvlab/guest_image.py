"""Build hvlab's guest image offline: the same bytes for KVM and Xen guests.

The image is a directory in the cache, named by a hash of its recipe:
  disk.qcow2   one ext4 filesystem (label hvlab-guest), no partition table, no bootloader
  vmlinuz      Debian's kernel: virtio and Xen front-end drivers, PV/PVH/HVM entry points
  initrd.img   its initramfs (MODULES=most: virtio_blk and xen-blkfront both included)
  SHA256SUMS   checksums of the three, verified on every use and on every hypervisor host
Beside it, for the virtual lab, the same three files in one plain tar archive (disk_tar), named by
a hash of SHA256SUMS: `hvlab vlab up --guest-image` attaches it to each lab machine as a
read-only virtio disk (serial DISK_SERIAL), and the guest_image role extracts it on the host
instead of copying the image over SSH (then verifies every file against the controller's sums).
Guests boot the kernel directly (libvirt <kernel>, xl kernel=) rather than through a
bootloader in the disk: pygrub is deprecated, PVH cannot use it, and one kernel file
outside the disk proves both stacks boot the very same kernel. cloud-init (NoCloud) gives
each guest its identity; sysbench, fio and iperf3 are installed from Debian at build time,
so guests need no network access to the internet to run the comparison.
"""

import hashlib
import os
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from hvlab import paths
from hvlab.errors import HvlabError
from hvlab.vlab.hostcheck import IMAGE_TOOLS, require_free_space, require_tools
from hvlab.vlab.image import (
    DPKG_EXCLUDES,
    Progress,
    debian_mirror,
    recipe_hash,
    remove_build_dir,
    run_tool,
    sha256_file,
)
from hvlab.vlab.releases import RELEASES, check_release

RECIPE_VERSION = 1
FS_GIB = 3
FS_LABEL = "hvlab-guest"
PACKAGES = (
    "linux-image-amd64", "initramfs-tools", "systemd-sysv", "systemd-resolved", "udev", "kmod",
    "dbus", "openssh-server", "cloud-init", "python3", "sudo", "iproute2", "ca-certificates",
    "procps", "e2fsprogs", "netbase", "sysbench", "fio", "iperf3",
    # Ansible's package module needs python3-apt, even to see that a package is there:
    # without it, it would try to install it, and a Xen guest on a host-only bridge has no mirror.
    "python3-apt",
)
FILES = ("disk.qcow2", "vmlinuz", "initrd.img")
# The name each file has on a hypervisor host, <sha256><suffix> (the guest_image role's
# __guest_image_files); the tar's members carry these names, so the role extracts by them.
HOST_SUFFIXES = {"disk.qcow2": ".qcow2", "vmlinuz": ".vmlinuz", "initrd.img": ".initrd"}
# The virtio serial of the read-only disk holding the tar: /dev/disk/by-id/virtio-<serial> on a host.
DISK_SERIAL = "hvlab-guest-image"
GUEST_FILES = Path(__file__).with_name("guestfiles")
BUILD_SPACE_BYTES = (FS_GIB + 2) * 2**30


@dataclass(frozen=True)
class GuestImage:
    directory: Path

    @property
    def sums_path(self) -> Path:
        return self.directory / "SHA256SUMS"

    def checksums(self) -> dict[str, str]:
        """File name -> sha256, as recorded when the image was built."""
        sums: dict[str, str] = {}
        for line in self.sums_path.read_text().splitlines():
            digest, _, name = line.partition("  ")
            sums[name] = digest
        return sums


def disk_tar_path(image: GuestImage) -> Path:
    """The tar of `image`, beside its directory, named by a hash of its SHA256SUMS (its content)."""
    content = hashlib.sha256(image.sums_path.read_bytes()).hexdigest()[:16]
    return image.directory.parent / f"{image.directory.name}.disk-{content}.tar"


def disk_tar(image: GuestImage, progress: Progress = lambda _msg: None) -> Path:
    """The image's files as a plain tar (members named as on the hosts), made unless it exists.

    The image must be verified (build() does). A tar of an earlier content of the same recipe is
    removed. Written under a temporary name and renamed, so an interrupted run leaves no tar that
    looks finished; a damaged tar is still caught on each host, which checks every file's sha256.
    """
    sums = image.checksums()
    tar = disk_tar_path(image)
    if tar.exists():
        return tar
    progress(f"packing the guest image for the lab machines' read-only disk: {tar}")
    for stale in image.directory.parent.glob(f"{image.directory.name}.disk-*.tar"):
        stale.unlink(missing_ok=True)
    fd, part_name = tempfile.mkstemp(prefix=f".{tar.name}.", suffix=".part", dir=tar.parent)
    part = Path(part_name)
    try:
        with os.fdopen(fd, "wb") as fh, tarfile.open(fileobj=fh, mode="w", format=tarfile.GNU_FORMAT) as archive:
            for name in FILES:
                source = image.directory / name
                info = tarfile.TarInfo(sums[name] + HOST_SUFFIXES[name])
                info.size = source.stat().st_size
                info.mode, info.uid, info.gid, info.uname, info.gname, info.mtime = 0o644, 0, 0, "root", "root", 0
                with source.open("rb") as data:
                    archive.addfile(info, data)
        part.chmod(0o644)
        part.replace(tar)
    finally:
        part.unlink(missing_ok=True)
    return tar


def recipe_id(release: str) -> str:
    """Hash of everything that decides the image's content."""
    return recipe_hash(
        {"v": RECIPE_VERSION, "suite": RELEASES[check_release(release)], "packages": PACKAGES,
         "dpkg": DPKG_EXCLUDES,
         "fs_gib": FS_GIB, "label": FS_LABEL},
        GUEST_FILES,
    )


def cached_guest_image(release: str) -> GuestImage:
    return GuestImage(paths.cache_dir() / "images" / f"guest-debian-{release}-{recipe_id(release)}")


def verify(image: GuestImage) -> dict[str, str]:
    """Return the checksums, or raise unless every file matches the recorded sha256."""
    if not image.sums_path.exists():
        raise HvlabError(f"no guest image at {image.directory}; run: hvlab image build --guest")
    sums = image.checksums()
    for name in FILES:
        path = image.directory / name
        if name not in sums or not path.exists() or sha256_file(path) != sums[name]:
            raise HvlabError(f"guest image file {path} is missing or corrupt; run: hvlab image build --guest --force")
    return sums


def build(release: str, force: bool = False, progress: Progress = lambda _msg: None) -> GuestImage:
    """Build the guest image of a Debian release unless a verified one for its recipe is cached."""
    image = cached_guest_image(release)
    if not force:
        try:
            verify(image)
        except HvlabError:
            pass
        else:
            progress(f"cached guest image is current: {image.directory}")
            return image
    require_tools(IMAGE_TOOLS)
    if os.geteuid() != 0:
        raise HvlabError("building the guest image needs root (mmdebstrap and mkfs keep file ownership); use sudo")
    image.directory.parent.mkdir(parents=True, exist_ok=True)
    require_free_space(image.directory.parent, BUILD_SPACE_BYTES, "the guest image build")
    work = Path(tempfile.mkdtemp(prefix="hvlab-guest-", dir=image.directory.parent))
    try:
        _build_into(work, image, RELEASES[release], progress)
    finally:
        remove_build_dir(work)
    return image


def _build_into(work: Path, image: GuestImage, suite: str, progress: Progress) -> None:
    rootfs = work / "rootfs"
    out = work / "out"
    out.mkdir()
    mirror = debian_mirror()
    env = dict(os.environ, HVLAB_GUEST_FILES=str(GUEST_FILES), HVLAB_RECIPE_ID=image.directory.name)
    progress(f"bootstrapping the Debian {suite} guest from {mirror} (a minute or two)")
    cmd = ["mmdebstrap", "--variant=minbase", "--mode=root", f"--include={','.join(PACKAGES)}",
           "--aptopt=Acquire::Retries \"3\"",
           f"--customize-hook={GUEST_FILES / 'customize.sh'} \"$1\""]
    cmd += [f"--dpkgopt={opt}" for opt in DPKG_EXCLUDES]
    cmd += [suite, str(rootfs), f"deb {mirror} {suite} main", f"deb {mirror} {suite}-updates main"]
    run_tool(cmd, "mmdebstrap (guest)", env=env)

    # The hook left links /boot/hvlab-{vmlinuz,initrd.img} naming the newest kernel; the
    # links are relative to /boot of the tree, so resolve them there, not on the host.
    boot = rootfs / "boot"
    for link, name in (("hvlab-vmlinuz", "vmlinuz"), ("hvlab-initrd.img", "initrd.img")):
        (out / name).write_bytes((boot / os.readlink(boot / link)).read_bytes())

    progress("making the guest disk (ext4 filled from the tree)")
    raw = work / "disk.raw"
    with raw.open("wb") as fh:
        fh.truncate(FS_GIB * 2**30)
    run_tool(["mkfs.ext4", "-q", "-F", "-L", FS_LABEL, "-d", str(rootfs), str(raw)], "mkfs.ext4")
    run_tool(["qemu-img", "convert", "-c", "-f", "raw", "-O", "qcow2", str(raw), str(out / "disk.qcow2")],
             "qemu-img convert")
    (out / "SHA256SUMS").write_text("".join(f"{sha256_file(out / name)}  {name}\n" for name in FILES))
    for name in FILES:
        (out / name).chmod(0o644)
    out.chmod(0o755)
    if image.directory.exists():
        remove_build_dir(image.directory)
    out.replace(image.directory)
    progress(f"guest image ready: {image.directory}")
