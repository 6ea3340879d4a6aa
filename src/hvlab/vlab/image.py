"""Build the lab machines' Debian image offline, without loop devices.

One image per Debian release and disk layout (releases.LabTarget): BIOS images carry
an msdos label and grub-pc; UEFI images a GPT label, an EFI system partition with
Debian's signed shim and GRUB (so they boot with Secure Boot on, too) and grub-efi-amd64.
Neither needs a loop device: ext4 is filled from the tree by mkfs.ext4 -d at the
partition's offset, the FAT ESP is made in a file by mkfs.fat and mtools, then both are
written into the raw disk.

The image is cached under the user's cache dir, named by release, layout and a hash of
its recipe (suite, packages, the files put into it), so images for every target sit side
by side and one is rebuilt only when its recipe changes. A sha256 file beside it lets
every use detect a corrupt cache.
"""

import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml

from hvlab import paths
from hvlab.errors import HvlabError
from hvlab.vlab.hostcheck import ESP_TOOLS, IMAGE_TOOLS, require_free_space, require_tools
from hvlab.vlab.releases import LabTarget

RECIPE_VERSION = 2
DISK_GIB = 10
MIB = 1024 * 1024
ESP_MIB = 128
PACKAGES = (
    "linux-image-amd64", "openssh-server", "python3", "sudo",
    "systemd-sysv", "systemd-resolved", "dbus", "udev", "kmod", "iproute2",
    "ca-certificates", "procps", "initramfs-tools", "e2fsprogs", "apt-utils",
)
DPKG_EXCLUDES = (
    "path-exclude=/usr/share/doc/*", "path-include=/usr/share/doc/*/copyright",
    "path-exclude=/usr/share/man/*", "path-exclude=/usr/share/locale/*",
    "path-exclude=/usr/share/info/*",
)
# The boot loader packages of each disk layout: installed for real, as on any Debian host.
BOOT_PACKAGES: dict[str, tuple[str, ...]] = {
    "bios": ("grub-pc",),
    "uefi": ("grub-efi-amd64", "grub-efi-amd64-signed", "shim-signed", "efibootmgr"),
}
IMAGE_FILES = Path(__file__).with_name("imagefiles")
ROLES_DIR = paths.project_root() / "roles"
BUILD_SPACE_BYTES = 4 * 2**30

Progress = Callable[[str], None]


@dataclass(frozen=True)
class CachedImage:
    path: Path
    recipe_id: str

    @property
    def checksum_path(self) -> Path:
        return self.path.with_name(self.path.name + ".sha256")


def packages(target: LabTarget) -> tuple[str, ...]:
    return PACKAGES + BOOT_PACKAGES[target.layout] + (stack_packages(target.stack, target.release)
                                                      if target.stack else ())


def _role_vars(role: str, release: str) -> dict[str, object]:
    """The role's vars for Debian, layered as Ansible layers them (vars/main.yml, then the role's
    include of Debian.yml, then Debian_N.yml)."""
    merged: dict[str, object] = {}
    for name in ("main.yml", "Debian.yml", f"Debian_{release}.yml"):
        path = ROLES_DIR / role / "vars" / name
        if path.exists():
            merged.update(yaml.safe_load(path.read_text()) or {})
    return merged


# The package lists of a host of each stack, as (role, variable): its own role's, then those of
# the roles that run on every hypervisor host (guests: qemu-img and genisoimage; compare: iperf3).
STACK_PACKAGE_LISTS = {
    "kvm": (("kvm_host", "__kvm_host_packages"),),
    "xen": (("xen_host", "__xen_host_base_packages"), ("xen_host", "__xen_host_qemu_packages")),
}
EVERY_HOST_PACKAGE_LISTS = (("guests", "__guests_packages"), ("compare", "__compare_host_packages"))


def stack_packages(stack: str, release: str) -> tuple[str, ...]:
    """The host packages the roles install on a `stack` host on Debian `release`, read from the
    roles' own vars files (one list, one place), so a prepared image can never carry a stale copy:
    a change there changes the recipe hash and the image is rebuilt."""
    names: list[str] = []
    for role, name in (*STACK_PACKAGE_LISTS[stack], *EVERY_HOST_PACKAGE_LISTS):
        value = _role_vars(role, release).get(name)
        if not isinstance(value, list) or not all(isinstance(n, str) for n in value):
            raise HvlabError(f"roles/{role}/vars (main.yml, Debian.yml, Debian_{release}.yml): {name} "
                             "is missing or not a list of package names")
        names.extend(value)
    return tuple(dict.fromkeys(names))


def recipe_id(target: LabTarget) -> str:
    """Hash of everything that decides the image's content."""
    return recipe_hash(
        {"v": RECIPE_VERSION, "suite": target.suite, "layout": target.layout, "stack": target.stack,
         "packages": packages(target),
         "dpkg": DPKG_EXCLUDES, "disk_gib": DISK_GIB, "esp_mib": ESP_MIB},
        IMAGE_FILES,
    )


def recipe_hash(settings: dict[str, object], files: Path) -> str:
    """16 hex digits over the settings and every file put into an image (lab or guest)."""
    digest = hashlib.sha256()
    digest.update(json.dumps(settings, sort_keys=True).encode())
    for f in sorted(files.iterdir()):
        digest.update(f.name.encode() + b"\0" + f.read_bytes())
    return digest.hexdigest()[:16]


def cached_image(target: LabTarget) -> CachedImage:
    rid = recipe_id(target)
    return CachedImage(paths.cache_dir() / "images" / f"{target.name}-{rid}.qcow2", rid)


def debian_mirror() -> str:
    """The mirror to build from: HVLAB_DEBIAN_MIRROR, else the host's Debian source."""
    explicit = os.environ.get("HVLAB_DEBIAN_MIRROR")
    if explicit:
        return explicit.rstrip("/")
    deb822 = Path("/etc/apt/sources.list.d/debian.sources")
    if deb822.exists():
        for line in deb822.read_text().splitlines():
            if line.startswith("URIs:"):
                for uri in line.split()[1:]:
                    if uri.rstrip("/").endswith("/debian"):
                        return uri.rstrip("/")
    legacy = Path("/etc/apt/sources.list")
    if legacy.exists():
        for line in legacy.read_text().splitlines():
            # "deb [signed-by=...] URL suite ..." : drop the bracketed options first
            parts = re.sub(r"\[[^]]*\]", " ", line).split()
            if len(parts) >= 3 and parts[0] == "deb" and parts[1].rstrip("/").endswith("/debian"):
                return parts[1].rstrip("/")
    return "http://deb.debian.org/debian"


def sha256_file(path: Path) -> str:
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def verify(image: CachedImage) -> None:
    """Raise unless the cached image exists and matches the checksum kept beside it."""
    if not image.path.exists():
        raise HvlabError(f"no cached lab image at {image.path}; "
                         "run: hvlab image build with the same --release, --firmware and --stack")
    if not image.checksum_path.exists():
        raise HvlabError(f"cached image {image.path} has no checksum file; run: hvlab image build --force")
    recorded = image.checksum_path.read_text().split()
    if not recorded or sha256_file(image.path) != recorded[0]:
        raise HvlabError(f"cached image {image.path} is corrupt (sha256 mismatch); run: hvlab image build --force")


def is_current(image: CachedImage) -> bool:
    try:
        verify(image)
    except HvlabError:
        return False
    return True


def run_tool(cmd: list[str], what: str, **kwargs: object) -> None:
    result = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL, **kwargs)  # type: ignore[call-overload]
    if result.returncode != 0:
        tail = "\n".join((result.stderr or result.stdout).strip().splitlines()[-15:])
        raise HvlabError(f"{what} failed (exit {result.returncode}):\n{tail}")


def build(target: LabTarget, force: bool = False, progress: Progress = lambda _msg: None) -> CachedImage:
    """Build the image unless a verified one for the current recipe is cached."""
    image = cached_image(target)
    if not force and is_current(image):
        progress(f"cached image is current: {image.path}")
        return image
    require_tools(IMAGE_TOOLS | (ESP_TOOLS if target.layout == "uefi" else {}))
    if os.geteuid() != 0:
        raise HvlabError(
            "building the lab image needs root (mmdebstrap and mkfs keep file ownership); run it with sudo"
        )
    image.path.parent.mkdir(parents=True, exist_ok=True)
    require_free_space(image.path.parent, BUILD_SPACE_BYTES, "the lab image build")
    work = Path(tempfile.mkdtemp(prefix="hvlab-image-", dir=image.path.parent))
    try:
        _build_into(work, image, target, progress)
    finally:
        remove_build_dir(work)
    return image


def _mounts_under(path: Path) -> list[str]:
    prefix = str(path.resolve()) + "/"
    with open("/proc/self/mountinfo") as fh:
        points = [line.split()[4].replace("\\040", " ") for line in fh]
    return [p for p in points if p.startswith(prefix)]


def remove_build_dir(work: Path) -> None:
    """Remove the build dir, but never through a mount left by an interrupted mmdebstrap.

    mmdebstrap bind-mounts the host's /dev/shm (among others) into the rootfs; a
    recursive delete through that mount would empty the host's /dev/shm.
    """
    for point in sorted(_mounts_under(work), key=len, reverse=True):
        subprocess.run(["umount", "--lazy", point], check=False, stdin=subprocess.DEVNULL)
    left = _mounts_under(work)
    if left:
        raise HvlabError(f"not removing {work}: still mounted: {', '.join(left)}")
    shutil.rmtree(work, ignore_errors=True)


def _build_into(work: Path, image: CachedImage, target: LabTarget, progress: Progress) -> None:
    rootfs = work / "rootfs"
    raw = work / "disk.raw"
    root_uuid = str(uuid.uuid4())
    esp_id = uuid.uuid4().hex[:8].upper()  # FAT volume id; /etc/fstab names it as XXXX-XXXX
    mirror = debian_mirror()
    suite = target.suite
    env = dict(os.environ, HVLAB_ROOT_UUID=root_uuid, HVLAB_IMAGE_FILES=str(IMAGE_FILES),
               HVLAB_RECIPE_ID=image.recipe_id, HVLAB_BOOT=target.layout,
               HVLAB_ESP_UUID=f"{esp_id[:4]}-{esp_id[4:]}")
    progress(f"bootstrapping {target.name} from {mirror} (a minute or two)")
    cmd = ["mmdebstrap", "--variant=minbase", "--mode=root", f"--include={','.join(packages(target))}",
           "--aptopt=Acquire::Retries \"3\"",
           f"--customize-hook={IMAGE_FILES / 'customize.sh'} \"$1\""]
    cmd += [f"--dpkgopt={opt}" for opt in DPKG_EXCLUDES]
    cmd += [suite, str(rootfs), f"deb {mirror} {suite} main", f"deb {mirror} {suite}-updates main"]
    run_tool(cmd, "mmdebstrap", env=env)

    progress("making the disk (partition table, ext4 filled from the tree, boot loader)")
    size = DISK_GIB * 2**30
    with raw.open("wb") as fh:
        fh.truncate(size)
    if target.layout == "uefi":
        # GPT keeps a backup header in the disk's last sectors: the root partition ends 1 MiB early.
        root_offset, root_end = (1 + ESP_MIB) * MIB, size - MIB
        run_tool(["parted", "-s", str(raw), "mklabel", "gpt",
                  "mkpart", "ESP", "fat32", "1MiB", f"{1 + ESP_MIB}MiB", "set", "1", "esp", "on",
                  "mkpart", "root", "ext4", f"{root_offset // MIB}MiB", f"{root_end // MIB}MiB"], "parted")
        esp = _make_esp(work, rootfs / "boot/efi", esp_id)
        write_at(raw, 1 * MIB, esp)
    else:
        root_offset, root_end = 1 * MIB, size
        run_tool(["parted", "-s", str(raw), "mklabel", "msdos", "mkpart", "primary", "ext4", "1MiB", "100%",
                  "set", "1", "boot", "on"], "parted")
        write_boot_code(raw, rootfs / "boot/grub/hvlab-boot.img", rootfs / "boot/grub/hvlab-core.img")
    fs_kib = (root_end - root_offset) // 1024
    run_tool(["mkfs.ext4", "-q", "-F", "-U", root_uuid, "-L", "hvlab-root",
              "-E", f"offset={root_offset}", "-d", str(rootfs), str(raw), f"{fs_kib}k"], "mkfs.ext4")

    progress("compressing to qcow2")
    partial = image.path.with_suffix(".partial")
    run_tool(["qemu-img", "convert", "-c", "-f", "raw", "-O", "qcow2", str(raw), str(partial)], "qemu-img convert")
    checksum = sha256_file(partial)
    partial.replace(image.path)
    image.checksum_path.write_text(f"{checksum}  {image.path.name}\n")
    progress(f"image ready: {image.path}")


def _make_esp(work: Path, tree: Path, volume_id: str) -> Path:
    """A FAT32 file holding what the hook staged in the tree's /boot/efi, which is then emptied.

    /boot/efi must stay an empty mount point in the root filesystem.
    """
    esp = work / "esp.fat"
    with esp.open("wb") as fh:
        fh.truncate(ESP_MIB * MIB)
    run_tool(["mkfs.fat", "-F", "32", "-i", volume_id, "-n", "HVLAB-ESP", str(esp)], "mkfs.fat")
    entries = sorted(tree.iterdir())
    if entries:
        run_tool(["mcopy", "-s", "-i", str(esp), *map(str, entries), "::/"], "mcopy")
    for entry in entries:
        shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
    return esp


def write_at(raw: Path, offset: int, part: Path) -> None:
    with raw.open("r+b") as out, part.open("rb") as src:
        out.seek(offset)
        shutil.copyfileobj(src, out, 4 * MIB)


def write_boot_code(raw: Path, boot_img: Path, core_img: Path) -> None:
    """MBR boot code (first 440 bytes, keeping the partition table) and core.img at sector 1."""
    core = core_img.read_bytes()
    if len(core) > MIB - 512:
        raise HvlabError(f"GRUB core.img is {len(core)} bytes, too big for the gap before the partition")
    with raw.open("r+b") as fh:
        fh.write(boot_img.read_bytes()[:440])
        fh.seek(512)
        fh.write(core)
