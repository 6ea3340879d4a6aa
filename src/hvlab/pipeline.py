"""`hvlab up`: the main job as stages a person can follow, timed, with a report at the end.

One ansible-playbook run does site.yml (hosts, guest image, guests), compare.yml and
claims.yml: the guests exist only in that run's in-memory inventory, so the comparison and
the claims experiments cannot be a second run (`hvlab claims` runs guests.yml again first,
which finds the guests in place). Its output goes to a log file in the results directory; the terminal shows one line
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
from hvlab.results_guard import CLAIMS_LOG_FILE, LOG_FILE, STAGES_FILE, holds_comparison

PLAYBOOKS = ("site.yml", "compare.yml", "claims.yml")
CLAIMS_PLAYBOOKS = ("guests.yml", "claims.yml")
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


def latest_comparison(results_root: Path | None = None) -> Path:
    """The newest results/<UTC time> directory that holds a comparison (the names sort by time)."""
    root = results_root or paths.project_root() / "results"
    found = sorted(p for p in root.glob("[0-9]*-[0-9]*") if p.is_dir() and holds_comparison(p)) \
        if root.is_dir() else []
    if not found:
        raise HvlabError(f"no comparison in {root}: run hvlab up first, or name one with --results")
    return found[-1]


def playbook_command(inventory_path: Path, *playbooks: str) -> list[str]:
    """ansible-playbook from this venv on the project's playbooks, against inventory_path."""
    ansible = Path(sys.executable).with_name("ansible-playbook")
    return [str(ansible), "-i", str(inventory_path),
            *(str(paths.project_root() / "playbooks" / name) for name in playbooks)]


def run(inventory_path: Path, results_dir: Path, extra_vars: dict[str, object], say: Say,
        playbooks: tuple[str, ...] = PLAYBOOKS, log_name: str = LOG_FILE,
        stages_name: str | None = STAGES_FILE) -> list[dict[str, object]]:
    """Run the playbooks in one ansible-playbook (by default the main job's); return the stage times.

    The log goes to log_name in results_dir, the stage times to stages_name (None: not kept).
    """
    results_dir.mkdir(parents=True, exist_ok=True)
    cmd = playbook_command(inventory_path, *playbooks)
    cmd += ["-e", json.dumps({"compare_results_dir": str(results_dir), "claims_results_dir": str(results_dir),
                              **extra_vars})]
    log_path = results_dir / log_name
    say(f"running {' + '.join(playbooks)} on {inventory_path}; full log: {log_path}")
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
    if stages_name is not None:
        (results_dir / stages_name).write_text(json.dumps(clock.stages, indent=2) + "\n", encoding="utf-8")
    if returncode != 0:
        raise HvlabError(f"the playbooks failed (exit {returncode}); see {log_path}")
    return clock.stages


def run_claims(inventory_path: Path, results_dir: Path, say: Say) -> list[dict[str, object]]:
    """The claims experiments alone, on a lab whose guests are up, into an existing comparison."""
    return run(inventory_path, results_dir, {}, say, CLAIMS_PLAYBOOKS, CLAIMS_LOG_FILE, None)


def teardown(inventory_path: Path, say: Say) -> None:
    """Run playbooks/teardown.yml on a lab: hvlab's guests and their disks go, nothing else."""
    say(f"removing hvlab's guests from the hosts of {inventory_path}")
    done = subprocess.run(playbook_command(inventory_path, "teardown.yml"), cwd=paths.project_root(), check=False)
    if done.returncode != 0:
        raise HvlabError(f"the teardown playbook failed (exit {done.returncode})")
