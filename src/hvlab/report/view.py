"""The whole report as data: built once, rendered as HTML and as Markdown."""

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from markupsafe import Markup

from hvlab import __version__
from hvlab.report import fmt
from hvlab.report.charts import ratio_chart, workload_chart
from hvlab.report.compare import Comparison, Side, comparisons
from hvlab.report.fairness import Difference, fairness
from hvlab.report.model import STACK_LABELS, Results, Run
from hvlab.report.probes import probe_sections
from hvlab.report.stats import CONFIDENCE
from hvlab.report.tables import Cell, Section, Table, cells

EMULATED_BANNER = "Emulated lab: the pipeline is real, the speeds are not those of hardware"


@dataclass(frozen=True)
class WorkloadView:
    name: str
    anchor: str
    metric: str
    unit: str
    direction: str
    chart: Markup
    table: Table
    warnings: list[str]
    failed: int


@dataclass(frozen=True)
class Report:
    """Everything the outputs show; warnings are what the CLI repeats on stderr besides the problems."""

    generated: str
    version: str
    facts: Table
    emulated_hosts: list[str]
    comparisons: list[Comparison]
    summary: Table
    overview: Markup | None
    workloads: list[WorkloadView]
    fairness: Table
    differences: list[Difference]
    probes: list[Section]
    failed: Table
    problems: list[str]
    warnings: list[str]


def _anchor(name: str, taken: set[str]) -> str:
    """An HTML id from an open-ended workload name: safe characters only, unique."""
    base = "w-" + (re.sub(r"[^a-z0-9_-]+", "-", name.lower()).strip("-") or "workload")
    anchor, i = base, 2
    while anchor in taken:
        anchor, i = f"{base}-{i}", i + 1
    taken.add(anchor)
    return anchor


def _direction(item: Comparison) -> str:
    return {True: "higher is better", False: "lower is better"}.get(item.higher_is_better, "direction unknown")


def _n(side: Side) -> Cell:
    failed = len(side.failed)
    return Cell(f"{len(side.values)} + {failed} failed", "failed") if failed else Cell(str(len(side.values)))


def _interval(item: Comparison) -> Cell:
    if item.ratio.low is None or item.ratio.high is None:
        return Cell(fmt.MISSING, "warn" if item.ratio.estimate is not None else "")
    return Cell(f"{fmt.ratio(item.ratio.low)} to {fmt.ratio(item.ratio.high)}")


def _reading(item: Comparison) -> Cell:
    return Cell(item.reading, item.better or ("warn" if item.ratio.low is None else ""))


def _workload_view(name: str, items: list[Comparison], anchor: str) -> WorkloadView:
    level = f"{CONFIDENCE:.0%} CI"
    table = Table((Cell("guest"), *cells("KVM mean", "KVM stdev", "KVM runs", css="kvm"),
                   *cells("Xen mean", "Xen stdev", "Xen runs", css="xen"), *cells("KVM/Xen", level, "reading")))
    warnings = []
    for item in items:
        row = [Cell(item.guest)]
        for side in item.sides:
            summary = side.summary
            row += [Cell(fmt.number(summary.mean if summary else None)),
                    Cell(fmt.number(summary.stdev if summary else None)), _n(side)]
            if side.failed:
                warnings.append(f"{item.guest}: {len(side.failed)} failed run(s) on {STACK_LABELS[side.stack]}, "
                                "listed under Failed runs")
        table.rows.append((*row, Cell(fmt.ratio(item.ratio.estimate)), _interval(item), _reading(item)))
        if item.ratio.note:
            warnings.append(f"{item.guest}: {item.ratio.note}")
    first = items[0]
    return WorkloadView(name, anchor, first.metric or fmt.MISSING, first.unit or "", _direction(first),
                        workload_chart(items), table, warnings,
                        sum(len(side.failed) for item in items for side in item.sides))


def _summary(items: list[Comparison], anchors: dict[str, str]) -> Table:
    table = Table((*cells("workload", "guest", "metric"), Cell("KVM mean", "kvm"), Cell("Xen mean", "xen"),
                   *cells("KVM/Xen", f"{CONFIDENCE:.0%} CI", "reading")))
    for item in items:
        means = [s.summary.mean if s.summary else None for s in item.sides]
        unit = f" {item.unit}" if item.unit else ""
        table.rows.append((Cell(item.workload, link="#" + anchors[item.workload]), Cell(item.guest),
                           Cell(f"{item.metric or fmt.MISSING} ({_direction(item)})"),
                           *(Cell(fmt.number(m) + (unit if m is not None else "")) for m in means),
                           Cell(fmt.ratio(item.ratio.estimate)), _interval(item), _reading(item)))
    return table


def _facts(results: Results, results_dir: str) -> Table:
    lab = results.lab or {}
    guests = lab.get("guests") if isinstance(lab.get("guests"), list) else []
    described = "; ".join(
        f"{fmt.value(g.get('name'))}: {fmt.value(g.get('vcpus'))} vCPU, {fmt.value(g.get('memory_mib'))} MiB, "
        f"{fmt.value(g.get('disk_gib'))} GiB, Xen {fmt.value(g.get('xen_type'))}"
        for g in guests if isinstance(g, dict))
    sha = fmt.value(lab.get("image_sha256"))
    table = Table(cells("", ""))
    for label, text, hint in (("results", results_dir, ""), ("created", fmt.value(lab.get("created")), ""),
                              ("profile", fmt.value(lab.get("profile")), ""),
                              ("repeats per workload", fmt.value(lab.get("repeats")), ""),
                              ("guests", described or fmt.MISSING, ""),
                              ("guest image sha256", sha[:16] + "…" if len(sha) > 17 else sha, sha)):
        table.rows.append((Cell(label, "label"), Cell(text, hint=hint)))
    return table


def _failed(runs: list[Run]) -> Table:
    table = Table(cells("run file", "stack", "guest", "workload", "repeat", "host", "started", "error"))
    for run in runs:
        table.rows.append((Cell(run.file), Cell(STACK_LABELS[run.stack], run.stack), Cell(run.guest),
                           Cell(run.workload), Cell(str(run.repeat)), Cell(fmt.value(run.host)),
                           Cell(fmt.value(run.started)), Cell(fmt.value(run.error), "failed")))
    return table


def build(results: Results, results_dir: str) -> Report:
    found = comparisons(results)
    taken: set[str] = set()
    anchors = {name: _anchor(name, taken) for name in results.workloads()}
    workloads = [_workload_view(name, [c for c in found if c.workload == name], anchors[name])
                 for name in results.workloads()]
    fairness_table, differences = fairness(results)
    problems = [str(p) for p in results.problems]
    warnings = [f"{w.name} {warning}" for w in workloads for warning in w.warnings]
    return Report(
        generated=datetime.now(UTC).isoformat(timespec="seconds"),
        version=__version__,
        facts=_facts(results, results_dir),
        emulated_hosts=[h.name for h in results.hosts if h.data.get("emulated") is True],
        comparisons=found,
        summary=_summary(found, anchors),
        overview=ratio_chart(found) if found else None,
        workloads=workloads,
        fairness=fairness_table,
        differences=differences,
        probes=probe_sections(results),
        failed=_failed([r for r in results.runs if not r.ok]),
        problems=problems,
        warnings=warnings,
    )
