#!/usr/bin/python
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Manage a Xen domain with the xl toolstack, idempotently (see DOCUMENTATION)."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: xl_domain
short_description: Manage a Xen domain with the xl toolstack
description:
  - Creates, shuts down and removes one Xen domain with C(xl), idempotently.
  - xl keeps no record of the config a domain was created from, so this module keeps one
    itself - a copy of the config file named O(config) + C(.applied), written just before each
    C(xl create) and removed again if the create leaves no domain. Comparing the config file
    with that copy tells whether the running domain is up to date.
  - A domain is this module's only when the C(uuid) that C(xl list -l) shows for it is the C(uuid)
    in that record (O(config) must set C(uuid)). A record outlives its domain (a host reboot), and
    another domain may take the name meanwhile. Domains without a record, or with another uuid,
    are never shut down or replaced.
  - Never deletes disks or config files; O(state=absent) removes only the domain and the
    C(.applied) record.
  - For O(state=stopped) and O(state=absent), and before a recreate, the C(xl create) processes
    left behind to watch a domain of ours (found by O(config) in their command line) are sent
    SIGTERM first, so that its C(on_reboot) cannot create the domain again behind the removal.
  - Every command runs as an argument list, never through a shell.
version_added: "0.1.0"
author:
  - hvlab
options:
  name:
    description:
      - Name of the domain; must equal C(name) in O(config).
      - A DNS label (lower-case letters, digits and C(-), 1-63 characters), as in hvlab's guest spec,
        that is not all digits nor shaped like a UUID (xl reads those as a domain id).
      - The module looks the name up in C(xl list -l) and acts on the domid found there, never on the name.
    type: str
    required: true
  config:
    description:
      - Path of the xl config file on the Xen host.
      - It must set C(name) to O(name) and C(uuid) to a UUID of its own.
      - Required for O(state=running). For O(state=stopped) and O(state=absent) it is
        needed only when the domain exists, to prove through its C(.applied) record that
        this module created it.
    type: path
  state:
    description:
      - V(running) creates the domain if it does not exist.
      - V(stopped) shuts the domain down (xl has no defined-but-stopped domains, so the
        domain is gone afterwards); the C(.applied) record stays.
      - V(absent) is V(stopped) plus removal of the C(.applied) record.
    type: str
    choices: [running, stopped, absent]
    default: running
  recreate:
    description:
      - What to do when the domain runs but O(config) differs from the config it was created
        with.
      - V(false) leaves the domain alone, reports C(changed=false), C(config_outdated=true)
        and a warning (a guest is never rebooted behind the user's back).
      - V(true) shuts the domain down (as for O(state=stopped)) and creates it again from
        O(config).
    type: bool
    default: false
  shutdown_timeout:
    description:
      - Seconds to wait for a clean C(xl shutdown) before C(xl destroy).
    type: int
    default: 120
  paused:
    description:
      - V(true) leaves a domain that this task creates paused (C(xl create -p)); the caller
        runs C(xl unpause) later. Its devices are set up (qdisk backends, hotplug scripts)
        while no guest vCPU competes with Dom0 for the CPU, and several guests created so
        can be started at the same moment.
      - A domain that already exists is left as it is, paused or not.
    type: bool
    default: false
notes:
  - Supports check mode (only C(xl list -l) runs) and diff mode (config changes, state changes).
  - Reads C(xl list -l), which must print JSON (the default; C(output_format="json") in xl.conf).
requirements:
  - The xl toolstack on the target (a Xen Dom0).
"""

EXAMPLES = r"""
- name: Start a guest from its xl config
  hvlab.lab.xl_domain:
    name: web1
    config: /etc/xen/hvlab/web1.cfg

- name: Apply a changed config by recreating the guest
  hvlab.lab.xl_domain:
    name: web1
    config: /etc/xen/hvlab/web1.cfg
    recreate: true

- name: Create a guest paused (its vCPUs start with `xl unpause web1`)
  hvlab.lab.xl_domain:
    name: web1
    config: /etc/xen/hvlab/web1.cfg
    paused: true

- name: Remove the guest (its disk and config file stay)
  hvlab.lab.xl_domain:
    name: web1
    config: /etc/xen/hvlab/web1.cfg
    state: absent
"""

RETURN = r"""
domid:
  description: Domain id after the task, or null when the domain does not exist.
  returned: always
  type: int
  sample: 3
config_outdated:
  description: The domain runs with an older config than O(config) (only with O(recreate=false)).
  returned: always
  type: bool
  sample: false
commands:
  description: The xl commands run (in check mode, the ones that would run), besides C(xl list -l).
  returned: always
  type: list
  elements: list
  sample: [["/usr/sbin/xl", "create", "/etc/xen/hvlab/web1.cfg"]]
"""

import contextlib  # noqa: E402
import os  # noqa: E402
import re  # noqa: E402
import signal  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from typing import Any  # noqa: E402

from ansible.module_utils.basic import AnsibleModule  # noqa: E402
from ansible_collections.hvlab.lab.plugins.module_utils.domains import (  # noqa: E402
    Domain,
    XlError,
    name_problem,
    parse_xl_list,
)

APPLIED_SUFFIX = ".applied"
PROC = "/proc"
_CONFIG_NAME_RE = re.compile(r"""^\s*name\s*=\s*["']([^"'\n]*)["']\s*(?:#.*)?$""", re.MULTILINE)
_CONFIG_UUID_RE = re.compile(r"""^\s*uuid\s*=\s*["']([^"'\n]*)["']\s*(?:#.*)?$""", re.MULTILINE)
_UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def config_name(text: str) -> str | None:
    """The `name = "..."` of an xl config, or None when it has none."""
    match = _CONFIG_NAME_RE.search(text)
    return match.group(1) if match else None


def config_uuid(text: str) -> str | None:
    """The `uuid = "..."` of an xl config in lower case, or None when it has no valid one.

    A domain is this module's only when its uuid is the one in the .applied record: a record
    outlives its domain (a host reboot), and another domain may take the name meanwhile.
    """
    match = _CONFIG_UUID_RE.search(text)
    uuid = match.group(1).lower() if match else None
    return uuid if uuid and _UUID_RE.fullmatch(uuid) else None


@dataclass(frozen=True)
class Plan:
    """What the module does: steps in order ("stop", "create", "record", "forget")."""

    steps: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    config_outdated: bool = False
    diff: dict[str, str] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return bool(self.steps)


def _state_diff(before: str, after: str) -> dict[str, str]:
    return {"before": f"state: {before}\n", "after": f"state: {after}\n"}


def decide(
    *,
    name: str,
    state: str,
    present: bool,
    config_path: str | None,
    config_text: str | None,
    applied_text: str | None,
    recreate: bool,
    running_uuid: str | None = None,
) -> Plan:
    """The pure decision: what to do, given what exists. Raises XlError on refusals.

    config_text is None when the config file does not exist; applied_text is None when
    there is no .applied record (the domain was not created by this module); running_uuid
    is the uuid `xl list -l` shows for the domain of that name.
    """
    record = f"{config_path}{APPLIED_SUFFIX}" if config_path else None
    recorded_uuid = config_uuid(applied_text) if applied_text is not None else None
    # Ours only if the running domain's uuid is the recorded one (no uuid recorded: not provably ours).
    foreign = (f"its uuid {running_uuid} is not the uuid {recorded_uuid} recorded in {record}" if recorded_uuid
               else f"{record} records no uuid, so nothing proves the running domain is the one created")
    ours = recorded_uuid is not None and recorded_uuid == running_uuid
    if state == "running":
        if config_text is None:
            raise XlError(f"config file {config_path} does not exist")
        found = config_name(config_text)
        if found != name:
            raise XlError(
                f"{config_path} must set name = \"{name}\" (it sets {found!r}); xl would create another domain"
            )
        if config_uuid(config_text) is None:
            raise XlError(
                f"{config_path} must set uuid = \"<uuid>\": xl_domain proves a domain is its own by that uuid"
            )
        if not present:
            diff = {
                "before": applied_text or "",
                "after": config_text,
                "before_header": f"{record} (domain not running)",
                "after_header": str(config_path),
            }
            return Plan(steps=("create", "record"), diff=diff)
        if applied_text is None:
            raise XlError(
                f"domain {name} is running but was not created by xl_domain (no {record}); "
                "rename the guest or remove that domain yourself"
            )
        if not ours:
            raise XlError(
                f"domain {name} is running but is not the one xl_domain created ({foreign}); "
                "rename the guest or remove that domain yourself"
            )
        if applied_text == config_text:
            return Plan()
        diff = {"before": applied_text, "after": config_text, "before_header": str(record),
                "after_header": str(config_path)}
        if recreate:
            return Plan(steps=("stop", "create", "record"), diff=diff)
        return Plan(
            warnings=(
                f"domain {name} runs with an older config than {config_path}; "
                "set recreate: true to shut it down and create it again",
            ),
            config_outdated=True,
            diff=diff,
        )

    # stopped / absent
    steps: list[str] = []
    if present:
        if config_path is None:
            raise XlError(
                f"domain {name} exists: give config so its {APPLIED_SUFFIX} record can prove xl_domain created it"
            )
        if applied_text is None:
            raise XlError(f"refusing to shut down domain {name}: xl_domain did not create it (no {record})")
        if not ours:
            raise XlError(f"refusing to shut down domain {name}: xl_domain did not create it ({foreign})")
        steps.append("stop")
    if state == "absent" and applied_text is not None:
        steps.append("forget")
    diff = _state_diff("running" if present else "stopped", state) if steps else {}
    return Plan(steps=tuple(steps), diff=diff)


def monitor_pids(config: str) -> list[int]:
    """Pids of the `xl create` processes still watching a domain created from config.

    `xl create` leaves a child behind that carries out the domain's on_reboot/on_crash
    actions. A guest in a reboot loop is between two domains now and then; a destroy that
    meets it there finds nothing, and the child then creates the domain once more, after
    its directory and record are gone, so nothing proves it is ours any longer.
    """
    wanted = {config, os.path.realpath(config)}
    pids: list[int] = []
    for entry in os.listdir(PROC):
        if not entry.isdigit():
            continue
        try:
            with open(os.path.join(PROC, entry, "cmdline"), "rb") as handle:
                argv = handle.read().decode(errors="replace").split("\0")
        except OSError:
            continue
        if os.path.basename(argv[0]) == "xl" and "create" in argv[1:] and wanted & set(argv[1:]):
            pids.append(int(entry))
    return sorted(pids)


def _gone(pid: int) -> bool:
    """The process has exited (a zombie counts: it acts on nothing any more)."""
    try:
        with open(os.path.join(PROC, str(pid), "stat"), encoding="utf-8") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def _read(path: str | None) -> str | None:
    if path is None:
        return None
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise XlError(f"cannot read {path}: {exc}") from exc


def _write_record(path: str, text: str) -> None:
    """Write the .applied copy atomically, so a crash never leaves half a record."""
    directory = os.path.dirname(path) or "."
    fd, tmp = tempfile.mkstemp(prefix=".xl_domain.", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except OSError as exc:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise XlError(f"cannot write {path}: {exc}") from exc


def _restore_record(path: str, text: str | None) -> None:
    """Put back the record as it was before a create that made no domain."""
    if text is None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
    else:
        _write_record(path, text)


class Xl:
    """The xl commands, run through module.run_command with argument lists."""

    def __init__(self, module: Any) -> None:
        self.module = module
        self.xl = module.get_bin_path("xl", required=True)
        self.commands: list[list[str]] = []

    def _run(self, argv: list[str], record: bool = True) -> tuple[int, str, str]:
        if record:
            self.commands.append(argv)
        rc, out, err = self.module.run_command(argv)
        return rc, out, err

    def domains(self) -> dict[str, Domain]:
        rc, out, err = self._run([self.xl, "list", "-l"], record=False)
        if rc != 0:
            raise XlError(f"xl list -l failed (rc={rc}): {err.strip() or out.strip()}")
        return parse_xl_list(out)

    def create(self, config: str, paused: bool) -> None:
        rc, out, err = self._run(create_command(self.xl, config, paused))
        if rc != 0:
            raise XlError(f"xl create {config} failed (rc={rc}): {err.strip() or out.strip()}")

    def stop_monitors(self, config: str) -> bool:
        """End the `xl create` children watching config's domain (see monitor_pids); True if any ran."""
        pids = monitor_pids(config)
        for pid in pids:
            self.commands.append(["kill", "-TERM", str(pid)])
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while not all(_gone(pid) for pid in pids):
            if time.monotonic() > deadline:
                raise XlError(f"xl create processes {pids} for {config} did not exit after SIGTERM")
            time.sleep(0.2)
        return bool(pids)

    def _exists(self, name: str, domid: int) -> bool:
        found = self.domains().get(name)
        return found is not None and found.domid == domid

    def stop(self, name: str, domid: int, timeout: int, config: str | None) -> None:
        """Clean shutdown (ACPI fallback for HVM without PV drivers), then destroy if needed.

        xl is given the domid that `xl list -l` showed for name, never the name: xl reads an
        all-digit argument as a domid, so a name is not a safe way to address a domain.
        """
        if config is not None:
            # Otherwise the domain's on_reboot could bring it back behind the destroy.
            self.stop_monitors(config)
        # coreutils timeout bounds `xl shutdown -w`, which would otherwise wait forever.
        self._run(["timeout", str(timeout), self.xl, "shutdown", "-F", "-w", str(domid)])
        if self._exists(name, domid):
            rc, out, err = self._run([self.xl, "destroy", str(domid)])
            if rc != 0 and self._exists(name, domid):
                raise XlError(f"xl destroy {domid} ({name}) failed (rc={rc}): {err.strip() or out.strip()}")
        if self._exists(name, domid):
            raise XlError(f"domain {name} (domid {domid}) still exists after xl shutdown and xl destroy")


def create_command(xl: str, config: str, paused: bool) -> list[str]:
    """`xl create`, with -p when the domain is to stay paused."""
    return [xl, "create", "-p", config] if paused else [xl, "create", config]


def plan_commands(xl: str, plan: Plan, domid: int | None, config: str | None, timeout: int,
                  paused: bool) -> list[list[str]]:
    """The commands a plan runs (shown in check mode)."""
    commands: list[list[str]] = []
    for step in plan.steps:
        if step == "stop":
            commands.append(["timeout", str(timeout), xl, "shutdown", "-F", "-w", str(domid)])
        elif step == "create" and config is not None:
            commands.append(create_command(xl, config, paused))
    return commands


def ensure(module: Any) -> dict[str, Any]:
    """Bring the domain to the requested state; returns exit_json's keyword arguments."""
    params = module.params
    name: str = params["name"]
    state: str = params["state"]
    config: str | None = params.get("config")
    timeout: int = params["shutdown_timeout"]
    paused: bool = params["paused"]
    problem = name_problem(name)
    if problem:
        raise XlError(problem)
    if state == "running" and not config:
        raise XlError("config is required for state running")
    if timeout < 1:
        raise XlError(f"shutdown_timeout must be >= 1, got {timeout}")
    record = f"{config}{APPLIED_SUFFIX}" if config else None

    xl = Xl(module)
    domains = xl.domains()
    config_text = _read(config)
    applied_text = _read(record)
    monitors_stopped = False
    if state != "running" and config is not None and applied_text is not None:
        # A domain of ours between two reboots is not listed, yet its xl create child
        # would bring it back: end that child first, then look again.
        if module.check_mode:
            if monitor_pids(config):
                module.warn(f"xl create processes for {config} are running; they would be stopped")
        elif xl.stop_monitors(config):
            monitors_stopped = True
            domains = xl.domains()
    if state == "running" and config_text is None and module.check_mode:
        # In check mode the template task before us did not write the file: assume it will be there.
        if name in domains:
            module.warn(f"{config} does not exist yet; cannot compare it with the running domain")
            return {"changed": False, "domid": domains[name].domid, "config_outdated": False, "commands": []}
        module.warn(f"{config} does not exist yet; assuming an earlier task creates it")
        return {"changed": True, "domid": None, "config_outdated": False,
                "commands": [create_command(xl.xl, config, paused)]}

    plan = decide(
        name=name,
        state=state,
        present=name in domains,
        running_uuid=domains[name].uuid if name in domains else None,
        config_path=config,
        config_text=config_text,
        applied_text=applied_text,
        recreate=params["recreate"],
    )
    for warning in plan.warnings:
        module.warn(warning)
    result: dict[str, Any] = {"changed": plan.changed or monitors_stopped, "config_outdated": plan.config_outdated}
    if module._diff and plan.diff:
        result["diff"] = plan.diff

    if module.check_mode:
        current = domains[name].domid if name in domains else None
        result["commands"] = plan_commands(xl.xl, plan, current, config, timeout, paused)
        result["domid"] = None if "stop" in plan.steps and "create" not in plan.steps else current
        return result

    for step in plan.steps:
        if step == "stop":
            xl.stop(name, domains[name].domid, timeout, config)
        elif step == "create":
            assert config is not None and config_text is not None and record is not None
            # The record goes first: if xl (or this module) dies after the domain exists,
            # the record still proves the domain is ours, so it can be removed later.
            _write_record(record, config_text)
            try:
                xl.create(config, paused)
            except XlError:
                if name not in xl.domains():
                    _restore_record(record, applied_text)
                raise
        elif step == "record":
            assert record is not None and config_text is not None
            _write_record(record, config_text)
        elif step == "forget":
            assert record is not None
            with contextlib.suppress(FileNotFoundError):
                os.unlink(record)
    after = xl.domains() if plan.steps else domains
    if state == "running" and name not in after:
        raise XlError(f"xl create {config} succeeded but domain {name} is not listed by xl list -l")
    if "create" in plan.steps and config_text is not None and after[name].uuid != config_uuid(config_text):
        raise XlError(f"xl create {config} made domain {name} with uuid {after[name].uuid}, "
                      f"not the config's {config_uuid(config_text)}")
    result["domid"] = after[name].domid if name in after else None
    result["commands"] = xl.commands
    return result


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "name": {"type": "str", "required": True},
            "config": {"type": "path"},
            "state": {"type": "str", "choices": ["running", "stopped", "absent"], "default": "running"},
            "recreate": {"type": "bool", "default": False},
            "shutdown_timeout": {"type": "int", "default": 120},
            "paused": {"type": "bool", "default": False},
        },
        required_if=[("state", "running", ("config",))],
        supports_check_mode=True,
    )
    try:
        result = ensure(module)
    except XlError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
