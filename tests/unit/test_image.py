"""The lab image: recipe hash, mirror choice, cache verification."""

import hashlib
import shutil
from pathlib import Path

import pytest

from hvlab.errors import HvlabError
from hvlab.vlab import image
from hvlab.vlab.image import CachedImage

# --- recipe_id ---------------------------------------------------------------------------

def test_recipe_id_is_stable_short_hex() -> None:
    first = image.recipe_id()
    assert first == image.recipe_id()
    assert len(first) == 16
    int(first, 16)  # hex digits only


def test_recipe_id_changes_with_packages(monkeypatch: pytest.MonkeyPatch) -> None:
    before = image.recipe_id()
    monkeypatch.setattr(image, "PACKAGES", (*image.PACKAGES, "htop"))
    changed = image.recipe_id()
    assert changed != before
    monkeypatch.setattr(image, "PACKAGES", tuple(reversed(image.PACKAGES)))
    assert image.recipe_id() not in (before, changed)


def test_recipe_id_changes_with_suite(monkeypatch: pytest.MonkeyPatch) -> None:
    before = image.recipe_id()
    monkeypatch.setattr(image, "SUITE", "trixie")
    assert image.recipe_id() != before


def test_recipe_id_changes_with_image_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = tmp_path / "imagefiles"
    shutil.copytree(image.IMAGE_FILES, files)
    monkeypatch.setattr(image, "IMAGE_FILES", files)
    same = image.recipe_id()
    monkeypatch.undo()
    assert same == image.recipe_id()  # a byte-identical copy hashes the same

    monkeypatch.setattr(image, "IMAGE_FILES", files)
    with (files / "customize.sh").open("a") as fh:
        fh.write("# changed\n")
    assert image.recipe_id() != same


def test_cached_image_lives_in_cache_dir_named_by_recipe(tmp_path: Path) -> None:
    cached = image.cached_image()
    assert cached.recipe_id == image.recipe_id()
    assert cached.path == tmp_path / "cache" / "images" / f"debian-12-{cached.recipe_id}.qcow2"
    assert cached.checksum_path.name == cached.path.name + ".sha256"


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

def make_image(content: bytes = b"qcow2 bytes") -> CachedImage:
    cached = image.cached_image()
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
    cached = image.cached_image()
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
    assert image.build(progress=messages.append) == cached
    assert any("cached image is current" in m for m in messages)


def test_build_with_missing_tools_names_packages(monkeypatch: pytest.MonkeyPatch) -> None:
    make_image()
    monkeypatch.setattr("hvlab.vlab.hostcheck.shutil.which", lambda cmd: None if cmd == "mmdebstrap" else "/bin/x")
    with pytest.raises(HvlabError, match=r"apt-get install mmdebstrap$"):
        image.build(force=True)
