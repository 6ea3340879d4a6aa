"""plugins/modules/guest_ssh_wait.py: the wait ends at once when the guest's domain is gone.

The wait's loop runs on a fake clock; the module as a whole runs as Ansible runs it (a
Python process given its arguments in a file), with a scripted `xl` on PATH and a real
listening socket on 127.0.0.1 standing in for the guest's SSH.
"""

import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest
from plugin_loader import ROOT, load_plugin

OURS = "5f1e6a7b-1c2d-4e3f-8a9b-0c1d2e3f4a5b"
FOREIGN = "8c4f0d2e-0000-4000-8000-000000000001"

wait_module = load_plugin("plugins/modules/guest_ssh_wait.py", "guest_ssh_wait_under_test")


def xl_list(domains: dict[str, str]) -> str:
    """`xl list -l` JSON with Domain-0 and one domain per name -> uuid."""
    entries: list[dict[str, Any]] = [{"domid": 0, "config": {"c_info": {"name": "Domain-0"}}}]
    for domid, (name, uuid) in enumerate(domains.items(), start=1):
        entries.append({"domid": domid, "config": {"c_info": {"name": name, "uuid": uuid}}})
    return json.dumps(entries)


class FakeClock:
    """time.monotonic and time.sleep for the wait: sleeping moves the clock."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def run_wait(port_after: float | None, domain_dies_after: float | None, timeout: float) -> float:
    """wait() on the fake clock: the port answers and the domain dies at the given times."""
    clock = FakeClock()
    start = clock.now

    def port_answers() -> bool:
        return port_after is not None and clock.now - start >= port_after

    def domain_problem() -> str | None:
        if domain_dies_after is not None and clock.now - start >= domain_dies_after:
            return "gone: test"
        return None

    return wait_module.wait(port_answers, domain_problem, timeout, clock=clock, sleep=clock.sleep)


def test_the_wait_ends_when_the_port_answers() -> None:
    assert run_wait(port_after=40, domain_dies_after=None, timeout=600) == pytest.approx(42, abs=3)


def test_a_domain_gone_before_the_wait_ends_it_at_once() -> None:
    with pytest.raises(wait_module.DomainGone, match="gone: test"):
        run_wait(port_after=None, domain_dies_after=0, timeout=2700)


@pytest.mark.parametrize("dies_after", [0.0, 10.0, 100.0, 1234.5])
def test_the_domain_is_looked_at_often_enough(dies_after: float) -> None:
    clock = FakeClock()
    start = clock.now

    def domain_problem() -> str | None:
        return "gone" if clock.now - start >= dies_after else None

    with pytest.raises(wait_module.DomainGone):
        wait_module.wait(lambda: False, domain_problem, 2700, clock=clock, sleep=clock.sleep)
    assert clock.now - start <= dies_after + wait_module.DOMAIN_EVERY + wait_module.PORT_EVERY


def test_a_guest_that_never_answers_times_out() -> None:
    with pytest.raises(TimeoutError):
        run_wait(port_after=None, domain_dies_after=None, timeout=60)


def test_the_port_answering_wins_over_a_later_death() -> None:
    assert run_wait(port_after=5, domain_dies_after=50, timeout=600) < 50


@pytest.mark.parametrize(
    ("state", "reason", "expected"),
    [(1, 1, None), (2, 0, None), (3, 1, None), (5, 3, "shut off (crashed)"), (5, 2, "shut off (destroyed)"),
     (6, 0, "crashed")],
)
def test_libvirt_states(state: int, reason: int, expected: str | None) -> None:
    assert wait_module.libvirt_problem(state, reason) == expected


def test_xl_problem_finds_the_domain_by_name_and_uuid() -> None:
    assert wait_module.xl_problem(xl_list({"g1": OURS}), "g1", OURS) is None
    assert wait_module.xl_problem(xl_list({"g1": OURS.upper()}), "g1", OURS) is None
    assert wait_module.xl_problem(xl_list({"g1": OURS}), "g1", "") is None
    assert "gone" in str(wait_module.xl_problem(xl_list({"g2": OURS}), "g1", OURS))
    assert "gone" in str(wait_module.xl_problem("", "g1", OURS))
    assert f"uuid {FOREIGN}" in str(wait_module.xl_problem(xl_list({"g1": FOREIGN}), "g1", OURS))


class FakeLibvirtError(Exception):
    def __init__(self, code: int) -> None:
        super().__init__(f"error {code}")
        self.code = code

    def get_error_code(self) -> int:
        return self.code


def fake_libvirt(domains: dict[str, tuple[int, int]], opened: list[str],
                 uuids: dict[str, str] | None = None) -> ModuleType:
    """A libvirt binding whose read-only connection knows the given name -> (state, reason)."""

    def lookup(name: str) -> SimpleNamespace:
        if name not in domains:
            raise FakeLibvirtError(42)
        return SimpleNamespace(name=lambda: name, state=lambda: list(domains[name]),
                               UUIDString=lambda: (uuids or {}).get(name, OURS))

    def open_read_only(uri: str) -> SimpleNamespace:
        opened.append(uri)
        return SimpleNamespace(lookupByName=lookup)

    module = ModuleType("libvirt")
    module.registerErrorHandler = lambda handler, ctx: None  # type: ignore[attr-defined]
    module.libvirtError = FakeLibvirtError  # type: ignore[attr-defined]
    module.openReadOnly = open_read_only  # type: ignore[attr-defined]
    return module


def test_kvm_looker_uses_a_read_only_connection_and_the_name(monkeypatch: pytest.MonkeyPatch) -> None:
    opened: list[str] = []
    domains = {"g1": (1, 1)}
    monkeypatch.setitem(sys.modules, "libvirt", fake_libvirt(domains, opened))
    look = wait_module.KvmGuest(SimpleNamespace(), "g1", "qemu:///system").look
    assert opened == ["qemu:///system"]
    assert look() is None
    domains["g1"] = (5, 3)
    assert look() == "shut off (crashed)"
    del domains["g1"]
    assert look() == "gone: libvirt has no domain with this name"


def test_kvm_another_domain_under_the_name_is_a_replacement(monkeypatch: pytest.MonkeyPatch) -> None:
    uuids = {"g1": OURS}
    monkeypatch.setitem(sys.modules, "libvirt", fake_libvirt({"g1": (1, 1)}, [], uuids))
    guest = wait_module.KvmGuest(SimpleNamespace(), "g1", "qemu:///system")
    assert guest.look() is None
    uuids["g1"] = FOREIGN
    assert guest.look() == f"replaced: the domain with this name has UUID {FOREIGN}, not {OURS}"


def serve(banner: bytes) -> Iterator[int]:
    """A server on 127.0.0.1 that sends banner to every connection (b"": accepts and says nothing)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    stop = threading.Event()

    def answer() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                if banner:
                    conn.sendall(banner)
                stop.wait(3)

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    server.close()


@pytest.fixture
def listening_port() -> Iterator[int]:
    yield from serve(b"SSH-2.0-OpenSSH_10.0p2 Debian-7\r\n")


@pytest.fixture
def silent_port() -> Iterator[int]:
    yield from serve(b"")


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_only_an_ssh_banner_counts(listening_port: int, silent_port: int, closed_port: int) -> None:
    assert wait_module.ssh_answers("127.0.0.1", listening_port, 2)
    # Accepted but silent (what answered for a frozen guest once), and refused: not yet.
    assert not wait_module.ssh_answers("127.0.0.1", silent_port, 1)
    assert not wait_module.ssh_answers("127.0.0.1", closed_port, 2)


def run_module(tmp_path: Path, domains: dict[str, str], **args: Any) -> dict[str, Any]:
    """Run the module as Ansible does, with an `xl` on PATH that lists domains."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    listing = tmp_path / "xl-list.json"
    listing.write_text(xl_list(domains))
    xl = bin_dir / "xl"
    xl.write_text(f'#!/bin/sh\n[ "$1 $2" = "list -l" ] || exit 9\ncat {listing}\n')
    xl.chmod(0o755)
    args_file = tmp_path / "args.json"
    args_file.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": {"stack": "xen", "address": "127.0.0.1", **args}}))
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}",
           "PYTHONPATH": os.pathsep.join([str(tmp_path / "pylib"), str(ROOT / "collections"), *sys.path])}
    done = subprocess.run([sys.executable, str(ROOT / "plugins/modules/guest_ssh_wait.py"), str(args_file)],
                          capture_output=True, text=True, env=env, timeout=120, check=False)
    return json.loads(done.stdout)


def test_module_returns_when_the_guest_answers(tmp_path: Path, listening_port: int) -> None:
    result = run_module(tmp_path, {"g1": OURS}, name="g1", uuid=OURS, port=listening_port, timeout=60)
    assert not result.get("failed"), result
    assert result["changed"] is False
    assert result["elapsed"] < 60


def test_module_fails_at_once_when_the_domain_is_gone(tmp_path: Path, closed_port: int) -> None:
    # With a 1000 s timeout, only the domain check can end this within run_module's 120 s.
    result = run_module(tmp_path, {"other": OURS}, name="g1", uuid=OURS, port=closed_port, timeout=1000)
    assert result["failed"] is True
    assert "guest g1's domain is gone" in result["msg"]
    assert result["domain_state"].startswith("gone")


def test_module_fails_when_another_domain_took_the_name(tmp_path: Path, closed_port: int) -> None:
    result = run_module(tmp_path, {"g1": FOREIGN}, name="g1", uuid=OURS, port=closed_port, timeout=1000)
    assert result["failed"] is True
    assert f"has uuid {FOREIGN}, not {OURS}" in result["msg"]


@pytest.mark.parametrize("name", ["1", "0f8fad5b-d9cb-469f-a165-70867728950e", "Web_1"])
def test_module_refuses_a_name_a_tool_may_read_as_an_id(tmp_path: Path, closed_port: int, name: str) -> None:
    result = run_module(tmp_path, {name: OURS}, name=name, port=closed_port, timeout=1)
    assert result["failed"] is True
    assert repr(name) in result["msg"]


FROZEN = "[  356.120034] systemd[1]: Freezing execution.\n"


BANNER = "[    0.000000] Linux version 6.12.57+deb13-amd64 (debian-kernel@lists.debian.org)\n"


def test_the_console_watch_reads_the_current_boot_only(tmp_path: Path) -> None:
    log = tmp_path / "console.log"
    log.write_text(BANNER + FROZEN + BANNER + "[    1.0] systemd[1]: Reached target\n")  # reset after a freeze
    console = wait_module.ConsoleWatch(str(log))
    assert console.fatal_line() is None
    with log.open("a") as out:
        out.write("[  356.1] systemd[1]: Freezing exec")
    assert console.fatal_line() is None  # the line is not all there yet
    with log.open("a") as out:
        out.write("ution.\n")
    assert console.fatal_line() == "[  356.1] systemd[1]: Freezing execution."


def test_a_freeze_before_the_wait_began_is_seen(tmp_path: Path) -> None:
    # The guest froze ten minutes into its boot, before the role started waiting for it.
    log = tmp_path / "console.log"
    log.write_text(BANNER + "[  572.1] systemd[1]: Failed to fork off sandboxing environment\n" + FROZEN)
    assert wait_module.ConsoleWatch(str(log)).fatal_line() == FROZEN.strip()


def test_without_a_banner_only_lines_after_the_wait_began_count(tmp_path: Path) -> None:
    log = tmp_path / "console.log"
    log.write_text("an earlier boot, quiet\n" + FROZEN)
    console = wait_module.ConsoleWatch(str(log))
    assert console.fatal_line() is None
    with log.open("a") as out:
        out.write("[    2.5] Kernel panic - not syncing: VFS: Unable to mount root fs\n")
    assert console.fatal_line() == "[    2.5] Kernel panic - not syncing: VFS: Unable to mount root fs"


def test_a_rewritten_console_log_is_read_from_its_start(tmp_path: Path) -> None:
    log = tmp_path / "console.log"
    log.write_text("x" * 4000 + "\n")
    console = wait_module.ConsoleWatch(str(log))
    log.write_text("[    2.5] Kernel panic - not syncing: VFS: Unable to mount root fs\n")
    assert console.fatal_line() == "[    2.5] Kernel panic - not syncing: VFS: Unable to mount root fs"


def test_a_missing_console_log_is_no_problem(tmp_path: Path) -> None:
    console = wait_module.ConsoleWatch(str(tmp_path / "none.log"))
    assert console.fatal_line() is None


def test_module_fails_at_once_when_the_console_says_the_guest_froze(tmp_path: Path, closed_port: int) -> None:
    # The domain runs (xl lists it with our uuid) and the port never answers: only the console
    # can end this within run_module's 120 s. A writer appends the freeze after the wait began.
    log = tmp_path / "guest-g1.log"
    log.write_text("[    0.0] booting\n")

    def freeze_later() -> None:
        import time
        time.sleep(2)
        with log.open("a") as out:
            out.write(FROZEN)

    writer = threading.Thread(target=freeze_later)
    writer.start()
    result = run_module(tmp_path, {"g1": OURS}, name="g1", uuid=OURS, port=closed_port, timeout=1000,
                        console_log=str(log))
    writer.join()
    assert result["failed"] is True
    assert "its console says [  356.120034] systemd[1]: Freezing execution." in result["msg"]
    assert result["console_line"].endswith("Freezing execution.")


# A libvirt binding for the module run as a process (tmp_path/pylib on its PYTHONPATH): one
# running domain; reset() records the UUID it was called on and, a second later, appends
# the next boot's console lines (a real reset's boot comes after the call returns).
FAKE_LIBVIRT = """
import builtins, json, os, threading, time
CFG = json.load(builtins.open(os.environ["FAKE_LIBVIRT"]))
class libvirtError(Exception):
    def get_error_code(self):
        return 42
def registerErrorHandler(handler, ctx):
    pass
class _Domain:
    def name(self):
        return CFG["name"]
    def UUIDString(self):
        return CFG["uuid"]
    def state(self):
        return [1, 1]
    def reset(self, flags):
        with builtins.open(CFG["resets"], "a") as out:
            out.write(CFG["uuid"] + chr(10))
        def boot():
            time.sleep(1)
            with builtins.open(CFG["console"], "a") as out:
                out.write(CFG["next_boot"])
        threading.Thread(target=boot).start()
class _Conn:
    def lookupByName(self, name):
        if name != CFG["name"]:
            raise libvirtError(name)
        return _Domain()
    def lookupByUUIDString(self, uuid):
        if uuid != CFG["uuid"]:
            raise libvirtError(uuid)
        return _Domain()
    def close(self):
        pass
def openReadOnly(uri):
    return _Conn()
def open(uri):
    return _Conn()
"""
PANIC = "[   30.597619] Kernel panic - not syncing: Fatal exception in interrupt"


def run_kvm_module(tmp_path: Path, next_boot: str, **args: Any) -> tuple[dict[str, Any], Path]:
    """The module on KVM, for a guest g1 whose first boot panicked; returns its result and the resets file."""
    (tmp_path / "pylib").mkdir()
    (tmp_path / "pylib/libvirt.py").write_text(FAKE_LIBVIRT)
    log = tmp_path / "console.log"
    log.write_text(f"[    0.000000] Linux version 6.12.1\n{PANIC}\n")
    resets = tmp_path / "resets"
    config = tmp_path / "libvirt.json"
    config.write_text(json.dumps({"name": "g1", "uuid": OURS, "console": str(log), "resets": str(resets),
                                  "next_boot": next_boot}))
    os.environ["FAKE_LIBVIRT"] = str(config)
    try:
        result = run_module(tmp_path, {}, stack="kvm", name="g1", console_log=str(log), **args)
    finally:
        del os.environ["FAKE_LIBVIRT"]
    return result, resets


def test_kvm_a_panicked_guest_fails_at_once_without_resets(tmp_path: Path, listening_port: int) -> None:
    result, resets = run_kvm_module(tmp_path, "", port=listening_port, timeout=1000)
    assert result["failed"] is True
    assert result["console_line"] == PANIC
    assert not resets.exists()  # nothing was reset


def test_kvm_a_panicked_guest_is_reset_once_and_then_answers(tmp_path: Path, listening_port: int) -> None:
    result, resets = run_kvm_module(tmp_path, "[    0.000000] Linux version 6.12.1\n[    9.0] booted\n",
                                    port=listening_port, timeout=1000, resets=1)
    assert not result.get("failed"), result
    assert result["changed"] is True
    assert result["resets"] == [PANIC]
    assert resets.read_text() == f"{OURS}\n"  # the domain the wait found, by its UUID


def test_kvm_a_guest_that_panics_again_fails_after_its_resets(tmp_path: Path, closed_port: int) -> None:
    again = f"[    0.000000] Linux version 6.12.1\n{PANIC.replace('30.597619', '31.000000')}\n"
    result, resets = run_kvm_module(tmp_path, again, port=closed_port, timeout=1000, resets=1)
    assert result["failed"] is True
    assert result["console_line"].startswith("[   31.000000] Kernel panic")
    assert "after 1 reset(s)" in result["msg"]
    assert resets.read_text() == f"{OURS}\n"  # one reset, not two


def test_xen_guests_are_never_reset(tmp_path: Path, closed_port: int) -> None:
    log = tmp_path / "guest-g1.log"
    log.write_text(f"[    0.000000] Linux version 6.12.1\n{PANIC}\n")
    result = run_module(tmp_path, {"g1": OURS}, name="g1", uuid=OURS, port=closed_port, timeout=1000,
                        console_log=str(log), resets=3)
    assert result["failed"] is True
    assert result["resets"] == []
