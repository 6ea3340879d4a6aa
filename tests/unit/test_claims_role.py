"""playbooks/claims.yml for real, on this machine: every "host" and "guest" is localhost.

The claims role runs against an inventory whose hosts and guests use the local connection.
The commands it would run on a lab (systemd-run, systemctl, xl, sysbench) are stand-ins on
PATH that log their arguments and answer like a lab where the claim holds: a hog favoured by
Linux slows the KVM guest and not the Xen one, a lowered credit2 weight slows the Xen guest.
The host-side script's answer is a stand-in too (it reads /proc for a QEMU process this
machine lacks), and so is the guests role that the overcommit claim asks for throwaway guests
(its real path needs libvirt and xl: the lab runs it): a role of that name, found first on the
roles path, that logs each request and answers like a host where KVM starts every guest and xl
refuses the last one (and, for the pv_fairness claim, where each copy with emulated devices boots). Checked: the
record and the verdict it gives, that every hog unit started is stopped and the credit2 weight
put back (also when a case fails), that throwaway guests are removed whatever happened, and that
bad input or a directory without a comparison stops the role before any command runs.
"""

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from hvlab.report.claims import HELD, judge_claims
from hvlab.report.load import load_results

ROOT = Path(__file__).resolve().parents[2]
# The guest's scope as libvirt names it (systemd writes '-' in a unit name as \x2d).
SCOPE = "machine.slice/machine-qemu\\x2d1\\x2dg1.scope"
SPEC = {"name": "g1", "vcpus": 1, "memory_mib": 512, "disk_gib": 4, "xen_type": "pv"}
LAB = {"schema": "hvlab.lab/1", "created": "2026-12-04T10:00:00Z", "profile": "quick"}

# The lab's answers. STATE is the stand-ins' shared directory; every call is logged to $STATE/calls.
STAND_INS = {
    "systemd-run": """
echo "systemd-run $*" >> "$STATE/calls"
unit=; weight=
for arg; do
  case $arg in --unit=*) unit=${arg#--unit=};; --property=CPUWeight=*) weight=${arg#--property=CPUWeight=};; esac
done
case $unit in *-kvm-*) stack=kvm;; *) stack=xen;; esac
echo "$stack $weight" > "$STATE/hog"
echo "$unit" > "$STATE/hog_unit"
""",
    # A hog stops when asked, unless $STATE/hog_survives exists; list-units shows a running one.
    "systemctl": """
echo "systemctl $*" >> "$STATE/calls"
case $1 in
  stop) rm -f "$STATE/hog"; [ -e "$STATE/hog_survives" ] || rm -f "$STATE/hog_unit";;
  list-units) [ -e "$STATE/hog_unit" ] && echo "$(cat "$STATE/hog_unit") loaded active running hog";;
esac
exit 0
""",
    "xl": """
echo "xl $*" >> "$STATE/calls"
# xl info: Xen's free memory, 2500 MiB before the overcommit guests and 400 MiB with two of them.
if [ "$1" = info ]; then
  free=2500; [ -e "$STATE/xl_info_read" ] && free=400
  echo "free_memory            : $free"
  : > "$STATE/xl_info_read"
fi
[ "$1 $4" = "sched-credit2 -w" ] && echo "$5" > "$STATE/xl_weight"
weight=$(cat "$STATE/xl_weight" 2>/dev/null || echo 256)
[ "$1 $#" = "sched-credit2 3" ] && printf 'Name  ID  Weight  Cap\ng1  3  %s  0\n' "$weight"
if [ "$1" = list ]; then
  printf 'Name    ID   Mem VCPUs\tState\tTime(s)\ng1       3   512     1     -b----       4.2\n'
  sed 's/$/  9  512  1  -b----  1.0/' "$STATE/domains_xen1" 2>/dev/null
fi
exit 0
""",
    # The paging claim's swap file and reclaim. The reclaim's stand-in writes what it was given,
    # like tee, and then the kernel's answer: part of the QEMU process's memory is in swap.
    "dd": """echo "dd $*" >> "$STATE/calls"; for a; do case $a in of=*) : > "${a#of=}";; esac; done""",
    "mkswap": """echo "mkswap $*" >> "$STATE/calls" """,
    # The kernel's list of swap areas is $PROC/swaps. swapoff fails as for a swap file that is not
    # on when $STATE/swapoff_fails exists, and the swap area stays on.
    "swapon": """
echo "swapon $*" >> "$STATE/calls"; echo "$1" > "$STATE/swap_on"; echo "$1 file 327676 0 -2" >> "$PROC/swaps"
""",
    "swapoff": """
echo "swapoff $*" >> "$STATE/calls"
[ -e "$STATE/swapoff_fails" ] && { echo "swapoff: $1: swapoff failed: Invalid argument" >&2; exit 1; }
rm -f "$STATE/swap_on"; grep -v "^$1 " "$PROC/swaps" > "$PROC/swaps.new"; mv "$PROC/swaps.new" "$PROC/swaps"
""",
    # The KVM host's domains: the lab's guest and the throwaway guests that exist ($STATE/domains_kvm1).
    "virsh": """echo "virsh $*" >> "$STATE/calls"; echo g1; cat "$STATE/domains_kvm1" 2>/dev/null; exit 0""",
    # The throwaway guests' domains come and go in $STATE/domains_HOST; with $STATE/keep_HOST they stay.
    "throwaway-log": """
echo "throwaway $*" >> "$STATE/calls"
[ "$2" = present ] && [ -e "$STATE/fail_throwaway_$1" ] && { echo "no disk for the guest" >&2; exit 1; }
case $2 in
  present) seq 1 "$4" | sed 's/^/g1-o/' >> "$STATE/domains_$1";;
  absent) [ -e "$STATE/keep_$1" ] || rm -f "$STATE/domains_$1";;
esac
exit 0
""",
    # A clean-up that left a limit on the KVM guest's scope: the reclaim's stand-in sets one
    # when $STATE/limit_left exists.
    "tee": """
echo "tee $*" >> "$STATE/calls"
cat > "$2"
sed -i 's/^VmSwap:.*/VmSwap:\t    8192 kB/' "$PROC/4242/status"
[ -e "$STATE/limit_left" ] && echo 256M > "$(dirname "$2")/memory.high"
exit 0
""",
    "sysbench": """
echo "sysbench $*" >> "$STATE/calls"
read -r stack weight < "$STATE/hog"
xl_weight=$(cat "$STATE/xl_weight" 2>/dev/null || echo 256)
if [ -e "$STATE/fail_xl_case" ] && [ "$xl_weight" -lt 256 ]; then echo "guest gone" >&2; exit 1; fi
rate=1000.00
[ "$stack" = kvm ] && [ "$weight" -gt 100 ] && rate=180.00
[ "$stack" = xen ] && [ "$weight" -gt 100 ] && rate=990.00
[ "$xl_weight" -lt 256 ] && rate=300.00
printf 'CPU speed:\\n    events per second:  %s\\n' "$rate"
""",
    # The host-side script's answer (what hvlab_claims_host.py prints on a lab), and the pv_fairness
    # claim's workload and probe scripts in the guests. Those come in turn - the KVM guest, its
    # copy, the Xen guest, its HVM copy - so the call's number says which guest it is in (the
    # probe's, counted per stack: the lab's guest first, then its copy).
    "fake-python": """
case $1 in
  */hvlab_workload.py)
    n=$(cat "$STATE/runs" 2>/dev/null || echo 0); echo $((n + 1)) > "$STATE/runs"
    echo "workload $*" >> "$STATE/calls"
    case $((n % 4)) in 0) v=2500;; 1) v=900;; 2) v=2400;; 3) v=600;; esac
    if [ -e "$STATE/fail_fio" ] && [ $((n % 4)) = 3 ]; then
      printf '%s\n' '{"schema": "hvlab.run/1", "status": "failed", "error": "fio: ata1 timeout", "value": null}'
    else
      printf '{"schema": "hvlab.run/1", "workload": "%s", "status": "ok", "value": %s, "unit": "IOPS"}\n' \\
        "$2" $((v + n))
    fi
    exit 0;;
  */hvlab_probe_guest.py)
    n=$(cat "$STATE/probes_$3" 2>/dev/null || echo 0); echo $((n + 1)) > "$STATE/probes_$3"
    case $3$n in
      kvm0) printf '%s\n' '{"data": {"root_disk": "vda", "block_driver": "virtio_blk",
                              "net_driver": "virtio_net"}}';;
      kvm1) printf '%s\n' '{"data": {"root_disk": "sda", "block_driver": "sd_mod", "net_driver": "e1000e"}}';;
      xen0) printf '%s\n' '{"data": {"root_disk": "xvda", "block_driver": "xen_blkfront",
                              "net_driver": "xen_netfront"}}';;
      *) printf '%s\n' '{"data": {"root_disk": "sda", "block_driver": "sd_mod", "net_driver": "e1000",
                           "xen_guest_type_seen": "HVM"}}';;
    esac
    exit 0;;
esac
case $2 in
  memory|holdings|leftovers) exec python3 "$@";;
  watch) echo "watch $*" >> "$STATE/calls"
         printf '%s\n' '{"lowest_can_give_mib": 2900, "margin_mib": 512, "stopped_at_margin": false, "samples": 45,
         "watched_s": 90.0, "ksm_run": 1, "ksm_pages_shared": 800, "ksm_pages_sharing": 5000,
         "qemu_rss_kib": {"g1-o1": 300000, "g1-o2": 290000, "g1-o3": 280000}, "guests_running": 3}';;
  kvm) printf '%s\n' '{"qemu_pid": 4242,
        "guest_cgroup": "/machine.slice/machine-qemu\\\\x2d1\\\\x2dg1.scope/libvirt/emulator",
        "guest_scope": "machine-qemu\\\\x2d1\\\\x2dg1.scope", "guest_cpu_weight": 100,
        "vcpu_threads": [{"tid": 4250, "name": "CPU 0/KVM", "policy": "SCHED_OTHER", "cgroup": "/x"}],
        "vcpu_policies": ["SCHED_OTHER"]}';;
  xen) printf '%s\n' '{"domid": 3, "xen_scheduler": "credit2", "xl_weight_before": 256, "dom0_processes_of_guest":
        [{"pid": 900, "comm": "qemu-system-i38", "cgroup": "/system.slice/ssh.service", "cgroup_shared": true}]}';;
esac
""",
}


# The guests role's throwaway entry point, as the overcommit and pv_fairness claims see it.
GUESTS_STAND_IN = """---
- name: Log the request
  ansible.builtin.command:
    argv: [throwaway-log, "{{ inventory_hostname }}", "{{ guests_throwaway_state }}", "{{ guests_throwaway_like }}",
           "{{ guests_throwaway_count }}", "{{ guests_throwaway_memory_mib | default(0) }}",
           "{{ guests_throwaway_emulated_devices | default(false) }}",
           "{{ guests_throwaway_ssh_wait | default(false) }}",
           "{{ guests_throwaway_cpu_quota_percent | default(0) }}"]
  changed_when: false

# A host whose guests take its CPUs stops answering SSH: its next connection goes to a closed port.
- name: Stop answering, like a host starved by its guests
  ansible.builtin.set_fact:
    ansible_connection: ssh
    ansible_host: 127.0.0.1
    ansible_port: 9
  when:
    - guests_throwaway_state == 'present'
    - (lookup('ansible.builtin.env', 'STATE') ~ '/starve_' ~ inventory_hostname) is exists

- name: Answer like a host where KVM starts every guest and xl refuses the last
  ansible.builtin.set_fact:
    guests_throwaway:
      names: "{{ __names }}"
      addresses: "{{ dict(__names | zip(__names | map('regex_replace', '.*', '127.0.0.1'))) }}"
      started: "{{ [] if guests_throwaway_state == 'absent'
                   else (__names if inventory_hostname == 'kvm1' else __names[:-1]) }}"
      errors: "{{ {} if guests_throwaway_state == 'absent'
                  else ({__names[0]: 'Error rendering template'} if (lookup('ansible.builtin.env', 'STATE')
                                                                    ~ '/break_' ~ inventory_hostname) is exists
                        else {}) if inventory_hostname == 'kvm1'
                  else {__names[-1]: 'xl create failed: libxl: failed to free memory for the domain'} }}"
  vars:
    __names: "{{ range(1, guests_throwaway_count | int + 1) | map('regex_replace', '^', 'g1-o') | list }}"
  when: not guests_throwaway_emulated_devices | default(false)

# The pv_fairness claim's copy comes up, unless $STATE/fail_copy_HOST exists.
- name: Answer like a host whose copy with emulated devices boots
  ansible.builtin.set_fact:
    guests_throwaway:
      names: [g1-o1]
      addresses: {g1-o1: 127.0.0.1}
      started: "{{ [] if guests_throwaway_state == 'absent' else ['g1-o1'] }}"
      errors: "{{ {'g1-o1': 'g1-o1 did not answer on SSH within 1200 s'}
                  if guests_throwaway_state == 'present'
                     and (lookup('ansible.builtin.env', 'STATE') ~ '/fail_copy_' ~ inventory_hostname) is exists
                  else {} }}"
  when: guests_throwaway_emulated_devices | default(false)
"""


def guest(host: str, stack: str) -> dict[str, Any]:
    return {"ansible_host": "127.0.0.1", "hvlab_guest_host": host, "hvlab_guest_stack": stack,
            "hvlab_guest_spec": SPEC}


def run_claims(tmp_path: Path, variables: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    bin_dir, state = tmp_path / "bin", tmp_path / "state"
    bin_dir.mkdir(exist_ok=True)
    state.mkdir(exist_ok=True)
    for name, body in STAND_INS.items():
        (bin_dir / name).write_text(f"#!/bin/sh\n{body}\n")
        (bin_dir / name).chmod(0o755)
    inventory = tmp_path / "inventory.json"
    inventory.write_text(json.dumps({"all": {
        "vars": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable, "ansible_become": False},
        "children": {
            "kvm_hosts": {"hosts": {"kvm1": {"hvlab_host_emulated": True}}}, "xen_hosts": {"hosts": {"xen1": {}}},
            "kvm_guests": {"hosts": {"kvm1-g1": guest("kvm1", "kvm")}},
            "xen_guests": {"hosts": {"xen1-g1": guest("xen1", "xen")}},
        }}}))
    # The host's /proc and cgroup tree, as far as the paging claim reads and writes them.
    proc, cgroups, swap_parent = tmp_path / "proc", tmp_path / "cgroup", tmp_path / "var-tmp"
    scripts_parent = tmp_path / "guest-var-tmp"
    scripts_parent.mkdir(exist_ok=True)
    (proc / "4242").mkdir(parents=True, exist_ok=True)
    (proc / "meminfo").write_text("MemTotal:  4006912 kB\nMemAvailable:  3072000 kB\nSwapTotal:        0 kB\n"
                                  "SwapFree:         0 kB\n")
    ksm = tmp_path / "ksm"
    ksm.mkdir(exist_ok=True)
    (ksm / "pages_sharing").write_text("120\n")
    stand_in_roles = tmp_path / "roles"
    (stand_in_roles / "guests" / "tasks").mkdir(parents=True, exist_ok=True)
    (stand_in_roles / "guests" / "tasks" / "throwaway.yml").write_text(GUESTS_STAND_IN)
    (proc / "4242" / "status").write_text("Name:\tqemu-system-x86\nVmRSS:\t  401234 kB\nVmSwap:\t       0 kB\n")
    (proc / "4242" / "cmdline").write_text("qemu-system-x86_64\0-name\0guest=g1,debug-threads=on\0")
    (proc / "4242" / "cgroup").write_text(f"0::/{SCOPE}/libvirt/emulator\n")
    (proc / "swaps").write_text("Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n")
    (cgroups / SCOPE).mkdir(parents=True, exist_ok=True)
    # 100 MiB of page cache is charged to the guest's scope: the reclaim asks for it too.
    (cgroups / SCOPE / "memory.stat").write_text("anon 411000000\nfile 104857600\nkernel 4000000\n")
    limits = {"cpu.weight": "100", "cpu.max": "max 100000", "memory.high": "max", "memory.max": "max"}
    for name, value in limits.items():
        (cgroups / SCOPE / name).write_text(value + "\n")
    swap_parent.mkdir(exist_ok=True)
    extra = tmp_path / "vars.json"
    extra.write_text(json.dumps({"__claims_python": str(bin_dir / "fake-python"), "claims_sched_seconds": 1,
                                 "__claims_proc": str(proc), "__claims_cgroup_root": str(cgroups),
                                 "__claims_swap_parent": str(swap_parent), "__claims_ksm_dir": str(ksm),
                                 "__claims_scripts_parent": str(scripts_parent),
                                 "claims_overcommit_seconds": 10, **variables}))
    env = dict(os.environ, PATH=f"{bin_dir}:{os.environ['PATH']}", STATE=str(state), PROC=str(proc),
               ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_ROLES_PATH=f"{stand_in_roles}:{ROOT / 'roles'}",
               ANSIBLE_LOCAL_TEMP=str(tmp_path / "ansible-tmp"))
    return subprocess.run(
        [str(Path(sys.executable).with_name("ansible-playbook")), "-i", str(inventory), "-e", f"@{extra}",
         str(ROOT / "playbooks" / "claims.yml")],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=600,
    )


def comparison(tmp_path: Path) -> Path:
    results = tmp_path / "results"
    results.mkdir()
    (results / "lab.json").write_text(json.dumps(LAB))
    return results


def record_with_fault(tmp_path: Path, fault: str, claim: str,
                      variables: dict[str, Any] | None = None) -> dict[str, Any]:
    """Run one experiment with the stand-ins' fault file $STATE/FAULT present; the claim's record."""
    results = comparison(tmp_path)
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / fault).write_text("")
    proc = run_claims(tmp_path, {"claims_results_dir": str(results), "claims_experiments": [claim],
                                 **(variables or {})})
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return json.loads((results / "claims" / f"{claim}.json").read_text())


def calls(tmp_path: Path) -> list[str]:
    path = tmp_path / "state" / "calls"
    return path.read_text().splitlines() if path.exists() else []


def hogs_started_and_stopped(log: list[str]) -> tuple[list[str], list[str]]:
    started = [word.removeprefix("--unit=") for line in log if line.startswith("systemd-run ")
               for word in line.split() if word.startswith("--unit=")]
    stopped = [line.split()[-1] for line in log if line.startswith("systemctl stop ")]
    return started, stopped


@pytest.fixture(scope="module")
def claimed(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path, Path]:
    tmp_path = tmp_path_factory.mktemp("claims")
    results = comparison(tmp_path)
    return run_claims(tmp_path, {"claims_results_dir": str(results)}), results, tmp_path


def test_the_record_holds_both_stacks_and_the_claim_holds(claimed: tuple[Any, Path, Path]) -> None:
    proc, results, _ = claimed
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    record = json.loads((results / "claims" / "scheduler.json").read_text())
    assert record["schema"] == "hvlab.claim/1" and record["claim"] == "scheduler"
    assert record["not_measured"] == {}
    kvm, xen = record["evidence"]["kvm"], record["evidence"]["xen"]
    assert (kvm["rate_default"], kvm["rate_low_weight"]) == (1000.0, 180.0)
    assert (xen["rate_default"], xen["rate_dom0_weight"], xen["rate_xl_weight"]) == (1000.0, 990.0, 300.0)
    assert kvm["qemu_pid"] == 4242 and xen["xl_weight_before"] == 256 and xen["xl_weight_low"] == 128
    assert (kvm["host"], xen["host"], kvm["guest"]) == ("kvm1", "xen1", "g1")
    scheduler = next(r for r in judge_claims(load_results(results)) if r.claim.id == "scheduler")
    assert scheduler.verdict == HELD, scheduler.why


def test_every_hog_is_bounded_and_stopped_and_the_weight_put_back(claimed: tuple[Any, Path, Path]) -> None:
    _, _, tmp_path = claimed
    log = calls(tmp_path)
    started, stopped = hogs_started_and_stopped(log)
    assert len(started) == 5 and started == stopped
    assert all(unit.startswith("hvlab-claims-hog-") and unit.endswith(".service") for unit in started)
    hog_runs = [line for line in log if line.startswith("systemd-run ")]
    assert all("--slice=machine.slice" in line and "--property=RuntimeMaxSec=601" in line for line in hog_runs)
    assert [line for line in log if line.startswith("xl sched-credit2 ") and " -w " in line] == \
        ["xl sched-credit2 -d g1 -w 128", "xl sched-credit2 -d g1 -w 256"]
    # The stacks never overlap: every KVM case ends before the first Xen one starts.
    stacks = ["kvm" if "-kvm-" in unit else "xen" for unit in started]
    assert stacks == ["kvm", "kvm", "xen", "xen", "xen"]


def test_the_paging_record_and_its_verdict(claimed: tuple[Any, Path, Path]) -> None:
    proc, results, _ = claimed
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    record = json.loads((results / "claims" / "paging.json").read_text())
    assert (record["schema"], record["claim"], record["not_measured"]) == ("hvlab.claim/1", "paging", {})
    kvm, xen = record["evidence"]["kvm"], record["evidence"]["xen"]
    assert (kvm["qemu_swap_kib_before"], kvm["qemu_swap_kib"], kvm["qemu_rss_kib_before"]) == (0, 8192, 401234)
    assert kvm["reclaimed_from"] == "/" + SCOPE and kvm["reclaim_complete"] and kvm["swap_file_created"]
    assert (kvm["cgroup_file_kib_before"], xen["cgroup_file_kib_before"]) == (102400, None)
    assert (xen["memory_mib_before"], xen["memory_mib_after"], xen["reclaimed_from"]) == (512, 512, None)
    assert xen["backend_cgroups_shared"] == ["/system.slice/ssh.service"]
    assert kvm["guest_answered"] and xen["guest_answered"]
    paging = next(r for r in judge_claims(load_results(results)) if r.claim.id == "paging")
    assert paging.verdict == HELD, paging.why


def test_the_swap_file_is_the_experiments_own_and_goes_away(claimed: tuple[Any, Path, Path]) -> None:
    _, _, tmp_path = claimed
    log = calls(tmp_path)
    # One reclaim request, to the KVM guest's scope: the Xen guest's back-end shares ssh.service
    # with other processes here, so nothing is asked of that cgroup.
    assert [line for line in log if line.startswith("tee ")] == [f"tee -- {tmp_path}/cgroup/{SCOPE}/memory.reclaim"]
    assert (tmp_path / "cgroup" / SCOPE / "memory.reclaim").read_text() == "356M"
    # A host without swap (both here) gets a swap file in a new directory under the parent, each
    # turned off and the directory removed; nothing else is left in the parent.
    swapons = [line.split()[-1] for line in log if line.startswith("swapon ")]
    swapoffs = [line.split()[-1] for line in log if line.startswith("swapoff ")]
    assert len(swapons) == 2 and swapons == swapoffs and len(set(swapons)) == 2
    assert all(Path(path).parent.parent == tmp_path / "var-tmp" for path in swapons)
    assert all("count=320" in line for line in log if line.startswith("dd "))
    assert list((tmp_path / "var-tmp").iterdir()) == []
    assert not (tmp_path / "state" / "swap_on").exists()


def test_the_overcommit_record_and_its_verdict(claimed: tuple[Any, Path, Path]) -> None:
    proc, results, _ = claimed
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    record = json.loads((results / "claims" / "overcommit.json").read_text())
    assert (record["schema"], record["claim"], record["not_measured"]) == ("hvlab.claim/1", "overcommit", {})
    kvm, xen = record["evidence"]["kvm"], record["evidence"]["xen"]
    # KVM could give 3000 MiB (MemAvailable, no swap): three guests of 1252 MiB (125%, rounded up to
    # 4 MiB) ask for 3756. Xen had 2500 MiB free: three of 1044, and xl refused the third.
    assert (kvm["host_memory_mib"], kvm["guest_memory_mib"], kvm["memory_requested_mib"]) == (3000, 1252, 3756)
    assert (kvm["guests_requested"], kvm["guests_running"], kvm["pages_sharing"], kvm["pages_sharing_before"]) == \
        (3, 3, 5000, 120)
    assert kvm["stopped_at_margin"] is False and kvm["start_errors"] == {}
    assert (xen["free_memory_mib"], xen["guest_memory_mib"], xen["guests_created"]) == (2500, 1044, 2)
    assert xen["create_refused"] is True and xen["free_memory_mib_after"] == 400
    assert "failed to free memory" in xen["start_errors"]["g1-o3"] and xen["refusal"] == xen["start_errors"]["g1-o3"]
    overcommit = next(r for r in judge_claims(load_results(results)) if r.claim.id == "overcommit")
    assert overcommit.verdict == HELD, overcommit.why


def test_the_overcommit_guests_are_made_and_removed_one_host_at_a_time(claimed: tuple[Any, Path, Path]) -> None:
    _, _, tmp_path = claimed
    log = calls(tmp_path)
    asked = [line.split()[1:6] + line.split()[-1:] for line in log
             if line.startswith("throwaway ") and line.split()[4] == "3"]
    # kvm1 is an emulated host: its guests' vCPUs are capped at 25% of a CPU each.
    assert asked == [["kvm1", "present", "g1", "3", "1252", "25"], ["kvm1", "absent", "g1", "3", "0", "0"],
                     ["xen1", "present", "g1", "3", "1044", "0"], ["xen1", "absent", "g1", "3", "0", "0"]]
    # The KVM host's memory is watched while its guests run, with the margin, for the guests made.
    watches = [line for line in log if line.startswith("watch ")]
    assert len(watches) == 1, watches
    assert watches[0].endswith(f"/hvlab_claims_host.py watch {tmp_path}/proc {tmp_path}/ksm 10 512 g1-o1 g1-o2 g1-o3")


def test_a_host_whose_guests_could_not_be_made_is_unmeasured_and_cleaned_up(tmp_path: Path) -> None:
    record = record_with_fault(tmp_path, "fail_throwaway_kvm1", "overcommit")
    assert "kvm" not in record["evidence"] and "xen" in record["evidence"]
    assert "no disk for the guest" in record["not_measured"]["kvm"]
    asked = [line.split()[1:3] for line in calls(tmp_path) if line.startswith("throwaway ")]
    assert asked == [["kvm1", "present"], ["kvm1", "absent"], ["xen1", "present"], ["xen1", "absent"]]


def test_a_kvm_guest_that_failed_for_another_reason_than_memory_is_unmeasured(tmp_path: Path) -> None:
    # The virtual lab's first capped run: every KVM guest failed in a template, the watch then
    # saw no guest, and the record read as evidence against the claim.
    record = record_with_fault(tmp_path, "break_kvm1", "overcommit")
    assert "kvm" not in record["evidence"] and "xen" in record["evidence"]
    assert 'throwaway guests not made: {"g1-o1": "Error rendering template"}' in record["not_measured"]["kvm"]
    assert not [line for line in calls(tmp_path) if line.startswith("watch ")]
    asked = [line.split()[1:3] for line in calls(tmp_path) if line.startswith("throwaway ")]
    assert asked == [["kvm1", "present"], ["kvm1", "absent"], ["xen1", "present"], ["xen1", "absent"]]


def test_a_host_that_stops_answering_is_unmeasured_and_the_other_stack_still_runs(tmp_path: Path) -> None:
    # Ansible rescues no unreachable host, and with serial: 1 a batch whose one host failed
    # would end the playbook: no Xen side, no record. Here kvm1 stops answering once its
    # guests run and never answers again: the record is written, and the run fails at the
    # end, since what kvm1 still holds cannot be read.
    results = comparison(tmp_path)
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "starve_kvm1").write_text("")
    proc = run_claims(tmp_path, {"claims_results_dir": str(results), "claims_experiments": ["overcommit"],
                                 "__claims_reconnect_s": 2})
    assert proc.returncode != 0
    assert "the claims experiments left this behind" in proc.stdout and '"kvm1": {"not_read"' in proc.stdout
    record = json.loads((results / "claims" / "overcommit.json").read_text())
    assert "kvm" not in record["evidence"] and "xen" in record["evidence"]
    why = record["not_measured"]["kvm"]
    assert "kvm1 stopped answering SSH while its throwaway guests ran" in why
    assert "its throwaway guests were left on kvm1" in why
    asked = [line.split()[1:3] for line in calls(tmp_path) if line.startswith("throwaway ")]
    assert asked == [["kvm1", "present"], ["xen1", "present"], ["xen1", "absent"]]


def test_the_pv_fairness_record_and_its_verdict(claimed: tuple[Any, Path, Path]) -> None:
    proc, results, tmp_path = claimed
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    record = json.loads((results / "claims" / "pv_fairness.json").read_text())
    assert (record["schema"], record["claim"], record["not_measured"]) == ("hvlab.claim/1", "pv_fairness", {})
    kvm, xen = record["evidence"]["kvm"], record["evidence"]["xen"]
    # Three runs each, in turn (KVM, its copy, Xen PV, its HVM copy): the medians of 2500/2504/2508,
    # 901/905/909, 2402/2406/2410 and 603/607/611.
    assert (kvm["virtio"], kvm["emulated"], xen["pv"], xen["hvm_emulated"]) == (2504.0, 905.0, 2406.0, 607.0)
    assert xen["runs_hvm_emulated"] == [603.0, 607.0, 611.0] and kvm["runs_emulated"] == [901.0, 905.0, 909.0]
    assert kvm["unit"] == xen["unit"] == "IOPS"
    assert (kvm["workload"], kvm["profile"], kvm["repeats"], kvm["host"], xen["host"]) == \
        ("disk_randread_4k", "quick", 3, "kvm1", "xen1")
    assert (kvm["block_driver"], kvm["emulated_block_driver"], kvm["emulated_net_driver"]) == \
        ("virtio_blk", "sd_mod", "e1000e")
    assert (xen["pv_block_driver"], xen["hvm_block_driver"], xen["hvm_net_driver"]) == \
        ("xen_blkfront", "sd_mod", "e1000")
    assert xen["hvm_root_disk"] == "sda" and xen["hvm_guest_type_seen"] == "HVM"
    fairness = next(r for r in judge_claims(load_results(results)) if r.claim.id == "pv_fairness")
    assert fairness.verdict == HELD, fairness.why
    # Every run is the comparison's workload at the comparison's profile, in its own directory.
    runs = [line.split() for line in calls(tmp_path) if line.startswith("workload ")]
    assert len(runs) == 12 and all(r[2:5] == ["disk_randread_4k", "--profile", "quick"] for r in runs)


def test_each_host_makes_a_copy_with_emulated_devices_and_removes_it(claimed: tuple[Any, Path, Path]) -> None:
    _, _, tmp_path = claimed
    asked = sorted(line.split()[1:] for line in calls(tmp_path)
                   if line.startswith("throwaway ") and line.split()[4] == "1")
    assert asked == [["kvm1", "absent", "g1", "1", "0", "False", "False", "0"],
                     ["kvm1", "present", "g1", "1", "0", "True", "True", "0"],
                     ["xen1", "absent", "g1", "1", "0", "False", "False", "0"],
                     ["xen1", "present", "g1", "1", "0", "True", "True", "0"]]
    # The lab guests' scripts directories are removed; the copies' went with their disks (here
    # the same machine, so those two are left).
    assert len(list((tmp_path / "guest-var-tmp").iterdir())) == 2


def test_a_copy_that_does_not_come_up_leaves_its_stack_unmeasured_and_the_other_judged(tmp_path: Path) -> None:
    record = record_with_fault(tmp_path, "fail_copy_xen1", "pv_fairness")
    assert "did not come up: g1-o1 did not answer on SSH" in record["not_measured"]["xen"]
    assert "kvm" not in record["not_measured"]
    kvm, xen = record["evidence"]["kvm"], record["evidence"]["xen"]
    assert kvm["emulated"] is not None and xen["hvm_emulated"] is None and xen["pv"] is not None
    results = tmp_path / "results"
    fairness = next(r for r in judge_claims(load_results(results)) if r.claim.id == "pv_fairness")
    assert fairness.verdict == HELD and "Xen: not measured" in fairness.why, fairness.why
    asked = sorted(line.split()[1:3] for line in calls(tmp_path) if line.startswith("throwaway "))
    assert asked == [["kvm1", "absent"], ["kvm1", "present"], ["xen1", "absent"], ["xen1", "present"]]


def test_a_failed_workload_run_leaves_both_stacks_unmeasured_and_the_copies_removed(tmp_path: Path) -> None:
    record = record_with_fault(tmp_path, "fail_fio", "pv_fairness")
    why = "disk_randread_4k failed: hvm_emulated repeat 1: fio: ata1 timeout"
    assert record["evidence"] == {} and why in record["not_measured"]["xen"] and why in record["not_measured"]["kvm"]
    asked = sorted(line.split()[1:3] for line in calls(tmp_path) if line.startswith("throwaway "))
    assert asked == [["kvm1", "absent"], ["kvm1", "present"], ["xen1", "absent"], ["xen1", "present"]]


def test_a_comparison_of_an_unknown_profile_is_refused_for_pv_fairness(tmp_path: Path) -> None:
    results = tmp_path / "results"
    results.mkdir()
    (results / "lab.json").write_text(json.dumps({**LAB, "profile": "turbo"}))
    proc = run_claims(tmp_path, {"claims_results_dir": str(results), "claims_experiments": ["pv_fairness"]})
    assert proc.returncode != 0
    assert 'has profile "turbo" in its lab.json, not quick or full' in " ".join(proc.stdout.split())
    assert calls(tmp_path) == [] and not (results / "claims").exists()


def test_a_failed_case_is_recorded_and_still_cleaned_up(tmp_path: Path) -> None:
    results = comparison(tmp_path)
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "fail_xl_case").write_text("")
    proc = run_claims(tmp_path, {"claims_results_dir": str(results)})
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    record = json.loads((results / "claims" / "scheduler.json").read_text())
    assert "kvm" in record["evidence"] and "xen" not in record["evidence"]
    assert "Run sysbench cpu in the guest" in record["not_measured"]["xen"]
    log = calls(tmp_path)
    started, stopped = hogs_started_and_stopped(log)
    assert len(started) == 5 and started == stopped
    weights = [line for line in log if line.startswith("xl sched-credit2 -d g1 -w ")]
    assert weights[-1] == "xl sched-credit2 -d g1 -w 256"


@pytest.mark.parametrize(("variables", "message"), [
    ({"claims_experiments": ["scheduler", "mind_reading"]}, "claims_experiments must be one or more of: scheduler"),
    ({"claims_experiments": ["scheduler", "scheduler"]}, "claims_experiments must be a list without duplicates"),
    ({"claims_sched_seconds": 0}, "claims_sched_seconds 1-3600 (got 0)"),
    ({"claims_sched_hog_weight": 20000}, "claims_sched_hog_weight 1-10000 (got 20000)"),
    ({"claims_sched_xl_weight": 0}, "claims_sched_xl_weight 1-65535 (got 0)"),
    ({"claims_paging_reclaim_mib": 8}, "claims_paging_reclaim_mib 16-65536 (got 8)"),
    ({"claims_overcommit_guests": 9}, "claims_overcommit_guests 2-8 (got 9)"),
    ({"claims_overcommit_percent": 100}, "claims_overcommit_percent 101-400 (got 100)"),
    ({"claims_overcommit_seconds": 5}, "claims_overcommit_seconds 10-3600 (got 5)"),
    ({"claims_overcommit_margin_mib": 64}, "claims_overcommit_margin_mib >= 128 (got 64)"),
    ({"claims_overcommit_cpu_quota_percent": 101}, "claims_overcommit_cpu_quota_percent 0-100 (got 101)"),
    ({"claims_pv_fairness_repeats": 0}, "claims_pv_fairness_repeats 1-20 (got 0)"),
])
def test_bad_input_stops_before_any_command(tmp_path: Path, variables: dict[str, Any], message: str) -> None:
    results = comparison(tmp_path)
    proc = run_claims(tmp_path, {"claims_results_dir": str(results), **variables})
    assert proc.returncode != 0
    assert message in " ".join(proc.stdout.split())
    assert calls(tmp_path) == [] and not (results / "claims").exists()


def test_a_directory_without_a_comparison_is_refused(tmp_path: Path) -> None:
    results = tmp_path / "results"
    results.mkdir()
    (results / "lab.json").write_text('{"schema": "someone.else/1"}')
    proc = run_claims(tmp_path, {"claims_results_dir": str(results)})
    assert proc.returncode != 0
    assert "holds no comparison of hvlab's" in " ".join(proc.stdout.split())
    assert calls(tmp_path) == [] and not (results / "claims").exists()


def test_the_hosts_are_read_before_the_first_experiment_and_after_the_last(claimed: tuple[Any, Path, Path]) -> None:
    proc, _, tmp_path = claimed
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    log = calls(tmp_path)
    reads = [i for i, line in enumerate(log) if line == "virsh --connect qemu:///system list --all --name"]
    experiments = [i for i, line in enumerate(log) if line.split()[0] in ("systemd-run", "dd", "throwaway", "workload")]
    assert len(reads) == 2 and reads[0] < experiments[0] and reads[1] > experiments[-1]
    assert len([line for line in log if line.startswith("systemctl list-units ")]) == 4


# Each fault makes one clean-up leave something behind; the run must fail and name it, and the
# record must still be written.
@pytest.mark.parametrize(("fault", "claim", "named"), [
    ("keep_kvm1", "overcommit", '"kvm1": {"domains": ["g1-o1", "g1-o2", "g1-o3"]}'),
    ("keep_xen1", "pv_fairness", '"xen1": {"domains": ["g1-o1"]}'),
    ("hog_survives", "scheduler", '"xen1": {"units": ["hvlab-claims-hog-'),
    ("swapoff_fails", "paging", '{"swaps": ['),
    ("limit_left", "paging", '"kvm1": {"limits": {"memory.high": {"before": "max", "now": "256M"}}}'),
])
def test_what_a_clean_up_left_behind_fails_the_run_and_is_named(tmp_path: Path, fault: str, claim: str,
                                                                named: str) -> None:
    results = comparison(tmp_path)
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / fault).write_text("")
    proc = run_claims(tmp_path, {"claims_results_dir": str(results), "claims_experiments": [claim]})
    assert proc.returncode != 0
    assert "the claims experiments left this behind" in proc.stdout and named in proc.stdout, proc.stdout[-3000:]
    assert (results / "claims" / f"{claim}.json").is_file()
