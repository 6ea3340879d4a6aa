#!/usr/bin/python3
"""Describe a guest as it really runs, and print it as one probe document (JSON) on stdout.

Why this exists: the KVM and the Xen guests are meant to be identical apart from the
hypervisor, and a comparison is only fair if that held. This probe records what the guest
itself sees (kernel, vCPUs, memory, the paravirtual block and network drivers in use,
clocksource) beside what the spec asked for, so the report can show any difference instead
of assuming there is none. Facts the guest cannot see (image checksum, disk cache mode,
pinning) come from the caller and are recorded as given.

Every reading is best effort: what cannot be read becomes null, never a traceback.
Standard library only: the script is copied to the guests and runs with /usr/bin/python3.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

SCHEMA = "hvlab.probe/1"
# Xen's frontends register as bus drivers named after the device type, not the module.
DRIVER_ALIASES = {"vbd": "xen_blkfront", "vif": "xen_netfront"}


def read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return None


def meminfo_mib(text: str | None) -> int | None:
    """MemTotal of /proc/meminfo in MiB."""
    for line in (text or "").splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) // 1024
    return None


def root_dev_number(mountinfo: str | None) -> str | None:
    """'major:minor' of the filesystem mounted on / (field 3 of /proc/self/mountinfo)."""
    for line in (mountinfo or "").splitlines():
        fields = line.split()
        if len(fields) > 4 and fields[4] == "/":
            return fields[2]
    return None


def driver_of(device_dir: Path) -> str | None:
    """Kernel module (or, failing that, driver) bound to a device: device/driver/module, device/driver."""
    driver = device_dir / "driver"
    if not driver.exists():
        return None
    module = driver / "module"
    name = module.resolve().name if module.exists() else driver.resolve().name
    return DRIVER_ALIASES.get(name, name)


def disk_of(sys_root: Path, dev_number: str) -> str | None:
    """Name of the whole disk under a block device number: a partition's parent, a dm device's slave."""
    try:
        node = (sys_root / "dev" / "block" / dev_number).resolve(strict=True)
    except OSError:
        return None
    if (node / "partition").exists():
        node = node.parent
    for _ in range(8):  # follow stacked devices (LVM, dm-crypt) down to a disk
        slaves = sorted((node / "slaves").iterdir()) if (node / "slaves").is_dir() else []
        if not slaves:
            break
        node = slaves[0].resolve()
        if (node / "partition").exists():
            node = node.parent
    return node.name


def block_driver(sys_root: Path, disk: str | None) -> str | None:
    return driver_of(sys_root / "block" / disk / "device") if disk else None


def first_interface(sys_root: Path) -> str | None:
    """First network interface backed by a device (not lo, bridges or tunnels); else first non-lo."""
    net = sys_root / "class" / "net"
    try:
        names = sorted(entry.name for entry in net.iterdir() if entry.name != "lo")
    except OSError:
        return None
    with_device = [name for name in names if (net / name / "device").exists()]
    return (with_device or names or [None])[0]


def net_driver(sys_root: Path, interface: str | None) -> str | None:
    return driver_of(sys_root / "class" / "net" / interface / "device") if interface else None


def detect_virt() -> str | None:
    try:
        proc = subprocess.run(["systemd-detect-virt"], capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return proc.stdout.strip() or "none"


def collect(args: argparse.Namespace, proc_root: Path = Path("/proc"), sys_root: Path = Path("/sys")) -> dict[str, Any]:
    spec: dict[str, Any] = {}
    errors: list[str] = []
    try:
        loaded = json.loads(args.spec_json)
        spec = loaded if isinstance(loaded, dict) else {}
    except json.JSONDecodeError as exc:
        errors.append(f"--spec-json is not JSON: {exc}")
    dev_number = root_dev_number(read_text(proc_root / "self" / "mountinfo"))
    disk = disk_of(sys_root, dev_number) if dev_number else None
    interface = first_interface(sys_root)
    data = {
        "kernel": os.uname().release,
        "image_sha256": args.image_sha256 or None,
        "vcpus": os.cpu_count(),
        "memory_mib": meminfo_mib(read_text(proc_root / "meminfo")),
        "spec_vcpus": spec.get("vcpus"),
        "spec_memory_mib": spec.get("memory_mib"),
        "root_disk": disk,
        "block_driver": block_driver(sys_root, disk),
        "net_interface": interface,
        "net_driver": net_driver(sys_root, interface),
        "clocksource": read_text(sys_root / "devices" / "system" / "clocksource" / "clocksource0"
                                 / "current_clocksource"),
        "disk_cache_mode": args.disk_cache_mode or None,
        "xen_type": spec.get("xen_type"),
        # PV, PVH or HVM as the Xen guest itself reports it; null outside Xen.
        "xen_guest_type_seen": read_text(sys_root / "hypervisor" / "guest_type"),
        "cpu_pinning": spec.get("cpu_pinning"),
        "virtualization": detect_virt(),
        "errors": errors,
    }
    return {
        "schema": SCHEMA,
        "kind": "guest",
        "stack": args.stack,
        "name": args.guest,
        "host": args.host,
        "collected": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "data": data,
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack", required=True, help="kvm or xen")
    parser.add_argument("--host", required=True, help="inventory name of the guest's hypervisor host")
    parser.add_argument("--guest", required=True, help="inventory name of this guest")
    parser.add_argument("--image-sha256", default="", help="sha256 of the image the guest runs from")
    parser.add_argument("--spec-json", default="{}", help="the guest's hvlab spec entry, as JSON")
    parser.add_argument("--disk-cache-mode", default="", help="the disk cache mode the host gave the guest")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        document = collect(args)
    except Exception as exc:  # a probe that cannot read something still prints a document
        document = {"schema": SCHEMA, "kind": "guest", "stack": args.stack, "name": args.guest, "host": args.host,
                    "collected": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
                    "data": {"errors": [f"internal error: {type(exc).__name__}: {exc}"]}}
    print(json.dumps(document))
    return 0


if __name__ == "__main__":
    sys.exit(main())
