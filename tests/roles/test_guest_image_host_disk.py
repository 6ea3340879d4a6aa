"""guest_image takes the image from a disk of the host (guest_image_host_source_device), verified.

Applied for real to localhost, every path inside tmp_path (the host directory, the local fact):
a tar file made by hvlab's own packer (hvlab.guest_image.disk_tar, what `hvlab vlab up
--guest-image` attaches to each lab machine) stands in for the read-only disk. Checked: the files
are extracted, verified and put in place without the SSH copy; a second run changes nothing and
extracts nothing; a file the disk holds with other bytes (or as a link) is never installed from
it and is copied instead; no disk means the copy as before; check mode extracts nothing.
"""

import hashlib
import io
import re
import subprocess
import tarfile
from pathlib import Path

import pytest
from role_runner import run_role_check

from hvlab import guest_image

COPY_TASK = "Copy the image files the host lacks or holds with other bytes"
EXTRACT_TASK = "Extract the files the host lacks from the disk"
MOVE_TASK = "Move the verified files into place"
FILES = {"disk.qcow2": b"the guest disk " * 1000, "vmlinuz": b"the kernel", "initrd.img": b"the initramfs"}
SUFFIXES = {"disk.qcow2": ".qcow2", "vmlinuz": ".vmlinuz", "initrd.img": ".initrd"}


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def host_names() -> dict[str, str]:
    """Controller file name -> its name on the host."""
    return {name: sha256(data) + SUFFIXES[name] for name, data in FILES.items()}


@pytest.fixture
def image(tmp_path: Path) -> guest_image.GuestImage:
    """The controller's image (as `hvlab image build --guest` leaves it) and its tar beside it."""
    built = guest_image.GuestImage(tmp_path / "cache" / "guest-debian-13-0123456789abcdef")
    built.directory.mkdir(parents=True)
    for name, data in FILES.items():
        (built.directory / name).write_bytes(data)
    built.sums_path.write_text("".join(f"{sha256(data)}  {name}\n" for name, data in FILES.items()))
    return built


def apply(tmp_path: Path, image: guest_image.GuestImage, device: Path, *,
          check: bool = False) -> subprocess.CompletedProcess[str]:
    variables = {
        "guest_image_source": "file",
        "guest_image_file": str(image.directory / "disk.qcow2"),
        "guest_image_kernel_file": str(image.directory / "vmlinuz"),
        "guest_image_initrd_file": str(image.directory / "initrd.img"),
        "guest_image_host_dir": str(tmp_path / "host"),
        "guest_image_host_source_device": str(device),
        "__guest_image_fact_file": str(tmp_path / "facts.d" / "hvlab_guest_image.fact"),
    }
    return run_role_check("guest_image", tmp_path, variables, check=check)


def task_output(stdout: str, name: str) -> str:
    return stdout.split(f"TASK [guest_image : {name}]", 1)[1].split("TASK [", 1)[0]


def skipped(stdout: str, name: str) -> bool:
    """The task did not run: absent, or shown as skipped."""
    return f"TASK [guest_image : {name}]" not in stdout or task_output(stdout, name).strip().endswith(
        "skipping: [localhost]")


def changed(result: subprocess.CompletedProcess[str]) -> int:
    found = re.search(r"localhost\s*:.*changed=(\d+)", result.stdout)
    assert found, result.stdout[-3000:]
    return int(found.group(1))


def assert_installed(tmp_path: Path) -> None:
    """The host directory holds exactly the three files, with the controller's bytes, mode 0644."""
    host = tmp_path / "host"
    assert sorted(p.name for p in host.iterdir()) == sorted(host_names().values()), "no scratch directory is left"
    for name, on_host in host_names().items():
        path = host / on_host
        assert not path.is_symlink()
        assert path.read_bytes() == FILES[name]
        assert path.stat().st_mode & 0o777 == 0o644


def test_the_disk_gives_the_files_and_a_second_run_changes_nothing(
        tmp_path: Path, image: guest_image.GuestImage) -> None:
    device = guest_image.disk_tar(image)
    first = apply(tmp_path, image, device)
    assert first.returncode == 0, first.stdout[-4000:] + first.stderr
    assert_installed(tmp_path)
    assert f"TASK [guest_image : {COPY_TASK}]" not in first.stdout, "nothing went over the copy"
    assert task_output(first.stdout, MOVE_TASK).count("changed:") == 3

    second = apply(tmp_path, image, device)
    assert second.returncode == 0, second.stdout[-4000:] + second.stderr
    assert changed(second) == 0
    assert EXTRACT_TASK not in second.stdout
    assert COPY_TASK not in second.stdout
    assert_installed(tmp_path)

    # A file that changed on the host is the only one taken again.
    kernel = tmp_path / "host" / host_names()["vmlinuz"]
    kernel.write_bytes(b"damaged")
    third = apply(tmp_path, image, device)
    assert third.returncode == 0, third.stdout[-4000:] + third.stderr
    moved = task_output(third.stdout, MOVE_TASK)
    assert moved.count("changed:") == 1 and host_names()["vmlinuz"] in moved
    assert_installed(tmp_path)


def tampered_tar(tmp_path: Path, image: guest_image.GuestImage, how: str) -> Path:
    """A tar with the disk's member replaced: other bytes, or a link (to the right bytes, even)."""
    device = tmp_path / "tampered.tar"
    with tarfile.open(device, "w", format=tarfile.GNU_FORMAT) as archive:
        for name, on_host in host_names().items():
            if name == "disk.qcow2" and how == "link":
                info = tarfile.TarInfo(on_host)
                info.type, info.linkname = tarfile.SYMTYPE, str(image.directory / name)
                archive.addfile(info)
                continue
            data = b"evil " + FILES[name][5:] if name == "disk.qcow2" else FILES[name]
            info = tarfile.TarInfo(on_host)
            info.size, info.mode = len(data), 0o644
            archive.addfile(info, io.BytesIO(data))
    return device


@pytest.mark.parametrize("how", ["other bytes", "link"])
def test_a_file_the_disk_holds_otherwise_is_not_installed_from_it_but_copied(
        tmp_path: Path, image: guest_image.GuestImage, how: str) -> None:
    result = apply(tmp_path, image, tampered_tar(tmp_path, image, how))
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr
    assert_installed(tmp_path)
    disk = host_names()["disk.qcow2"]
    moved = task_output(result.stdout, MOVE_TASK)
    assert moved.count("changed:") == 2 and disk not in moved
    assert f"does not hold {disk} with the controller's sha256" in result.stdout
    copied = task_output(result.stdout, COPY_TASK)
    assert copied.count("changed:") == 1 and disk in copied


def test_without_the_disk_the_files_are_copied(tmp_path: Path, image: guest_image.GuestImage) -> None:
    missing = tmp_path / "no-such-disk"
    result = apply(tmp_path, image, missing)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr
    assert f"{missing} on localhost is not there" in result.stdout
    assert skipped(result.stdout, EXTRACT_TASK)
    assert task_output(result.stdout, COPY_TASK).count("changed:") == 3
    assert_installed(tmp_path)
    again = apply(tmp_path, image, missing)
    assert changed(again) == 0, again.stdout[-3000:]


def test_check_mode_extracts_nothing(tmp_path: Path, image: guest_image.GuestImage) -> None:
    result = apply(tmp_path, image, guest_image.disk_tar(image), check=True)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr
    assert "would be extracted" in result.stdout
    assert skipped(result.stdout, EXTRACT_TASK)
    assert changed(result) > 0
    assert not (tmp_path / "host").exists()
