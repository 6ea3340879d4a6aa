"""Read a results directory written by the Ansible `compare` role, and check it against the contract.

A bad file never stops the report: it becomes a Problem that names it (all of its faults in one
line) and the rest is read. Only a directory with nothing of a results dir in it is an error,
because then the user most likely gave the wrong path.
"""

import json
import math
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

from hvlab.errors import HvlabError
from hvlab.report.claims import CLAIM_IDS
from hvlab.report.model import RUN_PARTS, STACKS, ClaimRecord, Probe, Problem, Results, Run

_Record = TypeVar("_Record")

LAB_SCHEMA = "hvlab.lab/1"
RUN_SCHEMA = "hvlab.run/1"
PROBE_SCHEMA = "hvlab.probe/1"
CLAIM_SCHEMA = "hvlab.claim/1"
RUN_STATUSES = ("ok", "failed")
PROBE_KINDS = ("host", "guest")


class _Fields:
    """Typed access to a JSON object that collects every fault instead of stopping at the first."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.data = data
        self.faults: list[str] = []

    def get(self, key: str, kind: type | tuple[type, ...], *, required: bool) -> Any:
        value = self.data.get(key)
        if value is None:
            if required:
                self.faults.append(f"{key} is missing")
            return None
        # bool is an int subclass; a JSON true is never a count or a measurement.
        if not isinstance(value, kind) or (isinstance(value, bool) and bool not in _as_tuple(kind)):
            self.faults.append(f"{key} must be {_kind_name(kind)}, got {value!r:.60}")
            return None
        return value

    def choice(self, key: str, choices: tuple[str, ...]) -> str | None:
        value = self.get(key, str, required=True)
        if value is not None and value not in choices:
            self.faults.append(f"{key} must be one of {', '.join(choices)}, got {value!r:.60}")
            return None
        return value

    def schema(self, expected: str) -> None:
        if self.data.get("schema") != expected:
            self.faults.append(f"schema must be {expected!r}, got {self.data.get('schema')!r:.60}")


def _as_tuple(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


def _kind_name(kind: type | tuple[type, ...]) -> str:
    kinds = _as_tuple(kind)
    if float in kinds:
        return "a number"
    names = {str: "a string", int: "an integer", bool: "true or false", dict: "an object", list: "a list"}
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def load_results(results_dir: Path) -> Results:
    """Everything readable in results_dir; raises HvlabError only when there is nothing at all."""
    run_files = sorted((results_dir / "runs").glob("*.json"))
    probe_files = sorted((results_dir / "probes").glob("*.json"))
    lab_file = results_dir / "lab.json"
    if not lab_file.exists() and not run_files and not probe_files:
        raise HvlabError(f"{results_dir}: no results here (expected lab.json, runs/*.json and probes/*.json)")

    results = Results()
    if lab_file.exists():
        results.lab = _load_lab(lab_file, results.problems)
    else:
        results.problems.append(Problem("lab.json", "missing: the lab's profile, repeats and guest spec are unknown"))
    if not run_files:
        results.problems.append(Problem("runs/", "no run files: there is nothing to compare"))
    for path in run_files:
        run = _load_run(path, results_dir, results.problems)
        if run is not None:
            results.runs.append(run)
    for path in probe_files:
        probe = _load_probe(path, results_dir, results.problems)
        if probe is not None:
            (results.hosts if probe.kind == "host" else results.guests).append(probe)
    for path in sorted((results_dir / "claims").glob("*.json")):
        claim = _load_claim(path, results_dir, results.problems)
        if claim is not None:
            results.claims[claim.claim] = claim
    results.problems.extend(_consistency_problems(results))
    return results


def _read_object(path: Path, results_dir: Path, problems: list[Problem]) -> Mapping[str, Any] | None:
    name = path.relative_to(results_dir).as_posix()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        problems.append(Problem(name, "not UTF-8 text"))
        return None
    except json.JSONDecodeError as exc:
        problems.append(Problem(name, f"not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"))
        return None
    except OSError as exc:
        problems.append(Problem(name, f"cannot be read ({exc.strerror})"))
        return None
    if not isinstance(data, dict):
        problems.append(Problem(name, f"must hold a JSON object, not {type(data).__name__}"))
        return None
    return data


def _open_record(path: Path, results_dir: Path, schema: str,
                 problems: list[Problem]) -> tuple[str, Mapping[str, Any], _Fields] | None:
    """A record file read as a JSON object with its schema checked: its name, data and fields."""
    data = _read_object(path, results_dir, problems)
    if data is None:
        return None
    fields = _Fields(data)
    fields.schema(schema)
    return path.relative_to(results_dir).as_posix(), data, fields


def _kept(record: _Record, name: str, fields: _Fields, problems: list[Problem]) -> _Record | None:
    """The record, or None with its faults as one problem: a faulty record is never half used."""
    if fields.faults:
        problems.append(Problem(name, "; ".join(fields.faults)))
        return None
    return record


def _load_lab(path: Path, problems: list[Problem]) -> Mapping[str, Any] | None:
    opened = _open_record(path, path.parent, LAB_SCHEMA, problems)
    if opened is None:
        return None
    name, data, fields = opened
    fields.get("repeats", int, required=False)
    fields.get("guests", list, required=False)
    return _kept(data, name, fields, problems)


def _load_run(path: Path, results_dir: Path, problems: list[Problem]) -> Run | None:
    opened = _open_record(path, results_dir, RUN_SCHEMA, problems)
    if opened is None:
        return None
    name, _, fields = opened
    stack = fields.choice("stack", STACKS)
    status = fields.choice("status", RUN_STATUSES)
    measured = status == "ok"  # a failed run may lack everything about its measurement
    value = fields.get("value", (int, float), required=measured)
    # Every metric is a throughput or a time: zero, negative or infinite is a broken measurement,
    # and the geometric mean and the log-scale interval have no meaning for it.
    if value is not None and not (math.isfinite(value) and value > 0):
        fields.faults.append(f"value must be a positive finite number, got {value!r}")
    extra = fields.get("extra", dict, required=False)
    run = Run(
        file=name,
        stack=stack or "",
        guest=fields.get("guest", str, required=True),
        workload=fields.get("workload", str, required=True),
        repeat=fields.get("repeat", int, required=True),
        status=status or "",
        value=float(value) if value is not None else None,
        metric=fields.get("metric", str, required=measured),
        unit=fields.get("unit", str, required=measured),
        higher_is_better=fields.get("higher_is_better", bool, required=measured),
        host=fields.get("host", str, required=False),
        sequence=fields.get("sequence", int, required=False),
        error=fields.get("error", str, required=False),
        tool=fields.get("tool", str, required=False),
        started=fields.get("started", str, required=False),
        duration_s=fields.get("duration_s", (int, float), required=False),
        parts=_run_parts(extra, fields.faults),
        resets=_run_resets(extra, fields.faults),
    )
    if not fields.faults and name != run_file_name(run.stack, run.guest, run.workload, run.repeat):
        # The compare role names the file from its own values; a record that names another stack,
        # guest or repeat was forged or moved, and would be counted in the wrong place.
        fields.faults.append(f"holds {run.stack} {run.guest!r} {run.workload} repeat {run.repeat}, which belongs in "
                             f"{run_file_name(run.stack, run.guest, run.workload, run.repeat)}: ignored")
    return _kept(run, name, fields, problems)


def _run_parts(extra: Mapping[str, Any] | None, faults: list[str]) -> tuple[tuple[str, float], ...]:
    """The RUN_PARTS of a run's `extra`, each a positive finite number of seconds.

    Other keys of `extra` are the workload's own details and are left alone; a part that is
    not a positive number is a broken measurement, named like a broken value.
    """
    parts = []
    for key in RUN_PARTS:
        value = (extra or {}).get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not (math.isfinite(value) and value > 0):
            faults.append(f"extra.{key} must be a positive finite number, got {value!r}")
            continue
        parts.append((key, float(value)))
    return tuple(parts)


def _run_resets(extra: Mapping[str, Any] | None, faults: list[str]) -> int:
    """`extra.resets`: how often the guests role reset the guest during the boot, 0 when absent."""
    value = (extra or {}).get("resets", 0)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        faults.append(f"extra.resets must be a whole number >= 0, got {value!r}")
        return 0
    return value


def run_file_name(stack: str, guest: str, workload: str, repeat: int) -> str:
    """Where the compare role writes a run: runs/STACK__GUEST__WORKLOAD__rREPEAT.json."""
    return f"runs/{stack}__{guest}__{workload}__r{repeat}.json"


def _load_probe(path: Path, results_dir: Path, problems: list[Problem]) -> Probe | None:
    opened = _open_record(path, results_dir, PROBE_SCHEMA, problems)
    if opened is None:
        return None
    name, _, fields = opened
    probe = Probe(
        file=name,
        kind=fields.choice("kind", PROBE_KINDS) or "",
        stack=fields.choice("stack", STACKS) or "",
        name=fields.get("name", str, required=True),
        data=fields.get("data", dict, required=False) or {},
        host=fields.get("host", str, required=False),
        collected=fields.get("collected", str, required=False),
    )
    if _kept(probe, name, fields, problems) is None:
        return None
    # The probe scripts list what they could not read instead of failing: those are gaps in the report.
    errors = probe.data.get("errors")
    for error in errors if isinstance(errors, list) else []:
        problems.append(Problem(name, f"the probe could not collect: {error}"))
    return probe


def _per_stack(fields: _Fields, key: str, kind: type) -> dict[str, Any]:
    """An object keyed by stack whose values are all of kind; other keys or values are faults."""
    raw = fields.get(key, dict, required=False) or {}
    bad = [k for k, v in raw.items() if k not in STACKS or not isinstance(v, kind)]
    if bad:
        fields.faults.append(f"{key} must map {' or '.join(STACKS)} to {_kind_name(kind)}, "
                             f"not {', '.join(map(repr, bad))}"[:200])
    return {k: v for k, v in raw.items() if k not in bad}


def _load_claim(path: Path, results_dir: Path, problems: list[Problem]) -> ClaimRecord | None:
    """A claim experiment's record; one file per claim, named after it, like the run files."""
    opened = _open_record(path, results_dir, CLAIM_SCHEMA, problems)
    if opened is None:
        return None
    name, _, fields = opened
    claim = fields.choice("claim", CLAIM_IDS)
    record = ClaimRecord(file=name, claim=claim or "", evidence=_per_stack(fields, "evidence", dict),
                         unmeasured=_per_stack(fields, "not_measured", str),
                         collected=fields.get("collected", str, required=False))
    if not fields.faults and name != f"claims/{record.claim}.json":
        fields.faults.append(f"holds claim {record.claim}, which belongs in claims/{record.claim}.json: ignored")
    return _kept(record, name, fields, problems)


def _consistency_problems(results: Results) -> list[Problem]:
    """Runs that each parse but do not fit together: duplicates, mixed units, missing repeats."""
    problems: list[Problem] = []
    seen: dict[tuple[str, str, str, int], str] = {}
    units: dict[str, tuple[str | None, str | None, bool | None, str]] = {}
    kept: list[Run] = []
    for run in results.runs:
        key = (run.stack, run.guest, run.workload, run.repeat)
        if key in seen:
            problems.append(Problem(run.file, f"same stack, guest, workload and repeat as {seen[key]}: ignored"))
            continue
        seen[key] = run.file
        if run.ok:
            first = units.setdefault(run.workload, (run.metric, run.unit, run.higher_is_better, run.file))
            if first[:3] != (run.metric, run.unit, run.higher_is_better):
                problems.append(Problem(run.file, f"metric {run.metric!r} in {run.unit!r} (higher is better: "
                                        f"{run.higher_is_better}) differs from {first[3]}: ignored"))
                continue
        kept.append(run)
    results.runs[:] = kept

    problems.extend(_missing_run_problems(results, kept, {p.file for p in results.problems + problems}))
    counts = Counter((r.stack, r.guest, r.workload) for r in kept)
    probed_hosts = {h.stack for h in results.hosts}
    probed_guests = {(g.stack, g.name) for g in results.guests}
    for stack, guest, _ in counts:
        if stack not in probed_hosts:
            probed_hosts.add(stack)
            problems.append(Problem("probes/host__*.json", f"no {stack} host probe: its host facts are unknown"))
        expected = f"probes/guest__{stack}__{guest}.json"
        if (stack, guest) not in probed_guests and all(p.file != expected for p in results.problems):
            probed_guests.add((stack, guest))
            problems.append(Problem(expected, "missing: the guest's facts are unknown"))
    return problems


def _missing_run_problems(results: Results, kept: list[Run], named: set[str]) -> list[Problem]:
    """Runs that lab.json promises but no readable file holds, each named by its file.

    lab.json lists the repeated workloads and the repeat count; every guest of the lab on
    every stack that ran anything owes one file per workload and repeat. A workload outside
    that list (the boot time, recorded once per guest the guests role started) only has to
    be there on both stacks. A file already named as unreadable is not named again.
    """
    lab = results.lab or {}
    repeats = lab.get("repeats") if isinstance(lab.get("repeats"), int) else None
    listed = lab.get("workloads")
    repeated = [w for w in listed if isinstance(w, str)] if isinstance(listed, list) and repeats else []
    have = {(r.stack, r.guest, r.workload, r.repeat) for r in kept}
    stacks = [s for s in STACKS if any(r.stack == s for r in kept)] or list(STACKS)
    guests = results.guest_names()
    problems: list[Problem] = []
    for guest in guests:
        for workload in repeated:
            for stack in stacks:
                missing = [run_file_name(stack, guest, workload, n) for n in range(1, repeats + 1)
                           if (stack, guest, workload, n) not in have]
                missing = [name for name in missing if name not in named]
                if len(missing) == repeats:
                    problems.append(Problem(f"runs/{stack}__{guest}__{workload}__r*.json",
                                            f"missing: none of the {repeats} repeats of {workload} was recorded"))
                else:
                    problems.extend(Problem(name, "missing: lab.json asks for this repeat") for name in missing)
    others = {(g, w) for _, g, w, _ in have if w not in repeated}
    for guest, workload in sorted(others):
        for stack in STACKS:
            if not any(k[:3] == (stack, guest, workload) for k in have):
                problems.append(Problem(f"runs/{stack}__{guest}__{workload}__r*.json",
                                        "no run files, while the other stack has some"))
    return problems
