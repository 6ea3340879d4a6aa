"""A real build of the whole-disk cloud-image stand-in (hvlab image standin), on a small image.

It makes a small guest image the way hvlab's is made (an ext4 filesystem filled from a tree
with mkfs.ext4 -d, converted to qcow2) and checks the disk it becomes: the MBR partition
table, GRUB's boot code, the filesystem at 1 MiB with grub.cfg in it, SHA512SUMS. That such
a disk boots is shown by the cloud_image scenario.
"""

import hashlib
import struct
import subprocess
from pathlib import Path

import pytest

from hvlab import cloud_standin
from hvlab.guest_image import FILES, FS_LABEL, GuestImage


@pytest.fixture
def small_guest_image(tmp_path: Path) -> GuestImage:
    tree = tmp_path / "tree"
    (tree / "boot").mkdir(parents=True)
    (tree / "boot/vmlinuz-6.12.1-amd64").write_bytes(b"kernel")
    (tree / "boot/initrd.img-6.12.1-amd64").write_bytes(b"initrd")
    image = GuestImage(tmp_path / "image")
    image.directory.mkdir()
    raw = tmp_path / "fs.raw"
    subprocess.run(["mkfs.ext4", "-q", "-F", "-L", FS_LABEL, "-d", str(tree), str(raw), "16M"], check=True)
    subprocess.run(["qemu-img", "convert", "-f", "raw", "-O", "qcow2", str(raw), str(image.directory / "disk.qcow2")],
                   check=True)
    (image.directory / "vmlinuz").write_bytes(b"kernel")
    (image.directory / "initrd.img").write_bytes(b"initrd")
    image.sums_path.write_text("".join(
        f"{hashlib.sha256((image.directory / name).read_bytes()).hexdigest()}  {name}\n" for name in FILES))
    return image


def test_build_makes_a_bootable_whole_disk(small_guest_image: GuestImage, tmp_path: Path) -> None:
    out = tmp_path / "www"
    qcow2 = cloud_standin.build(small_guest_image, out)
    assert sorted(p.name for p in out.iterdir()) == ["SHA512SUMS", cloud_standin.STANDIN_NAME]
    assert (out / "SHA512SUMS").read_text() == cloud_standin.sums_line(qcow2)

    raw = tmp_path / "disk.raw"
    subprocess.run(["qemu-img", "convert", "-f", "qcow2", "-O", "raw", str(qcow2), str(raw)], check=True)
    disk = raw.read_bytes()
    mbr = disk[:512]
    assert mbr[510:] == b"\x55\xaa"
    assert mbr[:440] == (cloud_standin.GRUB_BIOS_DIR / "boot.img").read_bytes()[:440]
    status, kind, start, sectors = struct.unpack_from("<B3xB3xII", mbr, 446)
    assert (status, kind, start) == (0x80, 0x83, 2048)  # bootable Linux partition at 1 MiB
    assert disk[512:516] != b"\0\0\0\0"  # GRUB's core.img fills the gap before it
    part = tmp_path / "part.raw"
    part.write_bytes(disk[start * 512:(start + sectors) * 512])
    cfg = subprocess.run(["debugfs", "-R", "cat /boot/grub/grub.cfg", str(part)], capture_output=True, text=True,
                         check=True).stdout
    assert cfg == cloud_standin.grub_cfg("vmlinuz-6.12.1-amd64", "initrd.img-6.12.1-amd64")
    label = subprocess.run(["e2label", str(part)], capture_output=True, text=True, check=True).stdout.strip()
    assert label == FS_LABEL
    assert not list(out.glob(".hvlab-standin-*"))  # its scratch directory is gone
