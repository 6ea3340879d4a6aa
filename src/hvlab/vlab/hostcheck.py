"""Refuse early, naming the package to install, when a host tool is missing."""

import shutil
from pathlib import Path

from hvlab.errors import HvlabError

# command -> Debian/Ubuntu package that provides it
IMAGE_TOOLS = {
    "mmdebstrap": "mmdebstrap",
    "parted": "parted",
    "mkfs.ext4": "e2fsprogs",
    "qemu-img": "qemu-utils",
}
# Only for UEFI images: the EFI system partition is made in a file, without a loop device.
ESP_TOOLS = {
    "mkfs.fat": "dosfstools",
    "mcopy": "mtools",
}
MACHINE_TOOLS = {
    "qemu-system-x86_64": "qemu-system-x86",
    "qemu-img": "qemu-utils",
    "ssh": "openssh-client",
    "ssh-keygen": "openssh-client",
}


def require_tools(tools: dict[str, str]) -> None:
    missing = sorted({pkg for cmd, pkg in tools.items() if shutil.which(cmd) is None})
    if missing:
        raise HvlabError(
            "missing host tools; install them with: apt-get install "
            + " ".join(missing)
        )


def require_free_space(path: Path, needed_bytes: int, purpose: str) -> None:
    probe = path
    while not probe.exists():
        probe = probe.parent
    free = shutil.disk_usage(probe).free
    if free < needed_bytes:
        raise HvlabError(
            f"not enough disk space for {purpose} in {path}: "
            f"{free // 2**20} MiB free, {needed_bytes // 2**20} MiB needed"
        )
