"""Lab machines: specs, pid trust, QEMU command line, boot wait logic. QEMU never runs."""

import hashlib
import json
import os
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from hvlab.errors import HvlabError
from hvlab.vlab import image as lab_image
from hvlab.vlab import machines as m
from hvlab.vlab.accel import TCG_XEN_CPU_MODEL
from hvlab.vlab.machines import LAB, Boot, Machine, MachineSpec
from hvlab.vlab.releases import LabTarget

UEFI13 = Boot("13", "uefi")


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
    assert m.spec_for("kvm1") == MachineSpec("kvm1", "kvm_hosts", 2221, 4096, "kvm")
    assert m.spec_for("xen1").group == "xen_hosts"
    assert m.spec_for("xen1").stack == "xen"
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


def test_ssh_key_generated_once_by_concurrent_callers(tmp_path: Path) -> None:
    # Two scenarios boot their machines at once: every caller gets the same, whole key pair.
    barrier = threading.Barrier(4)

    def first_key() -> bytes:
        barrier.wait()
        return m.ssh_key().read_bytes()

    with ThreadPoolExecutor(max_workers=4) as pool:
        keys = set(pool.map(lambda _: first_key(), range(4)))
    assert len(keys) == 1
    key = tmp_path / "state" / "vlab" / "id_ed25519"
    derived = subprocess.run(["ssh-keygen", "-y", "-f", str(key)], check=True, capture_output=True, text=True)
    assert derived.stdout.split()[1] == key.with_suffix(".pub").read_text().split()[1]


def test_qemu_command_under_tcg(kvm1: Machine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HVLAB_ACCEL", "tcg")
    cmd = kvm1.qemu_command(UEFI13)
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
    drives = [cmd[i + 1] for i, arg in enumerate(cmd) if arg == "-drive"]
    disk = f"file={kvm1.overlay},if=virtio,cache=unsafe,discard=unmap"
    assert [d for d in drives if f"file={kvm1.overlay}" in d] == [disk]
    assert f"if=pflash,format=raw,unit=1,file={kvm1.efi_vars}" in drives
    assert "-daemonize" in cmd
    assert cmd[cmd.index("-accel") + 1] == "tcg,thread=multi,tb-size=512"


def test_qemu_command_has_no_guest_image_disk_unless_asked(kvm1: Machine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HVLAB_ACCEL", "tcg")
    cmd = kvm1.qemu_command(UEFI13)
    assert "hvlab-guest-image" not in " ".join(cmd)
    assert [a for a in cmd if a.startswith("virtio-blk")] == []


def test_qemu_command_attaches_the_guest_image_read_only_after_the_machines_disk(
        kvm1: Machine, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HVLAB_ACCEL", "tcg")
    tar = tmp_path / "guest.disk-0123.tar"
    cmd = kvm1.qemu_command(UEFI13, tar)
    drives = [cmd[i + 1] for i, arg in enumerate(cmd) if arg == "-drive"]
    guest = f"file={tar},if=none,id=hvlab-guest-image,format=raw,readonly=on"
    assert [d for d in drives if "pflash" not in d] == [f"file={kvm1.overlay},if=virtio,cache=unsafe,discard=unmap",
                                                         guest]
    assert cmd.index(guest) > cmd.index(f"file={kvm1.overlay},if=virtio,cache=unsafe,discard=unmap")
    devices = [cmd[i + 1] for i, arg in enumerate(cmd) if arg == "-device"]
    # In a fixed slot after the ones QEMU gives the NIC and the machine's disk: that disk stays vda.
    assert "virtio-blk-pci,drive=hvlab-guest-image,serial=hvlab-guest-image,addr=0x10" in devices
    # The rest of the command is the same as without it.
    without = kvm1.qemu_command(UEFI13)
    at = cmd.index(guest) - 1
    assert cmd[:at] + cmd[at + 4:] == without


def test_guest_disk_path_with_a_comma_is_refused(tmp_path: Path) -> None:
    with pytest.raises(HvlabError, match="comma"):
        m.guest_disk_args(tmp_path / "a,b.tar")


def test_qemu_command_under_tcg_runs_xen_single_threaded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HVLAB_ACCEL", "tcg")
    cmd = Machine(m.spec_for("xen1")).qemu_command(UEFI13)
    assert cmd[cmd.index("-accel") + 1] == "tcg,thread=single,tb-size=512"
    assert cmd[cmd.index("-cpu") + 1] == TCG_XEN_CPU_MODEL


def test_qemu_command_under_kvm_uses_host_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HVLAB_ACCEL", "kvm")
    cmd = Machine(m.spec_for("xen1")).qemu_command(Boot("12", "bios"))
    assert cmd[cmd.index("-cpu") + 1] == "host"
    assert "hostfwd=tcp:127.0.0.1:2222-:22" in cmd[cmd.index("-netdev") + 1]
    assert "pflash" not in " ".join(cmd)


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


# --- firmware ---------------------------------------------------------------------------

def option_values(args: list[str], option: str) -> list[str]:
    return [args[i + 1] for i, arg in enumerate(args) if arg == option]


def test_firmware_args_bios_is_plain_q35(tmp_path: Path) -> None:
    assert m.firmware_args("bios", tmp_path / "efi-vars.fd") == ["-machine", "q35"]


def test_firmware_args_uefi(tmp_path: Path) -> None:
    vars_file = tmp_path / "kvm1" / "efi-vars.fd"
    args = m.firmware_args("uefi", vars_file)
    assert option_values(args, "-machine") == ["q35"]
    assert "-global" not in args
    assert option_values(args, "-drive") == [
        f"if=pflash,format=raw,unit=0,readonly=on,file={m.OVMF_DIR / 'OVMF_CODE_4M.fd'}",
        f"if=pflash,format=raw,unit=1,file={vars_file}",
    ]
    assert "smm" not in " ".join(args)


def test_firmware_args_secureboot(tmp_path: Path) -> None:
    vars_file = tmp_path / "kvm1" / "efi-vars.fd"
    args = m.firmware_args("uefi-secureboot", vars_file)
    assert option_values(args, "-machine") == ["q35,smm=on"]
    assert option_values(args, "-global") == ["driver=cfi.pflash01,property=secure,value=on"]
    code, store = option_values(args, "-drive")
    assert code == f"if=pflash,format=raw,unit=0,readonly=on,file={m.OVMF_DIR / 'OVMF_CODE_4M.secboot.fd'}"
    assert store == f"if=pflash,format=raw,unit=1,file={vars_file}"  # the machine's own store, writable
    assert "readonly" not in store


@pytest.mark.parametrize(("firmware", "machine_arg", "pflash"), [
    ("bios", "q35", 0), ("uefi", "q35", 2), ("uefi-secureboot", "q35,smm=on", 2),
])
def test_qemu_command_boots_the_asked_firmware(kvm1: Machine, monkeypatch: pytest.MonkeyPatch, firmware: str,
                                               machine_arg: str, pflash: int) -> None:
    monkeypatch.setenv("HVLAB_ACCEL", "tcg")
    cmd = kvm1.qemu_command(Boot("13", firmware))
    assert option_values(cmd, "-machine") == [machine_arg]
    assert sum("if=pflash" in d for d in option_values(cmd, "-drive")) == pflash


def test_require_firmware_names_the_missing_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(m, "OVMF_DIR", tmp_path)
    m.require_firmware("bios")  # SeaBIOS comes with QEMU
    with pytest.raises(HvlabError, match=r"OVMF_CODE_4M\.fd is missing.*apt-get install ovmf"):
        m.require_firmware("uefi")
    (tmp_path / "OVMF_CODE_4M.fd").write_bytes(b"code")
    with pytest.raises(HvlabError, match=r"OVMF_VARS_4M\.fd is missing"):
        m.require_firmware("uefi")
    (tmp_path / "OVMF_VARS_4M.fd").write_bytes(b"vars")
    m.require_firmware("uefi")
    with pytest.raises(HvlabError, match=r"OVMF_CODE_4M\.secboot\.fd is missing"):
        m.require_firmware("uefi-secureboot")


def test_boot_refuses_unknown_values() -> None:
    with pytest.raises(HvlabError, match="unknown release '11'; accepted: 13, 12"):
        Boot("11", "uefi")
    with pytest.raises(HvlabError, match="unknown firmware 'efi'; accepted: uefi, uefi-secureboot, bios"):
        Boot("13", "efi")
    with pytest.raises(HvlabError, match="unknown image 'weird'; accepted: prepared, bare"):
        Boot("13", "uefi", "weird")


def test_boot_target_is_bare_unless_prepared() -> None:
    assert Boot("13", "uefi").image == "bare"
    assert Boot("13", "uefi-secureboot").target("kvm") == LabTarget("13", "uefi")
    assert Boot("12", "bios", "bare").target("xen") == LabTarget("12", "bios")
    assert Boot("13", "uefi-secureboot", "prepared").target("kvm") == LabTarget("13", "uefi", "kvm")
    assert Boot("12", "bios", "prepared").target("xen") == LabTarget("12", "bios", "xen")
    assert Boot("13", "uefi", "prepared").describe() == "Debian 13, uefi, prepared image"


# --- recorded boot ----------------------------------------------------------------------

def record(machine: Machine, boot: Boot, with_image: bool = True) -> None:
    """A machine whose disk was made for `boot`, as start() leaves it (without_image: as before image kinds)."""
    machine.dir.mkdir(parents=True, exist_ok=True)
    machine.overlay.write_bytes(b"overlay")
    data = {"release": boot.release, "firmware": boot.firmware}
    if with_image:
        data["image"] = boot.image
    machine.boot_file.write_text(json.dumps(data) + "\n")


def test_boot_for_new_machine_takes_asked_else_default(kvm1: Machine) -> None:
    default = Boot("12", "bios", "prepared")
    assert kvm1.recorded_boot() is None
    assert kvm1.boot_for(None, None, None, default) == default
    assert kvm1.boot_for("13", None, None, default) == Boot("13", "bios", "prepared")
    assert kvm1.boot_for(None, "uefi-secureboot", None, default) == Boot("12", "uefi-secureboot", "prepared")
    assert kvm1.boot_for(None, None, "bare", default) == Boot("12", "bios", "bare")
    assert kvm1.boot_for("13", "uefi", "bare", default) == Boot("13", "uefi", "bare")
    assert kvm1.boot_for(None, None, "prepared", Boot("13", "uefi")) == Boot("13", "uefi", "prepared")
    with pytest.raises(HvlabError, match="accepted"):
        kvm1.boot_for("11", None, None, default)
    with pytest.raises(HvlabError, match="unknown image 'weird'"):
        kvm1.boot_for(None, None, "weird", default)


def test_boot_for_existing_disk_keeps_its_own(kvm1: Machine) -> None:
    record(kvm1, Boot("12", "bios"))
    assert kvm1.recorded_boot() == Boot("12", "bios")
    default = Boot("13", "uefi", "prepared")
    assert kvm1.boot_for(None, None, None, default) == Boot("12", "bios")  # not the new default
    assert kvm1.boot_for("12", None, None, default) == Boot("12", "bios")
    assert kvm1.boot_for("12", "bios", "bare", default) == Boot("12", "bios")


def test_boot_for_existing_prepared_disk_keeps_its_image(kvm1: Machine) -> None:
    record(kvm1, Boot("13", "uefi", "prepared"))
    assert kvm1.boot_for(None, None, None, Boot("13", "uefi", "bare")) == Boot("13", "uefi", "prepared")
    assert kvm1.boot_for(None, None, "prepared", Boot("13", "uefi")) == Boot("13", "uefi", "prepared")
    with pytest.raises(HvlabError) as exc:
        kvm1.boot_for(None, None, "bare", Boot("13", "uefi", "prepared"))
    assert "kvm1 exists as Debian 13, uefi, prepared image, not Debian 13, uefi, bare image" in str(exc.value)
    assert "hvlab vlab down kvm1" in str(exc.value)


def test_boot_json_without_image_reads_as_bare(kvm1: Machine) -> None:
    record(kvm1, Boot("13", "uefi"), with_image=False)
    assert "image" not in json.loads(kvm1.boot_file.read_text())
    assert kvm1.recorded_boot() == Boot("13", "uefi", "bare")
    assert kvm1.boot_for(None, None, None, Boot("13", "uefi", "prepared")) == Boot("13", "uefi", "bare")
    with pytest.raises(HvlabError, match="exists as Debian 13, uefi, bare image"):
        kvm1.boot_for(None, None, "prepared", Boot("13", "uefi", "prepared"))
    assert kvm1.status()["image"] == "bare"


@pytest.mark.parametrize(("release", "firmware", "image"), [
    ("13", None, None), (None, "uefi", None), ("13", "uefi-secureboot", None), (None, None, "prepared"),
])
def test_boot_for_existing_disk_refuses_another_boot(kvm1: Machine, release: str | None,
                                                     firmware: str | None, image: str | None) -> None:
    record(kvm1, Boot("12", "bios"))
    with pytest.raises(HvlabError) as exc:
        kvm1.boot_for(release, firmware, image, Boot("12", "bios"))
    message = str(exc.value)
    assert "kvm1 exists as Debian 12, bios, bare image" in message
    assert "hvlab vlab down kvm1" in message


@pytest.mark.parametrize("content", [None, "", "{}", '{"release": "11", "firmware": "uefi"}', "[1]",
                                     '{"release": "13", "firmware": "uefi", "image": "weird"}'])
def test_recorded_boot_missing_or_bad_names_the_way_out(kvm1: Machine, content: str | None) -> None:
    kvm1.dir.mkdir(parents=True)
    kvm1.overlay.write_bytes(b"overlay")
    if content is not None:
        kvm1.boot_file.write_text(content)
    with pytest.raises(HvlabError) as exc:
        kvm1.recorded_boot()
    assert str(kvm1.boot_file) in str(exc.value)
    assert "hvlab vlab down kvm1" in str(exc.value)


def test_status_reports_release_firmware_and_image(kvm1: Machine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HVLAB_ACCEL", "tcg")
    st = kvm1.status()
    assert (st["release"], st["firmware"], st["image"]) == (None, None, None)
    record(kvm1, Boot("13", "uefi-secureboot", "prepared"))
    st = kvm1.status()
    assert (st["release"], st["firmware"], st["image"]) == ("13", "uefi-secureboot", "prepared")
    kvm1.boot_file.unlink()  # unreadable: status still answers
    assert (kvm1.status()["release"], kvm1.status()["image"]) == (None, None)


# --- start / stop / destroy without QEMU --------------------------------------------------

def make_cached_image(target: LabTarget | None = None) -> None:
    cached = lab_image.cached_image(target or LabTarget())
    cached.path.parent.mkdir(parents=True, exist_ok=True)
    cached.path.write_bytes(b"image")
    cached.checksum_path.write_text(hashlib.sha256(b"image").hexdigest() + "  x\n")


def test_start_refuses_without_image(kvm1: Machine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(m, "require_tools", lambda _tools: None)
    monkeypatch.setattr(m, "require_firmware", lambda _firmware: None)
    monkeypatch.setattr(m, "_require_port_free", lambda *_a: None)
    make_cached_image(LabTarget("12", "bios"))  # another target's image does not do
    make_cached_image(LabTarget("13", "uefi", "kvm"))  # nor does the prepared one for a bare boot
    with pytest.raises(HvlabError, match="no cached lab image") as exc:
        kvm1.start(UEFI13)
    assert lab_image.cached_image(LabTarget("13", "uefi")).path.name in str(exc.value)
    assert not kvm1.overlay.exists()
    assert not kvm1.boot_file.exists()
    assert not kvm1.dir.exists()  # the image is checked before the machine's dir is made


def test_start_on_a_missing_prepared_image_leaves_no_machine_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(m, "require_tools", lambda _tools: None)
    monkeypatch.setattr(m, "require_firmware", lambda _firmware: None)
    monkeypatch.setattr(m, "_require_port_free", lambda *_a: None)
    xen1 = Machine(m.spec_for("xen1"))
    make_cached_image(LabTarget("13", "uefi"))  # only the bare image
    with pytest.raises(HvlabError, match="no cached lab image") as exc:
        xen1.start(Boot("13", "uefi", "prepared"))
    assert lab_image.cached_image(LabTarget("13", "uefi", "xen")).path.name in str(exc.value)
    assert "--stack" in str(exc.value)
    assert not xen1.dir.exists()


def test_start_refuses_busy_port(listening_socket: socket.socket, monkeypatch: pytest.MonkeyPatch) -> None:
    port = listening_socket.getsockname()[1]
    machine = Machine(MachineSpec("t1", "kvm_hosts", port, 512, "kvm"))
    monkeypatch.setattr(m, "require_tools", lambda _tools: None)
    monkeypatch.setattr(m, "require_firmware", lambda _firmware: None)
    make_cached_image()
    with pytest.raises(HvlabError, match=f"127.0.0.1:{port} for t1"):
        machine.start(UEFI13)
    assert not machine.overlay.exists()


@pytest.fixture
def fake_start(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[list[str]]:
    """start() with fake OVMF files, qemu-img and QEMU (recorded, never run) and no boot wait."""
    ovmf = tmp_path / "ovmf"
    ovmf.mkdir()
    for code, vars_template in m.OVMF_FILES.values():
        (ovmf / code).write_bytes(b"code " + code.encode())
        (ovmf / vars_template).write_bytes(b"template " + vars_template.encode())
    monkeypatch.setattr(m, "OVMF_DIR", ovmf)
    monkeypatch.setenv("HVLAB_ACCEL", "tcg")
    monkeypatch.setattr(m, "require_tools", lambda _tools: None)
    monkeypatch.setattr(m, "require_free_space", lambda *_a: None)
    monkeypatch.setattr(m, "_require_port_free", lambda *_a: None)  # another lab may use 2221
    monkeypatch.setattr(Machine, "wait_ready", lambda *_a, **_k: None)
    m.ssh_key()  # generated for real, before run is faked
    calls: list[list[str]] = []

    def run(cmd: list[str], *_a: object, **_k: object) -> subprocess.CompletedProcess[str]:
        calls.append(cmd)
        if cmd[:2] == ["qemu-img", "create"]:
            Path(cmd[-1]).write_bytes(b"overlay")
        elif cmd[0] != "qemu-system-x86_64":
            pytest.fail(f"unexpected command {cmd!r}")
        return subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setattr(m.subprocess, "run", run)
    return calls


@pytest.mark.parametrize(("firmware", "template"), [
    ("uefi", "OVMF_VARS_4M.fd"), ("uefi-secureboot", "OVMF_VARS_4M.ms.fd"),
])
def test_start_uefi_copies_the_variable_store_and_records_the_boot(
        kvm1: Machine, fake_start: list[list[str]], firmware: str, template: str) -> None:
    boot = Boot("13", firmware)
    make_cached_image(boot.target(kvm1.spec.stack))
    kvm1.start(boot)
    assert kvm1.efi_vars.read_bytes() == b"template " + template.encode()
    assert json.loads(kvm1.boot_file.read_text()) == {"release": "13", "firmware": firmware, "image": "bare"}
    assert kvm1.recorded_boot() == boot
    create, qemu = fake_start
    assert create[-3:] == ["-b", str(lab_image.cached_image(LabTarget("13", "uefi")).path), str(kvm1.overlay)]
    assert qemu == kvm1.qemu_command(boot)
    assert f"if=pflash,format=raw,unit=1,file={kvm1.efi_vars}" in qemu


def test_start_bios_has_no_variable_store(kvm1: Machine, fake_start: list[list[str]]) -> None:
    boot = Boot("12", "bios")
    make_cached_image(boot.target(kvm1.spec.stack))
    kvm1.start(boot)
    assert not kvm1.efi_vars.exists()
    assert json.loads(kvm1.boot_file.read_text()) == {"release": "12", "firmware": "bios", "image": "bare"}
    assert fake_start[0][-2] == str(lab_image.cached_image(LabTarget("12", "bios")).path)


@pytest.mark.parametrize("name", ["kvm1", "xen1"])
def test_start_prepared_overlays_the_machines_stack_image(name: str, fake_start: list[list[str]]) -> None:
    machine = Machine(m.spec_for(name))
    boot = Boot("13", "uefi", "prepared")
    prepared = LabTarget("13", "uefi", machine.spec.stack)
    make_cached_image(prepared)
    make_cached_image(LabTarget("13", "uefi"))
    machine.start(boot)
    assert fake_start[0][-2] == str(lab_image.cached_image(prepared).path)
    assert json.loads(machine.boot_file.read_text())["image"] == "prepared"
    assert machine.recorded_boot() == boot


def test_restart_keeps_the_disk_and_its_variable_store(kvm1: Machine, fake_start: list[list[str]]) -> None:
    make_cached_image()
    kvm1.start(UEFI13)
    kvm1.efi_vars.write_bytes(b"boot entries written by grub-install")
    fake_start.clear()
    kvm1.start(UEFI13)
    assert [c[0] for c in fake_start] == ["qemu-system-x86_64"]  # no new overlay
    assert kvm1.efi_vars.read_bytes() == b"boot entries written by grub-install"


def test_start_passes_the_guest_image_disk_to_qemu(kvm1: Machine, fake_start: list[list[str]],
                                                   tmp_path: Path) -> None:
    make_cached_image()
    tar = tmp_path / "guest.tar"
    kvm1.start(UEFI13, guest_disk=tar)
    assert fake_start[-1] == kvm1.qemu_command(UEFI13, tar)
    fake_start.clear()
    kvm1.pidfile.unlink(missing_ok=True)
    kvm1.start(UEFI13)  # a later up without it: no such disk
    assert fake_start[-1] == kvm1.qemu_command(UEFI13)


@pytest.mark.parametrize(("firmware", "template"), [
    ("uefi", "OVMF_VARS_4M.fd"), ("uefi-secureboot", "OVMF_VARS_4M.ms.fd"),
])
def test_restart_without_its_variable_store_gets_a_fresh_copy(kvm1: Machine, fake_start: list[list[str]],
                                                               firmware: str, template: str) -> None:
    boot = Boot("13", firmware)
    make_cached_image()
    kvm1.start(boot)
    kvm1.efi_vars.write_bytes(b"boot entries written by grub-install")
    kvm1.efi_vars.unlink()
    fake_start.clear()
    kvm1.start(boot)
    assert kvm1.efi_vars.read_bytes() == b"template " + template.encode()
    assert [c[0] for c in fake_start] == ["qemu-system-x86_64"]  # the disk is kept
    assert kvm1.overlay.read_bytes() == b"overlay"


def test_start_refuses_another_boot_for_an_existing_disk(kvm1: Machine, fake_start: list[list[str]]) -> None:
    make_cached_image()
    kvm1.start(UEFI13)
    fake_start.clear()
    with pytest.raises(HvlabError, match="kvm1 exists as Debian 13, uefi, bare image, "
                                         "not Debian 13, uefi-secureboot, bare image"):
        kvm1.start(Boot("13", "uefi-secureboot"))
    with pytest.raises(HvlabError, match="not Debian 13, uefi, prepared image"):
        kvm1.start(Boot("13", "uefi", "prepared"))
    assert fake_start == []
    assert kvm1.recorded_boot() == UEFI13


def test_destroy_stopped_machine_removes_only_its_files(kvm1: Machine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Machine, "run", lambda *_a, **_k: pytest.fail("no SSH for a stopped machine"))
    kvm1.dir.mkdir(parents=True)
    for f in (kvm1.overlay, kvm1.serial_log, kvm1.known_hosts, kvm1.boot_file, kvm1.efi_vars):
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
