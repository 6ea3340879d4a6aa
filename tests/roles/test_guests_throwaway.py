"""The guests role's throwaway entry point (the claims role's throwaway guests) refuses bad
input before anything runs, and never makes a guest whose name a foreign domain has.

Runs the real role with ansible-playbook against localhost in check mode, through
`include_role: tasks_from: throwaway`, with stand-ins for virsh and xl's read-only answers.
Making and starting the guests for real needs libvirt and Xen: the lab runs that.
"""

import json
import subprocess
from pathlib import Path

import pytest
from role_runner import run_role_check
from test_guests_bad_input import (
    CONTEXT,
    FIRST_CHANGING_TASK,
    GOOD,
    HOST_LAB_NETWORKS,
    LAB_NETWORKS,
    VIRSH_NO_DOMAIN,
    WITH_NICS,
    xl,
)

FIRST_TEARDOWN_TASK = "TASK [guests : Find hvlab's guest directories]"


def run_throwaway(tmp_path: Path, variables: dict[str, object], *, stack: str = "kvm",
                  commands: dict[str, str] | None = None) -> tuple[subprocess.CompletedProcess[str], Path]:
    """Run the entry point; the second value is the file it writes guests_throwaway to."""
    out = tmp_path / "throwaway.json"
    keep = [{"name": "Keep what the entry point said", "check_mode": False,
             "ansible.builtin.copy": {"content": "{{ guests_throwaway | to_json }}", "dest": str(out), "mode": "0600"}}]
    variables = {**CONTEXT, "hvlab_guests": [GOOD], "guests_dir": str(tmp_path / "guests"),
                 "guests_throwaway_like": "g1", "guests_throwaway_count": 3, **variables}
    return run_role_check("guests", tmp_path, variables,
                          groups=(f"{stack}_hosts",), commands=commands or {"virsh": VIRSH_NO_DOMAIN, "xl": xl()},
                          tasks_from="throwaway", then=keep), out


@pytest.mark.parametrize(("variables", "message"), [
    ({"guests_throwaway_count": 9}, "guests_throwaway_count 0 to 8 (got 9)"),
    ({"guests_throwaway_like": "nope"}, 'guests_throwaway_like one of hvlab_guests (got "nope")'),
    ({"guests_throwaway_memory_mib": 64}, "guests_throwaway_memory_mib 0 (the spec's) or >= 128 (got 64)"),
    ({"guests_throwaway_cpu_quota_percent": 101}, "guests_throwaway_cpu_quota_percent 0 (none) to 100 (got 101)"),
    ({"hvlab_guests": [GOOD, GOOD | {"name": "g1-o2"}]}, "g1-o1, g1-o2, g1-o3 none of hvlab_guests"),
    ({"guests_throwaway_state": "running"}, "guests_throwaway_state"),
])
def test_bad_input_is_refused_before_anything_runs(tmp_path: Path, variables: dict[str, object], message: str) -> None:
    result, _ = run_throwaway(tmp_path, variables)
    out = " ".join(result.stdout.split())
    assert result.returncode != 0
    assert message in out, result.stdout[-3000:]
    assert FIRST_TEARDOWN_TASK not in result.stdout


def test_a_foreign_domain_with_a_throwaway_name_stops_it_before_any_disk(tmp_path: Path) -> None:
    result, kept = run_throwaway(tmp_path, {}, stack="xen", commands={"xl": xl("g1-o2")})
    assert result.returncode == 0, result.stdout[-3000:]
    said = json.loads(kept.read_text())
    assert said["names"] == ["g1-o1", "g1-o2", "g1-o3"] and said["started"] == []
    assert "a Xen domain named g1-o2 already runs" in said["errors"]["*"]
    assert FIRST_CHANGING_TASK not in result.stdout
    assert not (tmp_path / "guests").exists()


@pytest.mark.parametrize(("entry_point", "variables", "copies"), [
    ("throwaway", {"guests_throwaway_like": "g1", "guests_throwaway_count": 2}, ["g1-o1", "g1-o2"]),
    ("boot_repeats", {"guests_boot_like": "g1", "guests_boot_repeats": 1}, ["g1-b"]),
])
def test_a_copy_of_a_guest_with_nics_is_made_without_them(
        tmp_path: Path, entry_point: str, variables: dict[str, object], copies: list[str]) -> None:
    """The original's nics hold its static addresses and MACs, which the running original uses: a copy
    gets one NIC on the host's guest network, addressed after the lab's guests, with a MAC of its own."""
    out = tmp_path / "plan.json"
    keep = [{"name": "Keep the copies' plan", "check_mode": False,
             "ansible.builtin.copy": {"content": "{{ __guests_plan | to_json }}", "dest": str(out), "mode": "0600"}}]
    variables = {**CONTEXT, "hvlab_guests": [WITH_NICS, {**GOOD, "name": "g2"}], "hvlab_networks": LAB_NETWORKS,
                 "ansible_local": {"hvlab_xen": {"lab_networks": HOST_LAB_NETWORKS}},
                 "guests_dir": str(tmp_path / "guests"), **variables}
    result = run_role_check("guests", tmp_path, variables, groups=("xen_hosts",), commands={"xl": xl()},
                            tasks_from=entry_point, then=keep)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    plan = json.loads(out.read_text())
    assert [guest["name"] for guest in plan] == copies
    assert all("nics" not in guest for guest in plan), plan
    # After the lab's two guests (offset 100): the original's 10.80.0.10 and 02:... MAC are its own.
    assert [guest["address"] for guest in plan] == [f"10.77.0.{102 + i}" for i in range(len(copies))]
    assert all(guest["gateway"] == "10.77.0.1" and guest["mac"].startswith("00:16:3e:") for guest in plan)
