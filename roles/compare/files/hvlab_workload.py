#!/usr/bin/python3
"""Run benchmark workloads inside a guest, one after another, and print a run record (JSON) per line.

Why this exists: the compare role runs the same workloads on the KVM guests and the Xen
guests, alternating the order, many times. Each run must leave a self-describing record
(what ran, with which parameters and tool version, when, for how long, the figure) so that
the report can be built from files alone. A run whose tool fails is data too: it becomes a
record with status "failed" and the error text, and the script still exits 0 so Ansible
fetches it instead of aborting the whole comparison. Only a caller's usage error exits 2.

All the workloads of one repeat on one guest run in one call: on an emulated lab, starting
an Ansible task in a guest costs more than a quick workload, so one call per run would
spend most of the comparison on Ansible instead of on the workloads.

The parsers are plain functions of the tools' output (sysbench 1.0.20 text, fio 3.33 JSON,
iperf3 3.12 JSON), unit-tested with real samples. Standard library only: the script is
copied to the guests and runs with their /usr/bin/python3.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCHEMA = "hvlab.run/1"
MIB = 1024 * 1024


@dataclass(frozen=True)
class Workload:
    tool: str
    metric: str
    unit: str
    higher_is_better: bool = True


WORKLOADS: dict[str, Workload] = {
    "cpu": Workload("sysbench", "events_per_second", "events/s"),
    "memory": Workload("sysbench", "transfer_rate", "MiB/s"),
    "disk_randread_4k": Workload("fio", "iops", "IOPS"),
    "disk_randwrite_4k": Workload("fio", "iops", "IOPS"),
    "disk_seqread_1m": Workload("fio", "bandwidth", "MiB/s"),
    "disk_seqwrite_1m": Workload("fio", "bandwidth", "MiB/s"),
    "network": Workload("iperf3", "throughput", "Mbit/s"),
    "kernel_compile": Workload("make", "build_time", "s", higher_is_better=False),
}

# fio job per disk workload: rw mode, block size, queue depth, and whether it reads or writes.
FIO_JOBS: dict[str, dict[str, Any]] = {
    "disk_randread_4k": {"rw": "randread", "bs": "4k", "iodepth": 32, "direction": "read"},
    "disk_randwrite_4k": {"rw": "randwrite", "bs": "4k", "iodepth": 32, "direction": "write"},
    "disk_seqread_1m": {"rw": "read", "bs": "1M", "iodepth": 8, "direction": "read"},
    "disk_seqwrite_1m": {"rw": "write", "bs": "1M", "iodepth": 8, "direction": "write"},
}

# quick: seconds-long runs for the emulated lab (QEMU TCG); full: sizes for real hardware.
# timeout_s bounds one tool run (file layout included), so a hung tool becomes a failed record.
# The kernel build (Debian's linux-source tree) is bounded by kernel_timeout_s instead.
PROFILES: dict[str, dict[str, Any]] = {
    "quick": {"time_s": 5, "fio_size": "64M", "fio_runtime_s": 5, "fio_ramp_s": 0,
              "iperf3_time_s": 3, "iperf3_omit_s": 0, "timeout_s": 300,
              "kernel_config": "tinyconfig", "kernel_timeout_s": 7200},
    "full": {"time_s": 30, "fio_size": "4G", "fio_runtime_s": 30, "fio_ramp_s": 5,
             "iperf3_time_s": 30, "iperf3_omit_s": 2, "timeout_s": 1200,
             "kernel_config": "defconfig", "kernel_timeout_s": 7200},
}
KERNEL_SOURCES = Path("/usr/src")

IPERF3_CONNECT_ATTEMPTS = 5


class ToolError(Exception):
    """The tool could not give a figure: missing, failed, timed out, or printed nonsense."""


# ---------------------------------------------------------------- parsers


def _search_float(pattern: str, text: str, what: str) -> float:
    match = re.search(pattern, text, re.MULTILINE)
    if match is None:
        raise ToolError(f"unparseable sysbench output: no {what}")
    return float(match.group(1))


def _optional_float(pattern: str, text: str) -> float | None:
    match = re.search(pattern, text, re.MULTILINE)
    return float(match.group(1)) if match else None


def _optional_int(pattern: str, text: str) -> int | None:
    match = re.search(pattern, text, re.MULTILINE)
    return int(match.group(1)) if match else None


def sysbench_version(text: str) -> str | None:
    """'sysbench 1.0.20' from the banner sysbench prints first."""
    match = re.search(r"^sysbench (\d+(?:\.\d+)+)", text, re.MULTILINE)
    return f"sysbench {match.group(1)}" if match else None


def _sysbench_common(text: str) -> dict[str, Any]:
    return {
        "total_time_s": _optional_float(r"^\s*total time:\s*([\d.]+)s", text),
        "total_events": _optional_int(r"^\s*total number of events:\s*(\d+)", text),
        "latency_avg_ms": _optional_float(r"^\s*avg:\s*([\d.]+)", text),
        "latency_p95_ms": _optional_float(r"^\s*95th percentile:\s*([\d.]+)", text),
        "threads": _optional_int(r"^Number of threads:\s*(\d+)", text),
    }


def parse_sysbench_cpu(text: str) -> tuple[float, dict[str, Any]]:
    """Events per second of `sysbench cpu run`."""
    value = _search_float(r"^\s*events per second:\s*([\d.]+)", text, "'events per second'")
    return value, _sysbench_common(text)


def parse_sysbench_memory(text: str) -> tuple[float, dict[str, Any]]:
    """MiB/s of `sysbench memory run` ('N MiB transferred (X MiB/sec)')."""
    value = _search_float(r"MiB transferred \(([\d.]+) MiB/sec\)", text, "'MiB transferred (X MiB/sec)'")
    extra = _sysbench_common(text)
    extra["transferred_mib"] = _optional_float(r"^([\d.]+) MiB transferred", text)
    return value, extra


def _json_document(text: str, tool: str) -> Any:
    """The first JSON object in text: fio may print notes before its JSON."""
    start = text.find("{")
    if start < 0:
        raise ToolError(f"unparseable {tool} output: no JSON document")
    try:
        document, _ = json.JSONDecoder().raw_decode(text[start:])
    except json.JSONDecodeError as exc:
        raise ToolError(f"unparseable {tool} output: {exc}") from exc
    if not isinstance(document, dict):
        raise ToolError(f"unparseable {tool} output: not a JSON object")
    return document


def fio_version(document: dict[str, Any]) -> str | None:
    raw = document.get("fio version")
    return f"fio {raw.removeprefix('fio-')}" if isinstance(raw, str) else None


def parse_fio(text: str, direction: str, metric: str) -> tuple[float, dict[str, Any]]:
    """IOPS (metric 'iops') or MiB/s (metric 'bandwidth') of the first job of fio's JSON output."""
    document = _json_document(text, "fio")
    jobs = document.get("jobs")
    if not isinstance(jobs, list) or not jobs:
        raise ToolError("unparseable fio output: no jobs")
    job = jobs[0]
    if job.get("error"):
        raise ToolError(f"fio job {job.get('jobname')!r} failed with error {job['error']}")
    side = job.get(direction)
    if not isinstance(side, dict):
        raise ToolError(f"unparseable fio output: no {direction} section")
    if not side.get("io_bytes"):
        raise ToolError(f"fio did no {direction} I/O")
    value = float(side["iops"]) if metric == "iops" else float(side["bw_bytes"]) / MIB
    percentiles = side.get("clat_ns", {}).get("percentile", {})
    p99 = percentiles.get("99.000000")
    disks = document.get("disk_util") or []
    extra = {
        "iops": float(side["iops"]),
        "bandwidth_mib_s": float(side["bw_bytes"]) / MIB,
        "io_bytes": side["io_bytes"],
        "runtime_ms": side.get("runtime"),
        "lat_mean_us": float(side.get("lat_ns", {}).get("mean", 0.0)) / 1000,
        "clat_p99_us": float(p99) / 1000 if p99 is not None else None,
        "usr_cpu_pct": job.get("usr_cpu"),
        "sys_cpu_pct": job.get("sys_cpu"),
        "disk_util_pct": disks[0].get("util") if disks and isinstance(disks[0], dict) else None,
    }
    return value, extra


def iperf3_version(document: dict[str, Any]) -> str | None:
    raw = document.get("start", {}).get("version")
    return f"iperf3 {raw.removeprefix('iperf ')}" if isinstance(raw, str) else None


def parse_iperf3(text: str) -> tuple[float, dict[str, Any]]:
    """Mbit/s received by the server in `iperf3 -c ... -J` (the client sends: guest to host).

    iperf3 3.12 reports a failed connection in the JSON's "error" and may still exit 0,
    so the error key is checked whatever the exit code was.
    """
    document = _json_document(text, "iperf3")
    if document.get("error"):
        raise ToolError(f"iperf3: {document['error']}")
    end = document.get("end", {})
    received = end.get("sum_received")
    sent = end.get("sum_sent", {})
    if not isinstance(received, dict) or "bits_per_second" not in received:
        raise ToolError("unparseable iperf3 output: no end.sum_received")
    cpu = end.get("cpu_utilization_percent", {})
    extra = {
        "sent_mbit_s": float(sent["bits_per_second"]) / 1e6 if "bits_per_second" in sent else None,
        "bytes_received": received.get("bytes"),
        "seconds": received.get("seconds"),
        "retransmits": sent.get("retransmits"),
        "cpu_local_pct": cpu.get("host_total"),
        "cpu_remote_pct": cpu.get("remote_total"),
    }
    return float(received["bits_per_second"]) / 1e6, extra


# ---------------------------------------------------------------- running tools


def run_tool(argv: list[str], timeout_s: int) -> subprocess.CompletedProcess[str]:
    """Run argv; a missing binary or a timeout becomes a ToolError. The exit code is left to the caller."""
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout_s, check=False)
    except FileNotFoundError as exc:
        raise ToolError(f"{argv[0]} not found: install it (the compare role's packages step does)") from exc
    except subprocess.TimeoutExpired as exc:
        raise ToolError(f"{argv[0]} did not finish within {timeout_s} s") from exc
    except OSError as exc:
        raise ToolError(f"{argv[0]} could not run: {exc}") from exc


def _tail(text: str, lines: int = 5) -> str:
    return " | ".join(line.strip() for line in text.strip().splitlines()[-lines:])


def _failed_exit(argv: list[str], proc: subprocess.CompletedProcess[str]) -> ToolError:
    detail = _tail(proc.stderr) or _tail(proc.stdout)
    return ToolError(f"{argv[0]} exited with {proc.returncode}: {detail}")


@dataclass
class Outcome:
    value: float
    tool: str
    parameters: dict[str, Any]
    extra: dict[str, Any]


class Runner:
    """Builds the command for a workload, runs it, parses the result.

    Whatever it learned before a failure (parameters, tool version, command) stays in
    `parameters`, `tool` and `extra`, so a failed record still says what was attempted.
    """

    def __init__(self, workload: str, profile: str, workdir: Path, server: str | None, port: int) -> None:
        self.workload = workload
        self.spec = WORKLOADS[workload]
        self.profile = PROFILES[profile]
        self.workdir = workdir
        self.server = server
        self.port = port
        self.tool = self.spec.tool
        self.parameters: dict[str, Any] = {}
        self.extra: dict[str, Any] = {}

    def run(self) -> Outcome:
        if self.workload == "cpu":
            return self._sysbench("cpu", ["--cpu-max-prime=20000"], parse_sysbench_cpu)
        if self.workload == "memory":
            options = ["--memory-block-size=1M", "--memory-total-size=100T", "--memory-oper=write",
                       "--memory-access-mode=seq"]
            return self._sysbench("memory", options, parse_sysbench_memory)
        if self.workload in FIO_JOBS:
            return self._fio(FIO_JOBS[self.workload])
        if self.workload == "kernel_compile":
            return self._kernel_compile()
        return self._iperf3()

    def _sysbench(self, test: str, options: list[str], parse: Any) -> Outcome:
        threads = os.cpu_count() or 1
        self.parameters = {"test": test, "threads": threads, "time_s": self.profile["time_s"],
                           "options": options}
        argv = ["sysbench", test, f"--threads={threads}", f"--time={self.profile['time_s']}", *options, "run"]
        self.extra["command"] = argv
        proc = run_tool(argv, self.profile["timeout_s"])
        self.tool = sysbench_version(proc.stdout) or "sysbench"
        if proc.returncode != 0:
            raise _failed_exit(argv, proc)
        value, extra = parse(proc.stdout)
        self.extra.update(extra)
        return Outcome(value, self.tool, self.parameters, self.extra)

    def _fio(self, job: dict[str, Any]) -> Outcome:
        test_file = self.workdir / f"hvlab-fio-{self.workload}.dat"
        self.parameters = {
            "rw": job["rw"], "bs": job["bs"], "iodepth": job["iodepth"], "ioengine": "libaio", "direct": 1,
            "size": self.profile["fio_size"], "runtime_s": self.profile["fio_runtime_s"],
            "ramp_time_s": self.profile["fio_ramp_s"], "numjobs": 1, "filename": str(test_file),
            # Writes go over a file laid out first, so they measure the I/O path, not block allocation.
            "overwrite": 1 if job["direction"] == "write" else 0,
        }
        argv = [
            "fio", f"--name=hvlab-{self.workload}", f"--filename={test_file}", f"--rw={job['rw']}",
            f"--bs={job['bs']}", f"--iodepth={job['iodepth']}", "--ioengine=libaio", "--direct=1",
            f"--size={self.profile['fio_size']}", f"--runtime={self.profile['fio_runtime_s']}", "--time_based",
            f"--ramp_time={self.profile['fio_ramp_s']}", f"--overwrite={self.parameters['overwrite']}",
            "--numjobs=1", "--group_reporting", "--output-format=json",
        ]
        self.extra["command"] = argv
        try:
            self.workdir.mkdir(parents=True, exist_ok=True)
            proc = run_tool(argv, self.profile["timeout_s"])
        finally:
            test_file.unlink(missing_ok=True)
        try:
            self.tool = fio_version(_json_document(proc.stdout, "fio")) or "fio"
        except ToolError:
            self.tool = "fio"
        if proc.returncode != 0:
            raise _failed_exit(argv, proc)
        value, extra = parse_fio(proc.stdout, job["direction"], self.spec.metric)
        self.extra.update(extra)
        return Outcome(value, self.tool, self.parameters, self.extra)

    def _kernel_compile(self) -> Outcome:
        """Seconds of `make -jN vmlinux` on Debian's kernel source, configured by the profile.

        The tree is unpacked once (the first repeat) and cleaned before every build, so only
        the compile is timed; unpacking and configuring are not part of the figure.
        """
        tarballs = sorted(KERNEL_SOURCES.glob("linux-source-*.tar.xz"))
        if not tarballs:
            raise ToolError(f"no {KERNEL_SOURCES}/linux-source-*.tar.xz: install linux-source "
                            "(compare_kernel_compile: true installs it)")
        tarball = tarballs[-1]
        tree = self.workdir / "kernel" / tarball.name.removesuffix(".tar.xz")
        jobs = os.cpu_count() or 1
        limit = self.profile["kernel_timeout_s"]
        self.parameters = {"source": tarball.name, "config": self.profile["kernel_config"], "jobs": jobs,
                           "target": "vmlinux"}
        if not (tree / "Makefile").exists():
            tree.parent.mkdir(parents=True, exist_ok=True)
            self._checked(["tar", "-xf", str(tarball), "-C", str(tree.parent)], limit)
        self._checked(["make", "-C", str(tree), "-s", "mrproper"], limit)
        self._checked(["make", "-C", str(tree), "-s", self.profile["kernel_config"]], limit)
        argv = ["make", "-C", str(tree), "-s", f"-j{jobs}", "vmlinux"]
        self.extra["command"] = argv
        compiler = run_tool(["gcc", "-dumpfullversion"], 60)
        self.tool = f"gcc {compiler.stdout.strip()}" if compiler.returncode == 0 else "gcc"
        start = time.monotonic()
        self._checked(argv, limit)
        return Outcome(round(time.monotonic() - start, 3), self.tool, self.parameters, self.extra)

    @staticmethod
    def _checked(argv: list[str], timeout_s: int) -> subprocess.CompletedProcess[str]:
        proc = run_tool(argv, timeout_s)
        if proc.returncode != 0:
            raise _failed_exit(argv, proc)
        return proc

    def _iperf3(self) -> Outcome:
        self.parameters = {"server": self.server, "port": self.port, "time_s": self.profile["iperf3_time_s"],
                           "omit_s": self.profile["iperf3_omit_s"], "direction": "guest_to_host",
                           "protocol": "tcp", "streams": 1}
        if not self.server:
            raise ToolError("the network workload needs --server (the iperf3 server's address)")
        argv = ["iperf3", "-c", self.server, "-p", str(self.port), "-t", str(self.profile["iperf3_time_s"]),
                "-O", str(self.profile["iperf3_omit_s"]), "--connect-timeout", "5000", "-J"]
        self.extra["command"] = argv
        # The one-off server on the host was started just before these runs; give it a moment.
        for attempt in range(1, IPERF3_CONNECT_ATTEMPTS + 1):
            self.extra["attempts"] = attempt
            proc = run_tool(argv, self.profile["timeout_s"])
            try:
                self.tool = iperf3_version(_json_document(proc.stdout, "iperf3")) or "iperf3"
                value, extra = parse_iperf3(proc.stdout)
            except ToolError as exc:
                if "Connection refused" in str(exc) and attempt < IPERF3_CONNECT_ATTEMPTS:
                    time.sleep(1)
                    continue
                if proc.returncode != 0 and "iperf3:" not in str(exc):
                    raise _failed_exit(argv, proc) from exc
                raise
            if proc.returncode != 0:
                raise _failed_exit(argv, proc)
            self.extra.update(extra)
            return Outcome(value, self.tool, self.parameters, self.extra)
        raise ToolError("iperf3: no attempt left")  # pragma: no cover - the loop always returns or raises


# ---------------------------------------------------------------- record


def now_iso() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")


def build_record(args: argparse.Namespace, workload: str, sequence: int, *, status: str, error: str | None,
                 value: float | None, tool: str, parameters: dict[str, Any], started: str, duration_s: float,
                 extra: dict[str, Any]) -> dict[str, Any]:
    spec = WORKLOADS[workload]
    return {
        "schema": SCHEMA,
        "stack": args.stack,
        "host": args.host,
        "guest": args.guest,
        "workload": workload,
        "repeat": args.repeat,
        "sequence": sequence,
        "status": status,
        "error": error,
        "metric": spec.metric,
        "unit": spec.unit,
        "higher_is_better": spec.higher_is_better,
        "value": value,
        "tool": tool,
        "parameters": {"profile": args.profile, **parameters},
        "started": started,
        "duration_s": round(duration_s, 3),
        "extra": extra,
    }


def run_workload(args: argparse.Namespace, workload: str, sequence: int) -> dict[str, Any]:
    """Run one workload and return its record; never raises for a tool's failure."""
    started = now_iso()
    clock = time.monotonic()
    runner = Runner(workload, args.profile, Path(args.workdir), args.server, args.port)
    try:
        if workload == "network" and args.server_error:
            raise ToolError(args.server_error)
        outcome = runner.run()
    except ToolError as exc:
        return build_record(args, workload, sequence, status="failed", error=str(exc), value=None,
                            tool=runner.tool, parameters=runner.parameters, started=started,
                            duration_s=time.monotonic() - clock, extra=runner.extra)
    except Exception as exc:  # a bug here must still leave a record, not a traceback
        return build_record(args, workload, sequence, status="failed",
                            error=f"internal error: {type(exc).__name__}: {exc}", value=None, tool=runner.tool,
                            parameters=runner.parameters, started=started, duration_s=time.monotonic() - clock,
                            extra=runner.extra)
    return build_record(args, workload, sequence, status="ok", error=None, value=outcome.value, tool=outcome.tool,
                        parameters=outcome.parameters, started=started, duration_s=time.monotonic() - clock,
                        extra=outcome.extra)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workloads", nargs="+", choices=sorted(WORKLOADS), metavar="WORKLOAD",
                        help=f"run in this order; one of {', '.join(sorted(WORKLOADS))}")
    parser.add_argument("--profile", choices=sorted(PROFILES), default="quick")
    parser.add_argument("--stack", required=True, help="kvm or xen")
    parser.add_argument("--host", required=True, help="inventory name of the guest's hypervisor host")
    parser.add_argument("--guest", required=True, help="inventory name of this guest")
    parser.add_argument("--repeat", type=int, required=True, help="repeat number, from 1")
    parser.add_argument("--sequence", type=int, required=True,
                        help="position of the first workload's run in the whole comparison (the next ones follow)")
    parser.add_argument("--server", help="iperf3 server address (network workload)")
    parser.add_argument("--port", type=int, default=5201, help="iperf3 server port")
    parser.add_argument("--server-error", help="why the iperf3 server did not start: the network run fails with it")
    parser.add_argument("--workdir", default="/var/tmp", help="directory for fio's test file (on the guest's disk)")
    args = parser.parse_args(argv)
    if len(set(args.workloads)) != len(args.workloads):
        parser.error(f"a workload is named twice: {' '.join(args.workloads)}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    for offset, workload in enumerate(args.workloads):
        print(json.dumps(run_workload(args, workload, args.sequence + offset), sort_keys=False), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
