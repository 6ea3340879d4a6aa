"""A lab's KVM and Xen hosts as Ansible sees them: stack, SSH details, variables.

Commands that reach a lab host outside a playbook (`hvlab console`, `hvlab console-log`) read
the same inventory the playbooks do, through `ansible-inventory --list`, so group_vars,
host_vars, INI or YAML inventories and nested groups resolve exactly as in a playbook run.
ansible-inventory does not evaluate Jinja, so a connection variable written as a template is
refused by name rather than passed on as text.

The SSH command is built the way Ansible's ssh connection builds it from the same variables
(port, user, private key, `ansible_ssh_common_args` and `ansible_ssh_extra_args`, which carry
the lab's known_hosts options), as an argv list: no shell runs on the controller. Address,
user and port are allow-listed, since they reach ssh's command line; the ssh options are the
inventory author's own, passed to ssh as Ansible passes them.
"""

import json
import re
import shlex
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ansible.module_utils.parsing.convert_bool import boolean

from hvlab import paths
from hvlab.errors import HvlabError
from hvlab.vlab import inventory

# Group -> stack, in the order the guests role decides a host's stack (kvm_hosts first).
STACK_GROUPS: dict[str, str] = {"kvm_hosts": "kvm", "xen_hosts": "xen"}
STACK_TITLES: dict[str, str] = {"kvm": "KVM", "xen": "Xen"}

# A host name, IPv4 or IPv6 address (with a zone): never an ssh option, never two words.
_ADDRESS_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9.:%_-]*\Z")
_USER_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*\Z")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
_TEMPLATE_MARKS = ("{{", "{%")


@dataclass(frozen=True)
class LabHost:
    """One host of kvm_hosts or xen_hosts and what it takes to reach it by SSH."""

    name: str
    stack: str
    address: str
    port: int | None = None
    user: str | None = None
    private_key: str | None = None
    ssh_args: tuple[str, ...] = ()
    become: bool = False
    hostvars: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def describe(self) -> str:
        return f"{self.name} ({STACK_TITLES[self.stack]})"

    def ssh_command(self, remote: list[str], *, tty: bool = False) -> list[str]:
        """ssh to this host running `remote`, each word quoted for the host's shell.

        With become (and a user other than root), the words run under sudo (Ansible's default
        become method), since the hypervisors' tools and logs are root's. Without a terminal
        (tty false) sudo cannot ask for a password, so -n makes it fail at once, not wait.
        """
        sudo = self.become and self.user != "root"
        words = ["sudo", *([] if tty else ["-n"]), "--", *remote] if sudo else remote
        return [
            "ssh", *(["-t"] if tty else []),
            *(["-o", f"Port={self.port}"] if self.port is not None else []),
            *(["-o", f"User={self.user}"] if self.user is not None else []),
            *(["-i", self.private_key] if self.private_key is not None else []),
            *self.ssh_args,
            "--", self.address, " ".join(shlex.quote(word) for word in words),
        ]


def vlab_inventory() -> Path:
    """The virtual lab's inventory directory, as `hvlab up` uses it; refused before `vlab up` wrote it."""
    hosts_file = inventory.inventory_path()
    if not hosts_file.exists():
        raise HvlabError(f"the virtual lab has no inventory yet ({hosts_file}); run: hvlab vlab up")
    return hosts_file.parent


def load(inventory_path: Path) -> list[LabHost]:
    """The KVM and Xen hosts of an inventory, in its order, read through ansible-inventory."""
    command = [str(Path(sys.executable).with_name("ansible-inventory")), "-i", str(inventory_path), "--list"]
    done = subprocess.run(command, cwd=paths.project_root(), capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, check=False)
    said = " ".join(done.stderr.split())  # one line, as every hvlab error
    if done.returncode != 0:
        raise HvlabError(f"ansible-inventory could not read {inventory_path}: {said}")
    try:
        listing = json.loads(done.stdout)
    except ValueError:
        raise HvlabError(f"ansible-inventory gave no JSON for {inventory_path}") from None
    if not any(_group_hosts(listing, group, set()) for group in STACK_GROUPS) and said:
        # A file ansible-inventory could not parse is only a warning to it: say its words.
        raise HvlabError(f"{inventory_path}: no host in {' or '.join(STACK_GROUPS)}; ansible-inventory: {said}")
    return hosts_from_listing(listing, str(inventory_path))


def hosts_from_listing(listing: Mapping[str, Any], where: str) -> list[LabHost]:
    """LabHosts from `ansible-inventory --list` output; `where` names the inventory in messages."""
    hostvars: Mapping[str, Mapping[str, Any]] = listing.get("_meta", {}).get("hostvars", {})
    stacks: dict[str, str] = {}
    for group, stack in STACK_GROUPS.items():
        for name in _group_hosts(listing, group, set()):
            stacks.setdefault(name, stack)
    if not stacks:
        raise HvlabError(f"{where}: no host in {' or '.join(STACK_GROUPS)}")
    return [_lab_host(name, stack, hostvars.get(name, {}), where) for name, stack in stacks.items()]


def _group_hosts(listing: Mapping[str, Any], group: str, seen: set[str]) -> list[str]:
    """Hosts of a group and of its child groups, in listing order, each once."""
    if group in seen:
        return []
    seen.add(group)
    entry = listing.get(group, {})
    names = list(entry.get("hosts", []))
    for child in entry.get("children", []):
        names += _group_hosts(listing, child, seen)
    return list(dict.fromkeys(names))


def literal(hostvars: Mapping[str, Any], host: str, variable: str, where: str) -> Any:
    """A host variable as the inventory gives it; a Jinja template is refused, naming it."""
    value = hostvars.get(variable)
    if isinstance(value, str) and any(mark in value for mark in _TEMPLATE_MARKS):
        raise HvlabError(f"{where}: {variable} of {host} is a Jinja template ({value!r}), which only a "
                         f"playbook evaluates; give it literally (e.g. in host_vars/{host}.yml)")
    return value


def flag(hostvars: Mapping[str, Any], host: str, variable: str, where: str, default: object) -> bool:
    """A boolean host variable (else `default`, e.g. the role's), read as Ansible's `bool` reads it."""
    value = literal(hostvars, host, variable, where)
    if value is None:
        value = default
    try:
        return boolean(value, strict=True)
    except TypeError:
        raise HvlabError(f"{where}: {variable} of {host} must be a boolean, got {value!r}") from None


def _lab_host(name: str, stack: str, hostvars: Mapping[str, Any], where: str) -> LabHost:
    def text(variable: str) -> str | None:
        value = literal(hostvars, name, variable, where)
        if value is None:
            return None
        if not isinstance(value, str | int) or isinstance(value, bool) or _CONTROL_RE.search(str(value)):
            raise HvlabError(f"{where}: {variable} of {name} must be one line of text, got {value!r}")
        return str(value)

    address = text("ansible_host") or name
    if not _ADDRESS_RE.match(address):
        raise HvlabError(f"{where}: the address of {name} must be a host name or IP address, got {address!r}")
    user = text("ansible_user")
    if user is not None and not _USER_RE.match(user):
        raise HvlabError(f"{where}: ansible_user of {name} must be a user name, got {user!r}")
    port_text = text("ansible_port")
    port = int(port_text) if port_text is not None and port_text.isdigit() else None
    if port_text is not None and (port is None or not 0 < port < 65536):
        raise HvlabError(f"{where}: ansible_port of {name} must be a port number, got {port_text!r}")
    connection = text("ansible_connection") or "ssh"
    if connection not in ("ssh", "smart"):
        raise HvlabError(f"{where}: {name} is reached by ansible_connection={connection}; "
                         "hvlab reaches lab hosts by ssh only")
    become = flag(hostvars, name, "ansible_become", where, default=False)
    method = text("ansible_become_method") or "sudo"
    if become and method != "sudo":
        raise HvlabError(f"{where}: {name} becomes root by {method}; hvlab uses sudo only")
    key = text("ansible_ssh_private_key_file") or text("ansible_private_key_file")
    args = [*shlex.split(text("ansible_ssh_common_args") or ""), *shlex.split(text("ansible_ssh_extra_args") or "")]
    return LabHost(name, stack, address, port, user, str(Path(key).expanduser()) if key else None, tuple(args),
                   become, hostvars)

