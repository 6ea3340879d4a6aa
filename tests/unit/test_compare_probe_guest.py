"""roles/compare/files/hvlab_probe_guest.py on fake /proc and /sys trees of a KVM and a Xen guest.

The trees mimic the kernel's layout: /sys/dev/block/MAJ:MIN links to the partition under
its disk, the disk's device/driver links to the bus driver (virtio_blk; on Xen "vbd",
whose module is xen_blkfront), and likewise for the network interface.
"""

import argparse
import json
import shutil
from pathlib import Path
from types import ModuleType

import pytest
from plugin_loader import load_plugin

FIXTURES = Path(__file__).parent / "fixtures" / "compare"


@pytest.fixture(scope="module")
def probe() -> ModuleType:
    return load_plugin("roles/compare/files/hvlab_probe_guest.py", "hvlab_probe_guest")


def link(path: Path, target: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.symlink_to(target)


def make_proc(root: Path) -> Path:
    proc = root / "proc"
    (proc / "self").mkdir(parents=True)
    shutil.copy(FIXTURES / "proc" / "meminfo", proc / "meminfo")
    shutil.copy(FIXTURES / "proc" / "self" / "mountinfo", proc / "self" / "mountinfo")
    return proc


def make_sys(root: Path, stack: str) -> Path:
    """A guest's /sys: root on partition 1 of the first disk, one NIC, a bridge without device."""
    sys = root / "sys"
    if stack == "kvm":
        disk, blk_bus, blk_driver, blk_module, net_bus, net_driver, net_module = (
            "vda", "virtio", "virtio_blk", None, "virtio", "virtio_net", None)
        disk_dev = sys / "devices" / "pci0000:00" / "0000:00:04.0" / "virtio1"
        net_dev = sys / "devices" / "pci0000:00" / "0000:00:03.0" / "virtio0"
    else:
        disk, blk_bus, blk_driver, blk_module, net_bus, net_driver, net_module = (
            "xvda", "xen", "vbd", "xen_blkfront", "xen", "vif", "xen_netfront")
        disk_dev = sys / "devices" / "vbd-51712"
        net_dev = sys / "devices" / "vif-0"
    block = disk_dev / "block" / disk
    (block / f"{disk}1").mkdir(parents=True)
    (block / f"{disk}1" / "partition").write_text("1\n")
    link(block / "device", disk_dev)
    link(sys / "block" / disk, block)
    link(sys / "dev" / "block" / "254:1", block / f"{disk}1")
    for dev, bus, driver, module in ((disk_dev, blk_bus, blk_driver, blk_module),
                                     (net_dev, net_bus, net_driver, net_module)):
        driver_dir = sys / "bus" / bus / "drivers" / driver
        driver_dir.mkdir(parents=True, exist_ok=True)
        if module:
            (sys / "module" / module).mkdir(parents=True, exist_ok=True)
            link(driver_dir / "module", sys / "module" / module)
        link(dev / "driver", driver_dir)
    (sys / "class" / "net" / "lo").mkdir(parents=True)
    (sys / "class" / "net" / "br0").mkdir(parents=True)
    (sys / "class" / "net" / "enX0").mkdir(parents=True)
    link(sys / "class" / "net" / "enX0" / "device", net_dev)
    clock = sys / "devices" / "system" / "clocksource" / "clocksource0"
    clock.mkdir(parents=True)
    (clock / "current_clocksource").write_text("kvm-clock\n" if stack == "kvm" else "xen\n")
    if stack == "xen":
        (sys / "hypervisor").mkdir()
        (sys / "hypervisor" / "guest_type").write_text("PVH\n")
    return sys


SPEC = {"name": "web1", "vcpus": 2, "memory_mib": 1024, "disk_gib": 8, "xen_type": "pvh", "cpu_pinning": [0, 1],
        "network": None}


def args(stack: str, **overrides: str) -> argparse.Namespace:
    values = {"stack": stack, "host": f"{stack}1", "guest": f"{stack}1-web1", "image_sha256": "ab" * 32,
              "spec_json": json.dumps(SPEC), "disk_cache_mode": "none"}
    values.update(overrides)
    return argparse.Namespace(**values)


def test_meminfo_and_mountinfo(probe: ModuleType) -> None:
    assert probe.meminfo_mib((FIXTURES / "proc" / "meminfo").read_text()) == 980
    assert probe.meminfo_mib("") is None
    assert probe.root_dev_number((FIXTURES / "proc" / "self" / "mountinfo").read_text()) == "254:1"
    assert probe.root_dev_number(None) is None


@pytest.mark.parametrize(("stack", "block", "net", "clock"), [
    ("kvm", "virtio_blk", "virtio_net", "kvm-clock"),
    ("xen", "xen_blkfront", "xen_netfront", "xen"),
])
def test_guest_probe(probe: ModuleType, tmp_path: Path, stack: str, block: str, net: str, clock: str) -> None:
    document = probe.collect(args(stack), proc_root=make_proc(tmp_path), sys_root=make_sys(tmp_path, stack))
    assert {k: document[k] for k in ("schema", "kind", "stack", "name", "host")} == {
        "schema": "hvlab.probe/1", "kind": "guest", "stack": stack, "name": f"{stack}1-web1", "host": f"{stack}1"}
    data = document["data"]
    assert data["block_driver"] == block
    assert data["net_driver"] == net
    assert data["net_interface"] == "enX0"
    assert data["clocksource"] == clock
    assert data["memory_mib"] == 980
    assert (data["spec_vcpus"], data["spec_memory_mib"]) == (2, 1024)
    assert data["image_sha256"] == "ab" * 32
    assert data["disk_cache_mode"] == "none"
    assert (data["xen_type"], data["cpu_pinning"]) == ("pvh", [0, 1])
    assert data["xen_guest_type_seen"] == ("PVH" if stack == "xen" else None)
    assert isinstance(data["vcpus"], int)
    assert data["errors"] == []


def test_root_on_lvm_follows_the_slave(probe: ModuleType, tmp_path: Path) -> None:
    sys = make_sys(tmp_path, "kvm")
    dm = sys / "devices" / "virtual" / "block" / "dm-0"
    (dm / "slaves").mkdir(parents=True)
    link(dm / "slaves" / "vda1", sys / "dev" / "block" / "254:1")
    link(sys / "dev" / "block" / "253:0", dm)
    assert probe.disk_of(sys, "253:0") == "vda"
    assert probe.disk_of(sys, "9:9") is None


def test_empty_values_become_null(probe: ModuleType, tmp_path: Path) -> None:
    document = probe.collect(args("kvm", image_sha256="", disk_cache_mode="", spec_json="[1]"),
                             proc_root=tmp_path / "none", sys_root=tmp_path / "none")
    data = document["data"]
    assert data["image_sha256"] is None and data["disk_cache_mode"] is None
    assert data["block_driver"] is None and data["net_driver"] is None and data["memory_mib"] is None
    assert data["spec_vcpus"] is None


def test_bad_spec_json_is_reported(probe: ModuleType, tmp_path: Path) -> None:
    document = probe.collect(args("xen", spec_json="{nope"), proc_root=tmp_path, sys_root=tmp_path)
    assert document["data"]["errors"][0].startswith("--spec-json is not JSON")


def test_main_prints_one_document(probe: ModuleType, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--stack", "kvm", "--host", "kvm1", "--guest", "kvm1-web1", "--spec-json", json.dumps(SPEC)]
    assert probe.main(argv) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["schema"] == "hvlab.probe/1"
    assert set(document["data"]) >= {"kernel", "image_sha256", "vcpus", "memory_mib", "spec_vcpus", "spec_memory_mib",
                                     "block_driver", "net_driver", "clocksource", "disk_cache_mode", "xen_type",
                                     "cpu_pinning"}
