"""Acceleration choice: KVM only for a hardware kvm_intel/kvm_amd, TCG otherwise."""

import os
from pathlib import Path

import pytest

from hvlab.vlab.accel import TCG_XEN_CPU_MODEL, Acceleration, choose_acceleration


def fake_host(tmp_path: Path, *, dev_kvm: bool, modules: tuple[str, ...]) -> tuple[Path, Path]:
    dev = tmp_path / "dev" / "kvm"
    sys_module = tmp_path / "sys" / "module"
    sys_module.mkdir(parents=True)
    if dev_kvm:
        dev.parent.mkdir(parents=True)
        dev.write_text("")
        dev.chmod(0o600)
    for module in modules:
        (sys_module / module).mkdir()
    return dev, sys_module


def test_kvm_pvm_only_is_tcg(tmp_path: Path) -> None:
    dev, sys_module = fake_host(tmp_path, dev_kvm=True, modules=("kvm", "kvm_pvm"))
    accel = choose_acceleration(dev, sys_module)
    assert accel.name == "tcg"
    assert "kvm_intel/kvm_amd" in accel.reason


@pytest.mark.parametrize("module", ["kvm_amd", "kvm_intel"])
def test_hardware_module_is_kvm(tmp_path: Path, module: str) -> None:
    dev, sys_module = fake_host(tmp_path, dev_kvm=True, modules=("kvm", module))
    accel = choose_acceleration(dev, sys_module)
    assert accel.name == "kvm"
    assert module in accel.reason


def test_missing_dev_kvm_is_tcg_even_with_module(tmp_path: Path) -> None:
    dev, sys_module = fake_host(tmp_path, dev_kvm=False, modules=("kvm", "kvm_amd"))
    accel = choose_acceleration(dev, sys_module)
    assert accel == Acceleration("tcg", "no /dev/kvm")


def test_inaccessible_dev_kvm_is_tcg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dev, sys_module = fake_host(tmp_path, dev_kvm=True, modules=("kvm_amd",))
    # root may open any file, so the permission check is faked rather than made with chmod
    monkeypatch.setattr(os, "access", lambda path, mode: Path(path) != dev)
    accel = choose_acceleration(dev, sys_module)
    assert accel.name == "tcg"
    assert "not accessible" in accel.reason


@pytest.mark.parametrize(
    ("forced", "dev_kvm", "modules"),
    [("tcg", True, ("kvm_amd",)), ("kvm", False, ()), ("kvm", True, ("kvm_pvm",))],
)
def test_hvlab_accel_overrides_detection(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, forced: str, dev_kvm: bool, modules: tuple[str, ...]
) -> None:
    dev, sys_module = fake_host(tmp_path, dev_kvm=dev_kvm, modules=modules)
    monkeypatch.setenv("HVLAB_ACCEL", forced)
    accel = choose_acceleration(dev, sys_module)
    assert accel.name == forced
    assert "HVLAB_ACCEL" in accel.reason


def test_unknown_hvlab_accel_value_falls_back_to_detection(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dev, sys_module = fake_host(tmp_path, dev_kvm=True, modules=("kvm_pvm",))
    monkeypatch.setenv("HVLAB_ACCEL", "hvf")
    assert choose_acceleration(dev, sys_module).name == "tcg"


def test_qemu_args() -> None:
    tcg = Acceleration("tcg", "test").qemu_args()
    kvm = Acceleration("kvm", "test").qemu_args()
    assert tcg[tcg.index("-cpu") + 1] == "max"
    xen = Acceleration("tcg", "test").qemu_args(runs_xen=True)
    assert xen[xen.index("-cpu") + 1].startswith("max,-avx,-avx2")
    assert Acceleration("kvm", "test").qemu_args(runs_xen=True) == kvm
    assert tcg[tcg.index("-accel") + 1].startswith("tcg")
    assert kvm[kvm.index("-cpu") + 1] == "host"
    assert kvm[kvm.index("-accel") + 1] == "kvm"


def test_tcg_runs_a_xen_machine_single_threaded() -> None:
    assert Acceleration("tcg", "test").qemu_args(runs_xen=True) == [
        "-accel", "tcg,thread=single,tb-size=512", "-cpu", TCG_XEN_CPU_MODEL]
    assert TCG_XEN_CPU_MODEL.startswith("max,") and "-avx" in TCG_XEN_CPU_MODEL.split(",")


def test_tcg_runs_a_kvm_machine_multi_threaded() -> None:
    assert Acceleration("tcg", "test").qemu_args() == ["-accel", "tcg,thread=multi,tb-size=512", "-cpu", "max"]
    assert Acceleration("tcg", "test").qemu_args(runs_xen=False) == Acceleration("tcg", "test").qemu_args()
