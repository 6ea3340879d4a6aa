"""The whole report as data: built once, rendered as HTML and as Markdown."""

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from markupsafe import Markup

from hvlab import __version__
from hvlab.report import fmt
from hvlab.report.charts import ratio_chart, workload_chart
from hvlab.report.claims import ClaimResult, judge_claims
from hvlab.report.compare import Comparison, Side, comparisons
from hvlab.report.fairness import Difference, fairness
from hvlab.report.model import RUN_PARTS, STACK_LABELS, Results, Run
from hvlab.report.probes import probe_sections
from hvlab.report.stats import CONFIDENCE, FEW_REPEATS, MIN_REPEATS, NOISY_CV, OUTLIER_RULE, Summary, summarize
from hvlab.report.tables import Cell, Section, Table, cells

CLAIMS_TITLE = "Claims: KVM is Linux, Xen is not"
CLAIMS_INTRO = ("Each claim of the seed, tested on this lab: held, did not hold, or could not be measured (with "
                "why). The evidence is each stack's measurement; the commands let you see it on your own lab.")
# Why a boot time has one sample: said beside its missing interval.
BOOT_ONCE = ("A guest's boot is timed once, when the guests role starts it: another sample means booting the "
             "guest again, minutes each on an emulated lab.")
EMULATED_BANNER = "Emulated lab: the pipeline is real, the speeds are not those of hardware"
GEOMEAN = "geometric mean"
# "How to read this", one text for the HTML and the Markdown report.
HOW_TO_READ = (
    "Every workload ran several times (repeats) on the same guest under KVM and under Xen. KVM/Xen is the ratio "
    f"of the two stacks' {GEOMEAN}s (the n-th root of the product of the n repeats): above 1 the KVM figure is "
    "higher, which is better for throughput and worse for a time (such as boot, in seconds). The tables show that "
    f"same {GEOMEAN} for each stack, so dividing the two gives the ratio; the arithmetic mean and the median are "
    "in each workload's detail. Why the geometric mean: the question is \"how many times faster\", and ratios of "
    "geometric means are consistent: the ratio of the two geometric means is also the geometric mean of the "
    "per-repeat KVM/Xen ratios, however the repeats are paired, where the ratio of two arithmetic means and the "
    "mean of the ratios disagree. And no single run dominates: each repeat counts by its factor, a run twice the "
    "others moves the geometric mean as much as one half the others, while an arithmetic mean is carried by its "
    "largest runs. A broken run still moves it, which is why outliers are flagged (below). In the charts a bar is "
    "the geometric mean, each dot one repeat and the whisker the range from the lowest to the highest repeat.",
    f"The {CONFIDENCE:.0%} interval comes from a Welch t-test on the logarithms of the repeats; when it lies "
    "entirely on one side of 1 the reading names the better stack, otherwise the difference is within the noise. "
    f"With fewer than {MIN_REPEATS} repeats on a side no interval is given.",
    "CV (coefficient of variation: standard deviation / arithmetic mean) says how much a stack's repeats scatter. "
    f"Above {NOISY_CV:.0%} on either side the interval means little and the reading says \"too noisy to tell\" "
    f"instead of naming a stack. Outliers: {OUTLIER_RULE}. They are marked in the charts (red rings) and counted "
    "in the tables.",
)


@dataclass(frozen=True)
class WorkloadView:
    name: str
    anchor: str
    metric: str
    unit: str
    direction: str
    chart: Markup
    table: Table
    ratios: Table
    parts: Table | None  # the runs' named parts (a boot's domain creation and guest boot), when recorded
    warnings: list[str]
    failed: int


@dataclass(frozen=True)
class Report:
    """Everything the outputs show; warnings are what the CLI repeats on stderr besides the problems."""

    generated: str
    version: str
    claims: list[ClaimResult]
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
    css = item.better or ("warn" if item.ratio.low is None or item.noisy else "reading")
    return Cell(item.reading, css)


def _cv(summary: Summary | None) -> Cell:
    if summary is None or summary.cv is None:
        return Cell(fmt.MISSING)
    return Cell(f"{summary.cv:.1%}", "noisy" if summary.noisy else "")


def _outliers(side: Side) -> Cell:
    """The outlier runs as value (repeat), or 0."""
    found = side.outliers
    if not found:
        return Cell("0")
    return Cell(", ".join(f"{fmt.number(r.value)} (r{r.repeat})" for r in found), "outlier",
                "; ".join(r.file for r in found))


def _warnings(item: Comparison) -> list[str]:
    """What a reader of one guest's figures must know before trusting them."""
    out = []
    for side in item.sides:
        label = STACK_LABELS[side.stack]
        if side.failed:
            out.append(f"{item.guest}: {len(side.failed)} failed run(s) on {label}, listed under Failed runs")
        reset = [run for run in side.measured if run.resets]
        if reset:
            out.append(f"{item.guest}: on {label} the guest was reset during its boot after its console showed a "
                       "kernel panic or a frozen systemd (" + ", ".join(
                           f"{run.resets} time(s) in repeat {run.repeat}" for run in reset)
                       + "); that boot's figure includes the failed boot")
        if side.outliers:
            out.append(f"{item.guest}: {len(side.outliers)} outlier run(s) on {label}: "
                       + ", ".join(f"{fmt.number(r.value)} in repeat {r.repeat}" for r in side.outliers)
                       + " (kept in the figures)")
    if item.unbalanced:
        out.append(f"{item.guest}: the stacks do not have the same number of runs (KVM {len(item.kvm.runs)}, "
                   f"Xen {len(item.xen.runs)}): they were not sampled alike")
    if item.workload == "boot" and item.ratio.note == FEW_REPEATS:
        out.append(f"{item.guest}: {item.ratio.note}. {BOOT_ONCE}")
    elif item.ratio.note:
        out.append(f"{item.guest}: {item.ratio.note}")
    elif item.noisy:
        out.append(f"{item.guest}: {item.reading}: the repeats scatter by more than {NOISY_CV:.0%} of their mean, "
                   "so the interval says little; look at the runs, and repeat the comparison")
    return out


def _parts(items: list[Comparison]) -> Table | None:
    """Each side's parts (RUN_PARTS) as the geometric mean over its runs, in the value's unit.

    The same statistic as the workload's own figure, so a reader sees which part the
    difference between the stacks comes from (for a boot: the toolstack or the guest).
    """
    keys = [key for key in RUN_PARTS
            if any(key in dict(run.parts) for item in items for side in item.sides for run in side.measured)]
    if not keys:
        return None
    table = Table((*cells("guest", "stack"), *(Cell(f"{RUN_PARTS[key]} ({GEOMEAN})", "stat") for key in keys),
                   Cell("runs")))
    for item in items:
        for side in item.sides:
            parts = [dict(run.parts) for run in side.measured]
            values = {key: [p[key] for p in parts if key in p] for key in keys}
            summaries = {key: summarize(values[key]) for key in keys}
            table.rows.append((Cell(item.guest), Cell(STACK_LABELS[side.stack], side.stack),
                               *(Cell(fmt.number(summaries[key].geomean if summaries[key] else None), "stat")
                                 for key in keys),
                               Cell(str(max(len(v) for v in values.values())))))
    return table


def _workload_view(name: str, items: list[Comparison], anchor: str) -> WorkloadView:
    table = Table((*cells("guest", "stack"), Cell(GEOMEAN, "stat"), *cells("arithmetic mean", "median", "stdev",
                                                                             "CV", "min", "max", "runs", "outliers")))
    ratios = Table(cells("guest", f"KVM/Xen of the {GEOMEAN}s", f"{CONFIDENCE:.0%} CI", "reading"))
    warnings = []
    for item in items:
        for side in item.sides:
            summary = side.summary
            table.rows.append((Cell(item.guest), Cell(STACK_LABELS[side.stack], side.stack),
                               Cell(fmt.number(summary.geomean if summary else None), "stat"),
                               *(Cell(fmt.number(getattr(summary, key) if summary else None))
                                 for key in ("mean", "median", "stdev")),
                               _cv(summary), *(Cell(fmt.number(getattr(summary, key) if summary else None))
                                               for key in ("minimum", "maximum")),
                               _n(side), _outliers(side)))
        ratios.rows.append((Cell(item.guest), Cell(fmt.ratio(item.ratio.estimate)), _interval(item), _reading(item)))
        warnings += _warnings(item)
    first = items[0]
    return WorkloadView(name, anchor, first.metric or fmt.MISSING, first.unit or "", _direction(first),
                        workload_chart(items), table, ratios, _parts(items), warnings,
                        sum(len(side.failed) for item in items for side in item.sides))


def _summary_figure(side: Side, unit: str) -> Cell:
    """A side's geometric mean with its unit, and its outlier count when it has any."""
    summary = side.summary
    if summary is None or summary.geomean is None:
        return Cell(fmt.MISSING)
    text = fmt.number(summary.geomean) + unit
    found = len(side.outliers)
    return Cell(f"{text} ({found} outlier{'s' if found > 1 else ''})", "outlier") if found else Cell(text)


def _summary(items: list[Comparison], anchors: dict[str, str]) -> Table:
    table = Table((*cells("workload", "guest", "better when"), Cell(f"KVM {GEOMEAN}", "kvm"), Cell("KVM CV", "kvm"),
                   Cell(f"Xen {GEOMEAN}", "xen"), Cell("Xen CV", "xen"),
                   *cells("KVM/Xen", f"{CONFIDENCE:.0%} CI", "reading")))
    for item in items:
        unit = f" {item.unit}" if item.unit else ""
        table.rows.append((Cell(item.workload, link="#" + anchors[item.workload]), Cell(item.guest),
                           Cell(_direction(item).removesuffix(" is better"),
                                hint=f"{item.metric or fmt.MISSING}: {_direction(item)}"),
                           _summary_figure(item.kvm, unit), _cv(item.kvm.summary),
                           _summary_figure(item.xen, unit), _cv(item.xen.summary),
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
        claims=judge_claims(results),
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
