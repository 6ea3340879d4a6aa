"""The whole-disk cloud-image stand-in: its kernel pick, its grub.cfg, its SHA512SUMS line.

A real build is in tests/roles/test_cloud_standin_build.py (it runs the image tools).
"""

import hashlib
from pathlib import Path

import pytest

from hvlab import cloud_standin
from hvlab.errors import HvlabError
from hvlab.guest_image import FS_LABEL

LISTING = """\
/2/040755/0/0/./1024/
/2/040755/0/0/../1024/
/12/100644/0/0/vmlinuz-6.1.0-9-amd64/8000000/
/13/100644/0/0/initrd.img-6.1.0-9-amd64/30000000/
/14/100644/0/0/vmlinuz-6.12.117+deb13-amd64/9000000/
/15/100644/0/0/initrd.img-6.12.117+deb13-amd64/31000000/
/16/120777/0/0/hvlab-vmlinuz/27/
/17/100644/0/0/vmlinuz-6.13.0-1-amd64/9000000/
/18/100644/0/0/config-6.12.117+deb13-amd64/270000/
"""


def test_newest_kernel_with_its_initrd_regular_files_only() -> None:
    # 6.13.0-1 has no initramfs; the link is not a kernel file.
    assert cloud_standin.newest_kernel(LISTING) == ("vmlinuz-6.12.117+deb13-amd64", "initrd.img-6.12.117+deb13-amd64")


def test_newest_kernel_compares_versions_numerically() -> None:
    listing = "\n".join(f"/1/100644/0/0/{kind}-6.{minor}.0-1-amd64/1/"
                        for minor in (9, 10) for kind in ("vmlinuz", "initrd.img"))
    assert cloud_standin.newest_kernel(listing)[0] == "vmlinuz-6.10.0-1-amd64"


def test_no_kernel_is_refused() -> None:
    with pytest.raises(HvlabError, match="no vmlinuz-VERSION"):
        cloud_standin.newest_kernel("/16/120777/0/0/hvlab-vmlinuz/27/\n/13/100644/0/0/initrd.img-6.1.0-9-amd64/3/\n")


def test_grub_cfg_boots_that_kernel_by_label_with_both_stacks_consoles() -> None:
    cfg = cloud_standin.grub_cfg("vmlinuz-6.12.1", "initrd.img-6.12.1")
    lines = [line.strip() for line in cfg.splitlines()]
    words = f"root=LABEL={FS_LABEL} ro console=ttyS0,115200n8 console=hvc0 net.ifnames=0"
    assert f"linux /boot/vmlinuz-6.12.1 {words}" in lines
    assert "initrd /boot/initrd.img-6.12.1" in lines
    assert sum(line.startswith("menuentry ") for line in lines) == 1


def test_sums_line_is_sha512sums_format(tmp_path: Path) -> None:
    path = tmp_path / "disk.qcow2"
    path.write_bytes(b"hvlab")
    assert cloud_standin.sums_line(path) == f"{hashlib.sha512(b'hvlab').hexdigest()}  disk.qcow2\n"
