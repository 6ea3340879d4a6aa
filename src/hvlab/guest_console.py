"""A guest's serial console, reached through its host over SSH: attach to it, or read its log.

Consoles stay local to the hosts: hvlab opens no port for them, it runs `virsh console` or
`xl console` on the host through the same SSH that Ansible uses (labhosts). Each guest of
`hvlab_guests` runs on every KVM host and every Xen host, so attaching needs one host: the
only one that runs the guest, else the one named by --host (a guess between KVM and Xen
would be wrong half the time). Logs are plain files, so without --host every host's log is
printed, each under a header, as `tail` does for several files.

Addressing: virsh and xl read a domain argument as an id or a UUID before they read it as a
name. The guest name is checked with the spec model's rule (spec.valid_name: a DNS label that
is neither all digits nor shaped like a UUID) before anything runs, and the guest must be in
the host's validated `hvlab_guests`, so `virsh console --domain NAME` and `xl console NAME`
reach the domain of that name; the guests role refuses to deploy a guest whose name a domain
it did not create already has. virsh runs without --force: that would take the console away
from whoever has it open.

The logs are those the roles keep: libvirt's serial log `console.log` in the guest's
directory (roles/guests) and xenconsoled's `guest-NAME.log` (roles/xen_host, when
`xen_host_console_log` is on). Their paths are built from the inventory and the roles' own
files on the controller, never from what a host reports.
"""

import subprocess
from collections.abc import Callable
from typing import Any

import yaml

from hvlab import paths
from hvlab.errors import HvlabError
from hvlab.hostdirs import host_dir_problem
from hvlab.labhosts import LabHost, flag, literal
from hvlab.netspec import parse_networks
from hvlab.spec import parse_guests, valid_name

VIRSH_URI = "qemu:///system"


def role_setting(role: str, kind: str, variable: str) -> Any:
    """A role's own value (kind: defaults or vars) read from its file: one place for it."""
    path = paths.project_root() / "roles" / role / kind / "main.yml"
    try:
        data = yaml.safe_load(path.read_text())
        return data[variable]
    except (OSError, yaml.YAMLError, KeyError, TypeError):
        raise HvlabError(f"{path}: cannot read {variable}") from None


def check_guest_name(guest: str) -> str:
    """The spec's name rule, before anything runs: virsh and xl read an all-digit or UUID-shaped
    name as another domain's id or UUID; what fails the rule names no hvlab guest."""
    if not valid_name(guest):
        raise HvlabError(f"guest name {guest!r} is not a valid hvlab guest name (a DNS label: lower-case "
                         "letters, digits and '-'; not all digits nor shaped like a UUID)")
    return guest


def _guest_names(host: LabHost, where: str) -> list[str]:
    raw = literal(host.hostvars, host.name, "hvlab_guests", where)
    networks = literal(host.hostvars, host.name, "hvlab_networks", where)
    try:
        return [spec.name for spec in parse_guests(raw, parse_networks(networks))]
    except HvlabError as exc:
        raise HvlabError(f"{where}: {host.name}: {exc}") from None


def hosts_running(guest: str, hosts: list[LabHost], where: str) -> list[LabHost]:
    """The hosts whose hvlab_guests hold the guest, in inventory order."""
    check_guest_name(guest)
    names = {host.name: _guest_names(host, where) for host in hosts}
    running = [host for host in hosts if guest in names[host.name]]
    if not running:
        known = sorted({name for listed in names.values() for name in listed})
        raise HvlabError(f"{where}: no lab host has a guest {guest!r} in hvlab_guests "
                         f"(guests: {', '.join(known) or 'none'})")
    return running


def _choices(running: list[LabHost]) -> str:
    return ", ".join(host.describe() for host in running)


def pick(guest: str, running: list[LabHost], wanted: str | None) -> list[LabHost]:
    """The host named by --host, or every host that runs the guest."""
    if wanted is None:
        return running
    chosen = [host for host in running if host.name == wanted]
    if not chosen:
        raise HvlabError(f"--host {wanted!r} does not run {guest}; it runs on: {_choices(running)}")
    return chosen


def one_host(guest: str, running: list[LabHost], wanted: str | None) -> LabHost:
    """The one host to attach on: --host, or the only host that runs the guest."""
    chosen = pick(guest, running, wanted)
    if len(chosen) > 1:
        raise HvlabError(f"{guest} runs on {len(chosen)} hosts: {_choices(chosen)}; "
                         f"choose one with --host, e.g. --host {chosen[0].name}")
    return chosen[0]


def attach_command(guest: str, host: LabHost) -> list[str]:
    """ssh -t to the host, attached to the guest's console (leave it with Ctrl-])."""
    check_guest_name(guest)
    words = (["virsh", "-c", VIRSH_URI, "console", "--domain", guest] if host.stack == "kvm"
             else ["xl", "console", guest])
    return host.ssh_command(words, tty=True)


def log_path(guest: str, host: LabHost, where: str) -> str | None:
    """Where the host keeps the guest's console log; None when its Xen keeps none."""
    check_guest_name(guest)
    if host.stack == "kvm":
        guests_dir = literal(host.hostvars, host.name, "guests_dir", where)
        if guests_dir is None:
            guests_dir = role_setting("guests", "defaults", "guests_dir")
        problem = host_dir_problem(guests_dir)
        if problem:
            raise HvlabError(f"{where}: guests_dir of {host.name}: {problem}")
        return f"{guests_dir}/{guest}/console.log"
    default = role_setting("xen_host", "defaults", "xen_host_console_log")
    if not flag(host.hostvars, host.name, "xen_host_console_log", where, default):
        return None
    return f"{role_setting('xen_host', 'vars', '__xen_host_console_log_dir')}/guest-{guest}.log"


def tail_logs(guest: str, hosts: list[LabHost], lines: int, where: str, say: Callable[[str], None]) -> list[str]:
    """Print the last `lines` lines of the guest's console log on each host; return what failed.

    A header names the host and file when there is more than one host, as `tail` does.
    """
    problems: list[str] = []
    for host in hosts:
        path = log_path(guest, host, where)
        if path is None:
            problems.append(f"{host.describe()} keeps no console log for {guest} (xen_host_console_log is off)")
            continue
        if len(hosts) > 1:
            say(f"==> {host.describe()}: {path} <==\n")
        done = subprocess.run(host.ssh_command(["tail", "-n", str(lines), "--", path]), capture_output=True,
                              text=True, errors="replace", stdin=subprocess.DEVNULL, check=False)
        say(done.stdout)
        if done.returncode != 0:
            reason = done.stderr.strip().splitlines()[-1:] or [f"exit {done.returncode}"]
            problems.append(f"{host.describe()}: {reason[0]}")
    return problems
