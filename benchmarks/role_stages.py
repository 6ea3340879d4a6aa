#!/usr/bin/env python3
"""Benchmark a host role on a fresh virtual lab machine: stage times beside the raw figures.

Boots a fresh lab machine (kvm1 for kvm_host, xen1 for xen_host), converges the role with
the project's playbook and inventory, converges it again (the idempotence run), and prints
the slowest tasks plus the stages that shared/LAB-FACTS.md measured with raw commands
(kvm_host: lean install 167 s; xen_host: lean install 78 s, update-grub 146 s,
reboot into Dom0 39 s) with the
ratio against the 1.5x goal. The machine is destroyed afterwards.

Task durations come from the ansible.posix.json stdout callback, so nothing here parses
human-readable output. Under TCG the figures are emulated, as are the raw ones.

Usage: .venv/bin/python benchmarks/role_stages.py --role kvm_host|xen_host [--keep]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime

from hvlab import paths
from hvlab.errors import HvlabError
from hvlab.vlab import inventory
from hvlab.vlab.accel import choose_acceleration
from hvlab.vlab.machines import Machine, spec_for

GOAL_RATIO = 1.5


@dataclass(frozen=True)
class Stage:
    label: str
    task_name: str
    raw_s: float


ROLES: dict[str, tuple[str, str, list[Stage]]] = {
    "kvm_host": ("kvm1", "playbooks/kvm_hosts.yml", [
        Stage("lean package install", "Install the lean virtualization package set (Debian family)", 167.0),
    ]),
    "xen_host": ("xen1", "playbooks/xen_hosts.yml", [
        Stage("lean package install", "Install Xen, its tools and Dom0's device model (no recommends)", 78.0),
        Stage("update-grub", "Run update-grub", 146.0),
        Stage("reboot into Dom0", "Reboot into Xen", 39.0),
    ]),
}


def _seconds(duration: dict[str, str]) -> float:
    start = datetime.fromisoformat(duration["start"].replace("Z", "+00:00"))
    end = datetime.fromisoformat(duration["end"].replace("Z", "+00:00"))
    return (end - start).total_seconds()


def converge(playbook: str, limit: str) -> tuple[float, dict[str, float], dict[str, int]]:
    """Run the playbook once; return wall time, per-task seconds and the host's recap."""
    root = paths.project_root()
    env = dict(os.environ, ANSIBLE_STDOUT_CALLBACK="ansible.posix.json", ANSIBLE_CONFIG=str(root / "ansible.cfg"))
    began = time.monotonic()
    result = subprocess.run(
        [str(os.path.join(os.path.dirname(sys.executable), "ansible-playbook")), "-i", str(root / "inventories/vlab"),
         "--limit", limit, str(root / playbook)],
        capture_output=True, text=True, env=env, cwd=root,
    )
    wall = time.monotonic() - began
    try:
        # ansible.cfg's profile_tasks may print beside the JSON: decode from the object's first line
        report, _ = json.JSONDecoder().raw_decode(result.stdout[result.stdout.index("{\n"):])
    except (ValueError, json.JSONDecodeError):
        raise HvlabError(f"{playbook} failed (exit {result.returncode}):\n{result.stderr[-2000:]}") from None
    if result.returncode != 0:
        raise HvlabError(f"{playbook} failed (exit {result.returncode}); recap: {report.get('stats')}")
    tasks: dict[str, float] = {}
    for play in report["plays"]:
        for task in play["tasks"]:
            name = task["task"]["name"]
            tasks[name] = tasks.get(name, 0.0) + _seconds(task["task"]["duration"])
    return wall, tasks, report["stats"].get(limit, {})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--role", choices=sorted(ROLES), required=True)
    parser.add_argument("--keep", action="store_true", help="keep the machine running afterwards")
    args = parser.parse_args(argv)
    name, playbook, stages = ROLES[args.role]
    machine = Machine(spec_for(name))
    if machine.state() != "absent":
        print(f"{name} exists in this lab ({machine.state()}): run `hvlab vlab down {name}` first", file=sys.stderr)
        return 2
    accel = choose_acceleration().name
    try:
        booted = time.monotonic()
        # A bare image: the benchmark measures the role's package install.
        machine.start(machine.boot_for(None, None, "bare", inventory.default_boot()))
        boot_s = time.monotonic() - booted
        inventory.write()
        first_s, tasks, _ = converge(playbook, name)
        second_s, _, recap = converge(playbook, name)
    finally:
        if not args.keep:
            machine.destroy()
    label = " (QEMU TCG: emulated figures)" if accel == "tcg" else ""
    print(f"{args.role} on {name}{label}")
    print(f"  machine boot to ready        {boot_s:7.1f} s")
    print(f"  first converge               {first_s:7.1f} s")
    print(f"  second converge              {second_s:7.1f} s  changed={recap.get('changed')}")
    print("  stage                        role s    raw s   ratio  goal <= 1.5x")
    for stage in stages:
        # the JSON report names role tasks "ROLE : TASK"
        took = tasks.get(stage.task_name, tasks.get(f"{args.role} : {stage.task_name}"))
        if took is None:
            print(f"  {stage.label:28} (task {stage.task_name!r} did not run)")
            continue
        ratio = took / stage.raw_s
        verdict = "met" if ratio <= GOAL_RATIO else "MISSED"
        print(f"  {stage.label:28} {took:7.1f}  {stage.raw_s:7.1f}  {ratio:6.2f}  {verdict}")
    print("  slowest tasks:")
    for task_name, took in sorted(tasks.items(), key=lambda kv: kv[1], reverse=True)[:8]:
        print(f"    {took:7.1f} s  {task_name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
