"""`hvlab up`: the main job as stages a person can follow, timed, with a report at the end.

One ansible-playbook run does site.yml (hosts, guest image, guests) and compare.yml: the
guests exist only in that run's in-memory inventory, so the comparison cannot be a second
run. Its output goes to a log file in the results directory; the terminal shows one line
per stage (a play) with its duration, and the stage times are kept in stages.json for
benchmarks/hvlab_up.py.
"""

import json
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from hvlab import paths
from hvlab.errors import HvlabError
from hvlab.results_guard import LOG_FILE, STAGES_FILE

PLAYBOOKS = ("site.yml", "compare.yml")
_PLAY_RE = re.compile(r"^PLAY \[(?P<name>.*)\] \**$")
_RECAP = "PLAY RECAP"

Say = Callable[[str], None]


@dataclass
class StageClock:
    """Durations of the plays, in the order they ran (a play name may repeat)."""

    stages: list[dict[str, object]] = field(default_factory=list)
    current: str | None = None
    started: float = 0.0

    def enter(self, name: str | None, now: float) -> float | None:
        """Close the running stage (returning its duration) and open `name` (None: the end)."""
        elapsed = None
        if self.current is not None:
            elapsed = round(now - self.started, 1)
            self.stages.append({"stage": self.current, "seconds": elapsed})
        self.current, self.started = name, now
        return elapsed


def follow(lines: Iterable[str], clock: StageClock, say: Say, log: Callable[[str], None],
           now: Callable[[], float] = time.monotonic) -> None:
    """Feed ansible-playbook's output: log every line, announce each play and time it."""
    for line in lines:
        log(line)
        text = line.rstrip("\n")
        play = _PLAY_RE.match(text)
        if play or text.startswith(_RECAP):
            running = clock.current
            elapsed = clock.enter(play.group("name") if play else None, now())
            if running is not None and elapsed is not None:
                say(f"done in {elapsed:.0f} s: {running}")
            if play:
                say(f"stage: {play.group('name')}")
        elif text.startswith(("fatal:", "failed:")):
            say(text)


def results_dir_for(now: datetime | None = None) -> Path:
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%d-%H%M%S")
    return paths.project_root() / "results" / stamp


def playbook_command(inventory_path: Path, *playbooks: str) -> list[str]:
    """ansible-playbook from this venv on the project's playbooks, against inventory_path."""
    ansible = Path(sys.executable).with_name("ansible-playbook")
    return [str(ansible), "-i", str(inventory_path),
            *(str(paths.project_root() / "playbooks" / name) for name in playbooks)]


def run(inventory_path: Path, results_dir: Path, extra_vars: dict[str, object], say: Say) -> list[dict[str, object]]:
    """Run site.yml and compare.yml in one ansible-playbook; return the stage times."""
    results_dir.mkdir(parents=True, exist_ok=True)
    cmd = playbook_command(inventory_path, *PLAYBOOKS)
    cmd += ["-e", json.dumps({"compare_results_dir": str(results_dir), **extra_vars})]
    log_path = results_dir / LOG_FILE
    say(f"running {' + '.join(PLAYBOOKS)} on {inventory_path}; full log: {log_path}")
    clock = StageClock()
    # Line-buffered, so `tail -f` on the log follows the run as it goes.
    with log_path.open("w", encoding="utf-8", buffering=1) as log, subprocess.Popen(
        cmd, cwd=paths.project_root(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        bufsize=1,
    ) as proc:
        assert proc.stdout is not None
        follow(proc.stdout, clock, say, log.write)
        returncode = proc.wait()
    clock.enter(None, time.monotonic())
    (results_dir / STAGES_FILE).write_text(json.dumps(clock.stages, indent=2) + "\n", encoding="utf-8")
    if returncode != 0:
        raise HvlabError(f"the playbooks failed (exit {returncode}); see {log_path}")
    return clock.stages


def teardown(inventory_path: Path, say: Say) -> None:
    """Run playbooks/teardown.yml on a lab: hvlab's guests and their disks go, nothing else."""
    say(f"removing hvlab's guests from the hosts of {inventory_path}")
    done = subprocess.run(playbook_command(inventory_path, "teardown.yml"), cwd=paths.project_root(), check=False)
    if done.returncode != 0:
        raise HvlabError(f"the teardown playbook failed (exit {done.returncode})")
