"""Read a results directory and write the four report files beside each other."""

from dataclasses import dataclass
from pathlib import Path

from hvlab.errors import HvlabError
from hvlab.report.export import runs_csv, summary_json
from hvlab.report.load import load_results
from hvlab.report.render_html import render_html
from hvlab.report.render_markdown import render_markdown
from hvlab.report.view import build


@dataclass(frozen=True)
class Written:
    html: Path
    markdown: Path
    csv: Path
    summary: Path
    problems: list[str]
    warnings: list[str]


def write_report(results_dir: Path, out_dir: Path) -> Written:
    """report.html, report.md, runs.csv and summary.json in out_dir; problems and warnings for stderr."""
    results = load_results(results_dir)
    report = build(results, str(results_dir))
    written = Written(out_dir / "report.html", out_dir / "report.md", out_dir / "runs.csv",
                      out_dir / "summary.json", report.problems, report.warnings)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        written.html.write_text(render_html(report), encoding="utf-8")
        written.markdown.write_text(render_markdown(report), encoding="utf-8")
        written.csv.write_text(runs_csv(results), encoding="utf-8")
        written.summary.write_text(summary_json(results, report), encoding="utf-8")
    except OSError as exc:
        raise HvlabError(f"cannot write the report to {out_dir}: {exc.strerror}") from None
    return written
