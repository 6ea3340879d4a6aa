"""roles/compare/files/hvlab_workload.py: parsers on real tool outputs, and runs that fail.

The tools are replaced by small shell scripts on PATH (or left missing), so no benchmark
really runs here. A failing tool must give a "failed" record and exit code 0, never a
traceback, because Ansible keeps the record of every run.
"""

import json
import os
import stat
from pathlib import Path
from types import ModuleType

import pytest
from plugin_loader import load_plugin

FIXTURES = Path(__file__).parent / "fixtures" / "compare"
RECORD_KEYS = [
    "schema", "stack", "host", "guest", "workload", "repeat", "sequence", "status", "error", "metric", "unit",
    "higher_is_better", "value", "tool", "parameters", "started", "duration_s", "extra",
]


@pytest.fixture(scope="module")
def workload() -> ModuleType:
    return load_plugin("roles/compare/files/hvlab_workload.py", "hvlab_workload")


def fixture_text(name: str) -> str:
    return (FIXTURES / name).read_text()


@pytest.fixture
def fake_bin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty directory that is the whole PATH: only the fake tools a test writes exist."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", str(bin_dir))
    return bin_dir


def fake_tool(bin_dir: Path, name: str, *, stdout_file: str | None = None, stderr: str = "", code: int = 0) -> None:
    lines = ["#!/bin/sh"]
    if stdout_file:
        lines.append(f"/bin/cat {FIXTURES / stdout_file}")
    if stderr:
        lines.append(f"echo '{stderr}' >&2")
    lines.append(f"exit {code}")
    path = bin_dir / name
    path.write_text("\n".join(lines) + "\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


def run_main(workload: ModuleType, capsys: pytest.CaptureFixture[str], *args: str) -> dict:
    argv = [*args, "--stack", "kvm", "--host", "kvm1", "--guest", "kvm1-web1", "--repeat", "2", "--sequence", "9"]
    assert workload.main(argv) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1, "exactly one JSON document on one line"
    return json.loads(out)


# ---------------------------------------------------------------- parsers


def test_sysbench_cpu_parser(workload: ModuleType) -> None:
    value, extra = workload.parse_sysbench_cpu(fixture_text("sysbench_cpu.txt"))
    assert value == 4484.90
    assert extra["total_events"] == 4488
    assert extra["threads"] == 1
    assert extra["latency_p95_ms"] == 0.23
    assert workload.sysbench_version(fixture_text("sysbench_cpu.txt")) == "sysbench 1.0.20"


def test_sysbench_memory_parser(workload: ModuleType) -> None:
    value, extra = workload.parse_sysbench_memory(fixture_text("sysbench_memory.txt"))
    assert value == 32192.11
    assert extra["transferred_mib"] == 32215.00
    assert extra["total_time_s"] == 1.0001


def test_sysbench_parser_refuses_other_text(workload: ModuleType) -> None:
    with pytest.raises(workload.ToolError, match="events per second"):
        workload.parse_sysbench_cpu(fixture_text("sysbench_memory.txt"))


def test_fio_randread_iops(workload: ModuleType) -> None:
    value, extra = workload.parse_fio(fixture_text("fio_randread_4k.json"), "read", "iops")
    assert value == pytest.approx(68991.008991)
    assert extra["bandwidth_mib_s"] == pytest.approx(282587172 / 1024 / 1024)
    assert extra["clat_p99_us"] is not None
    assert extra["disk_util_pct"] == pytest.approx(76.989247)
    assert workload.fio_version(json.loads(fixture_text("fio_randread_4k.json"))) == "fio 3.33"


def test_fio_seqwrite_bandwidth_in_mib(workload: ModuleType) -> None:
    value, extra = workload.parse_fio(fixture_text("fio_seqwrite_1m.json"), "write", "bandwidth")
    assert value == pytest.approx(3495602509 / 1024 / 1024)
    assert extra["iops"] == pytest.approx(3333.666334)


def test_fio_wrong_direction_did_no_io(workload: ModuleType) -> None:
    with pytest.raises(workload.ToolError, match="no write I/O"):
        workload.parse_fio(fixture_text("fio_randread_4k.json"), "write", "iops")


def test_fio_job_error(workload: ModuleType) -> None:
    with pytest.raises(workload.ToolError, match="failed with error 1"):
        workload.parse_fio(fixture_text("fio_error_job.json"), "write", "bandwidth")


def test_fio_json_after_a_note(workload: ModuleType) -> None:
    text = "note: both iodepth >= 1 and synchronous I/O engine are selected\n" + fixture_text("fio_randread_4k.json")
    value, _ = workload.parse_fio(text, "read", "iops")
    assert value == pytest.approx(68991.008991)


@pytest.mark.parametrize("text", ["", "fio: unrecognized option '--bogus'\n", "{ not json"])
def test_fio_unparseable(workload: ModuleType, text: str) -> None:
    with pytest.raises(workload.ToolError, match="unparseable fio output"):
        workload.parse_fio(text, "read", "iops")


def test_iperf3_received_mbit(workload: ModuleType) -> None:
    value, extra = workload.parse_iperf3(fixture_text("iperf3_client.json"))
    assert value == pytest.approx(22312484761.74054 / 1e6)
    assert extra["sent_mbit_s"] == pytest.approx(22401599356.955616 / 1e6)
    assert extra["retransmits"] == 0
    assert workload.iperf3_version(json.loads(fixture_text("iperf3_client.json"))) == "iperf3 3.12"


def test_iperf3_error_in_json(workload: ModuleType) -> None:
    with pytest.raises(workload.ToolError, match="Connection refused"):
        workload.parse_iperf3(fixture_text("iperf3_refused.json"))


# ---------------------------------------------------------------- whole runs


def test_ok_record_shape(workload: ModuleType, fake_bin: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fake_tool(fake_bin, "sysbench", stdout_file="sysbench_cpu.txt")
    record = run_main(workload, capsys, "cpu", "--profile", "quick")
    assert list(record) == RECORD_KEYS
    assert record["schema"] == "hvlab.run/1"
    assert (record["stack"], record["host"], record["guest"]) == ("kvm", "kvm1", "kvm1-web1")
    assert (record["workload"], record["repeat"], record["sequence"]) == ("cpu", 2, 9)
    assert (record["status"], record["error"]) == ("ok", None)
    assert (record["metric"], record["unit"], record["higher_is_better"]) == ("events_per_second", "events/s", True)
    assert record["value"] == 4484.90
    assert record["tool"] == "sysbench 1.0.20"
    assert record["parameters"]["profile"] == "quick"
    assert record["parameters"]["time_s"] == 5
    assert record["started"].endswith("+00:00")
    assert record["duration_s"] >= 0


def test_full_profile_is_longer(workload: ModuleType, fake_bin: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fake_tool(fake_bin, "fio", stdout_file="fio_randread_4k.json")
    record = run_main(workload, capsys, "disk_randread_4k", "--profile", "full", "--workdir", str(fake_bin.parent))
    assert record["status"] == "ok"
    assert (record["parameters"]["size"], record["parameters"]["runtime_s"]) == ("4G", 30)
    assert "--direct=1" in record["extra"]["command"]
    assert "--ioengine=libaio" in record["extra"]["command"]
    assert "--output-format=json" in record["extra"]["command"]


def test_missing_binary_gives_failed_record(workload: ModuleType, fake_bin: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    record = run_main(workload, capsys, "memory")
    assert list(record) == RECORD_KEYS
    assert record["status"] == "failed"
    assert record["value"] is None
    assert "sysbench not found" in record["error"]
    assert record["tool"] == "sysbench"


def test_nonzero_exit_gives_failed_record(workload: ModuleType, fake_bin: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    fake_tool(fake_bin, "sysbench", stderr="FATAL: Cannot find benchmark", code=1)
    record = run_main(workload, capsys, "cpu")
    assert record["status"] == "failed"
    assert record["error"] == "sysbench exited with 1: FATAL: Cannot find benchmark"


def test_fio_failure_keeps_version_and_removes_test_file(workload: ModuleType, fake_bin: Path, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    fake_tool(fake_bin, "fio", stdout_file="fio_error_job.json",
              stderr="fio: pid=0, err=1/file:filesetup.c:150, func=unlink, error=Operation not permitted", code=1)
    workdir = tmp_path / "work"
    workdir.mkdir()
    (workdir / "hvlab-fio-disk_seqwrite_1m.dat").write_text("left by an earlier run")
    record = run_main(workload, capsys, "disk_seqwrite_1m", "--workdir", str(workdir))
    assert record["status"] == "failed"
    assert "Operation not permitted" in record["error"]
    assert record["tool"] == "fio 3.33"
    assert record["parameters"]["overwrite"] == 1
    assert list(workdir.iterdir()) == []


def test_unparseable_output_gives_failed_record(workload: ModuleType, fake_bin: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    fake_tool(fake_bin, "sysbench", stdout_file="iperf3_client.json")
    record = run_main(workload, capsys, "memory")
    assert record["status"] == "failed"
    assert record["error"].startswith("unparseable sysbench output")


def test_network_without_server(workload: ModuleType, fake_bin: Path, capsys: pytest.CaptureFixture[str]) -> None:
    record = run_main(workload, capsys, "network")
    assert record["status"] == "failed"
    assert "--server" in record["error"]


def test_network_ok(workload: ModuleType, fake_bin: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fake_tool(fake_bin, "iperf3", stdout_file="iperf3_client.json")
    record = run_main(workload, capsys, "network", "--server", "10.77.0.1", "--port", "5299")
    assert record["status"] == "ok"
    assert record["unit"] == "Mbit/s"
    assert record["tool"] == "iperf3 3.12"
    assert record["parameters"]["server"] == "10.77.0.1"
    assert record["extra"]["command"][:5] == ["iperf3", "-c", "10.77.0.1", "-p", "5299"]
    assert record["extra"]["attempts"] == 1


def test_several_workloads_in_one_call_give_a_record_per_line_in_order(
        workload: ModuleType, fake_bin: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fake_tool(fake_bin, "sysbench", stdout_file="sysbench_cpu.txt")
    fake_tool(fake_bin, "iperf3", stdout_file="iperf3_client.json")
    argv = ["cpu", "network", "memory", "--stack", "xen", "--host", "xen1", "--guest", "web1", "--repeat", "3",
            "--sequence", "15", "--server", "10.78.0.1"]
    assert workload.main(argv) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["workload"], r["sequence"], r["repeat"], r["stack"]) for r in records] == [
        ("cpu", 15, 3, "xen"), ("network", 16, 3, "xen"), ("memory", 17, 3, "xen")]
    # memory got sysbench's cpu output: that run alone fails, the others keep their figures.
    assert [r["status"] for r in records] == ["ok", "ok", "failed"]


def test_a_server_that_did_not_start_fails_only_the_network_run(
        workload: ModuleType, fake_bin: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fake_tool(fake_bin, "sysbench", stdout_file="sysbench_cpu.txt")
    fake_tool(fake_bin, "iperf3", stdout_file="iperf3_client.json")
    argv = ["network", "cpu", "--stack", "kvm", "--host", "kvm1", "--guest", "web1", "--repeat", "1",
            "--sequence", "1", "--server", "10.77.0.1", "--server-error", "iperf3 server on kvm1: port in use"]
    assert workload.main(argv) == 0
    network, cpu = (json.loads(line) for line in capsys.readouterr().out.splitlines())
    assert (network["status"], network["error"], network["value"]) == (
        "failed", "iperf3 server on kvm1: port in use", None)
    assert cpu["status"] == "ok"


def test_a_workload_named_twice_is_a_usage_error(workload: ModuleType) -> None:
    with pytest.raises(SystemExit) as exc:
        workload.parse_args(["cpu", "memory", "cpu", "--stack", "kvm", "--host", "h", "--guest", "g",
                             "--repeat", "1", "--sequence", "1"])
    assert exc.value.code == 2


def test_network_refused_is_retried_then_failed(workload: ModuleType, fake_bin: Path,
                                                capsys: pytest.CaptureFixture[str],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(workload.time, "sleep", lambda _seconds: None)
    # iperf3 3.12 exits 0 when the connection is refused: the JSON's error decides.
    fake_tool(fake_bin, "iperf3", stdout_file="iperf3_refused.json")
    record = run_main(workload, capsys, "network", "--server", "10.77.0.1")
    assert record["status"] == "failed"
    assert record["error"] == "iperf3: unable to connect to server: Connection refused"
    assert record["extra"]["attempts"] == workload.IPERF3_CONNECT_ATTEMPTS


def test_timeout_gives_failed_record(workload: ModuleType, fake_bin: Path, capsys: pytest.CaptureFixture[str],
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(workload.PROFILES["quick"], "timeout_s", 1)
    path = fake_bin / "sysbench"
    path.write_text("#!/bin/sh\nexec /bin/sleep 30\n")
    path.chmod(0o755)
    record = run_main(workload, capsys, "cpu")
    assert record["status"] == "failed"
    assert record["error"] == "sysbench did not finish within 1 s"


def test_internal_error_still_gives_a_record(workload: ModuleType, fake_bin: Path,
                                             capsys: pytest.CaptureFixture[str],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_args: object, **_kwargs: object) -> None:
        raise KeyError("bug")

    monkeypatch.setattr(workload.Runner, "run", broken)
    record = run_main(workload, capsys, "cpu")
    assert record["status"] == "failed"
    assert record["error"].startswith("internal error: KeyError")


def test_every_workload_has_a_profile_entry(workload: ModuleType) -> None:
    assert set(workload.WORKLOADS) == {"cpu", "memory", "disk_randread_4k", "disk_randwrite_4k",
                                       "disk_seqread_1m", "disk_seqwrite_1m", "network", "kernel_compile"}
    assert set(workload.FIO_JOBS) == {name for name in workload.WORKLOADS if name.startswith("disk_")}
    for profile in workload.PROFILES.values():
        assert profile["time_s"] > 0 and profile["timeout_s"] > profile["fio_runtime_s"]
    assert workload.PROFILES["quick"]["time_s"] < workload.PROFILES["full"]["time_s"]


def test_unknown_workload_is_a_usage_error(workload: ModuleType) -> None:
    with pytest.raises(SystemExit) as exc:
        workload.parse_args(["boot", "--stack", "kvm", "--host", "h", "--guest", "g", "--repeat", "1",
                             "--sequence", "1"])
    assert exc.value.code == 2


@pytest.fixture
def kernel_tools(workload: ModuleType, fake_bin: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Debian's linux-source tarball (empty), and tar, make and gcc stand-ins that log their arguments."""
    sources = tmp_path / "usr-src"
    sources.mkdir()
    (sources / "linux-source-6.1.tar.xz").write_bytes(b"")
    monkeypatch.setattr(workload, "KERNEL_SOURCES", sources)
    log = tmp_path / "calls.log"
    scripts = {
        "tar": f'echo "tar $*" >> {log}; /bin/mkdir -p "$4/linux-source-6.1" && : > "$4/linux-source-6.1/Makefile"',
        "make": f'echo "make $*" >> {log}',
        "gcc": "echo 12.2.0",
    }
    for name, body in scripts.items():
        path = fake_bin / name
        path.write_text(f"#!/bin/sh\n{body}\n")
        path.chmod(0o755)
    return log


def test_kernel_compile_times_the_build_only(workload: ModuleType, kernel_tools: Path, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    workdir = tmp_path / "work"
    record = run_main(workload, capsys, "kernel_compile", "--workdir", str(workdir))
    assert (record["status"], record["metric"], record["unit"], record["higher_is_better"]) == (
        "ok", "build_time", "s", False)
    assert record["value"] >= 0 and record["tool"] == "gcc 12.2.0"
    assert record["parameters"] == {"profile": "quick", "source": "linux-source-6.1.tar.xz", "config": "tinyconfig",
                                    "jobs": os.cpu_count(), "target": "vmlinux"}
    tree = workdir / "kernel" / "linux-source-6.1"
    assert kernel_tools.read_text().splitlines() == [
        f"tar -xf {tmp_path / 'usr-src' / 'linux-source-6.1.tar.xz'} -C {workdir / 'kernel'}",
        f"make -C {tree} -s mrproper", f"make -C {tree} -s tinyconfig", f"make -C {tree} -s -j{os.cpu_count()} vmlinux"]
    # The next repeat builds the unpacked tree again, from clean, without unpacking it.
    run_main(workload, capsys, "kernel_compile", "--workdir", str(workdir), "--profile", "full")
    calls = kernel_tools.read_text().splitlines()
    assert [c for c in calls if c.startswith("tar")] == calls[:1]
    assert calls[-2:] == [f"make -C {tree} -s defconfig", f"make -C {tree} -s -j{os.cpu_count()} vmlinux"]


def test_kernel_compile_without_sources_is_a_failed_record(workload: ModuleType, kernel_tools: Path,
                                                           tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "usr-src" / "linux-source-6.1.tar.xz").unlink()
    record = run_main(workload, capsys, "kernel_compile", "--workdir", str(tmp_path / "work"))
    assert record["status"] == "failed" and "install linux-source" in record["error"]


def test_a_failed_build_is_a_failed_record(workload: ModuleType, kernel_tools: Path, fake_bin: Path,
                                           tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (fake_bin / "make").write_text('#!/bin/sh\ncase "$*" in *vmlinux*) echo "error: ld failed" >&2; exit 2;; esac\n')
    record = run_main(workload, capsys, "kernel_compile", "--workdir", str(tmp_path / "work"))
    assert record["status"] == "failed" and record["value"] is None
    assert "make exited with 2: error: ld failed" in record["error"]
