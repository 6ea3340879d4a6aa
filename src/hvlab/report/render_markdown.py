"""report.md: the report's tables for a terminal or a GitHub page (the charts stay in the HTML).

Cell text is backslash-escaped where Markdown would read it as markup or as a table border, so a
hostile name stays text. A cell that differs between the stacks is bold with a ≠ sign, since
Markdown has no colours.
"""

import re

from hvlab.report.tables import Cell, Table
from hvlab.report.view import CLAIMS_INTRO, CLAIMS_TITLE, EMULATED_BANNER, HOW_TO_READ, Report

_SPECIAL = re.compile(r"([\\|<>*\[\]`#])")


def _text(text: str) -> str:
    return _SPECIAL.sub(r"\\\1", " ".join(text.split()))


def _cell(cell: Cell) -> str:
    text = _text(cell.text)
    if cell.css == "differs":
        return f"**{text}** ≠"
    return text


def _table(table: Table) -> list[str]:
    if not table.rows:
        return ["None.", ""]
    lines = ["| " + " | ".join(_cell(h) for h in table.headers) + " |",
             "|" + "---|" * len(table.headers)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in table.rows]
    return [*lines, ""]


def _claims(report: Report) -> list[str]:
    """The claims first: a verdict per claim, then each one's experiment, evidence and commands."""
    out = [f"## {CLAIMS_TITLE}", "", CLAIMS_INTRO, "", "| # | claim | verdict |", "|---|---|---|"]
    out += [f"| {c.number} | {_text(c.claim.text)} | **{c.verdict}** |" for c in report.claims]
    out.append("")
    for c in report.claims:
        caveat = f" ⚠ {_text(c.caveat)}." if c.caveat else ""
        source = f" (from {_text(c.source)})" if c.source else ""
        out += [f"### {c.number}. {_text(c.claim.text)}", "", f"**{c.verdict}**: {_text(c.why)}{source}.{caveat}",
                "", f"- Experiment: {_text(c.claim.experiment)}", f"- KVM: {_text(c.kvm)}", f"- Xen: {_text(c.xen)}",
                "", "```sh", *c.claim.commands, "```", ""]
    return out


def render_markdown(report: Report) -> str:
    out = ["# KVM vs Xen: hvlab report", "",
           f"Generated {_text(report.generated)} by hvlab {_text(report.version)}.", ""]
    if report.emulated_hosts:
        out += [f"> **{EMULATED_BANNER}.** Emulated host(s): {_text(', '.join(report.emulated_hosts))}. "
                "Compare the two stacks with each other here, never with figures from real hardware.", ""]
    if report.problems:
        out += [f"> **{len(report.problems)} problem(s) with the input**: see Problems at the end; everything "
                "that could be read is shown.", ""]
    out += _claims(report)
    out += ["## Lab", "", *_table(report.facts)]
    out += ["## How to read this", ""]
    for paragraph in HOW_TO_READ:
        out += [_text(paragraph), ""]
    out += ["The charts are in report.html.", ""]
    out += ["## Summary", "", *_table(report.summary)]
    if report.differences:
        out += [f"**{len(report.differences)} fairness difference(s)** between the stacks: see Fairness before "
                "trusting a ratio.", ""]
    out += ["## Workloads", ""]
    for w in report.workloads:
        failed = f" ({w.failed} failed run(s))" if w.failed else ""
        unit = f" in {_text(w.unit)}" if w.unit else ""
        out += [f"### {_text(w.name)}{failed}", "", f"{_text(w.metric)}{unit}, {w.direction}.", ""]
        out += [f"> ⚠ {_text(warning)}" for warning in w.warnings]
        out += [""] if w.warnings else []
        out += _table(w.table)
        out += _table(w.ratios)
        out += _table(w.parts) if w.parts else []
    out += ["## Fairness", "",
            "Each guest's KVM column is compared with its Xen column: **bold ≠** differs between the stacks; "
            "PV: paravirtual on both (virtio on KVM, Xen front-ends on Xen), the expected, fair pairing; "
            "n/a: exists on one stack only; —: not reported. The rows marked \"host reports\" and the host rows "
            "are what each host's probe read while the guests ran, not what the configuration asked for.", "",
            *_table(report.fairness)]
    out += ["## Probes", ""]
    for section in report.probes:
        out += [f"### {_text(section.title)}", "", _text(section.text), "", *_table(section.table)]
    out += ["## Failed runs", "", *_table(report.failed)]
    out += ["## Problems", ""]
    out += [f"- {_text(p)}" for p in report.problems] or ["None: every file was read."]
    return "\n".join(out).rstrip() + "\n"
