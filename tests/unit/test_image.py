"""The lab image: recipe hash per release and layout, mirror choice, cache verification."""

import hashlib
import shutil
from pathlib import Path

import pytest

from hvlab.errors import HvlabError
from hvlab.vlab import image, releases
from hvlab.vlab.image import CachedImage
from hvlab.vlab.releases import LabTarget

DEFAULT = LabTarget()
TARGETS = [LabTarget("13", "uefi"), LabTarget("13", "bios"), LabTarget("12", "uefi"), LabTarget("12", "bios")]

# --- recipe_id ---------------------------------------------------------------------------

def test_recipe_id_is_stable_short_hex() -> None:
    first = image.recipe_id(DEFAULT)
    assert first == image.recipe_id(LabTarget("13", "uefi"))
    assert len(first) == 16
    int(first, 16)  # hex digits only


def test_recipe_id_differs_per_release_and_layout() -> None:
    ids = [image.recipe_id(t) for t in TARGETS]
    assert len(set(ids)) == len(TARGETS), dict(zip(TARGETS, ids, strict=True))


def test_recipe_id_changes_with_packages(monkeypatch: pytest.MonkeyPatch) -> None:
    before = image.recipe_id(DEFAULT)
    monkeypatch.setattr(image, "PACKAGES", (*image.PACKAGES, "htop"))
    changed = image.recipe_id(DEFAULT)
    assert changed != before
    monkeypatch.setattr(image, "PACKAGES", tuple(reversed(image.PACKAGES)))
    assert image.recipe_id(DEFAULT) not in (before, changed)


@pytest.mark.parametrize("layout", ["bios", "uefi"])
def test_recipe_id_covers_boot_packages(layout: str, monkeypatch: pytest.MonkeyPatch) -> None:
    target = LabTarget("13", layout)
    other = LabTarget("13", "bios" if layout == "uefi" else "uefi")
    before, other_before = image.recipe_id(target), image.recipe_id(other)
    boot = dict(image.BOOT_PACKAGES, **{layout: (*image.BOOT_PACKAGES[layout], "memtest86+")})
    monkeypatch.setattr(image, "BOOT_PACKAGES", boot)
    assert image.recipe_id(target) != before
    assert image.recipe_id(other) == other_before  # only its own layout's boot packages count


def test_packages_carry_the_layouts_boot_loader() -> None:
    bios = image.packages(LabTarget("12", "bios"))
    uefi = image.packages(LabTarget("13", "uefi"))
    assert bios[: len(image.PACKAGES)] == uefi[: len(image.PACKAGES)] == image.PACKAGES
    assert "grub-pc" in bios and "grub-efi-amd64" not in bios and "shim-signed" not in bios
    assert {"grub-efi-amd64", "grub-efi-amd64-signed", "shim-signed"} <= set(uefi)
    assert "grub-pc" not in uefi  # grub-pc and grub-efi-amd64 conflict


def test_recipe_id_changes_with_suite(monkeypatch: pytest.MonkeyPatch) -> None:
    before = image.recipe_id(DEFAULT)
    monkeypatch.setitem(releases.RELEASES, "13", "forky")  # the suite a release is built from
    assert image.recipe_id(DEFAULT) != before


def test_recipe_id_changes_with_image_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = tmp_path / "imagefiles"
    shutil.copytree(image.IMAGE_FILES, files)
    monkeypatch.setattr(image, "IMAGE_FILES", files)
    same = image.recipe_id(DEFAULT)
    monkeypatch.undo()
    assert same == image.recipe_id(DEFAULT)  # a byte-identical copy hashes the same

    monkeypatch.setattr(image, "IMAGE_FILES", files)
    with (files / "customize.sh").open("a") as fh:
        fh.write("# changed\n")
    assert image.recipe_id(DEFAULT) != same


def test_cached_image_lives_in_cache_dir_named_by_recipe(tmp_path: Path) -> None:
    cached = image.cached_image(DEFAULT)
    assert cached.recipe_id == image.recipe_id(DEFAULT)
    assert cached.path == tmp_path / "cache" / "images" / f"debian-13-uefi-{cached.recipe_id}.qcow2"
    assert cached.checksum_path.name == cached.path.name + ".sha256"


def test_cached_images_of_every_target_sit_side_by_side(tmp_path: Path) -> None:
    cached = [image.cached_image(t) for t in TARGETS]
    assert {c.path.parent for c in cached} == {tmp_path / "cache" / "images"}
    assert [c.path.name for c in cached] == [
        f"debian-{t.release}-{t.layout}-{image.recipe_id(t)}.qcow2" for t in TARGETS
    ]
    assert len({c.path for c in cached}) == len(TARGETS)
    assert len({c.checksum_path for c in cached}) == len(TARGETS)


# --- debian_mirror -----------------------------------------------------------------------

@pytest.fixture
def fake_etc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Redirect debian_mirror's absolute /etc/apt paths into tmp_path.

    debian_mirror() hard-codes its two source files, so the test swaps the module's
    `Path` for one that re-roots /etc paths (see the report: a parameter would be cleaner).
    """
    root = tmp_path / "root"
    (root / "etc/apt/sources.list.d").mkdir(parents=True)
    real_path = Path

    def rerooted(*parts: str) -> Path:
        p = real_path(*parts)
        return root / p.relative_to("/") if p.is_absolute() and p.parts[1] == "etc" else p

    monkeypatch.setattr(image, "Path", rerooted)
    return root


def test_mirror_env_override_wins(fake_etc: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (fake_etc / "etc/apt/sources.list.d/debian.sources").write_text(
        "Types: deb\nURIs: http://other.example/debian\nSuites: bookworm\n"
    )
    monkeypatch.setenv("HVLAB_DEBIAN_MIRROR", "http://mirror.example/debian/")
    assert image.debian_mirror() == "http://mirror.example/debian"


def test_mirror_from_deb822(fake_etc: Path) -> None:
    (fake_etc / "etc/apt/sources.list.d/debian.sources").write_text(
        "Types: deb\n"
        "URIs: http://ftp.example.org/debian-security/\n"
        "Suites: bookworm-security\n"
        "Components: main\n"
        "\n"
        "Types: deb deb-src\n"
        "URIs: http://ftp.example.org/debian/ http://backup.example.org/debian\n"
        "Suites: bookworm bookworm-updates\n"
        "Components: main\n"
    )
    assert image.debian_mirror() == "http://ftp.example.org/debian"


def test_mirror_from_legacy_sources_list(fake_etc: Path) -> None:
    (fake_etc / "etc/apt/sources.list").write_text(
        "# comment\n"
        "deb http://security.example.org/debian-security bookworm-security main\n"
        "deb-src http://src.example.org/debian bookworm main\n"
        "deb http://legacy.example.org/debian/ bookworm main\n"
    )
    assert image.debian_mirror() == "http://legacy.example.org/debian"


def test_mirror_default_without_sources(fake_etc: Path) -> None:
    assert image.debian_mirror() == "http://deb.debian.org/debian"


def test_mirror_deb822_without_debian_uri_falls_through(fake_etc: Path) -> None:
    (fake_etc / "etc/apt/sources.list.d/debian.sources").write_text(
        "Types: deb\nURIs: http://archive.ubuntu.com/ubuntu\nSuites: noble\n"
    )
    (fake_etc / "etc/apt/sources.list").write_text("deb http://legacy.example.org/debian bookworm main\n")
    assert image.debian_mirror() == "http://legacy.example.org/debian"


def test_mirror_legacy_line_with_options(fake_etc: Path) -> None:
    (fake_etc / "etc/apt/sources.list").write_text(
        "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://opt.example.org/debian bookworm main\n"
    )
    assert image.debian_mirror() == "http://opt.example.org/debian"


# --- verify ------------------------------------------------------------------------------

def make_image(content: bytes = b"qcow2 bytes", target: LabTarget = DEFAULT) -> CachedImage:
    cached = image.cached_image(target)
    cached.path.parent.mkdir(parents=True, exist_ok=True)
    cached.path.write_bytes(content)
    digest = hashlib.sha256(content).hexdigest()
    cached.checksum_path.write_text(f"{digest}  {cached.path.name}\n")
    return cached


def test_sha256_file_matches_hashlib(tmp_path: Path) -> None:
    f = tmp_path / "blob"
    data = bytes(range(256)) * 40000  # > one 4 MiB read block
    f.write_bytes(data)
    assert image.sha256_file(f) == hashlib.sha256(data).hexdigest()


def test_verify_good_image_passes() -> None:
    cached = make_image()
    image.verify(cached)
    assert image.is_current(cached)


def test_verify_missing_image() -> None:
    cached = image.cached_image(DEFAULT)
    with pytest.raises(HvlabError, match="no cached lab image") as exc:
        image.verify(cached)
    assert str(cached.path) in str(exc.value)
    assert "hvlab image build" in str(exc.value)
    assert not image.is_current(cached)


def test_verify_missing_checksum() -> None:
    cached = make_image()
    cached.checksum_path.unlink()
    with pytest.raises(HvlabError, match="no checksum file") as exc:
        image.verify(cached)
    assert "hvlab image build --force" in str(exc.value)
    assert not image.is_current(cached)


def test_verify_corrupt_image() -> None:
    cached = make_image(b"the image as built")
    with cached.path.open("r+b") as fh:
        fh.write(b"X")  # one flipped byte
    with pytest.raises(HvlabError, match=r"corrupt \(sha256 mismatch\)") as exc:
        image.verify(cached)
    assert str(cached.path) in str(exc.value)
    assert not image.is_current(cached)


def test_verify_empty_checksum_file_is_hvlab_error() -> None:
    cached = make_image()
    cached.checksum_path.write_text("")
    with pytest.raises(HvlabError):
        image.verify(cached)


# --- build (only the paths that never run a tool) ----------------------------------------

def test_build_reuses_current_image_without_tools(monkeypatch: pytest.MonkeyPatch) -> None:
    cached = make_image()

    def no_tools(_tools: dict[str, str]) -> None:
        raise AssertionError("a current cached image must not need build tools")

    monkeypatch.setattr(image, "require_tools", no_tools)
    messages: list[str] = []
    assert image.build(DEFAULT, progress=messages.append) == cached
    assert any("cached image is current" in m for m in messages)


def test_build_does_not_reuse_another_targets_image(monkeypatch: pytest.MonkeyPatch) -> None:
    make_image(target=LabTarget("12", "bios"))
    asked: list[dict[str, str]] = []

    def no_tools(tools: dict[str, str]) -> None:
        asked.append(tools)
        raise HvlabError("stop before building")

    monkeypatch.setattr(image, "require_tools", no_tools)
    with pytest.raises(HvlabError, match="stop before building"):
        image.build(LabTarget("13", "bios"))
    with pytest.raises(HvlabError, match="stop before building"):
        image.build(LabTarget("12", "uefi"))
    assert "mkfs.fat" not in asked[0] and "mcopy" not in asked[0]  # a BIOS build needs no ESP tools
    assert {"mkfs.fat", "mcopy", "mmdebstrap"} <= set(asked[1])


def test_build_with_missing_tools_names_packages(monkeypatch: pytest.MonkeyPatch) -> None:
    make_image()
    monkeypatch.setattr("hvlab.vlab.hostcheck.shutil.which", lambda cmd: None if cmd == "mmdebstrap" else "/bin/x")
    with pytest.raises(HvlabError, match=r"apt-get install mmdebstrap$"):
        image.build(DEFAULT, force=True)
