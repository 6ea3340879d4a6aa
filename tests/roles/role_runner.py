"""Run a role for real with ansible-playbook against localhost, in check mode.

The roles' variable checks come before any host preflight and any change, so a
bad-input run fails the same way on any controller; check mode guarantees that
nothing on this machine changes even if a check were missing.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_role_check(
    role: str, tmp_path: Path, variables: dict[str, object], groups: tuple[str, ...] = (),
    commands: dict[str, str] | None = None, then: list[dict[str, object]] | None = None,
    check: bool = True, tasks_from: str = "main",
) -> subprocess.CompletedProcess[str]:
    """Apply `role` to localhost in check mode; `groups` puts localhost in inventory groups.

    `check=False` applies it for real: only for a test whose variables keep every path the
    role writes inside tmp_path.

    `then` are tasks run after the role, e.g. to write what it recorded into tmp_path (with
    `check_mode: false`) for the test to read.

    `tasks_from` names the role's entry point (its argument spec is checked as for `roles:`).

    `commands` are stand-ins (name: shell script body) put first on PATH, for the read-only
    queries of tools this machine lacks (virsh, xl): the role sees a host's answers, and
    nothing of the real host is touched.
    """
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    for name, body in (commands or {}).items():
        command = bin_dir / name
        command.write_text(f"#!/bin/sh\n{body}\n")
        command.chmod(0o755)
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(json.dumps({"all": {
        "hosts": {"localhost": {"ansible_connection": "local"}},
        "children": {group: {"hosts": {"localhost": {}}} for group in groups},
    }}))
    play = tmp_path / "play.yml"
    # No gather_facts in the play: ANSIBLE_GATHERING=smart with a fact cache below gathers
    # localhost's facts once per test worker instead of once per run (about 4 s each).
    apply = ({"roles": [{"role": role}]} if tasks_from == "main" else
             {"pre_tasks": [{"name": f"Apply {role}'s {tasks_from}", "ansible.builtin.include_role":
                             {"name": role, "tasks_from": tasks_from}}]})
    play.write_text(json.dumps([{"name": f"Apply {role}", "hosts": "all", **apply, "tasks": then or []}]))
    extra = tmp_path / "vars.json"
    extra.write_text(json.dumps({"ansible_python_interpreter": sys.executable, **variables}))
    env = dict(os.environ, PATH=f"{bin_dir}:{os.environ['PATH']}", ANSIBLE_ROLES_PATH=str(ROOT / "roles"),
               ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_GATHERING="smart", ANSIBLE_CACHE_PLUGIN="ansible.builtin.jsonfile",
               ANSIBLE_CACHE_PLUGIN_CONNECTION=str(tmp_path.parent / "ansible-fact-cache"))
    return subprocess.run(
        [str(Path(sys.executable).with_name("ansible-playbook")), *(["--check"] if check else []), "-i", str(inventory),
         "-e", f"@{extra}", str(play)],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300,
    )
