#!/usr/bin/python
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Wait for a guest's SSH port, failing at once when its domain is gone (see DOCUMENTATION)."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: guest_ssh_wait
short_description: Wait until a guest's SSH port answers, or fail as soon as its domain is gone
description:
  - Connects to O(address):O(port) from the host until an SSH server there sends its banner
    (C(SSH-...)), or O(timeout) seconds have passed. An accepted connection alone is not
    enough - a frozen guest's address was once reported open (something between the host and the
    guest network accepted it); a connection that fails or closes is tried again.
  - Between attempts it also looks at the guest's domain, and fails at once when the domain
    can no longer answer, instead of waiting out O(timeout). A guest whose kernel panicked
    is destroyed by its C(on_crash) action; an emulated boot may take most of an hour, and
    a wait that only watched the port would sit out all of it.
  - "KVM: the domain is looked up by name through libvirt's read-only connection
    (C(lookupByName), never by id or UUID); it is gone when it does not exist or is shut
    off or crashed."
  - "Xen: the domain is found by name in C(xl list -l); it is gone when no domain has the
    name, or when the one that has it carries another uuid than O(uuid) (another domain
    took the name)."
  - "With O(console_log), it also reads what the guest's console wrote in its current boot,
    and fails at once on a line that says the guest will never answer: systemd's
    C(Freezing execution) (PID 1 gave up, the domain still runs and would sit out O(timeout);
    seen on KVM guests under nested emulation) or C(Kernel panic - not syncing) (a guest
    without a panic action that stops it)."
  - "KVM, with O(resets): such a guest is reset instead (libvirt's C(virDomainReset), on the
    domain the wait found under O(name) when it began, by its UUID) and waited for again, at
    most O(resets) times within the same O(timeout). Under nested emulation a kernel that boots
    on hardware now and then dies early in its boot; a second boot of the same guest is the
    same experiment. The reset is reported (RV(resets)), and RV(elapsed) then includes the failed boot."
  - Changes nothing on the host, except the resets O(resets) allows.
version_added: "0.1.0"
author:
  - hvlab
options:
  name:
    description:
      - Name of the guest's domain, a DNS label that is not all digits nor shaped like a UUID.
    type: str
    required: true
  stack:
    description:
      - The hypervisor stack the domain runs on.
    type: str
    required: true
    choices: [kvm, xen]
  address:
    description:
      - The guest's address, as the host reaches it.
    type: str
    required: true
  port:
    description:
      - The TCP port to wait for.
    type: int
    default: 22
  timeout:
    description:
      - Seconds to wait for the port in all.
    type: int
    required: true
  uuid:
    description:
      - "Xen: the uuid the domain must carry (hvlab's xl configs set one); empty: any uuid."
    type: str
    default: ""
  libvirt_uri:
    description:
      - "KVM: the libvirt connection URI."
    type: str
    default: qemu:///system
  resets:
    description:
      - "KVM: how many times a guest whose console says it will never answer is reset and
        waited for again (0: it fails at once). Ignored on Xen, whose C(on_crash) destroys
        a crashed domain."
    type: int
    default: 0
  console_log:
    description:
      - "The guest's console log on the host (KVM: libvirt's serial log; Xen: xenconsoled's
        C(guest-NAME.log)); empty: the console is not watched. Only the current boot's lines
        count - those after the last C(Linux version) banner, or without one, those written
        after the wait began - so an earlier boot's lines in the same file do not."
    type: path
    default: ""
notes:
  - Supports check mode (it only reads; a guest it would reset fails instead).
requirements:
  - "KVM: the libvirt Python bindings on the host. Xen: the xl toolstack."
"""

EXAMPLES = r"""
- name: Wait for a guest's SSH, from its host
  hvlab.lab.guest_ssh_wait:
    name: web1
    stack: xen
    address: 10.71.0.10
    uuid: 5f1e6a7b-1c2d-4e3f-8a9b-0c1d2e3f4a5b
    timeout: 900
"""

RETURN = r"""
elapsed:
  description: Seconds from the start of the wait until the SSH server sent its banner.
  returned: success
  type: float
  sample: 41.2
domain_state:
  description: Why the domain cannot answer, when the wait failed because of it.
  returned: failure
  type: str
  sample: "shut off (crashed)"
console_line:
  description: The console line that showed the guest will never answer, when the wait failed because of it.
  returned: failure
  type: str
  sample: "[  356.120034] systemd[1]: Freezing execution."
resets:
  description: The console lines after which the guest was reset (O(resets)), oldest first.
  returned: always
  type: list
  elements: str
  sample: ["[   30.597619] Kernel panic - not syncing: Fatal exception in interrupt"]
"""

import os  # noqa: E402
import socket  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from typing import Any  # noqa: E402

from ansible.module_utils.basic import AnsibleModule  # noqa: E402
from ansible_collections.hvlab.lab.plugins.module_utils.domains import (  # noqa: E402
    XlError,
    name_problem,
    parse_xl_list,
)

# Seconds between connection attempts, and between looks at the domain: `xl list -l`
# and libvirt cost an emulated Dom0 or host some CPU while its guests boot.
PORT_EVERY = 3.0
DOMAIN_EVERY = 15.0
CONNECT_TIMEOUT = 5.0

# virDomainState values, and the reasons of VIR_DOMAIN_SHUTOFF (libvirt-domain.h).
_VIR_SHUTOFF = 5
_VIR_CRASHED = 6
_VIR_SHUTOFF_REASONS = {0: "unknown", 1: "shutdown", 2: "destroyed", 3: "crashed", 4: "migrated",
                        5: "saved", 6: "failed", 7: "from snapshot", 8: "daemon"}
_VIR_ERR_NO_DOMAIN = 42


class DomainGone(Exception):
    """The domain cannot answer any more; the message says why."""


# Console lines after which a guest never answers, whatever the wait does.
FATAL_CONSOLE = ("Freezing execution", "Kernel panic - not syncing")
# How much of a console log is read at most per look (its end: the newest lines).
CONSOLE_READ_MAX = 1 << 20
# The kernel's first console line of every boot.
BOOT_BANNER = b"Linux version "


class GuestStuck(Exception):
    """The guest's console said it will never answer; the message is that line."""


class LookupFailed(Exception):
    """The domain could not be looked at (libvirt or xl failed); the message says why."""


def ssh_answers(address: str, port: int, timeout: float) -> bool:
    """True when a server at address:port sends an SSH banner within timeout seconds.

    Any error (refused, unreachable, reset, a read that times out) is False: tried again later.
    """
    try:
        with socket.create_connection((address, port), timeout=timeout) as conn:
            return conn.recv(64).startswith(b"SSH-")
    except OSError:
        return False


def libvirt_problem(state: int, reason: int) -> str | None:
    """Why a libvirt domain in (state, reason) cannot answer, or None while it may still boot."""
    if state == _VIR_SHUTOFF:
        return f"shut off ({_VIR_SHUTOFF_REASONS.get(reason, reason)})"
    if state == _VIR_CRASHED:
        return "crashed"
    return None


def xl_problem(xl_list_output: str, name: str, uuid: str) -> str | None:
    """Why the Xen domain called name cannot answer, from `xl list -l`, or None while it runs."""
    found = parse_xl_list(xl_list_output).get(name)
    if found is None:
        return "gone: no domain has this name in `xl list -l` (destroyed, crashed or shut down)"
    if uuid and found.uuid != uuid.lower():
        return f"replaced: the domain with this name has uuid {found.uuid}, not {uuid.lower()}"
    return None


class ConsoleWatch:
    """Looks in a console log for a line that means the guest's current boot is stuck.

    The current boot's lines are those after the last kernel banner (`Linux version`), so a
    freeze before the wait began is seen, and an earlier boot's in the same file (xenconsoled
    appends; a reset guest writes on) is not. A log without a banner (a quiet kernel, or one
    whose banner scrolled out of the part read) counts from where it ended when the wait began.
    """

    def __init__(self, path: str, after_now: bool = False) -> None:
        """after_now: only what is written from now on counts (a guest that was just reset)."""
        self.path = path
        self.offset = self._size()
        self.after_now = after_now

    def _size(self) -> int:
        try:
            return os.stat(self.path).st_size
        except OSError:
            return 0

    def _tail(self) -> tuple[int, bytes]:
        """The end of the log (at most CONSOLE_READ_MAX bytes) and where it starts in the file."""
        size = self._size()
        start = max(0, size - CONSOLE_READ_MAX)
        try:
            with open(self.path, "rb") as log:
                log.seek(start)
                return start, log.read(size - start)
        except OSError:
            return start, b""

    def fatal_line(self) -> str | None:
        start, data = self._tail()
        if start + len(data) < self.offset:  # the log was rotated or truncated: all of it is new
            self.offset = 0
        if self.after_now:
            data = data[max(0, self.offset - start):]
            start = max(start, self.offset)
        banner = data.rfind(BOOT_BANNER)
        current = data[data.rfind(b"\n", 0, banner) + 1:] if banner >= 0 else data[max(0, self.offset - start):]
        for raw in current.split(b"\n"):
            line = raw.decode("utf-8", "replace").strip()
            if any(marker in line for marker in FATAL_CONSOLE):
                return line[:300]
        return None


def console_problem(look: Callable[[], str | None], console: ConsoleWatch | None) -> Callable[[], str | None]:
    """The domain's look, then the console's: a stuck guest raises GuestStuck."""
    def both() -> str | None:
        problem = look()
        if problem is None and console is not None:
            line = console.fatal_line()
            if line:
                raise GuestStuck(line)
        return problem
    return both


def wait(port_answers: Callable[[], bool], domain_problem: Callable[[], str | None], timeout: float,
         clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> float:
    """Poll the port until it answers; returns the seconds it took.

    Raises DomainGone as soon as domain_problem names one, TimeoutError after timeout.
    The domain is looked at first, so a guest that died before the wait fails at once.
    """
    start = clock()
    next_domain_look = start
    while True:
        now = clock()
        if now >= next_domain_look:
            problem = domain_problem()
            if problem:
                raise DomainGone(problem)
            next_domain_look = now + DOMAIN_EVERY
        if port_answers():
            return clock() - start
        remaining = start + timeout - clock()
        if remaining <= 0:
            raise TimeoutError
        sleep(min(PORT_EVERY, remaining))


class KvmGuest:
    """A libvirt domain, looked up by name through a read-only connection opened once.

    The first look remembers the domain's UUID: a later look that finds another domain under
    the name reports it replaced, and reset() acts only on the remembered domain.
    """

    def __init__(self, module: Any, name: str, uri: str) -> None:
        try:
            import libvirt  # only KVM hosts have it
        except ImportError:
            module.fail_json(msg="the libvirt Python bindings are missing on this host (python3-libvirt)")
        # Errors come back as exceptions; libvirt's default handler would also print each to stderr.
        libvirt.registerErrorHandler(lambda _ctx, _err: None, None)
        self.libvirt = libvirt
        self.name = name
        self.uri = uri
        self.uuid: str | None = None
        try:
            self.conn = libvirt.openReadOnly(uri)
        except libvirt.libvirtError as exc:
            raise LookupFailed(f"cannot connect to libvirt at {uri}: {exc}") from exc

    def look(self) -> str | None:
        try:
            domain = self.conn.lookupByName(self.name)
        except self.libvirt.libvirtError as exc:
            if exc.get_error_code() == _VIR_ERR_NO_DOMAIN:
                return "gone: libvirt has no domain with this name"
            raise LookupFailed(f"libvirt could not look up domain {self.name}: {exc}") from exc
        if domain.name() != self.name:
            return f"replaced: libvirt answered with domain {domain.name()!r}"
        uuid = domain.UUIDString()
        if self.uuid is None:
            self.uuid = uuid
        elif uuid != self.uuid:
            return f"replaced: the domain with this name has UUID {uuid}, not {self.uuid}"
        state, reason = domain.state()
        return libvirt_problem(state, reason)

    def reset(self) -> None:
        """Reset the domain the first look found, after checking it still has the name."""
        if self.uuid is None:
            raise LookupFailed(f"domain {self.name} was never found; nothing to reset")
        try:
            conn = self.libvirt.open(self.uri)
            try:
                domain = conn.lookupByUUIDString(self.uuid)
                if domain.name() != self.name:
                    raise LookupFailed(f"domain {self.uuid} is now called {domain.name()!r}, not {self.name}")
                domain.reset(0)
            finally:
                conn.close()
        except self.libvirt.libvirtError as exc:
            raise LookupFailed(f"libvirt could not reset domain {self.name}: {exc}") from exc


def xen_looker(module: Any, name: str, uuid: str) -> Callable[[], str | None]:
    """domain_problem for a Xen domain, from `xl list -l` (an argument list, no shell)."""
    xl = module.get_bin_path("xl", required=True)

    def look() -> str | None:
        rc, out, err = module.run_command([xl, "list", "-l"])
        if rc != 0:
            raise LookupFailed(f"xl list -l failed (rc={rc}): {err.strip() or out.strip()}")
        return xl_problem(out, name, uuid)

    return look


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "name": {"type": "str", "required": True},
            "stack": {"type": "str", "required": True, "choices": ["kvm", "xen"]},
            "address": {"type": "str", "required": True},
            "port": {"type": "int", "default": 22},
            "timeout": {"type": "int", "required": True},
            "uuid": {"type": "str", "default": ""},
            "libvirt_uri": {"type": "str", "default": "qemu:///system"},
            "console_log": {"type": "path", "default": ""},
            "resets": {"type": "int", "default": 0},
        },
        supports_check_mode=True,
    )
    params = module.params
    name: str = params["name"]
    problem = name_problem(name)
    if problem:
        module.fail_json(msg=problem)
    if params["timeout"] < 1:
        module.fail_json(msg=f"timeout must be >= 1, got {params['timeout']}")
    if params["resets"] < 0:
        module.fail_json(msg=f"resets must be >= 0, got {params['resets']}")
    target = f"{params['address']}:{params['port']}"
    resets: list[str] = []
    try:
        kvm = KvmGuest(module, name, params["libvirt_uri"]) if params["stack"] == "kvm" else None
        look = kvm.look if kvm else xen_looker(module, name, params["uuid"])
        console = ConsoleWatch(params["console_log"]) if params["console_log"] else None
        started = time.monotonic()
        while True:
            remaining = max(params["timeout"] - (time.monotonic() - started), 0.001)
            try:
                wait(lambda: ssh_answers(params["address"], params["port"], CONNECT_TIMEOUT),
                     console_problem(look, console), remaining)
                break
            except GuestStuck as exc:
                if kvm is None or module.check_mode or len(resets) >= params["resets"]:
                    raise
                kvm.reset()
                resets.append(str(exc))
                console = ConsoleWatch(params["console_log"], after_now=True)
        elapsed = time.monotonic() - started
    except DomainGone as exc:
        module.fail_json(msg=f"guest {name}'s domain is {exc}; SSH on {target} will not answer",
                         domain_state=str(exc))
    except GuestStuck as exc:
        after = f" (after {len(resets)} reset(s), the first for: {resets[0]})" if resets else ""
        module.fail_json(msg=f"guest {name} will not answer on SSH ({target}): its console says {exc}{after}",
                         console_line=str(exc), resets=resets)
    except TimeoutError:
        module.fail_json(msg=f"guest {name} did not answer on SSH ({target}) within {params['timeout']} s")
    except (LookupFailed, XlError) as exc:
        module.fail_json(msg=f"guest {name}: {exc}")
    module.exit_json(changed=bool(resets), elapsed=round(elapsed, 1), resets=resets)


if __name__ == "__main__":
    main()
