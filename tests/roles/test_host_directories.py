"""Every directory task of the host roles sets a mode or owner only on a directory hvlab creates.

A directory that already exists (an admin's, the system's) is used as it is: the task that
creates a directory with its mode and owner runs only when a stat found nothing there. The
exceptions are directories that are provably hvlab's: a guest's own directory (refused when it
exists without hvlab's mark, tasks/ownership.yml) and what lies inside it.

Reads the roles' task files; the role tests (test_*_bad_input.py) run the real roles.
"""

import pytest
import yaml
from role_runner import ROOT

HOST_ROLES = ("guest_image", "kvm_host", "guests", "xen_host")
# (role, task name): directories hvlab proves are its own before it sets their mode.
HVLAB_OWN = {
    ("guests", "Keep the guests' directories root's, mode 0755"),
    ("guests", "Create the seed directories"),
}


def tasks(items: list[dict[str, object]]) -> list[dict[str, object]]:
    found = []
    for task in items or []:
        found.append(task)
        for key in ("block", "rescue", "always"):
            found.extend(tasks(task.get(key) or []))  # type: ignore[arg-type]
    return found


def directory_tasks() -> list[tuple[str, dict[str, object]]]:
    found = []
    for role in HOST_ROLES:
        for path in sorted((ROOT / "roles" / role / "tasks").glob("*.yml")):
            for task in tasks(yaml.safe_load(path.read_text()) or []):
                args = task.get("ansible.builtin.file") or task.get("file")
                if isinstance(args, dict) and args.get("state") == "directory":
                    found.append((role, task))
    return found


DIRECTORY_TASKS = directory_tasks()


@pytest.mark.parametrize(("role", "task"), DIRECTORY_TASKS, ids=[f"{r}: {t['name']}" for r, t in DIRECTORY_TASKS])
def test_mode_and_owner_are_set_only_on_a_directory_hvlab_creates(role: str, task: dict[str, object]) -> None:
    args = task.get("ansible.builtin.file") or task.get("file")
    assert isinstance(args, dict)
    if not {"mode", "owner", "group"} & args.keys() or (role, task["name"]) in HVLAB_OWN:
        return
    when = task.get("when") or []
    conditions = " and ".join(when if isinstance(when, list) else [str(when)])
    assert "not " in conditions and ".stat.exists" in conditions, (
        f"{role}: '{task['name']}' sets the mode/owner of {args['path']} whether or not it exists; "
        "stat it first and create it only when it is not there")


def test_the_directory_tasks_were_found() -> None:
    names = {(role, task["name"]) for role, task in DIRECTORY_TASKS}
    assert ("kvm_host", "Create the pool directory") in names
    assert ("guest_image", "Create the image directory on the host") in names
    assert names >= HVLAB_OWN
