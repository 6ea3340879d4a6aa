"""playbooks/compare.yml for real, on this machine: every "host" and "guest" is localhost.

ansible-playbook runs the compare role against an inventory whose hosts and guests use the
local connection, with sysbench replaced by a script that prints a real sample output, so no
benchmark runs and no package is touched (compare_install_packages: false). What is checked
is the role's own work: the results layout, the alternation of the stacks, the run
sequence, lab.json, the probes, the boot hook, and that nothing is left behind. The host
probe reads this machine's /proc (read only). Bad input must fail before anything runs.
"""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from hvlab.report.load import load_results

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).parent / "fixtures" / "compare"
# The fixed path the role once used in world-writable /var/tmp: anyone could create it first.
FIXED_REMOTE_DIR = Path("/var/tmp/hvlab-compare")
# What the role creates instead, one per host and guest; the cleanup names each in its output.
CREATED_REMOTE_DIR = re.compile(r"/var/tmp/hvlab-compare\.\w{8}\b")
EARLIER_LAB = {"schema": "hvlab.lab/1", "created": "2024-06-01T10:00:00Z", "profile": "quick"}
SPEC = {"name": "web1", "vcpus": 1, "memory_mib": 512, "disk_gib": 4, "xen_type": "pvh", "cpu_pinning": None,
        "network": None}


def guest(host: str, stack: str, **extra: Any) -> dict[str, Any]:
    return {"ansible_host": "127.0.0.1", "hvlab_guest_host": host, "hvlab_guest_stack": stack,
            "hvlab_guest_gateway": "127.0.0.1", "hvlab_guest_spec": SPEC, **extra}


def inventory(tmp_path: Path) -> Path:
    python = sys.executable
    data = {"all": {
        "vars": {"ansible_connection": "local", "ansible_python_interpreter": python, "ansible_become": False},
        "children": {
            "kvm_hosts": {"hosts": {"kvm1": {"hvlab_host_emulated": True, "guest_image_sha256": "ab" * 32}}},
            "xen_hosts": {"hosts": {"xen1": {"hvlab_host_emulated": True, "guest_image_sha256": "ab" * 32}}},
            "kvm_guests": {"hosts": {"kvm1-web1": guest("kvm1", "kvm", hvlab_guest_boot_seconds=21.5,
                                                         hvlab_guest_create_seconds=4.2,
                                                         hvlab_guest_boot_resets=1)}},
            "xen_guests": {"hosts": {"xen1-web1": guest("xen1", "xen")}},
        }}}
    path = tmp_path / "inventory.json"
    path.write_text(json.dumps(data))
    return path


def run_compare(tmp_path: Path, variables: dict[str, Any],
                tools: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run compare.yml; `tools` are extra fake commands (name: shell script body) on PATH."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    fakes = {"sysbench": f"exec /bin/cat {FIXTURES / 'sysbench_cpu.txt'}", **(tools or {})}
    for name, body in fakes.items():
        fake = bin_dir / name
        fake.write_text(f"#!/bin/sh\n{body}\n")
        fake.chmod(0o755)
    extra = tmp_path / "vars.json"
    extra.write_text(json.dumps(variables))
    env = dict(os.environ, PATH=f"{bin_dir}:{os.environ['PATH']}", ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
               ANSIBLE_NOCOLOR="1", ANSIBLE_LOCAL_TEMP=str(tmp_path / "ansible-tmp"))
    return subprocess.run(
        [str(Path(sys.executable).with_name("ansible-playbook")), "-i", str(inventory(tmp_path)),
         "-e", f"@{extra}", str(ROOT / "playbooks" / "compare.yml")],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=600,
    )


@pytest.fixture(scope="module")
def compared(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path]:
    # The role runs its scripts with /usr/bin/python3, as on Debian 12 hosts and guests (3.11).
    probe = subprocess.run(["/usr/bin/python3", "-c", "import sys; print(sys.version_info >= (3, 11))"],
                           capture_output=True, text=True, check=False) if Path("/usr/bin/python3").exists() else None
    if probe is None or probe.stdout.strip() != "True":
        pytest.skip("the role runs its scripts with /usr/bin/python3 >= 3.11")
    tmp_path = tmp_path_factory.mktemp("compare")
    results = tmp_path / "results"
    # An earlier comparison, replaced on request; a file beside it stays.
    results.mkdir()
    (results / "lab.json").write_text(json.dumps(EARLIER_LAB))
    (results / "runs").mkdir()
    (results / "runs" / "stale.json").write_text("{}")
    (results / "keep.txt").write_text("not the role's")
    proc = run_compare(tmp_path, {"compare_repeats": 2, "compare_workloads": ["cpu", "memory"],
                                  "compare_results_dir": str(results), "compare_install_packages": False,
                                  "compare_replace_results": True})
    return proc, results


def records(results: Path) -> list[dict[str, Any]]:
    return sorted((json.loads(p.read_text()) for p in (results / "runs").glob("*.json")),
                  key=lambda record: record["sequence"])


def test_playbook_succeeds(compared: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    proc, _ = compared
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "WARNING: compare_repeats is 2: no 95% interval" in proc.stdout
    # memory got the cpu sample, which has no "MiB transferred": failed runs are counted, not fatal.
    assert "WARNING: 4 of 8 runs failed" in proc.stdout


def test_results_layout(compared: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    _, results = compared
    files = sorted(str(p.relative_to(results)) for p in results.rglob("*") if p.is_file())
    runs = [f"runs/{stack}__web1__{workload}__r{repeat}.json"
            for stack in ("kvm", "xen") for workload in ("cpu", "memory") for repeat in (1, 2)]
    assert files == sorted([
        "keep.txt", "lab.json",
        "probes/guest__kvm__web1.json", "probes/guest__xen__web1.json",
        "probes/host__kvm1.json", "probes/host__xen1.json",
        "runs/kvm__web1__boot__r1.json", *runs,
    ])


def test_runs_alternate_the_stacks(compared: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    _, results = compared
    runs = [r for r in records(results) if r["workload"] != "boot"]
    order = [(r["sequence"], r["repeat"], r["workload"], r["stack"]) for r in runs]
    assert order == [
        (1, 1, "cpu", "kvm"), (2, 1, "memory", "kvm"), (3, 1, "cpu", "xen"), (4, 1, "memory", "xen"),
        (5, 2, "cpu", "xen"), (6, 2, "memory", "xen"), (7, 2, "cpu", "kvm"), (8, 2, "memory", "kvm"),
    ]
    for record in records(results):
        if record["workload"] == "cpu":
            assert (record["status"], record["value"], record["tool"]) == ("ok", 4484.90, "sysbench 1.0.20")
        if record["workload"] == "memory":
            assert record["status"] == "failed" and record["value"] is None


def test_lab_json(compared: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    _, results = compared
    lab = json.loads((results / "lab.json").read_text())
    assert lab["schema"] == "hvlab.lab/1"
    assert (lab["profile"], lab["repeats"], lab["workloads"]) == ("quick", 2, ["cpu", "memory"])
    assert lab["guests"] == [SPEC]
    assert lab["image_sha256"] == "ab" * 32
    assert [(d["guest"], d["stack"], d["host"]) for d in lab["deployments"]] == [
        ("kvm1-web1", "kvm", "kvm1"), ("xen1-web1", "xen", "xen1")]
    assert lab["hosts"] == [{"name": "kvm1", "stack": "kvm", "emulated": True},
                            {"name": "xen1", "stack": "xen", "emulated": True}]
    assert lab["created"].endswith("Z")


def test_probes_and_boot_record(compared: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    _, results = compared
    host = json.loads((results / "probes" / "host__xen1.json").read_text())
    assert (host["schema"], host["kind"], host["stack"], host["name"]) == ("hvlab.probe/1", "host", "xen", "xen1")
    assert host["data"]["emulated"] is True
    guest_probe = json.loads((results / "probes" / "guest__kvm__web1.json").read_text())
    assert (guest_probe["kind"], guest_probe["name"], guest_probe["host"]) == ("guest", "web1", "kvm1")
    assert guest_probe["data"]["image_sha256"] == "ab" * 32
    assert guest_probe["data"]["spec_vcpus"] == 1
    boot = json.loads((results / "runs" / "kvm__web1__boot__r1.json").read_text())
    assert (boot["workload"], boot["value"], boot["unit"], boot["higher_is_better"]) == ("boot", 21.5, "s", False)
    # Split as the guests role measured it: domain creation, then the guest's own boot; and the
    # guests role's one reset of it during that boot.
    assert boot["extra"] == {"create_s": 4.2, "guest_boot_s": 17.3, "resets": 1}
    # quick profile: compare_boot_repeats 1, the deployment's boot alone, so no throwaway guest
    assert sorted(p.name for p in (results / "runs").glob("*__boot__*")) == ["kvm__web1__boot__r1.json"]


def test_boot_repeats_plan_throwaway_boots_for_the_hosts_play(tmp_path: Path) -> None:
    # compare plans compare_boot_repeats - 1 boots per host; the next play hands them to the
    # guests role (tasks_from boot_repeats) on that host. Here the "hosts" are this machine, so
    # the guests role's validation stops it before anything changes: what is checked is that
    # the plan reached the hosts' play instead of it being skipped for want of one.
    proc = run_compare(tmp_path, {"compare_repeats": 1, "compare_workloads": ["cpu"], "compare_boot_repeats": 2,
                                  "compare_results_dir": str(tmp_path / "results"), "compare_install_packages": False})
    play = proc.stdout[proc.stdout.index("PLAY [Time extra boots on throwaway guests]"):]
    task = play[:play.index("PLAY [", 1)] if "PLAY [" in play[1:] else play
    assert "skipping: [kvm1]" not in task and "skipping: [xen1]" not in task, task[:3000]
    assert "boot_repeats.yml" in task or "guests : " in play, play[:3000]


def test_the_report_reads_the_role_output_without_run_problems(
        compared: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    _, results = compared
    loaded = load_results(results)
    # Only xen1-web1 has no boot time in this inventory: said, as the report must.
    assert [(p.file, p.message) for p in loaded.problems if p.file.startswith(("runs/", "lab.json"))] == [
        ("runs/xen__web1__boot__r*.json", "no run files, while the other stack has some")]
    assert len(loaded.runs) == 9
    boot = next(run for run in loaded.runs if run.workload == "boot")
    assert boot.parts == (("create_s", 4.2), ("guest_boot_s", 17.3))
    assert boot.resets == 1
    assert sorted(r.file for r in loaded.runs if not r.ok) == [
        f"runs/{stack}__web1__memory__r{n}.json" for stack in ("kvm", "xen") for n in (1, 2)]


def test_a_run_that_cannot_start_is_recorded_failed_and_the_rest_goes_on(tmp_path: Path) -> None:
    """The iperf3 server does not start on the host: that run alone is recorded as failed.

    The kernel compile runs last; without Debian's linux-source here it fails in the script.
    """
    results = tmp_path / "results"
    proc = run_compare(tmp_path, {"compare_repeats": 1, "compare_workloads": ["network", "cpu"],
                                  "compare_results_dir": str(results), "compare_install_packages": False,
                                  "compare_boot_time": False, "compare_kernel_compile": True},
                       tools={"iperf3": "echo 'iperf3: error - unable to start listener' >&2; exit 1"})
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "WARNING: 4 of 6 runs failed" in proc.stdout
    by_file = {p.name: json.loads(p.read_text()) for p in (results / "runs").glob("*.json")}
    assert sorted(by_file) == ["kvm__web1__cpu__r1.json", "kvm__web1__kernel_compile__r1.json",
                               "kvm__web1__network__r1.json", "xen__web1__cpu__r1.json",
                               "xen__web1__kernel_compile__r1.json", "xen__web1__network__r1.json"]
    assert json.loads((results / "lab.json").read_text())["workloads"] == ["network", "cpu", "kernel_compile"]
    for stack in ("kvm", "xen"):
        kernel = by_file[f"{stack}__web1__kernel_compile__r1.json"]
        assert (kernel["status"], kernel["metric"], kernel["sequence"]) == ("failed", "build_time", 3 if stack == "kvm"
                                                                              else 6)
    for stack in ("kvm", "xen"):
        network = by_file[f"{stack}__web1__network__r1.json"]
        assert (network["status"], network["value"], network["stack"], network["guest"]) == (
            "failed", None, stack, "web1")
        assert network["error"] == (f"the iperf3 server on {stack}1 did not start: "
                                    "iperf3: error - unable to start listener")
        assert by_file[f"{stack}__web1__cpu__r1.json"]["status"] == "ok"
    loaded = load_results(results)
    assert sorted(r.file for r in loaded.runs if not r.ok) == [
        f"runs/{stack}__web1__{workload}__r1.json" for stack in ("kvm", "xen") for workload in ("kernel_compile",
                                                                                                  "network")]
    assert [p for p in loaded.problems if p.file.startswith("runs/")] == []


def test_a_guest_call_that_dies_records_each_of_its_runs_as_failed(tmp_path: Path) -> None:
    """The workload script is killed mid-call (as by the OOM killer): no record came back."""
    results = tmp_path / "results"
    proc = run_compare(tmp_path, {"compare_repeats": 1, "compare_workloads": ["cpu", "memory"],
                                  "compare_results_dir": str(results), "compare_install_packages": False,
                                  "compare_boot_time": False},
                       tools={"sysbench": "kill -9 $PPID"})
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "WARNING: 4 of 4 runs failed" in proc.stdout
    runs = sorted((json.loads(p.read_text()) for p in (results / "runs").glob("*.json")),
                  key=lambda record: record["sequence"])
    assert [(r["sequence"], r["stack"], r["workload"], r["status"]) for r in runs] == [
        (1, "kvm", "cpu", "failed"), (2, "kvm", "memory", "failed"),
        (3, "xen", "cpu", "failed"), (4, "xen", "memory", "failed")]
    assert all(r["error"].startswith("Run the workloads on the guest: ") for r in runs)
    assert [p for p in load_results(results).problems if p.file.startswith("runs/")] == []


def test_tools_that_are_there_are_not_installed_again(tmp_path: Path) -> None:
    """compare_install_packages: every tool's command is found, so the package step is skipped."""
    results = tmp_path / "results"
    proc = run_compare(tmp_path, {"compare_repeats": 1, "compare_workloads": ["cpu"], "compare_boot_time": False,
                                  "compare_results_dir": str(results), "compare_install_packages": True},
                       tools={"fio": "exit 0", "iperf3": "exit 0"})
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    install = proc.stdout.split("TASK [compare : Install sysbench, fio and iperf3 on the guests that lack them]")[1]
    install = install.split("TASK [")[0]
    assert "skipping: [localhost]" in install and "ok: [" not in install and "changed: [" not in install, install
    assert json.loads((results / "runs" / "kvm__web1__cpu__r1.json").read_text())["status"] == "ok"


def test_nothing_left_behind(compared: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    """One new directory per host and guest (all four are this machine: the names differ), all removed."""
    proc, _ = compared
    created = set(CREATED_REMOTE_DIR.findall(proc.stdout))
    assert len(created) == 4, proc.stdout[-3000:]
    assert [path for path in created if os.path.lexists(path)] == []
    assert not FIXED_REMOTE_DIR.exists()


def tree_state(path: Path) -> dict[str, tuple[object, ...]]:
    """Mode, owner, mtime and content (or link target) of path and everything below it, links not followed."""
    paths = [path, *sorted(path.rglob("*"))] if path.is_dir() and not path.is_symlink() else [path]
    state: dict[str, tuple[object, ...]] = {}
    for entry in paths:
        stat = entry.lstat()
        content = (os.readlink(entry) if entry.is_symlink() else entry.read_bytes() if entry.is_file() else None)
        state[str(entry)] = (stat.st_mode, stat.st_uid, stat.st_gid, stat.st_mtime_ns, content)
    return state


# Run by the role as /usr/bin/python3 SCRIPT: proof that a planted script ran.
PLANTED_SCRIPT = "open({marker!r}, 'w').write('the planted script ran')\n"


@pytest.mark.parametrize("planted", ["directory", "symlink"])
def test_a_planted_fixed_directory_is_never_used_and_left_as_it_was(tmp_path: Path, planted: str) -> None:
    """Someone else made /var/tmp/hvlab-compare first: their directory (with scripts), or a link to /etc."""
    if os.path.lexists(FIXED_REMOTE_DIR):
        pytest.skip(f"{FIXED_REMOTE_DIR} exists on this machine already; it is not this test's to replace")
    marker = tmp_path / "planted-script-ran"
    target = tmp_path / "etc"
    target.mkdir()
    (target / "passwd").write_text("root:x:0:0::/root:/bin/sh\n")
    try:
        if planted == "directory":
            FIXED_REMOTE_DIR.mkdir()
            for script in ("hvlab_workload.py", "hvlab_probe_guest.py", "hvlab_probe_host.py"):
                (FIXED_REMOTE_DIR / script).write_text(PLANTED_SCRIPT.format(marker=str(marker)))
                os.chown(FIXED_REMOTE_DIR / script, 65534, 65534)
            FIXED_REMOTE_DIR.chmod(0o777)
            os.chown(FIXED_REMOTE_DIR, 65534, 65534)
        else:
            FIXED_REMOTE_DIR.symlink_to(target)
        before = tree_state(FIXED_REMOTE_DIR) | tree_state(target)
        proc = run_compare(tmp_path, {"compare_repeats": 1, "compare_workloads": ["cpu"], "compare_boot_time": False,
                                      "compare_results_dir": str(tmp_path / "results"),
                                      "compare_install_packages": False})
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        assert os.path.lexists(FIXED_REMOTE_DIR), "the planted path was removed"
        assert tree_state(FIXED_REMOTE_DIR) | tree_state(target) == before
        assert not marker.exists()
        assert json.loads((tmp_path / "results" / "runs" / "kvm__web1__cpu__r1.json").read_text())["status"] == "ok"
    finally:
        if FIXED_REMOTE_DIR.is_symlink():
            FIXED_REMOTE_DIR.unlink()
        elif FIXED_REMOTE_DIR.exists():
            shutil.rmtree(FIXED_REMOTE_DIR)


def earlier_results(tmp_path: Path, lab_json: str | None) -> Path:
    """A results directory holding files of its own: runs/ and a note, lab_json as its lab.json."""
    results = tmp_path / "results"
    (results / "runs").mkdir(parents=True)
    (results / "runs" / "kvm__web1__cpu__r1.json").write_text('{"mine": true}')
    (results / "notes.txt").write_text("not hvlab's")
    if lab_json is not None:
        (results / "lab.json").write_text(lab_json)
    return results


@pytest.mark.parametrize("lab_json", [
    None,
    '{"note": "like hvlab.lab/1", "schema": "mine/1"}',
    'schema: hvlab.lab/1',  # YAML, not JSON
    '["hvlab.lab/1"]',
], ids=["no lab.json", "another schema", "not JSON", "not an object"])
def test_a_directory_that_is_not_hvlab_s_is_refused_before_anything_changes(tmp_path: Path,
                                                                             lab_json: str | None) -> None:
    """Even with compare_replace_results: only hvlab's own results directory is ever emptied."""
    results = earlier_results(tmp_path, lab_json)
    before = tree_state(results)
    proc = run_compare(tmp_path, {"compare_repeats": 1, "compare_workloads": ["cpu"], "compare_boot_time": False,
                                  "compare_results_dir": str(results), "compare_install_packages": False,
                                  "compare_replace_results": True})
    assert proc.returncode != 0
    message = " ".join((proc.stdout + proc.stderr).split())
    assert f"compare_results_dir {results} holds files and is not an hvlab results directory" in message
    assert tree_state(results) == before
    assert "TASK [compare : Create a private scripts directory" not in proc.stdout


def test_an_earlier_comparison_is_kept_unless_compare_replace_results(tmp_path: Path) -> None:
    results = earlier_results(tmp_path, json.dumps(EARLIER_LAB))
    before = tree_state(results)
    proc = run_compare(tmp_path, {"compare_repeats": 1, "compare_workloads": ["cpu"], "compare_boot_time": False,
                                  "compare_results_dir": str(results), "compare_install_packages": False})
    assert proc.returncode != 0
    message = " ".join((proc.stdout + proc.stderr).split())
    assert f"compare_results_dir {results} holds an earlier comparison: compare_replace_results: true" in message
    assert tree_state(results) == before


@pytest.mark.parametrize(("variables", "message"), [
    ({"compare_repeats": 0}, "compare_repeats >= 1"),
    ({"compare_workloads": ["cpu", "boot"]}, "Got no match for: boot"),
    ({"compare_workloads": ["cpu", "cpu"]}, "without duplicates"),
    ({"compare_results_dir": "relative/dir"}, "compare_results_dir an absolute path"),
    ({"compare_boot_repeats": -1}, "compare_boot_repeats a whole number >= 0 (got -1)"),
    ({"compare_boot_repeats": "three"}, "compare_boot_repeats"),
    ({"compare_boot_repeats": 2.5}, "compare_boot_repeats"),
])
def test_bad_input_fails_before_anything_runs(tmp_path: Path, variables: dict[str, Any], message: str) -> None:
    results = tmp_path / "results"
    proc = run_compare(tmp_path, {"compare_results_dir": str(results), **variables})
    assert proc.returncode != 0
    assert message in " ".join((proc.stdout + proc.stderr).split())
    assert not results.exists()


# Runs each of the role's scripts, then rewrites what a guest script printed as a hostile guest
# would: the other stack, a guest name that climbs out of runs/, another repeat.
HOSTILE_PYTHON = """#!/usr/bin/python3
import json, subprocess, sys
proc = subprocess.run(["/usr/bin/python3", *sys.argv[1:]], capture_output=True, text=True)
sys.stderr.write(proc.stderr)
in_guest = sys.argv[1].endswith(("hvlab_workload.py", "hvlab_probe_guest.py"))
if not in_guest:
    sys.stdout.write(proc.stdout)
for line in proc.stdout.splitlines() if in_guest else []:
    document = json.loads(line)
    forged = {"stack": "xen" if document["stack"] == "kvm" else "kvm", "guest": "../../escaped",
              "name": "../../escaped", "repeat": 9, "host": "elsewhere"}
    print(json.dumps(document | {key: value for key, value in forged.items() if key in document}))
sys.exit(proc.returncode)
"""


def test_records_are_named_from_the_controllers_values_not_from_what_a_guest_printed(tmp_path: Path) -> None:
    python = tmp_path / "hostile-python3"
    python.write_text(HOSTILE_PYTHON)
    python.chmod(0o755)
    results = tmp_path / "results"
    proc = run_compare(tmp_path, {"compare_repeats": 1, "compare_workloads": ["cpu"], "compare_boot_time": False,
                                  "compare_results_dir": str(results), "compare_install_packages": False,
                                  "__compare_python": str(python)})
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert sorted(p.name for p in (results / "runs").iterdir()) == ["kvm__web1__cpu__r1.json",
                                                                     "xen__web1__cpu__r1.json"]
    assert not list(tmp_path.rglob("*escaped*"))
    for stack, host, sequence in (("kvm", "kvm1", 1), ("xen", "xen1", 2)):  # the KVM guest runs first
        record = json.loads((results / "runs" / f"{stack}__web1__cpu__r1.json").read_text())
        assert (record["stack"], record["guest"], record["host"], record["repeat"], record["sequence"]) == (
            stack, "web1", host, 1, sequence)
        probe = json.loads((results / "probes" / f"guest__{stack}__web1.json").read_text())
        assert (probe["stack"], probe["name"], probe["host"]) == (stack, "web1", host)
    assert [p for p in load_results(results).problems if p.file.startswith("runs/")] == []
