"""scripts/scenario_lanes.py: which molecule scenarios the test script may run at the same time."""

import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
from plugin_loader import ROOT, load_plugin

SCRIPT = ROOT / "scripts" / "scenario_lanes.py"


def load_lanes() -> ModuleType:
    return load_plugin(str(SCRIPT.relative_to(ROOT)), "scenario_lanes")


def run(*scenarios: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), *scenarios], capture_output=True, text=True)


def scenario(root: Path, name: str, *machines: str) -> None:
    (root / name).mkdir()
    platforms = "".join(f"  - name: {m}\n" for m in machines)
    (root / name / "molecule.yml").write_text(f"platforms:\n{platforms}")


def test_default_scenarios_split_by_the_machine_they_boot() -> None:
    # The repository's own scenarios: both Xen scenarios boot xen1, kvm_host boots kvm1.
    result = run("xen_host_boot_drill", "kvm_host", "xen_host")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["xen_host_boot_drill xen_host", "kvm_host"]


def test_a_scenario_with_both_machines_joins_every_lane() -> None:
    result = run("kvm_host", "lab", "xen_host")
    assert result.stdout.splitlines() == ["kvm_host lab xen_host"]


def test_lanes_joined_through_a_third_scenario_keep_the_given_order(tmp_path: Path) -> None:
    scenario(tmp_path, "a", "m1")
    scenario(tmp_path, "b", "m2")
    scenario(tmp_path, "c", "m3")
    scenario(tmp_path, "ab", "m1", "m2")
    assert load_lanes().lanes(["b", "c", "a", "ab"], tmp_path) == [["b", "a", "ab"], ["c"]]


@pytest.mark.parametrize("name", ["nope", "../molecule/kvm_host", "kvm_host/"])
def test_unknown_scenario_is_named(name: str) -> None:
    result = run("kvm_host", name)
    assert result.returncode != 0
    assert f"no scenario {name!r}" in result.stderr
    assert result.stdout == ""


def test_builds_are_read_from_the_repositorys_scenarios() -> None:
    result = run("--builds", "kvm_host", "xen_host", "xen_host_boot_drill")
    assert result.returncode == 0, result.stderr
    # kvm1 through Secure Boot from the image prepared for KVM; xen1 bare, once for both Xen scenarios.
    assert result.stdout.splitlines() == [
        "--release=13 --firmware=uefi-secureboot --image=prepared kvm1",
        "--release=13 --firmware=uefi --image=bare xen1",
    ]


def test_builds_take_the_test_release_and_firmware_overrides(tmp_path: Path) -> None:
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "molecule.yml").write_text(
        "platforms:\n"
        "  - {name: m1, release: '13', firmware: uefi-secureboot, image: prepared, guest_image: true}\n"
        "  - {name: m2}\n")
    env = {"HVLAB_TEST_RELEASE": "12", "HVLAB_TEST_FIRMWARE": "bios"}
    assert load_lanes().build_args(["s"], tmp_path, env) == [
        ["--release=12", "--firmware=bios", "--image=prepared", "--guest-image", "m1"],
        ["--release=12", "--firmware=bios", "m2"],
    ]
    assert load_lanes().build_args(["s"], tmp_path, {}) == [
        ["--release=13", "--firmware=uefi-secureboot", "--image=prepared", "--guest-image", "m1"],
        ["m2"],
    ]


def test_machines_names_what_a_repository_scenario_boots() -> None:
    assert run("--machines", "lab").stdout.splitlines() == ["kvm1", "xen1"]
    assert run("--machines", "xen_host").stdout.splitlines() == ["xen1"]
    unknown = run("--machines", "no-such-scenario")
    assert unknown.returncode != 0 and "no scenario 'no-such-scenario'" in unknown.stderr
