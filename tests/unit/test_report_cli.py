"""`hvlab report`: the path of report.html on stdout, every problem and warning on stderr."""

from pathlib import Path

from click.testing import CliRunner, Result
from report_fixture import write_results

from hvlab import cli


def invoke(*args: str) -> Result:
    try:
        runner = CliRunner(mix_stderr=False)  # type: ignore[call-arg]  # click 8.1
    except TypeError:
        runner = CliRunner()
    return runner.invoke(cli.main, list(args))


def test_report_prints_the_html_path_and_writes_beside_the_results(tmp_path: Path) -> None:
    results_dir = write_results(tmp_path / "results")
    result = invoke("report", str(results_dir))
    assert result.exit_code == 0, result.output
    assert result.stdout == f"{results_dir / 'report.html'}\n"
    assert "warning: network g1: 1 failed run(s) on Xen" in result.stderr
    for name in ("report.html", "report.md", "runs.csv", "summary.json"):
        assert (results_dir / name).is_file()


def test_report_out_dir(tmp_path: Path) -> None:
    results_dir = write_results(tmp_path / "results")
    result = invoke("report", str(results_dir), "--out", str(tmp_path / "out" / "here"))
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == str(tmp_path / "out" / "here" / "report.html")
    assert not (results_dir / "report.html").exists()


def test_report_says_problems_and_missing_intervals_on_stderr(tmp_path: Path) -> None:
    results_dir = write_results(tmp_path / "results", repeats=2)
    (results_dir / "probes" / "host__xen1.json").write_text("{")
    result = invoke("report", str(results_dir))
    assert result.exit_code == 0, result.output
    assert "problem: probes/host__xen1.json: not valid JSON" in result.stderr
    assert "warning: cpu g1: fewer than 3 repeats: no interval can be given" in result.stderr


def test_report_on_an_empty_or_missing_dir_fails(tmp_path: Path) -> None:
    empty = invoke("report", str(tmp_path))
    assert empty.exit_code == 1
    assert "no results here" in empty.stderr and "Traceback" not in empty.output
    missing = invoke("report", str(tmp_path / "nosuch"))
    assert missing.exit_code == 2
    assert "does not exist" in missing.stderr
