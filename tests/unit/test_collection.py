"""The repository builds as the Ansible collection in galaxy.yml, and the installed copy works.

Other projects use hvlab's roles, modules and filters from the built tarball, not from this
checkout, so the test goes the same way, offline: `ansible-galaxy collection build`, then
`install --offline` into a scratch collections path, then ansible-playbook with only that
path, an empty roles path and a config file of its own (ansible.cfg here points Ansible back
at this checkout, which would hide a file the tarball lacks).
"""

import os
import re
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
GALAXY = yaml.safe_load((ROOT / "galaxy.yml").read_text())
COLLECTION = f"{GALAXY['namespace']}.{GALAXY['name']}"
# What a collection may hold at its top level (Ansible's collection layout, trimmed to what
# hvlab has): anything else in the tarball is project files that build_ignore let through.
COLLECTION_LAYOUT = frozenset(
    {"roles", "plugins", "playbooks", "meta", "docs", "README.md", "CHANGELOG.md", "MANIFEST.json", "FILES.json"}
)
PROJECT_ONLY = ("tests", ".venv", "molecule", "src", "collections", ".git")


@dataclass(frozen=True)
class Installed:
    tarball: Path
    collections: Path  # the scratch collections path the tarball was installed into
    work: Path  # for playbooks, config and an empty roles path


def run(argv: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run one of the venv's Ansible commands; its output is in the assertion message when it fails."""
    return subprocess.run([str(BIN / argv[0]), *argv[1:]], capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=300, check=False)


def shipped_files(top: str) -> set[str]:
    """Every file under `top` in this checkout, as the tarball names it (caches left out)."""
    return {
        path.relative_to(ROOT).as_posix()
        for path in (ROOT / top).rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    }


def collection_env(installed: Installed) -> dict[str, str]:
    """Ansible sees the installed collection and nothing of this checkout."""
    config = installed.work / "ansible.cfg"
    config.write_text("[defaults]\n")
    roles = installed.work / "no-roles"
    roles.mkdir(exist_ok=True)
    return dict(os.environ, ANSIBLE_CONFIG=str(config), ANSIBLE_COLLECTIONS_PATH=str(installed.collections),
                ANSIBLE_ROLES_PATH=str(roles), ANSIBLE_NOCOLOR="1", ANSIBLE_STDOUT_CALLBACK="ansible.builtin.default",
                ANSIBLE_LOCAL_TEMP=str(installed.work / "ansible-tmp"))


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """One build and install for the whole file: each takes seconds, and the tests only read them."""
    build = tmp_path_factory.mktemp("build")
    result = run(["ansible-galaxy", "collection", "build", "--output-path", str(build), str(ROOT)], cwd=build)
    assert result.returncode == 0, result.stdout + result.stderr
    (tarball,) = build.glob("*.tar.gz")
    collections = tmp_path_factory.mktemp("collections")
    result = run(["ansible-galaxy", "collection", "install", "--offline", "-p", str(collections), str(tarball)],
                 cwd=build, env=dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(collections)))
    assert result.returncode == 0, result.stdout + result.stderr
    return Installed(tarball, collections, tmp_path_factory.mktemp("work"))


def test_tarball_holds_every_role_and_plugin_and_no_project_files(installed: Installed) -> None:
    with tarfile.open(installed.tarball) as tar:
        members = {member.name for member in tar.getmembers() if member.isfile()}
    assert members >= shipped_files("roles") | shipped_files("plugins")
    assert {name.split("/")[0] for name in members} <= COLLECTION_LAYOUT
    assert not [name for name in members if name.split("/")[0] in PROJECT_ONLY]


def test_playbooks_naming_only_fqcns_pass_syntax_check(installed: Installed) -> None:
    """Every role and module by FQCN, and the collection's own playbooks by theirs (their short
    role names resolve in the collection): ansible-playbook finds each in the installed copy."""
    roles = sorted(path.name for path in (ROOT / "roles").iterdir() if (path / "tasks").is_dir())
    modules = sorted(path.stem for path in (ROOT / "plugins" / "modules").glob("*.py"))
    play = [{
        "name": "Everything of the collection by FQCN",
        "hosts": "localhost",
        "gather_facts": False,
        "tasks": [{"name": f"Run {module}", f"{COLLECTION}.{module}": {}, "when": False} for module in modules],
        "roles": [f"{COLLECTION}.{role}" for role in roles],
    }]
    playbook = installed.work / "syntax.yml"
    playbook.write_text(yaml.safe_dump(play, sort_keys=False))
    shipped = sorted(f"{COLLECTION}.{path.stem}" for path in (ROOT / "playbooks").glob("*.yml"))
    result = run(["ansible-playbook", "--syntax-check", "-i", "localhost,", str(playbook), *shipped],
                 cwd=installed.work, env=collection_env(installed))
    assert result.returncode == 0, result.stdout + result.stderr


def test_installed_role_module_and_filter_run_in_check_mode(installed: Installed) -> None:
    """The guests role of the installed collection, with a guest name its spec check refuses.

    The firmware_facts module and a filter run first by FQCN; then the role's first tasks run
    and its validation, which calls hvlab.lab.hvlab_guests_validated, stops the run before any
    task that touches the host (as in tests/roles/test_guests_bad_input.py).
    """
    play = [{
        "name": "Installed collection against localhost",
        "hosts": "kvm_hosts",
        "gather_facts": False,
        "pre_tasks": [
            {"name": "Read the firmware mode", f"{COLLECTION}.firmware_facts": {}, "register": "firmware"},
            {"name": "Show a filter's result",
             "ansible.builtin.debug": {"msg": f"bridge {{{{ 'br-lab' | {COLLECTION}.hvlab_safe_name }}}}"}},
        ],
        "roles": [{"role": f"{COLLECTION}.guests",
                   "vars": {"hvlab_guests": [{"name": "we<b", "vcpus": 1, "memory_mib": 256, "disk_gib": 4}]}}],
    }]
    playbook = installed.work / "check.yml"
    playbook.write_text(yaml.safe_dump(play, sort_keys=False))
    inventory = installed.work / "inventory.yml"
    inventory.write_text(yaml.safe_dump({"all": {"children": {"kvm_hosts": {"hosts": {"localhost": {
        "ansible_connection": "local", "ansible_python_interpreter": sys.executable}}}}}}))
    result = run(["ansible-playbook", "--check", "-vv", "-i", str(inventory), str(playbook)], cwd=installed.work,
                 env=collection_env(installed))
    out = result.stdout + result.stderr
    assert result.returncode == 2, out
    assert re.search(r"ok: \[localhost\] => .*\"firmware\": \"(bios|uefi|uefi-secureboot)\"", out), out
    assert '"msg": "bridge br-lab"' in out, out
    assert f"TASK [{COLLECTION}.guests : Validate hvlab_guests" in out, out
    assert "name must be a DNS label" in out, out
    assert re.search(r"localhost\s*:.*changed=0", result.stdout), out
    role_tasks = installed.collections / "ansible_collections" / GALAXY["namespace"] / GALAXY["name"] / "roles"
    task_paths = re.findall(r"^task path: (\S+):\d+$", result.stdout, flags=re.MULTILINE)
    assert any(Path(path).is_relative_to(role_tasks / "guests") for path in task_paths), out
    assert not [path for path in task_paths if Path(path).is_relative_to(ROOT)], out
