#!/usr/bin/env python3
"""What the claims experiments read on a lab host, as the host's Linux sees it; JSON on stdout.

kvm|xen GUEST (the scheduler and paging claims): where one guest's vCPUs live. On KVM the guest
is a QEMU process, its vCPUs threads under Linux's scheduler in a cgroup of their own; on Xen,
Dom0's Linux holds no thread of the guest's vCPUs (at most a device model process), and Xen's
credit2 weight is what schedules it.

memory PROC KSM_DIR (the overcommit claim, KVM, before the guests start): what the host can
give (MemAvailable + SwapFree from PROC/meminfo, in MiB) and KSM's counters, so the guests'
sizes are computed from the same arithmetic as the watch that follows.

watch PROC KSM_DIR SECONDS MARGIN_MIB GUEST... (the overcommit claim, KVM): while overcommitted
guests run, what the host can still give (MemAvailable + SwapFree) every two seconds, stopping
early when it falls below the margin, so the caller removes the guests before the host nears its
OOM killer; then KSM's counters and each guest's QEMU resident memory (from PROC's processes).

holdings STACK GUEST PROC CGROUP_ROOT UNIT_PREFIX (every claims run, before the first experiment):
what an experiment could leave behind on the host - its domains, its swap areas (PROC/swaps), the
systemd units whose names start with UNIT_PREFIX (the hogs'), and the claims guest's limits (KVM:
the cgroup files of its QEMU scope under CGROUP_ROOT; Xen: its credit2 weight and cap).
leftovers STACK GUEST PROC CGROUP_ROOT UNIT_PREFIX BEFORE_JSON (after the last experiment): what
the host holds now that it did not hold before, and the limits that differ. The two are compared,
not matched to names, so a leftover is found whatever an experiment called it.

The script reads only /proc, /sys, `xl`, `virsh list` and `systemctl list-units`; it changes
nothing. Runs with the host's own python3 (Debian 12: 3.11), so the standard library only.

Usage: hvlab_claims_host.py kvm|xen GUEST | memory PROC KSM_DIR | watch PROC KSM_DIR SECONDS MARGIN_MIB GUEST...
       | holdings STACK GUEST PROC CGROUP_ROOT UNIT_PREFIX
       | leftovers STACK GUEST PROC CGROUP_ROOT UNIT_PREFIX BEFORE_JSON
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Callable
from itertools import pairwise
from pathlib import Path
from typing import Any

POLICIES = {0: "SCHED_OTHER", 1: "SCHED_FIFO", 2: "SCHED_RR", 3: "SCHED_BATCH", 5: "SCHED_IDLE", 6: "SCHED_DEADLINE"}
VCPU_THREAD = re.compile(r"^CPU \d+/")
# The cgroup v2 files that limit a KVM guest's QEMU scope; an experiment must leave each as it found it.
LIMIT_FILES = ("cpu.weight", "cpu.max", "memory.high", "memory.max", "memory.swap.max")


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


def processes(matches: Any, proc: Path = Path("/proc")) -> list[Path]:
    """proc's entries of the processes whose command line matches."""
    found = []
    for pid_dir in proc.iterdir():
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
    text = read(Path("/sys/fs/cgroup") / scope_path(process_cgroup).lstrip("/") / "cpu.weight") if scope else None
    weight = int(text) if text and text.strip().isdigit() else None
    return {"qemu_pid": int(pid_dir.name), "guest_cgroup": process_cgroup, "guest_scope": scope,
            "guest_cpu_weight": weight, "vcpu_threads": threads,
            "vcpu_policies": sorted({t["policy"] for t in threads if t["policy"]})}


def scope_path(process_cgroup: str) -> str:
    """The cgroup path down to the process's .scope (libvirt's machine scope), or '' without one."""
    parts = process_cgroup.split("/")
    ends = [i for i, part in enumerate(parts) if part.endswith(".scope")]
    return "/".join(parts[: ends[0] + 1]) if ends else ""


def others_in(procs_text: str, own: set[int]) -> bool:
    """Whether a cgroup.procs listing names a process that is not one of `own`."""
    return any(int(pid) not in own for pid in procs_text.split() if pid.isdigit())


def shares_cgroup(path: str | None, own: set[int]) -> bool:
    """Whether the cgroup holds processes besides the guest's own (or cannot be read: then assume so).

    A back-end that xl spawned from an SSH session sits in that session's service cgroup
    (ssh.service): a request to that cgroup would act on processes that are not hvlab's.
    """
    text = read(Path("/sys/fs/cgroup") / path.lstrip("/") / "cgroup.procs") if path else None
    return text is None or others_in(text, own)


def command(*argv: str) -> str:
    done = subprocess.run(list(argv), capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed: {done.stderr.strip()[:200]}")
    return done.stdout


def xl(*argv: str) -> str:
    return command("xl", *argv)


def xen(guest: str) -> dict[str, Any]:
    domid = int(xl("domid", guest).strip())
    scheduler = None
    for line in xl("info").splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "xen_scheduler":
            scheduler = value.strip()
    row = credit2_row(xl("sched-credit2", "-d", guest), guest) if scheduler == "credit2" else None
    weight = int(row[2]) if row else None

    def device_model(argv: list[str]) -> bool:
        return any(a == "-xen-domid" and b == str(domid) for a, b in pairwise(argv))
    found = processes(device_model)
    pids = {int(p.name) for p in found}
    helpers = [{"pid": int(p.name), "comm": (read(p / "comm") or "").strip(), "cgroup": cgroup(p),
                "cgroup_shared": shares_cgroup(cgroup(p), pids)} for p in found]
    return {"domid": domid, "xen_scheduler": scheduler, "xl_weight_before": weight,
            "dom0_processes_of_guest": helpers}


def meminfo_kib(text: str) -> dict[str, int]:
    """/proc/meminfo's "Key:   123 kB" lines, in KiB."""
    values = {}
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        fields = rest.split()
        if fields and fields[0].isdigit():
            values[key.strip()] = int(fields[0])
    return values


def can_give_mib(meminfo: dict[str, int]) -> int:
    """What the host can still give its processes without sharing: available memory plus free swap."""
    return (meminfo.get("MemAvailable", 0) + meminfo.get("SwapFree", 0)) // 1024


def watch(seconds: float, margin_mib: int, read_meminfo: Callable[[], str],
          sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic) -> dict[str, Any]:
    """Sample what the host can give until `seconds` pass or it falls below `margin_mib`."""
    start, lowest, samples, stopped = clock(), None, 0, False
    while True:
        now_mib = can_give_mib(meminfo_kib(read_meminfo()))
        samples += 1
        lowest = now_mib if lowest is None else min(lowest, now_mib)
        if now_mib < margin_mib:
            stopped = True
            break
        if clock() - start >= seconds:
            break
        sleep(2)
    return {"lowest_can_give_mib": lowest, "margin_mib": margin_mib, "stopped_at_margin": stopped,
            "samples": samples, "watched_s": round(clock() - start, 1)}


def ksm(ksm_dir: Path) -> dict[str, int | None]:
    counters: dict[str, int | None] = {}
    for name in ("run", "pages_shared", "pages_sharing"):
        text = (read(ksm_dir / name) or "").strip()
        counters[f"ksm_{name}"] = int(text) if text.isdigit() else None
    return counters


def qemu_rss_kib(guest: str, proc: Path) -> int | None:
    """The resident memory of the guest's QEMU process, None when it has none (or several)."""
    found = processes(qemu_of(guest), proc)
    if len(found) != 1:
        return None
    return meminfo_kib(read(found[0] / "status") or "").get("VmRSS")


def memory(proc: Path, ksm_dir: Path) -> dict[str, Any]:
    return {"can_give_mib": can_give_mib(meminfo_kib(read(proc / "meminfo") or "")), **ksm(ksm_dir)}


def overcommit(proc: Path, ksm_dir: Path, seconds: float, margin_mib: int, guests: list[str],
               sleep: Callable[[float], None] = time.sleep) -> dict[str, Any]:
    result = watch(seconds, margin_mib, lambda: read(proc / "meminfo") or "", sleep)
    rss = {guest: qemu_rss_kib(guest, proc) for guest in guests}
    return {**result, **ksm(ksm_dir), "qemu_rss_kib": rss,
            "guests_running": sum(1 for value in rss.values() if value is not None)}


def scope_limits(guest: str, proc: Path, cgroup_root: Path) -> dict[str, str | None]:
    """The limit files of the guest's QEMU scope, as text (None: absent); {} without one QEMU process."""
    found = processes(qemu_of(guest), proc)
    scope = scope_path(cgroup(found[0]) or "") if len(found) == 1 else ""
    if not scope:
        return {}
    return {name: (text.strip() if (text := read(cgroup_root / scope.lstrip("/") / name)) is not None else None)
            for name in LIMIT_FILES}


def credit2_row(listing: str, guest: str) -> list[str] | None:
    """The guest's row of `xl sched-credit2 -d GUEST` (Name ID Weight Cap), None without one."""
    rows = [line.split() for line in listing.splitlines()[1:]]
    return next((row for row in rows if len(row) >= 4 and row[0] == guest), None)


def credit2_limits(guest: str) -> dict[str, str | None]:
    """The guest's credit2 weight and cap, {} when Xen does not schedule with credit2."""
    done = subprocess.run(["xl", "sched-credit2", "-d", guest], capture_output=True, text=True, check=False)
    row = credit2_row(done.stdout, guest) if done.returncode == 0 else None
    return {"credit2_weight": row[2], "credit2_cap": row[3]} if row else {}


def holdings(stack: str, guest: str, proc: Path, cgroup_root: Path, unit_prefix: str) -> dict[str, Any]:
    swaps = [line.split()[0] for line in (read(proc / "swaps") or "").splitlines()[1:] if line.strip()]
    listed = command("systemctl", "list-units", "--all", "--plain", "--no-legend", "--full", f"{unit_prefix}*")
    units = [line.split()[0] for line in listed.splitlines() if line.strip()]
    if stack == "kvm":
        names = command("virsh", "--connect", "qemu:///system", "list", "--all", "--name").splitlines()
        domains = [name.strip() for name in names if name.strip()]
        limits = scope_limits(guest, proc, cgroup_root)
    else:
        domains = [line.split()[0] for line in xl("list").splitlines()[1:] if line.strip()]
        limits = credit2_limits(guest)
    return {"domains": sorted(domains), "swaps": sorted(swaps), "units": sorted(units), "limits": limits}


def leftovers(before: dict[str, Any], now: dict[str, Any]) -> dict[str, Any]:
    """What `now` holds that `before` did not (domains, swap areas, units), and each limit whose
    value changed; empty when the experiments left the host as they found it."""
    left: dict[str, Any] = {key: sorted(set(now[key]) - set(before[key])) for key in ("domains", "swaps", "units")}
    left["limits"] = {name: {"before": before["limits"].get(name), "now": value}
                      for name, value in now["limits"].items() if before["limits"].get(name) != value}
    return {key: value for key, value in left.items() if value}


def main() -> int:
    argv = sys.argv[1:]
    if len(argv) == 2 and argv[0] in ("kvm", "xen"):
        print(json.dumps(kvm(argv[1]) if argv[0] == "kvm" else xen(argv[1])))
        return 0
    if len(argv) == 3 and argv[0] == "memory":
        print(json.dumps(memory(Path(argv[1]), Path(argv[2]))))
        return 0
    if len(argv) >= 6 and argv[0] == "watch" and argv[3].isdigit() and argv[4].isdigit():
        print(json.dumps(overcommit(Path(argv[1]), Path(argv[2]), int(argv[3]), int(argv[4]), argv[5:])))
        return 0
    if len(argv) in (6, 7) and argv[0] in ("holdings", "leftovers") and argv[1] in ("kvm", "xen") \
            and (argv[0] == "holdings") == (len(argv) == 6):
        now = holdings(argv[1], argv[2], Path(argv[3]), Path(argv[4]), argv[5])
        print(json.dumps(now if argv[0] == "holdings" else leftovers(json.loads(argv[6]), now)))
        return 0
    print("Usage: " + __doc__.strip().split("Usage: ")[-1], file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
