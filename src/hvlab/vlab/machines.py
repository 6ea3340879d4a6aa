"""Start, stop and reach the virtual lab's machines: QEMU VMs on qcow2 overlays.

Each machine is an overlay on the cached image, SSH forwarded on 127.0.0.1 only,
serial console appended to a log file. A machine's identity (hostname, the lab's
SSH key) reaches it through QEMU fw_cfg, so the cached image holds no secret.
A pid is trusted only while /proc shows it is QEMU running this machine's overlay,
so a stale pid file can never make hvlab signal an unrelated process.
"""

import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from hvlab import paths
from hvlab.errors import HvlabError
from hvlab.vlab import image as lab_image
from hvlab.vlab.accel import choose_acceleration
from hvlab.vlab.hostcheck import MACHINE_TOOLS, require_free_space, require_tools

Progress = Callable[[str], None]


@dataclass(frozen=True)
class MachineSpec:
    name: str
    group: str
    ssh_port: int
    memory_mib: int
    cpus: int = 2


LAB: dict[str, MachineSpec] = {
    spec.name: spec
    for spec in (
        MachineSpec("kvm1", "kvm_hosts", 2221, 4096),
        MachineSpec("xen1", "xen_hosts", 2222, 4096),
    )
}
BOOT_TIMEOUT_S = int(os.environ.get("HVLAB_BOOT_TIMEOUT", "600"))
STOP_GRACE_S = 90


def spec_for(name: str) -> MachineSpec:
    try:
        return LAB[name]
    except KeyError:
        raise HvlabError(f"unknown lab machine {name!r}; known: {', '.join(LAB)}") from None


def lab_dir() -> Path:
    return paths.state_dir() / "vlab"


def ssh_key() -> Path:
    """The lab's private key, generated once per lab (never a password)."""
    key = lab_dir() / "id_ed25519"
    if not key.exists():
        require_tools({"ssh-keygen": "openssh-client"})
        key.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "hvlab-vlab", "-f", str(key)],
                       check=True, stdin=subprocess.DEVNULL)
    return key


@dataclass(frozen=True)
class Machine:
    spec: MachineSpec

    @property
    def dir(self) -> Path:
        return lab_dir() / self.spec.name

    @property
    def overlay(self) -> Path:
        return self.dir / "disk.qcow2"

    @property
    def pidfile(self) -> Path:
        return self.dir / "qemu.pid"

    @property
    def serial_log(self) -> Path:
        return self.dir / "serial.log"

    @property
    def known_hosts(self) -> Path:
        return self.dir / "known_hosts"

    def pid(self) -> int | None:
        """QEMU's pid if it is alive and really this machine's QEMU."""
        try:
            pid = int(self.pidfile.read_text().strip())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError):
            return None
        if cmdline and b"qemu-system" in cmdline[0] and str(self.overlay).encode() in b" ".join(cmdline):
            return pid
        return None

    def state(self) -> str:
        if self.pid() is not None:
            return "running"
        return "stopped" if self.overlay.exists() else "absent"

    def ssh_options(self) -> list[str]:
        return [
            "-i", str(ssh_key()), "-p", str(self.spec.ssh_port),
            "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "-o", "LogLevel=ERROR",
            "-o", "StrictHostKeyChecking=accept-new", "-o", f"UserKnownHostsFile={self.known_hosts}",
        ]

    def ssh_command(self, remote: list[str]) -> list[str]:
        return ["ssh", *self.ssh_options(), "root@127.0.0.1", *remote]

    def serial_tail(self, lines: int = 20) -> str:
        try:
            text = self.serial_log.read_text(errors="replace")
        except OSError:
            return "(no serial log)"
        return "\n".join(text.replace("\r", "").splitlines()[-lines:])

    def qemu_command(self) -> list[str]:
        accel = choose_acceleration()
        pub = ssh_key().with_suffix(".pub")
        s = self.spec
        return [
            "qemu-system-x86_64", "-name", f"hvlab-{s.name}", "-machine", "q35",
            *accel.qemu_args(runs_xen=s.group == "xen_hosts"),
            "-m", str(s.memory_mib), "-smp", str(s.cpus),
            "-drive", f"file={self.overlay},if=virtio,cache=unsafe,discard=unmap",
            "-netdev", f"user,id=n0,hostfwd=tcp:127.0.0.1:{s.ssh_port}-:22",
            "-device", "virtio-net-pci,netdev=n0",
            "-fw_cfg", f"name=opt/hvlab/ssh_key,file={pub}",
            "-fw_cfg", f"name=opt/hvlab/hostname,string={s.name}",
            "-chardev", f"file,id=serial0,path={self.serial_log},append=on", "-serial", "chardev:serial0",
            "-display", "none", "-daemonize", "-pidfile", str(self.pidfile),
        ]

    def start(self, progress: Progress = lambda _m: None) -> None:
        if self.pid() is not None:
            progress(f"{self.spec.name} is already running")
            return
        require_tools(MACHINE_TOOLS)
        base = lab_image.cached_image()
        lab_image.verify(base)
        _require_port_free(self.spec.ssh_port, self.spec.name)
        self.dir.mkdir(parents=True, exist_ok=True)
        if not self.overlay.exists():
            require_free_space(self.dir, 2 * 2**30, f"{self.spec.name}'s disk")
            subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", str(base.path),
                            str(self.overlay)], check=True, stdin=subprocess.DEVNULL)
            self.known_hosts.unlink(missing_ok=True)
        progress(f"starting {self.spec.name} ({choose_acceleration().name})")
        result = subprocess.run(self.qemu_command(), capture_output=True, text=True, stdin=subprocess.DEVNULL)
        if result.returncode != 0:
            raise HvlabError(f"QEMU for {self.spec.name} failed to start: {result.stderr.strip()}")
        self.wait_ready(progress)

    def wait_ready(self, progress: Progress = lambda _m: None, timeout_s: int = BOOT_TIMEOUT_S) -> None:
        """Wait for SSH, then for systemd to finish booting (first-boot units included)."""
        progress(f"waiting for SSH on {self.spec.name}")
        deadline = time.monotonic() + timeout_s
        while True:
            if self.pid() is None:
                raise HvlabError(f"QEMU for {self.spec.name} exited during boot; serial log tail:\n"
                                 + self.serial_tail())
            probe = self.run(["true"], timeout=30, connect_timeout=5)
            if probe.returncode == 0:
                break
            if time.monotonic() > deadline:
                raise HvlabError(f"{self.spec.name}: no SSH after {timeout_s}s; serial log tail:\n"
                                 + self.serial_tail())
            time.sleep(2)
        progress(f"waiting for {self.spec.name} to finish booting")
        remaining = max(30, int(deadline - time.monotonic()))
        state = self.run(["systemctl", "is-system-running", "--wait"], timeout=remaining)
        if state.stdout.strip() not in ("running", "degraded"):
            raise HvlabError(f"{self.spec.name}: systemd state {state.stdout.strip()!r} after boot")
        if state.stdout.strip() == "degraded":
            failed = self.run(["systemctl", "--failed", "--no-legend", "--plain"], timeout=30).stdout.strip()
            raise HvlabError(f"{self.spec.name} booted degraded; failed units:\n{failed}")

    def run(self, remote: list[str], timeout: int = 60, connect_timeout: int = 10) -> subprocess.CompletedProcess[str]:
        cmd = ["ssh", *self.ssh_options(), "-o", f"ConnectTimeout={connect_timeout}", "root@127.0.0.1", *remote]
        try:
            return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            return subprocess.CompletedProcess(cmd, 255, "", "timeout")

    def stop(self, progress: Progress = lambda _m: None) -> None:
        """Power off through the guest, then SIGTERM, then SIGKILL: never leave QEMU behind."""
        pid = self.pid()
        if pid is None:
            return
        progress(f"powering off {self.spec.name}")
        self.run(["systemctl", "poweroff"], timeout=20, connect_timeout=5)
        for sig, grace in ((None, STOP_GRACE_S), (signal.SIGTERM, 15), (signal.SIGKILL, 10)):
            if sig is not None:
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    break
            if _wait_gone(pid, grace):
                break
        else:
            raise HvlabError(f"QEMU pid {pid} for {self.spec.name} survived SIGKILL")
        self.pidfile.unlink(missing_ok=True)

    def destroy(self, progress: Progress = lambda _m: None) -> None:
        """Stop the machine and remove only the files hvlab made for it."""
        self.stop(progress)
        for f in (self.overlay, self.pidfile, self.serial_log, self.known_hosts):
            f.unlink(missing_ok=True)
        if self.dir.exists() and not any(self.dir.iterdir()):
            self.dir.rmdir()

    def status(self) -> dict[str, object]:
        return {
            "name": self.spec.name, "group": self.spec.group, "state": self.state(), "pid": self.pid(),
            "address": "127.0.0.1", "port": self.spec.ssh_port, "user": "root",
            "identity_file": str(ssh_key()), "known_hosts": str(self.known_hosts),
            "serial_log": str(self.serial_log), "accel": choose_acceleration().name,
        }


def _wait_gone(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not Path(f"/proc/{pid}").exists():
            return True
        time.sleep(0.5)
    return not Path(f"/proc/{pid}").exists()


def _require_port_free(port: int, name: str) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # SO_REUSEADDR: a TIME_WAIT left by a machine just stopped is not a user of the port,
        # while a real listener still makes bind() fail.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            raise HvlabError(f"port 127.0.0.1:{port} for {name}'s SSH is already in use") from None


def machines(names: list[str] | None = None) -> list[Machine]:
    return [Machine(spec_for(n)) for n in (names or list(LAB))]


def status_json(names: list[str] | None = None) -> str:
    return json.dumps([m.status() for m in machines(names)], indent=2)
