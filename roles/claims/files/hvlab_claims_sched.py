#!/usr/bin/env python3
"""Where one guest's vCPUs live, as the host's Linux sees them; JSON on stdout.

The scheduler claim: on KVM the guest is a QEMU process, its vCPUs threads under Linux's
scheduler in a cgroup of their own; on Xen, Dom0's Linux holds no thread of the guest's vCPUs
(at most a device model process), and Xen's credit2 weight is what schedules it. This script
reads only /proc and `xl`; it changes nothing. Runs with the host's own python3 (Debian 12:
3.11), so the standard library only.

Usage: hvlab_claims_sched.py kvm|xen GUEST
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from itertools import pairwise
from pathlib import Path
from typing import Any

POLICIES = {0: "SCHED_OTHER", 1: "SCHED_FIFO", 2: "SCHED_RR", 3: "SCHED_BATCH", 5: "SCHED_IDLE", 6: "SCHED_DEADLINE"}
VCPU_THREAD = re.compile(r"^CPU \d+/")


def read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


def cmdline(pid_dir: Path) -> list[str]:
    raw = read(pid_dir / "cmdline") or ""
    return [part for part in raw.split("\0") if part]


def policy(pid_dir: Path) -> str | None:
    match = re.search(r"^policy\s*:\s*(\d+)", read(pid_dir / "sched") or "", re.MULTILINE)
    return POLICIES.get(int(match.group(1)), match.group(1)) if match else None


def cgroup(pid_dir: Path) -> str | None:
    for line in (read(pid_dir / "cgroup") or "").splitlines():
        if line.startswith("0::"):
            return line[3:]
    return None


def processes(matches: Any) -> list[Path]:
    """/proc entries of the processes whose command line matches."""
    found = []
    for pid_dir in Path("/proc").iterdir():
        if pid_dir.name.isdigit() and matches(cmdline(pid_dir)):
            found.append(pid_dir)
    return sorted(found, key=lambda p: int(p.name))


def qemu_of(guest: str) -> Any:
    """libvirt starts QEMU with `-name guest=NAME,...`."""
    def matches(argv: list[str]) -> bool:
        return any(a == "-name" and b.split(",")[0] in (f"guest={guest}", guest) for a, b in pairwise(argv))
    return matches


def kvm(guest: str) -> dict[str, Any]:
    found = processes(qemu_of(guest))
    if len(found) != 1:
        raise SystemExit(f"expected one QEMU process of guest {guest}, found {len(found)}")
    pid_dir = found[0]
    threads = []
    for tid_dir in sorted((pid_dir / "task").iterdir(), key=lambda p: int(p.name)):
        name = (read(tid_dir / "comm") or "").strip()
        if VCPU_THREAD.match(name):
            threads.append({"tid": int(tid_dir.name), "name": name, "policy": policy(tid_dir),
                            "cgroup": cgroup(tid_dir)})
    process_cgroup = cgroup(pid_dir) or ""
    scope = next((part for part in process_cgroup.split("/") if part.endswith(".scope")), None)
    weight = None
    if scope:
        prefix = process_cgroup[: process_cgroup.index(scope) + len(scope)]
        text = read(Path("/sys/fs/cgroup") / prefix.lstrip("/") / "cpu.weight")
        weight = int(text) if text and text.strip().isdigit() else None
    return {"qemu_pid": int(pid_dir.name), "guest_cgroup": process_cgroup, "guest_scope": scope,
            "guest_cpu_weight": weight, "vcpu_threads": threads,
            "vcpu_policies": sorted({t["policy"] for t in threads if t["policy"]})}


def xl(*argv: str) -> str:
    done = subprocess.run(["xl", *argv], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"xl {' '.join(argv)} failed: {done.stderr.strip()[:200]}")
    return done.stdout


def xen(guest: str) -> dict[str, Any]:
    domid = int(xl("domid", guest).strip())
    scheduler = None
    for line in xl("info").splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "xen_scheduler":
            scheduler = value.strip()
    weight = None
    if scheduler == "credit2":
        rows = [line.split() for line in xl("sched-credit2", "-d", guest).splitlines()[1:]]
        weight = next((int(row[2]) for row in rows if len(row) >= 3 and row[0] == guest), None)

    def device_model(argv: list[str]) -> bool:
        return any(a == "-xen-domid" and b == str(domid) for a, b in pairwise(argv))
    helpers = [{"pid": int(p.name), "comm": (read(p / "comm") or "").strip(), "cgroup": cgroup(p)}
               for p in processes(device_model)]
    return {"domid": domid, "xen_scheduler": scheduler, "xl_weight_before": weight,
            "dom0_processes_of_guest": helpers}


def main() -> int:
    if len(sys.argv) != 3 or sys.argv[1] not in ("kvm", "xen"):
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    stack, guest = sys.argv[1], sys.argv[2]
    print(json.dumps(kvm(guest) if stack == "kvm" else xen(guest)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
