"""The lab image: recipe hash per release, layout and stack, mirror choice, cache verification."""

import hashlib
import shutil
from pathlib import Path

import pytest
import yaml

from hvlab.errors import HvlabError
from hvlab.vlab import image, releases
from hvlab.vlab.image import CachedImage
from hvlab.vlab.releases import LabTarget

ROOT = Path(__file__).resolve().parents[2]
DEFAULT = LabTarget()
TARGETS = [LabTarget("13", "uefi"), LabTarget("13", "bios"), LabTarget("12", "uefi"), LabTarget("12", "bios"),
           LabTarget("13", "uefi", "kvm"), LabTarget("13", "uefi", "xen"), LabTarget("12", "bios", "xen")]

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
    assert [c.path.name for c in cached] == [f"{t.name}-{image.recipe_id(t)}.qcow2" for t in TARGETS]
    assert len({c.path for c in cached}) == len(TARGETS)
    assert len({c.checksum_path for c in cached}) == len(TARGETS)


# --- stacks: prepared images carry the roles' own host packages -------------------------

def role_vars(role: str, release: str) -> dict[str, object]:
    """What Ansible leaves for Debian `release`: vars/main.yml, then Debian.yml, then Debian_N.yml."""
    merged: dict[str, object] = {}
    for name in ("main.yml", "Debian.yml", f"Debian_{release}.yml"):
        path = ROOT / "roles" / role / "vars" / name
        if path.exists():
            merged.update(yaml.safe_load(path.read_text()))
    return merged


@pytest.mark.parametrize("release", ["13", "12"])
def test_stack_packages_are_the_roles_own_lists(release: str) -> None:
    kvm = role_vars("kvm_host", release)["__kvm_host_packages"]
    xen = role_vars("xen_host", release)
    # What the guests and compare roles install on every hypervisor host comes after.
    every_host = [*role_vars("guests", release)["__guests_packages"],  # type: ignore[misc]
                  *role_vars("compare", release)["__compare_host_packages"]]  # type: ignore[misc]
    assert {"qemu-utils", "genisoimage", "iperf3"} <= set(every_host)
    assert image.stack_packages("kvm", release) == tuple(dict.fromkeys([*kvm, *every_host]))  # type: ignore[misc]
    assert image.stack_packages("xen", release) == tuple(dict.fromkeys([
        *xen["__xen_host_base_packages"], *xen["__xen_host_qemu_packages"], *every_host]))  # type: ignore[misc]


def test_stack_packages_layer_the_release_file_over_debian_yml() -> None:
    # roles/kvm_host/vars/Debian_13.yml replaces the list of Debian.yml (nftables for iptables)
    assert "nftables" in image.stack_packages("kvm", "13")
    assert "iptables" not in image.stack_packages("kvm", "13")
    assert "iptables" in image.stack_packages("kvm", "12")
    assert {"xen-system-amd64", "qemu-system-xen"} <= set(image.stack_packages("xen", "13"))
    assert "libvirt-daemon-system" not in image.stack_packages("xen", "13")


def test_a_missing_package_list_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    vars_dir = tmp_path / "kvm_host" / "vars"
    vars_dir.mkdir(parents=True)
    (vars_dir / "Debian.yml").write_text("__kvm_host_packages: qemu-system-x86\n")  # a string, not a list
    monkeypatch.setattr(image, "ROLES_DIR", tmp_path)
    with pytest.raises(HvlabError, match="__kvm_host_packages is missing or not a list"):
        image.stack_packages("kvm", "13")


def test_packages_of_a_prepared_image_add_the_stacks() -> None:
    bare = image.packages(LabTarget("13", "uefi"))
    for stack in ("kvm", "xen"):
        prepared = image.packages(LabTarget("13", "uefi", stack))
        assert prepared == bare + image.stack_packages(stack, "13")
    assert not set(image.stack_packages("kvm", "13")) & set(bare)
    assert "xen-system-amd64" not in bare


def test_recipe_id_differs_per_stack() -> None:
    ids = {stack: image.recipe_id(LabTarget("13", "uefi", stack)) for stack in ("", "kvm", "xen")}
    assert len(set(ids.values())) == 3, ids


@pytest.fixture
def roles_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the roles' vars files, made image.ROLES_DIR."""
    roles = tmp_path / "roles"
    for role in ("kvm_host", "xen_host", "guests", "compare"):
        shutil.copytree(ROOT / "roles" / role / "vars", roles / role / "vars")
    monkeypatch.setattr(image, "ROLES_DIR", roles)
    return roles


def add_package(vars_file: Path, key: str, package: str) -> None:
    data = yaml.safe_load(vars_file.read_text())
    data[key] = [*data[key], package]
    vars_file.write_text(yaml.safe_dump(data))


@pytest.mark.parametrize(("stack", "vars_file", "key", "every_host"), [
    ("kvm", "kvm_host/vars/Debian_13.yml", "__kvm_host_packages", False),
    ("xen", "xen_host/vars/Debian.yml", "__xen_host_base_packages", False),
    ("xen", "xen_host/vars/Debian_13.yml", "__xen_host_qemu_packages", False),
    ("kvm", "guests/vars/main.yml", "__guests_packages", True),
    ("xen", "compare/vars/main.yml", "__compare_host_packages", True),
])
def test_recipe_id_follows_the_roles_vars(roles_copy: Path, monkeypatch: pytest.MonkeyPatch, stack: str,
                                          vars_file: str, key: str, every_host: bool) -> None:
    target = LabTarget("13", "uefi", stack)
    other = LabTarget("13", "uefi", "xen" if stack == "kvm" else "kvm")
    before, other_before, bare_before = (image.recipe_id(t) for t in (target, other, DEFAULT))
    monkeypatch.undo()
    assert image.recipe_id(target) == before  # the copy hashes as the checkout does
    monkeypatch.setattr(image, "ROLES_DIR", roles_copy)

    add_package(roles_copy / vars_file, key, "hvlab-test-package")
    assert "hvlab-test-package" in image.stack_packages(stack, "13")
    assert image.recipe_id(target) != before
    # A stack role's list leaves the other stack's image alone; a list of every host's changes both.
    assert (image.recipe_id(other) != other_before) == every_host
    assert image.recipe_id(DEFAULT) == bare_before  # the bare one is never touched


def test_a_prepared_image_is_rebuilt_when_the_role_changes(roles_copy: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    target = LabTarget("13", "uefi", "kvm")
    stale = make_image(target=target)
    assert image.is_current(image.cached_image(target))
    add_package(roles_copy / "kvm_host/vars/Debian_13.yml", "__kvm_host_packages", "hvlab-test-package")
    fresh = image.cached_image(target)
    assert fresh.path != stale.path
    assert not image.is_current(fresh)

    def no_tools(_tools: dict[str, str]) -> None:
        raise HvlabError("stop before building")

    monkeypatch.setattr(image, "require_tools", no_tools)
    with pytest.raises(HvlabError, match="stop before building"):  # rebuilt, the stale image not reused
        image.build(target)


def test_cached_image_names_bare_and_prepared_apart(tmp_path: Path) -> None:
    bare = image.cached_image(LabTarget("13", "uefi"))
    kvm = image.cached_image(LabTarget("13", "uefi", "kvm"))
    xen = image.cached_image(LabTarget("13", "uefi", "xen"))
    assert bare.path.name == f"debian-13-uefi-{bare.recipe_id}.qcow2"
    assert kvm.path.name == f"debian-13-uefi-kvm-{kvm.recipe_id}.qcow2"
    assert xen.path.name == f"debian-13-uefi-xen-{xen.recipe_id}.qcow2"
    assert len({bare.path, kvm.path, xen.path}) == 3
    assert len({bare.checksum_path, kvm.checksum_path, xen.checksum_path}) == 3


def test_build_does_not_reuse_the_bare_image_for_a_prepared_one(monkeypatch: pytest.MonkeyPatch) -> None:
    make_image(target=LabTarget("13", "uefi"))

    def no_tools(_tools: dict[str, str]) -> None:
        raise HvlabError("stop before building")

    monkeypatch.setattr(image, "require_tools", no_tools)
    assert image.build(LabTarget("13", "uefi")) == image.cached_image(LabTarget("13", "uefi"))
    with pytest.raises(HvlabError, match="stop before building"):
        image.build(LabTarget("13", "uefi", "xen"))


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
