"""The guest image's tar for the lab machines' read-only disk: its members, its name, its reuse."""

import hashlib
import tarfile

import pytest

from hvlab import guest_image


def stand_in_image(content: bytes = b"disk") -> guest_image.GuestImage:
    """A cached guest image with small stand-in files and their SHA256SUMS."""
    image = guest_image.cached_guest_image("13")
    image.directory.mkdir(parents=True, exist_ok=True)
    files = {"disk.qcow2": content, "vmlinuz": b"kernel", "initrd.img": b"initrd"}
    for name, data in files.items():
        (image.directory / name).write_bytes(data)
    image.sums_path.write_text("".join(f"{hashlib.sha256(data).hexdigest()}  {name}\n"
                                       for name, data in files.items()))
    return image


def test_the_tar_holds_the_three_files_named_as_on_the_hosts() -> None:
    image = stand_in_image()
    tar = guest_image.disk_tar(image)
    sums = image.checksums()
    with tarfile.open(tar) as archive:
        members = archive.getmembers()
        assert [member.name for member in members] == [
            f"{sums['disk.qcow2']}.qcow2", f"{sums['vmlinuz']}.vmlinuz", f"{sums['initrd.img']}.initrd"]
        for member, name in zip(members, guest_image.FILES, strict=True):
            assert member.isreg()
            assert (member.mode, member.uid, member.gid) == (0o644, 0, 0)
            extracted = archive.extractfile(member)
            assert extracted is not None
            assert extracted.read() == (image.directory / name).read_bytes()
    # A block device is read in whole sectors.
    assert tar.stat().st_size % 512 == 0
    assert tar.stat().st_mode & 0o777 == 0o644


def test_the_tar_sits_beside_the_image_named_by_its_content() -> None:
    image = stand_in_image()
    tar = guest_image.disk_tar(image)
    digest = hashlib.sha256(image.sums_path.read_bytes()).hexdigest()[:16]
    assert tar == image.directory.parent / f"{image.directory.name}.disk-{digest}.tar"
    assert sorted(p.name for p in tar.parent.iterdir()) == sorted([image.directory.name, tar.name])


def test_the_tar_is_reused_while_the_image_is_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    image = stand_in_image()
    tar = guest_image.disk_tar(image)
    said: list[str] = []
    monkeypatch.setattr(guest_image.tarfile, "open", lambda *_a, **_k: pytest.fail("tar written again"))
    assert guest_image.disk_tar(image, progress=said.append) == tar
    assert said == []


def test_a_new_image_gets_a_new_tar_and_the_old_one_goes() -> None:
    old = guest_image.disk_tar(stand_in_image(b"disk 1"))
    image = stand_in_image(b"disk 2")
    new = guest_image.disk_tar(image)
    assert new != old
    assert not old.exists()
    with tarfile.open(new) as archive:
        first = archive.extractfile(archive.getmembers()[0])
        assert first is not None
        assert first.read() == b"disk 2"


def test_a_failed_write_leaves_no_tar(monkeypatch: pytest.MonkeyPatch) -> None:
    image = stand_in_image()
    (image.directory / "vmlinuz").unlink()
    with pytest.raises(FileNotFoundError):
        guest_image.disk_tar(image)
    assert sorted(p.name for p in image.directory.parent.iterdir()) == [image.directory.name]
