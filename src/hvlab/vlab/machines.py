"""Start, stop and reach the virtual lab's machines: QEMU VMs on qcow2 overlays.

Each machine is an overlay on the cached image, SSH forwarded on 127.0.0.1 only,
serial console appended to a log file. A machine's identity (hostname, the lab's
SSH key) reaches it through QEMU fw_cfg, so the cached image holds no secret.
A pid is trusted only while /proc shows it is QEMU running this machine's overlay,
so a stale pid file can never make hvlab signal an unrelated process.

Each machine boots a Debian release through a firmware (BIOS, UEFI, or UEFI with Secure
Boot and Microsoft's keys enrolled, all from Debian's ovmf package), chosen when its disk
is made and recorded beside it (boot.json): a later `up` boots it the same way, and asking
for another release or firmware for an existing disk is refused rather than silently ignored.
UEFI machines get their own copy of the firmware's variable store, so boot entries that
grub-install writes survive reboots, as on real hardware.

Asked to (`hvlab vlab up --guest-image`), a machine also gets the guest image as a second,
read-only virtio disk: a plain tar (hvlab.guest_image.disk_tar) with a fixed serial, so the host
sees it as /dev/disk/by-id/virtio-hvlab-guest-image and the guest_image role extracts it there
instead of copying the image over the emulated network. The machine's own disk stays the first.
"""

import fcntl
import json
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from hvlab import paths
from hvlab.errors import HvlabError
from hvlab.guest_image import DISK_SERIAL as GUEST_DISK_SERIAL
from hvlab.vlab import image as lab_image
from hvlab.vlab.accel import choose_acceleration
from hvlab.vlab.hostcheck import MACHINE_TOOLS, require_free_space, require_tools
from hvlab.vlab.releases import LabTarget, check_firmware, check_image_kind, check_release

Progress = Callable[[str], None]


@dataclass(frozen=True)
class MachineSpec:
    name: str
    group: str
    ssh_port: int
    memory_mib: int
    stack: str  # the stack whose prepared image it boots: kvm or xen
    cpus: int = 2


LAB: dict[str, MachineSpec] = {
    spec.name: spec
    for spec in (
        MachineSpec("kvm1", "kvm_hosts", 2221, 4096, "kvm"),
        MachineSpec("xen1", "xen_hosts", 2222, 4096, "xen"),
    )
}
BOOT_TIMEOUT_S = int(os.environ.get("HVLAB_BOOT_TIMEOUT", "600"))
STOP_GRACE_S = 90
OVMF_DIR = Path("/usr/share/OVMF")
# firmware -> (read-only code, template of the machine's own variable store)
OVMF_FILES: dict[str, tuple[str, str]] = {
    "uefi": ("OVMF_CODE_4M.fd", "OVMF_VARS_4M.fd"),
    "uefi-secureboot": ("OVMF_CODE_4M.secboot.fd", "OVMF_VARS_4M.ms.fd"),
}


@dataclass(frozen=True)
class Boot:
    """How a machine boots: a Debian release through a firmware, from a bare image or
    one prepared with its stack's host packages (image: "bare" or "prepared")."""

    release: str
    firmware: str
    image: str = "bare"

    def __post_init__(self) -> None:
        check_release(self.release)
        check_firmware(self.firmware)
        check_image_kind(self.image)

    @classmethod
    def asked(cls, release: str | None, firmware: str | None, image: str | None, default: "Boot") -> "Boot":
        """A new machine's boot: what was asked, the rest from the default."""
        return cls(release or default.release, firmware or default.firmware, image or default.image)

    def target(self, stack: str) -> LabTarget:
        return LabTarget.for_machine(self.release, self.firmware, stack if self.image == "prepared" else "")

    def describe(self) -> str:
        return f"Debian {self.release}, {self.firmware}, {self.image} image"


def firmware_args(firmware: str, efi_vars: Path) -> list[str]:
    """QEMU's machine and firmware arguments: SeaBIOS by default, else OVMF's pflash pair."""
    if firmware == "bios":
        return ["-machine", "q35"]
    code = OVMF_DIR / OVMF_FILES[firmware][0]
    args = ["-drive", f"if=pflash,format=raw,unit=0,readonly=on,file={code}",
            "-drive", f"if=pflash,format=raw,unit=1,file={efi_vars}"]
    if firmware == "uefi-secureboot":
        # Secure Boot variables live in SMM-protected flash: without both, OVMF refuses to boot.
        return ["-machine", "q35,smm=on", "-global", "driver=cfi.pflash01,property=secure,value=on", *args]
    return ["-machine", "q35", *args]


# q35 puts the host bridge at 00.0, VGA at 01.0, the NIC and the disk next, the ICH9 functions at 1f.
GUEST_DISK_PCI_SLOT = "0x10"


def guest_disk_args(tar: Path | None) -> list[str]:
    """The guest image's tar as a read-only virtio disk with a fixed serial; nothing without one."""
    if tar is None:
        return []
    if "," in str(tar):
        # QEMU's option syntax would need the comma doubled; hvlab's cache paths have none.
        raise HvlabError(f"the guest image disk {tar} has a comma in its path; QEMU cannot take it as is")
    # A fixed PCI slot above every slot QEMU hands out itself: the machine's own disk (if=virtio,
    # created after the -device options) keeps its slot, so it stays vda (hvlab-firstboot installs
    # GRUB there), its UEFI boot entry's device path stays valid and the NIC keeps its name.
    return ["-drive", f"file={tar},if=none,id=hvlab-guest-image,format=raw,readonly=on",
            "-device", f"virtio-blk-pci,drive=hvlab-guest-image,serial={GUEST_DISK_SERIAL},addr={GUEST_DISK_PCI_SLOT}"]


def require_firmware(firmware: str) -> None:
    for name in OVMF_FILES.get(firmware, ()):
        if not (OVMF_DIR / name).exists():
            raise HvlabError(f"{OVMF_DIR / name} is missing; install it with: apt-get install ovmf")


def spec_for(name: str) -> MachineSpec:
    try:
        return LAB[name]
    except KeyError:
        raise HvlabError(f"unknown lab machine {name!r}; known: {', '.join(LAB)}") from None


def lab_dir() -> Path:
    return paths.state_dir() / "vlab"


def ssh_key() -> Path:
    """The lab's private key, generated once per lab (never a password).

    Generated under a lock: the test script boots machines of two scenarios at once, and
    two `vlab up` seeing no key would both run ssh-keygen on the same path (the second
    one fails at its overwrite prompt, or pairs one run's private key with the other's
    public key).
    """
    key = lab_dir() / "id_ed25519"
    if key.exists():
        return key
    require_tools({"ssh-keygen": "openssh-client"})
    key.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with open(key.parent / "id_ed25519.lock", "w", encoding="ascii") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not key.exists():
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

    @property
    def boot_file(self) -> Path:
        return self.dir / "boot.json"

    @property
    def efi_vars(self) -> Path:
        return self.dir / "efi-vars.fd"

    def recorded_boot(self) -> Boot | None:
        """The release and firmware this machine's disk was made for, if it has one."""
        if not self.overlay.exists():
            return None
        try:
            data = json.loads(self.boot_file.read_text())
            # A disk made before image kinds existed was made from a bare image.
            return Boot(str(data["release"]), str(data["firmware"]), str(data.get("image", "bare")))
        except (OSError, ValueError, KeyError, TypeError, HvlabError):
            raise HvlabError(f"{self.spec.name}: {self.boot_file} is missing or unreadable; "
                             f"run: hvlab vlab down {self.spec.name}") from None

    def boot_for(self, release: str | None, firmware: str | None, image: str | None, default: Boot) -> Boot:
        """The boot asked for, checked against the disk's: an existing disk keeps its own."""
        recorded = self.recorded_boot()
        if recorded is None:
            return Boot.asked(release, firmware, image, default)
        asked = Boot(release or recorded.release, firmware or recorded.firmware, image or recorded.image)
        if asked != recorded:
            raise HvlabError(f"{self.spec.name} exists as {recorded.describe()}, not {asked.describe()}; "
                             f"run: hvlab vlab down {self.spec.name} first")
        return recorded

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

    def qemu_command(self, boot: Boot, guest_disk: Path | None = None) -> list[str]:
        """QEMU's argv; `guest_disk` (a tar of the guest image) is attached read-only after the machine's disk."""
        accel = choose_acceleration()
        pub = ssh_key().with_suffix(".pub")
        s = self.spec
        return [
            "qemu-system-x86_64", "-name", f"hvlab-{s.name}", *firmware_args(boot.firmware, self.efi_vars),
            *accel.qemu_args(runs_xen=s.group == "xen_hosts"),
            "-m", str(s.memory_mib), "-smp", str(s.cpus),
            "-drive", f"file={self.overlay},if=virtio,cache=unsafe,discard=unmap",
            *guest_disk_args(guest_disk),
            "-netdev", f"user,id=n0,hostfwd=tcp:127.0.0.1:{s.ssh_port}-:22",
            "-device", "virtio-net-pci,netdev=n0",
            "-fw_cfg", f"name=opt/hvlab/ssh_key,file={pub}",
            "-fw_cfg", f"name=opt/hvlab/hostname,string={s.name}",
            "-chardev", f"file,id=serial0,path={self.serial_log},append=on", "-serial", "chardev:serial0",
            "-display", "none", "-daemonize", "-pidfile", str(self.pidfile),
        ]

    def start(self, boot: Boot, progress: Progress = lambda _m: None, guest_disk: Path | None = None) -> None:
        """Boot the machine (its disk made first if it has none); `boot` must match an existing disk.

        `guest_disk`: the guest image's tar, attached read-only (a running machine keeps the disks
        it has: the guest_image role then copies what its disk does not hold over SSH).
        """
        if self.pid() is not None:
            progress(f"{self.spec.name} is already running"
                     + (" (its disks as they are: hvlab vlab down --keep-disks, then up, attaches the guest image)"
                        if guest_disk is not None else ""))
            return
        require_tools(MACHINE_TOOLS)
        require_firmware(boot.firmware)
        recorded = self.recorded_boot()
        if recorded is not None and recorded != boot:
            raise HvlabError(f"{self.spec.name} exists as {recorded.describe()}, not {boot.describe()}")
        _require_port_free(self.spec.ssh_port, self.spec.name)
        base = lab_image.cached_image(boot.target(self.spec.stack))
        if recorded is None:
            lab_image.verify(base)
        self.dir.mkdir(parents=True, exist_ok=True)
        if recorded is None:
            require_free_space(self.dir, 2 * 2**30, f"{self.spec.name}'s disk")
            subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", str(base.path),
                            str(self.overlay)], check=True, stdin=subprocess.DEVNULL)
            self.boot_file.write_text(json.dumps({"release": boot.release, "firmware": boot.firmware,
                                                  "image": boot.image}) + "\n")
            self.known_hosts.unlink(missing_ok=True)
            self.efi_vars.unlink(missing_ok=True)
        if boot.firmware in OVMF_FILES and not self.efi_vars.exists():
            # A fresh store, as on a new machine; the disk's fallback path (EFI/BOOT) still boots.
            shutil.copyfile(OVMF_DIR / OVMF_FILES[boot.firmware][1], self.efi_vars)
        progress(f"starting {self.spec.name} ({boot.describe()}, {choose_acceleration().name})")
        result = subprocess.run(self.qemu_command(boot, guest_disk), capture_output=True, text=True,
                                stdin=subprocess.DEVNULL)
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
        for f in (self.overlay, self.pidfile, self.serial_log, self.known_hosts, self.boot_file, self.efi_vars):
            f.unlink(missing_ok=True)
        if self.dir.exists() and not any(self.dir.iterdir()):
            self.dir.rmdir()

    def status(self) -> dict[str, object]:
        try:
            boot = self.recorded_boot()
        except HvlabError:
            boot = None
        return {
            "name": self.spec.name, "group": self.spec.group, "state": self.state(), "pid": self.pid(),
            "address": "127.0.0.1", "port": self.spec.ssh_port, "user": "root",
            "identity_file": str(ssh_key()), "known_hosts": str(self.known_hosts),
            "serial_log": str(self.serial_log), "accel": choose_acceleration().name,
            "release": boot.release if boot else None, "firmware": boot.firmware if boot else None,
            "image": boot.image if boot else None,
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
