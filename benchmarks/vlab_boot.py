#!/usr/bin/env python3
"""Benchmark the virtual lab: cold image build and machine boot-to-SSH, against raw QEMU.

Prints the median of N runs of

  (a) a cold image build, ``hvlab.vlab.image.build(TARGET, force=True)`` (needs root; ``--build-runs``,
      default 1, 0 skips it), and
  (b) booting one lab machine (``--machine``, default kvm1) through ``hvlab.vlab.machines``:
      time from QEMU launch to the first successful SSH command, to ``systemctl
      is-system-running --wait`` done, and ``Machine.start()`` as a whole; the machine is
      destroyed after every run so each run is a first boot on a fresh overlay
      (``--boot-runs``, default 3, 0 skips it),

both for hvlab's default target (Debian 13 through UEFI: ``Boot(DEFAULT_RELEASE, DEFAULT_FIRMWARE)``
on the ``LabTarget()`` image), next to the raw-command figures of shared/LAB-FACTS.md (image
build about 85 s; SSH answers about 29 s after launch), the ratio, and whether boot-to-SSH meets the 1.2x goal. Figures
measured under QEMU TCG are labelled as emulated; the LAB-FACTS figures are TCG figures too,
so under KVM the ratios are shown but not judged.

The boot part needs a verified cached image and never builds one (run ``hvlab image build``
first, or keep ``--build-runs`` at 1 or more).

Safety: before any work, a boot run refuses a machine that is not absent in this lab's state
dir (HVLAB_STATE_DIR) or whose SSH port another program listens on, and it only destroys the
machine it started itself. A build run replaces the
cached image in HVLAB_CACHE_DIR in place: do not run it while any lab (another state dir
sharing the cache included) keeps overlays on that image.

Usage: .venv/bin/python benchmarks/vlab_boot.py [--build-runs N] [--boot-runs N] [--machine NAME]
"""

from __future__ import annotations

import argparse
import socket
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from hvlab.errors import HvlabError
from hvlab.vlab import image as lab_image
from hvlab.vlab import machines as lab_machines
from hvlab.vlab.accel import Acceleration, choose_acceleration
from hvlab.vlab.releases import DEFAULT_FIRMWARE, DEFAULT_RELEASE, LabTarget

# Raw-command figures from shared/LAB-FACTS.md (2-core machine, QEMU TCG).
RAW_IMAGE_BUILD_S = 85.0
RAW_BOOT_TO_SSH_S = 29.0
BOOT_GOAL_RATIO = 1.2
RAW_ACCEL = "tcg"
PORT_WAIT_S = 120.0
# What is built and booted: hvlab's defaults (the image target is LabTarget()).
BOOT = lab_machines.Boot(DEFAULT_RELEASE, DEFAULT_FIRMWARE, "bare")
TARGET: LabTarget = BOOT.target("")  # LabTarget(): the default release and layout, bare


@dataclass(frozen=True)
class TimedMachine(lab_machines.Machine):
    """A lab machine whose start() records when QEMU launched, SSH answered and boot ended.

    start() calls qemu_command() immediately before it runs QEMU and wait_ready() right
    after QEMU has daemonized, so overriding those two gives the phase boundaries without
    duplicating start(). SSH is polled here at ``poll_s`` (wait_ready sleeps 2 s between
    probes) before wait_ready() itself runs, finds SSH up at once and waits for systemd.
    """

    poll_s: float = 0.5
    marks: dict[str, float] = field(default_factory=dict, compare=False)

    def qemu_command(self, boot: lab_machines.Boot) -> list[str]:
        self.marks["launch"] = time.monotonic()
        return super().qemu_command(boot)

    def wait_ready(
        self, progress: lab_machines.Progress = lambda _m: None, timeout_s: int = lab_machines.BOOT_TIMEOUT_S
    ) -> None:
        deadline = time.monotonic() + timeout_s
        while True:
            if self.pid() is None:
                raise HvlabError(f"QEMU for {self.spec.name} exited during boot; serial log tail:\n"
                                 + self.serial_tail())
            if self.run(["true"], timeout=15, connect_timeout=3).returncode == 0:
                self.marks["ssh"] = time.monotonic()
                break
            if time.monotonic() > deadline:
                raise HvlabError(f"{self.spec.name}: no SSH after {timeout_s}s")
            time.sleep(self.poll_s)
        super().wait_ready(progress, max(30, int(deadline - time.monotonic())))
        self.marks["ready"] = time.monotonic()


@dataclass
class Row:
    label: str
    samples: list[float]
    raw_s: float | None = None
    under_qemu: bool = True  # measured inside a QEMU machine (so TCG-emulated under tcg)

    @property
    def median(self) -> float | None:
        return statistics.median(self.samples) if self.samples else None

    @property
    def ratio(self) -> float | None:
        if self.median is None or self.raw_s is None:
            return None
        return self.median / self.raw_s


def log(message: str) -> None:
    print(f"  · {message}", file=sys.stderr, flush=True)


def time_builds(runs: int) -> list[float]:
    samples: list[float] = []
    for i in range(runs):
        log(f"image build {i + 1}/{runs} (cold, --force)")
        t0 = time.monotonic()
        lab_image.build(TARGET, force=True, progress=log)
        samples.append(time.monotonic() - t0)
        log(f"image build {i + 1}/{runs}: {samples[-1]:.1f} s")
    return samples


def wait_port_free(machine: lab_machines.Machine) -> None:
    """Wait out a TIME_WAIT left on the SSH port by the previous run.

    start() probes the port without SO_REUSEADDR, so a TIME_WAIT connection left when the
    previous run's QEMU went away reads as busy for up to a minute; preflight_boot() has
    already ruled out a real listener.
    """
    deadline = time.monotonic() + PORT_WAIT_S
    while True:
        try:
            lab_machines._require_port_free(machine.spec.ssh_port, machine.spec.name)
            return
        except HvlabError:
            if time.monotonic() > deadline:
                raise
            time.sleep(2)


def preflight_boot(name: str, poll_s: float) -> TimedMachine:
    """Refuse before any work unless `name` is absent in this lab and its SSH port is not taken."""
    machine = TimedMachine(lab_machines.spec_for(name), poll_s=poll_s)
    state = machine.state()
    if state != "absent":
        raise HvlabError(f"{name} is {state} in {lab_machines.lab_dir()}; the boot benchmark only uses an absent "
                         f"machine (it destroys it after each run). Free it with: hvlab vlab down {name}")
    port = machine.spec.ssh_port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            raise HvlabError(f"127.0.0.1:{port} is in use by another program (another lab's {name}?); "
                             "the boot benchmark needs it free") from None
    return machine


def time_boots(machine: TimedMachine, runs: int) -> tuple[list[float], list[float], list[float]]:
    """Boot `machine` `runs` times from a fresh overlay; return (to SSH, to ready, start() total) samples.

    Needs a verified cached image (it never builds one: run `hvlab image build` or --build-runs 1).
    """
    to_ssh: list[float] = []
    to_ready: list[float] = []
    total: list[float] = []
    if runs == 0:
        return to_ssh, to_ready, total
    lab_image.verify(lab_image.cached_image(TARGET))
    name = machine.spec.name
    for i in range(runs):
        wait_port_free(machine)
        machine.marks.clear()
        log(f"boot {i + 1}/{runs}: starting {name}")
        t0 = time.monotonic()
        try:
            machine.start(BOOT, progress=log)
            t_end = time.monotonic()
        finally:
            machine.destroy(progress=log)
        launch, ssh, ready = machine.marks["launch"], machine.marks["ssh"], machine.marks["ready"]
        to_ssh.append(ssh - launch)
        to_ready.append(ready - launch)
        total.append(t_end - t0)
        log(f"boot {i + 1}/{runs}: SSH {to_ssh[-1]:.1f} s, ready {to_ready[-1]:.1f} s, start() {total[-1]:.1f} s")
    return to_ssh, to_ready, total


def fmt_s(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} s"


def report(rows: Sequence[Row], accel: Acceleration, runs: dict[str, int], goal_row: Row) -> str:
    emulated = accel.name == "tcg"
    tag = " [TCG-emulated]" if emulated else ""
    lines = [
        f"hvlab virtual lab benchmark: acceleration {accel.name} ({accel.reason})",
        "Boot figures are TCG-emulated: real pipeline, not hardware speed (the image build runs natively)."
        if emulated else
        f"Raw figures were measured under {RAW_ACCEL.upper()}; ratios against them are not like for like.",
        "",
        f"{'measurement':<54} {'runs':>4} {'median':>9} {'raw (LAB-FACTS)':>16} {'ratio':>7}  samples",
    ]
    for row in rows:
        ratio = "-" if row.ratio is None else f"{row.ratio:.2f}x"
        raw = "-" if row.raw_s is None else f"~{row.raw_s:.0f} s"
        median = fmt_s(row.median) if row.samples else "skipped"
        samples = ", ".join(f"{s:.1f}" for s in row.samples)
        label = row.label + (tag if row.under_qemu else "")
        lines.append(f"{label:<54} {runs[row.label]:>4} {median:>9} {raw:>16} {ratio:>7}  {samples}".rstrip())
    lines.append("")
    if goal_row.ratio is None:
        verdict = "not measured (--boot-runs 0)"
    elif accel.name != RAW_ACCEL:
        verdict = f"not judged: {goal_row.ratio:.2f}x under {accel.name}, raw figure is {RAW_ACCEL}"
    elif goal_row.ratio <= BOOT_GOAL_RATIO:
        verdict = f"MET ({goal_row.ratio:.2f}x <= {BOOT_GOAL_RATIO}x)"
    else:
        verdict = f"NOT MET ({goal_row.ratio:.2f}x > {BOOT_GOAL_RATIO}x)"
    lines.append(f"goal: boot-to-SSH within {BOOT_GOAL_RATIO}x of raw QEMU: {verdict}")
    return "\n".join(lines)


def non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--build-runs", type=non_negative_int, default=1,
                        help="cold image builds to time (needs root; 0 skips; default 1)")
    parser.add_argument("--boot-runs", type=non_negative_int, default=3,
                        help="machine boots to time (0 skips; default 3)")
    parser.add_argument("--machine", default="kvm1", choices=sorted(lab_machines.LAB),
                        help="lab machine to boot (default kvm1)")
    parser.add_argument("--poll", type=float, default=0.5, help="SSH poll interval in seconds (default 0.5)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    accel = choose_acceleration()
    try:
        machine = preflight_boot(args.machine, args.poll) if args.boot_runs else None
        builds = time_builds(args.build_runs)
        to_ssh, to_ready, total = time_boots(machine, args.boot_runs) if machine else ([], [], [])
    except HvlabError as exc:
        print(f"vlab_boot: {exc}", file=sys.stderr)
        return 1
    build_row = Row("image build, cold (build(force=True))", builds, RAW_IMAGE_BUILD_S, under_qemu=False)
    ssh_row = Row(f"{args.machine}: launch -> first SSH", to_ssh, RAW_BOOT_TO_SSH_S)
    ready_row = Row(f"{args.machine}: launch -> systemd done", to_ready)
    start_row = Row(f"{args.machine}: Machine.start() total", total)
    rows = [build_row, ssh_row, ready_row, start_row]
    runs = {build_row.label: args.build_runs, **{r.label: args.boot_runs for r in rows[1:]}}
    print(report(rows, accel, runs, ssh_row))
    return 0


if __name__ == "__main__":
    sys.exit(main())
