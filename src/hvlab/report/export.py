"""runs.csv and summary.json: the report's figures for a spreadsheet or another program."""

import csv
import dataclasses
import io
import json
from typing import Any

from hvlab.report.compare import Comparison, Side
from hvlab.report.model import Results
from hvlab.report.stats import CONFIDENCE, NOISY_CV, OUTLIER_RULE
from hvlab.report.view import Report

SUMMARY_SCHEMA = "hvlab.report-summary/1"
RUN_COLUMNS = ("file", "stack", "host", "guest", "workload", "repeat", "sequence", "status", "metric", "unit",
               "higher_is_better", "value", "tool", "started", "duration_s", "error")


# A spreadsheet runs a cell that starts with one of these as a formula (OWASP, "CSV injection"); tab
# and carriage return are on the list because some spreadsheets skip them before looking.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: object) -> object:
    """Text that a spreadsheet would run as a formula, quoted so it stays text: names and errors come
    from input files (what a guest printed), numbers are the report's own and are left alone."""
    return "'" + value if isinstance(value, str) and value.startswith(FORMULA_STARTS) else value


def runs_csv(results: Results) -> str:
    """One row per run file that could be read, failed runs included, in a stable order."""
    out = io.StringIO()
    writer = csv.DictWriter(out, RUN_COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for run in sorted(results.runs, key=lambda r: (r.workload, r.guest, r.stack, r.repeat)):
        writer.writerow({key: _cell(value) for key, value in dataclasses.asdict(run).items()})
    return out.getvalue()


# summary.json key: Summary attribute (min and max keep the names of the first schema).
SIDE_STATISTICS = {"geomean": "geomean", "mean": "mean", "median": "median", "stdev": "stdev", "cv": "cv",
                   "min": "minimum", "max": "maximum"}


def _side(side: Side) -> dict[str, Any]:
    summary = side.summary
    return {"n": len(side.values), "failed": len(side.failed), "values": side.values,
            **{key: getattr(summary, name) if summary else None for key, name in SIDE_STATISTICS.items()},
            "noisy": side.noisy, "outlier_count": len(side.outliers), "outliers": [r.file for r in side.outliers]}


def _comparison(item: Comparison) -> dict[str, Any]:
    return {"workload": item.workload, "guest": item.guest, "metric": item.metric, "unit": item.unit,
            "higher_is_better": item.higher_is_better, "kvm": _side(item.kvm), "xen": _side(item.xen),
            "ratio_kvm_over_xen": item.ratio.estimate, "ci_low": item.ratio.low, "ci_high": item.ratio.high,
            "reading": item.reading, "note": item.ratio.note, "same_run_count": not item.unbalanced}


def summary_json(results: Results, report: Report) -> str:
    lab = results.lab or {}
    return json.dumps({
        "schema": SUMMARY_SCHEMA,
        "generated": report.generated,
        "hvlab_version": report.version,
        "lab": {key: lab.get(key) for key in ("created", "profile", "repeats", "image_sha256")} if results.lab
        else None,
        "emulated_hosts": report.emulated_hosts,
        "claims": [{"id": c.claim.id, "claim": c.claim.text, "verdict": c.verdict, "why": c.why,
                    "caveat": c.caveat, "source": c.source or None} for c in report.claims],
        "method": "KVM/Xen ratio of geometric means; Welch t-interval on the log values",
        "confidence": CONFIDENCE,
        "noisy_cv": NOISY_CV,
        "outlier_rule": OUTLIER_RULE,
        "outlier_runs": sum(len(side.outliers) for c in report.comparisons for side in c.sides),
        "comparisons": [_comparison(c) for c in report.comparisons],
        "fairness_differences": [dataclasses.asdict(d) for d in report.differences],
        "failed_runs": [r.file for r in results.runs if not r.ok],
        "problems": report.problems,
    }, indent=2, ensure_ascii=False) + "\n"
