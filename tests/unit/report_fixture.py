"""A realistic results directory, as the Ansible `compare` role writes it, for the report's tests.

Figures are made up but shaped like an emulated lab's: a few percent of noise between repeats,
KVM and Xen close on CPU and memory, apart on disk and network, one failed Xen network run.
The noise comes from a seeded generator, so every test sees the same files. Tests that need
a bad input write this directory first, then break or rewrite one file of it.
"""

import json
import random
from pathlib import Path
from typing import Any

# workload: (metric, unit, higher_is_better, KVM mean, Xen mean)
WORKLOADS: dict[str, tuple[str, str, bool, float, float]] = {
    "cpu": ("events_per_second", "events/s", True, 412.0, 405.0),
    "memory": ("transfer_rate", "MiB/s", True, 1830.0, 1790.0),
    "disk_randread_4k": ("iops", "IOPS", True, 2150.0, 1720.0),
    "disk_seqwrite_1m": ("bandwidth", "MiB/s", True, 88.0, 97.0),
    "network": ("throughput", "Mbit/s", True, 640.0, 515.0),
    "boot": ("boot_time", "s", False, 21.5, 18.9),
}
HOSTS = {"kvm": "kvm1", "xen": "xen1"}
IMAGE_SHA = "3f5a9c0e1b7d4a2f8e6c5b3a1d9f7e5c3b1a9f8e7d6c5b4a3f2e1d0c9b8a7f6e"
FAILED = ("xen", "network", 3)


def write_json(path: Path, data: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2))
    return path


def run_record(stack: str, guest: str, workload: str, repeat: int, value: float | None, *,
               sequence: int = 1, error: str | None = None) -> dict[str, Any]:
    metric, unit, higher, *_ = WORKLOADS.get(workload, ("score", "points", True, 1.0, 1.0))
    return {
        "schema": "hvlab.run/1", "stack": stack, "host": HOSTS[stack], "guest": guest, "workload": workload,
        "repeat": repeat, "sequence": sequence, "status": "failed" if error else "ok", "error": error,
        "metric": metric, "unit": unit, "higher_is_better": higher, "value": None if error else value,
        "tool": "sysbench 1.0.20", "parameters": {"profile": "quick"}, "started": "2025-01-10T10:00:00+00:00",
        "duration_s": 6.2, "extra": {},
    }


def host_probe(stack: str, guest: str = "g1", *, emulated: bool = True) -> dict[str, Any]:
    data: dict[str, Any] = {
        "kernel": "6.1.0-28-amd64", "cpu_model": "AMD EPYC-Milan Processor (QEMU TCG)", "governor": None,
        "emulated": emulated, "virtualization": "qemu" if emulated else "none",
        "platform": {"vendor": "QEMU", "product": "Standard PC (Q35 + ICH9, 2009)", "in_vm": True} if emulated
        else {"vendor": "Dell Inc.", "product": "PowerEdge R650", "in_vm": False},
        "os_release": {"id": "debian", "version_id": "12", "pretty_name": "Debian GNU/Linux 12 (bookworm)"},
        "firmware": "bios" if emulated else "uefi-secureboot",
    }
    if stack == "kvm":
        data |= {
            "ksm": {"before": {"run": 1, "pages_shared": 0, "pages_sharing": 0},
                    "after": {"run": 1, "pages_shared": 120, "pages_sharing": 900}},
            "thp_enabled": "madvise",
            "guest_vcpu_affinity": {guest: ["0-1"]},
            "guest_backends": {guest: {"disk_path": "QEMU virtio-blk in a Linux process (pid 1234)",
                                       "disk_format": "qcow2", "disk_backing_file": "/var/lib/hvlab/base.qcow2",
                                       "net_backend": "vhost-net (host kernel)"}},
            "guest_processes": [{"guest": guest, "pid": 1234, "comm": "qemu-system-x86", "sched_policy": "SCHED_OTHER",
                                 "cgroup": f"/machine.slice/machine-qemu\\x2d1\\x2d{guest}.scope/libvirt/emulator",
                                 "rss_kib": 402112, "anon_huge_kib": 12288}],
        }
    else:
        data |= {
            "xl_info": {"xen_version": "4.17.5", "xen_scheduler": "credit2", "total_memory": 3967,
                        "free_memory": 1800, "nr_cpus": 2, "sharing_freed_memory": 0, "sharing_used_memory": 0},
            "dom0": {"memory_mib": 1024, "vcpus": 2, "dom0_mem_configured": 1024},
            "domains": [{"name": guest, "type": "pvh", "memory_mib": 512, "vcpus": 1}],
            "guest_vcpu_affinity": {guest: ["0-1"]},
            "guest_backends": {guest: {"disk_path": "QEMU qdisk in Dom0 (pid 2301)", "disk_format": "qcow2",
                                       "disk_backing_file": "/var/lib/hvlab/base.qcow2",
                                       "net_backend": "netback (kernel) in Dom0"}},
        }
    return {"schema": "hvlab.probe/1", "kind": "host", "stack": stack, "name": HOSTS[stack],
            "collected": "2025-01-10T09:58:00+00:00", "data": data}


def guest_probe(stack: str, guest: str = "g1", **overrides: Any) -> dict[str, Any]:
    data = {
        "kernel": "6.1.0-28-amd64", "image_sha256": IMAGE_SHA, "vcpus": 1,
        "memory_mib": 493 if stack == "kvm" else 487, "spec_vcpus": 1, "spec_memory_mib": 512,
        "block_driver": "virtio_blk" if stack == "kvm" else "xen_blkfront",
        "net_driver": "virtio_net" if stack == "kvm" else "xen_netfront",
        "clocksource": "kvm-clock" if stack == "kvm" else "xen", "disk_cache_mode": "none",
        "xen_type": None if stack == "kvm" else "pvh", "cpu_pinning": None,
    } | overrides
    return {"schema": "hvlab.probe/1", "kind": "guest", "stack": stack, "name": guest, "host": HOSTS[stack],
            "collected": "2025-01-10T09:59:00+00:00", "data": data}


def write_results(root: Path, *, repeats: int = 5, emulated: bool = True, guest: str = "g1",
                  with_failure: bool = True) -> Path:
    """The whole directory: lab.json, one run file per stack, workload and repeat, and the probes."""
    noise = random.Random(42)
    write_json(root / "lab.json", {
        "schema": "hvlab.lab/1", "created": "2025-01-10T09:55:00+00:00", "profile": "quick", "repeats": repeats,
        "workloads": [w for w in WORKLOADS if w != "boot"],
        "guests": [{"name": guest, "vcpus": 1, "memory_mib": 512, "disk_gib": 4, "xen_type": "pvh",
                    "cpu_pinning": None, "network": None}],
        "image_sha256": IMAGE_SHA,
    })
    sequence = 0
    for workload, (*_, kvm_mean, xen_mean) in WORKLOADS.items():
        for repeat in range(1, repeats + 1):
            for stack, mean in (("kvm", kvm_mean), ("xen", xen_mean)):
                sequence += 1
                failed = with_failure and (stack, workload, repeat) == FAILED
                record = run_record(stack, guest, workload, repeat, round(mean * noise.gauss(1.0, 0.03), 2),
                                    sequence=sequence, error="iperf3: connection refused" if failed else None)
                write_json(root / "runs" / f"{stack}__{guest}__{workload}__r{repeat}.json", record)
    for stack, name in HOSTS.items():
        write_json(root / "probes" / f"host__{name}.json", host_probe(stack, guest, emulated=emulated))
        write_json(root / "probes" / f"guest__{stack}__{guest}.json", guest_probe(stack, guest))
    return root
