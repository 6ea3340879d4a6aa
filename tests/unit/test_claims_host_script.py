"""roles/claims/files/hvlab_claims_host.py: which process is a guest's QEMU, and its usage.

The script reads /proc and xl on a lab host; here only its pure parts run.
"""

import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

from plugin_loader import ROOT, load_plugin

SCRIPT = ROOT / "roles" / "claims" / "files" / "hvlab_claims_host.py"


def load() -> ModuleType:
    return load_plugin(str(SCRIPT.relative_to(ROOT)), "hvlab_claims_host")


def test_the_guests_qemu_is_found_by_its_name_option_not_a_substring() -> None:
    matches = load().qemu_of("g1")
    assert matches(["/usr/bin/qemu-system-x86_64", "-name", "guest=g1,debug-threads=on", "-S"])
    assert matches(["qemu-system-x86_64", "-name", "g1"])
    # Another guest whose name starts alike, or g1 elsewhere on the command line, is not it.
    assert not matches(["qemu-system-x86_64", "-name", "guest=g10,debug-threads=on"])
    assert not matches(["qemu-system-x86_64", "-name", "guest=other", "-drive", "file=/var/lib/g1.qcow2"])


def test_bad_arguments_print_the_usage() -> None:
    done = subprocess.run([sys.executable, str(SCRIPT), "vmware", "g1"], capture_output=True, text=True, check=False)
    usage = ("Usage: hvlab_claims_host.py kvm|xen GUEST | memory PROC KSM_DIR "
             "| watch PROC KSM_DIR SECONDS MARGIN_MIB GUEST...")
    assert done.returncode == 2 and usage in done.stderr


def test_a_guest_without_a_qemu_process_is_an_error_naming_it() -> None:
    done = subprocess.run([sys.executable, str(SCRIPT), "kvm", "no-such-guest-here"], capture_output=True,
                          text=True, check=False)
    assert done.returncode == 1 and "expected one QEMU process of guest no-such-guest-here, found 0" in done.stderr


MEMINFO = "MemTotal:  4000000 kB\nMemAvailable:  {avail} kB\nSwapTotal:  0 kB\nSwapFree:  {swap} kB\n"


def test_what_the_host_can_give_is_available_memory_plus_free_swap() -> None:
    script = load()
    assert script.can_give_mib(script.meminfo_kib(MEMINFO.format(avail=2048000, swap=1024000))) == 3000


def test_memory_mode_prints_what_the_host_can_give_and_ksm_from_the_paths_given(tmp_path: Path) -> None:
    (tmp_path / "meminfo").write_text(MEMINFO.format(avail=3072000, swap=1048576))
    ksm = tmp_path / "ksm"
    ksm.mkdir()
    (ksm / "run").write_text("1\n")
    (ksm / "pages_sharing").write_text("120\n")
    done = subprocess.run([sys.executable, str(SCRIPT), "memory", str(tmp_path), str(ksm)], capture_output=True,
                          text=True, check=True)
    # 3000 MiB available + 1024 MiB of free swap; a counter the kernel lacks is null, not 0.
    assert json.loads(done.stdout) == {"can_give_mib": 4024, "ksm_run": 1, "ksm_pages_shared": None,
                                       "ksm_pages_sharing": 120}


def test_the_watch_stops_as_soon_as_the_host_falls_below_the_margin() -> None:
    script = load()
    readings = iter([3000, 2000, 400, 3000])
    clock = iter(range(100))
    result = script.watch(60, 512, lambda: MEMINFO.format(avail=next(readings) * 1024, swap=0),
                          sleep=lambda _s: None, clock=lambda: float(next(clock)))
    assert result["stopped_at_margin"] is True and result["lowest_can_give_mib"] == 400 and result["samples"] == 3


def test_the_watch_runs_its_time_when_the_host_keeps_its_margin() -> None:
    script = load()
    clock = iter(range(0, 1000, 2))
    result = script.watch(10, 512, lambda: MEMINFO.format(avail=2048000, swap=0),
                          sleep=lambda _s: None, clock=lambda: float(next(clock)))
    assert result["stopped_at_margin"] is False and result["lowest_can_give_mib"] == 2000
    assert result["samples"] >= 3


def test_a_cgroup_with_any_other_process_is_shared() -> None:
    script = load()
    assert script.others_in("900\n1234\n", {900}) is True
    assert script.others_in("900\n", {900}) is False
    # A cgroup that cannot be read is taken as shared: nothing is asked of it.
    assert script.shares_cgroup("/no/such/cgroup/here", {900}) is True
    assert script.shares_cgroup(None, {900}) is True


def test_watch_mode_reads_the_proc_and_ksm_paths_given(tmp_path: Path) -> None:
    """The watch, the KSM counters and each guest's QEMU resident memory come from the paths given."""
    proc, ksm = tmp_path / "proc", tmp_path / "ksm"
    (proc / "4242").mkdir(parents=True)
    (proc / "meminfo").write_text(MEMINFO.format(avail=3072000, swap=0))
    (proc / "4242" / "cmdline").write_text("qemu-system-x86_64\0-name\0guest=g1-o1,debug-threads=on\0")
    (proc / "4242" / "status").write_text("Name:\tqemu-system-x86\nVmRSS:\t  300000 kB\n")
    ksm.mkdir()
    (ksm / "pages_sharing").write_text("5000\n")
    result = load().overcommit(proc, ksm, 0, 512, ["g1-o1", "g1-o2"], sleep=lambda _: None)
    assert result["lowest_can_give_mib"] == 3000 and result["stopped_at_margin"] is False
    assert result["qemu_rss_kib"] == {"g1-o1": 300000, "g1-o2": None} and result["guests_running"] == 1
    assert result["ksm_pages_sharing"] == 5000 and result["ksm_run"] is None


def test_leftovers_are_what_is_new_and_the_limits_that_changed() -> None:
    before = {"domains": ["Domain-0", "g1"], "swaps": ["/dev/vda3"], "units": [],
              "limits": {"credit2_weight": "256", "credit2_cap": "0"}}
    same = {**before, "domains": ["g1", "Domain-0"]}
    assert load().leftovers(before, same) == {}
    # What went away is not a leftover; what came, or changed, is.
    now = {"domains": ["Domain-0", "g1", "g1-o1"], "swaps": ["/var/tmp/hvlab-claims-swap.x/swap"],
           "units": ["hvlab-claims-hog-1-xen-rate-default.service"],
           "limits": {"credit2_weight": "128", "credit2_cap": "0"}}
    assert load().leftovers(before, now) == {
        "domains": ["g1-o1"], "swaps": ["/var/tmp/hvlab-claims-swap.x/swap"],
        "units": ["hvlab-claims-hog-1-xen-rate-default.service"],
        "limits": {"credit2_weight": {"before": "256", "now": "128"}}}


def test_the_scope_is_the_cgroup_path_down_to_the_first_scope() -> None:
    scope_path = load().scope_path
    assert scope_path("/machine.slice/machine-qemu\\x2d1\\x2dg1.scope/libvirt/emulator") == \
        "/machine.slice/machine-qemu\\x2d1\\x2dg1.scope"
    assert scope_path("/system.slice/ssh.service") == ""


def test_the_guests_credit2_row_is_found_by_its_name() -> None:
    listing = "Name                                ID Weight  Cap\ng10    4   256    0\ng1     3   128    0\n"
    assert load().credit2_row(listing, "g1") == ["g1", "3", "128", "0"]
    assert load().credit2_row(listing, "g2") is None
