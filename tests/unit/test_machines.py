"""Lab machines: specs, pid trust, QEMU command line, boot wait logic. QEMU never runs."""

import hashlib
import json
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hvlab.errors import HvlabError
from hvlab.vlab import image as lab_image
from hvlab.vlab import machines as m
from hvlab.vlab.machines import LAB, Machine, MachineSpec


@pytest.fixture
def kvm1() -> Machine:
    return Machine(m.spec_for("kvm1"))


@pytest.fixture
def listening_socket() -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    yield sock
    sock.close()


# --- specs ------------------------------------------------------------------------------

def test_spec_for_known() -> None:
    assert m.spec_for("kvm1") == MachineSpec("kvm1", "kvm_hosts", 2221, 4096)
    assert m.spec_for("xen1").group == "xen_hosts"
    assert m.spec_for("xen1").ssh_port == 2222


def test_spec_for_unknown_lists_known_names() -> None:
    with pytest.raises(HvlabError) as exc:
        m.spec_for("nosuch")
    message = str(exc.value)
    assert "'nosuch'" in message
    assert "kvm1" in message
    assert "xen1" in message


def test_machines_default_is_whole_lab() -> None:
    assert [x.spec.name for x in m.machines()] == list(LAB) == ["kvm1", "xen1"]
    with pytest.raises(HvlabError):
        m.machines(["kvm1", "nosuch"])


# --- port check -------------------------------------------------------------------------

def test_port_in_use_is_named(listening_socket: socket.socket) -> None:
    port = listening_socket.getsockname()[1]
    with pytest.raises(HvlabError) as exc:
        m._require_port_free(port, "kvm1")
    assert f"127.0.0.1:{port}" in str(exc.value)
    assert "kvm1" in str(exc.value)


def test_free_port_passes() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    m._require_port_free(port, "kvm1")


def test_port_in_time_wait_counts_as_free() -> None:
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]
    client = socket.create_connection(("127.0.0.1", port))
    accepted, _ = server.accept()
    accepted.close()  # the listening side closes first, as QEMU's slirp does when the guest goes away
    time.sleep(0.1)
    client.close()
    server.close()
    m._require_port_free(port, "kvm1")


# --- pid trust --------------------------------------------------------------------------

def write_pidfile(machine: Machine, content: str) -> None:
    machine.dir.mkdir(parents=True, exist_ok=True)
    machine.pidfile.write_text(content)


def test_pid_none_without_pidfile(kvm1: Machine) -> None:
    assert kvm1.pid() is None
    assert kvm1.state() == "absent"


@pytest.mark.parametrize("content", ["", "garbage\n", "12abc", "-"])
def test_pid_none_for_garbage(kvm1: Machine, content: str) -> None:
    write_pidfile(kvm1, content)
    assert kvm1.pid() is None


def test_pid_none_for_unrelated_live_process(kvm1: Machine) -> None:
    write_pidfile(kvm1, f"{os.getpid()}\n")
    assert Path(f"/proc/{os.getpid()}").exists()
    assert kvm1.pid() is None


def test_pid_none_for_dead_process(kvm1: Machine) -> None:
    proc = subprocess.Popen(["true"])
    proc.wait()
    write_pidfile(kvm1, str(proc.pid))
    assert kvm1.pid() is None


@pytest.fixture
def fake_qemu(kvm1: Machine) -> Iterator[subprocess.Popen[bytes]]:
    """A shell whose argv looks like this machine's QEMU (argv[0] qemu-system-..., overlay in args)."""
    proc = subprocess.Popen(
        ["qemu-system-x86_64", "-c", "sleep 60; true", "-drive", f"file={kvm1.overlay},if=virtio"],
        executable="/bin/sh",
    )
    deadline = time.monotonic() + 5
    while b"qemu-system" not in Path(f"/proc/{proc.pid}/cmdline").read_bytes() and time.monotonic() < deadline:
        time.sleep(0.01)
    yield proc
    proc.kill()
    proc.wait()


def test_pid_trusted_for_this_machines_qemu(kvm1: Machine, fake_qemu: subprocess.Popen[bytes]) -> None:
    write_pidfile(kvm1, f"{fake_qemu.pid}\n")
    assert kvm1.pid() == fake_qemu.pid
    assert kvm1.state() == "running"
    xen1 = Machine(m.spec_for("xen1"))
    write_pidfile(xen1, f"{fake_qemu.pid}\n")
    assert xen1.pid() is None  # a QEMU, but not on xen1's overlay


def test_state_stopped_when_only_overlay_exists(kvm1: Machine) -> None:
    kvm1.dir.mkdir(parents=True)
    kvm1.overlay.write_bytes(b"")
    assert kvm1.state() == "stopped"


# --- keys and commands ------------------------------------------------------------------

def test_ssh_key_generated_once_in_state_dir(tmp_path: Path) -> None:
    key = m.ssh_key()
    assert key == tmp_path / "state" / "vlab" / "id_ed25519"
    assert key.stat().st_mode & 0o077 == 0
    pub = key.with_suffix(".pub").read_text()
    assert pub.startswith("ssh-ed25519 ")
    before = key.read_bytes()
    assert m.ssh_key() == key
    assert key.read_bytes() == before  # not regenerated


def test_qemu_command_under_tcg(kvm1: Machine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HVLAB_ACCEL", "tcg")
    cmd = kvm1.qemu_command()
    joined = " ".join(cmd)
    assert cmd[0] == "qemu-system-x86_64"
    assert cmd[cmd.index("-cpu") + 1] == "max"
    assert cmd[cmd.index("-accel") + 1].startswith("tcg")
    assert "hostfwd=tcp:127.0.0.1:2221-:22" in cmd[cmd.index("-netdev") + 1]
    assert "hostfwd=tcp::" not in joined and "0.0.0.0" not in joined
    pub = m.ssh_key().with_suffix(".pub")
    assert f"name=opt/hvlab/ssh_key,file={pub}" in cmd
    assert pub.exists()
    assert "name=opt/hvlab/hostname,string=kvm1" in cmd
    assert "password" not in joined.lower()
    assert m.ssh_key().read_text() not in joined  # the private key is never on the command line
    assert cmd[cmd.index("-m") + 1] == "4096"
    assert cmd[cmd.index("-pidfile") + 1] == str(kvm1.pidfile)
    assert f"file={kvm1.overlay}" in cmd[cmd.index("-drive") + 1]
    assert "-daemonize" in cmd


def test_qemu_command_under_kvm_uses_host_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HVLAB_ACCEL", "kvm")
    cmd = Machine(m.spec_for("xen1")).qemu_command()
    assert cmd[cmd.index("-cpu") + 1] == "host"
    assert "hostfwd=tcp:127.0.0.1:2222-:22" in cmd[cmd.index("-netdev") + 1]


def test_ssh_command(kvm1: Machine) -> None:
    cmd = kvm1.ssh_command(["uname", "-r"])
    assert cmd[0] == "ssh"
    assert cmd[-3:] == ["root@127.0.0.1", "uname", "-r"]
    assert cmd[cmd.index("-p") + 1] == "2221"
    assert cmd[cmd.index("-i") + 1] == str(m.ssh_key())
    assert "BatchMode=yes" in cmd
    assert f"UserKnownHostsFile={kvm1.known_hosts}" in cmd


def test_serial_tail(kvm1: Machine) -> None:
    assert kvm1.serial_tail() == "(no serial log)"
    kvm1.dir.mkdir(parents=True)
    kvm1.serial_log.write_bytes(b"one\r\ntwo\r\nthree\xff\r\n")
    assert kvm1.serial_tail(2) == "two\nthree\ufffd"


# --- start / stop / destroy without QEMU --------------------------------------------------

def make_cached_image() -> None:
    cached = lab_image.cached_image()
    cached.path.parent.mkdir(parents=True, exist_ok=True)
    cached.path.write_bytes(b"image")
    cached.checksum_path.write_text(hashlib.sha256(b"image").hexdigest() + "  x\n")


def test_start_refuses_without_image(kvm1: Machine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(m, "require_tools", lambda _tools: None)
    with pytest.raises(HvlabError, match="no cached lab image"):
        kvm1.start()
    assert not kvm1.dir.exists()


def test_start_refuses_busy_port(listening_socket: socket.socket, monkeypatch: pytest.MonkeyPatch) -> None:
    port = listening_socket.getsockname()[1]
    machine = Machine(MachineSpec("t1", "kvm_hosts", port, 512))
    monkeypatch.setattr(m, "require_tools", lambda _tools: None)
    make_cached_image()
    with pytest.raises(HvlabError, match=f"127.0.0.1:{port} for t1"):
        machine.start()
    assert not machine.overlay.exists()


def test_destroy_stopped_machine_removes_only_its_files(kvm1: Machine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Machine, "run", lambda *_a, **_k: pytest.fail("no SSH for a stopped machine"))
    kvm1.dir.mkdir(parents=True)
    for f in (kvm1.overlay, kvm1.serial_log, kvm1.known_hosts):
        f.write_text("x")
    write_pidfile(kvm1, str(os.getpid()))  # stale: must not be signalled
    keep = kvm1.dir / "notes.txt"
    keep.write_text("mine")
    kvm1.destroy()
    assert sorted(p.name for p in kvm1.dir.iterdir()) == ["notes.txt"]
    keep.unlink()
    kvm1.destroy()
    assert not kvm1.dir.exists()


# --- wait_ready logic with fake pid/ssh -----------------------------------------------

def fake_ssh(monkeypatch: pytest.MonkeyPatch, answers: dict[str, list[tuple[int, str]]]) -> list[list[str]]:
    calls: list[list[str]] = []

    def run(
        _self: Machine, remote: list[str], timeout: int = 60, connect_timeout: int = 10
    ) -> subprocess.CompletedProcess[str]:
        calls.append(remote)
        rc, out = answers[remote[0]].pop(0) if len(answers[remote[0]]) > 1 else answers[remote[0]][0]
        return subprocess.CompletedProcess(remote, rc, out, "")

    monkeypatch.setattr(Machine, "run", run)
    monkeypatch.setattr(m.time, "sleep", lambda _s: None)
    return calls


def test_wait_ready_polls_ssh_then_waits_for_systemd(kvm1: Machine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Machine, "pid", lambda _self: 4242)
    calls = fake_ssh(monkeypatch, {"true": [(255, ""), (255, ""), (0, "")], "systemctl": [(0, "running\n")]})
    kvm1.wait_ready()
    assert calls == [["true"]] * 3 + [["systemctl", "is-system-running", "--wait"]]


def test_wait_ready_reports_degraded_units(kvm1: Machine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Machine, "pid", lambda _self: 4242)
    fake_ssh(monkeypatch, {"true": [(0, "")], "systemctl": [(1, "degraded\n"), (0, "hvlab-firstboot.service failed")]})
    with pytest.raises(HvlabError, match="degraded") as exc:
        kvm1.wait_ready()
    assert "hvlab-firstboot.service" in str(exc.value)


def test_wait_ready_fails_when_qemu_exits(kvm1: Machine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Machine, "pid", lambda _self: None)
    fake_ssh(monkeypatch, {"true": [(0, "")]})
    kvm1.dir.mkdir(parents=True)
    kvm1.serial_log.write_text("Kernel panic - not syncing\n")
    with pytest.raises(HvlabError, match="exited during boot") as exc:
        kvm1.wait_ready()
    assert "Kernel panic" in str(exc.value)


def test_wait_ready_times_out(kvm1: Machine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Machine, "pid", lambda _self: 4242)
    calls = fake_ssh(monkeypatch, {"true": [(255, "")]})
    with pytest.raises(HvlabError, match="no SSH after 0s"):
        kvm1.wait_ready(timeout_s=0)
    assert calls == [["true"]]


# --- status -----------------------------------------------------------------------------

def test_status_json(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HVLAB_ACCEL", "tcg")
    data = json.loads(m.status_json())
    assert [(d["name"], d["port"], d["state"], d["pid"], d["accel"]) for d in data] == [
        ("kvm1", 2221, "absent", None, "tcg"),
        ("xen1", 2222, "absent", None, "tcg"),
    ]
    assert all(d["address"] == "127.0.0.1" and d["user"] == "root" for d in data)
    assert all(Path(d["identity_file"]).is_relative_to(tmp_path) for d in data)
