#!/usr/bin/python3
"""Describe a hypervisor host as the guests experience it; print one probe document (JSON) on stdout.

Why this exists: KVM and Xen differ in who manages the guests' CPUs and memory. Under KVM
the Linux kernel does (each guest is a QEMU process: scheduling policy, cgroup, resident
memory, transparent huge pages, KSM merging); under Xen the hypervisor does (scheduler,
memory given to Dom0 and to each domain, page sharing). Benchmark figures mean little
without these facts, so this probe records them next to the runs.

Every reading is best effort: what cannot be read becomes null, and the reason goes to
data.errors, never a traceback. Run it as root (xl and other users' /proc entries need it).
Standard library only: the script is copied to the hosts and runs with /usr/bin/python3.
"""

from __future__ import annotations

import argparse
import datetime
import itertools
import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

SCHEMA = "hvlab.probe/1"
SCHED_POLICIES = {0: "SCHED_OTHER", 1: "SCHED_FIFO", 2: "SCHED_RR", 3: "SCHED_BATCH", 5: "SCHED_IDLE",
                  6: "SCHED_DEADLINE"}
KSM_FIELDS = ("run", "pages_shared", "pages_sharing")
XL_INFO_INTS = ("total_memory", "free_memory", "nr_cpus", "sharing_freed_memory", "sharing_used_memory")
LIBVIRT_URI = "qemu:///system"
OS_RELEASE_FIELDS = ("ID", "VERSION_ID", "PRETTY_NAME")
# The EFI global variable SecureBoot: 4 bytes of attributes, then one byte, 1 when secure boot is on.
SECURE_BOOT_VAR = "SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c"
QCOW2_MAGIC = b"QFI\xfb"
# libvirt <target bus=...> of a disk: the device model QEMU emulates or serves for it.
KVM_DISK_MODELS = {"virtio": "virtio-blk", "scsi": "SCSI (virtio-scsi or an emulated HBA)",
                   "sata": "AHCI (emulated SATA)", "ide": "IDE (emulated)", "usb": "USB storage (emulated)"}
# The <kind> of a Xen back-end's xenstore path, /local/domain/<be>/backend/<kind>/<domid>/<devid>.
XEN_DISK_BACKENDS = {"qdisk": "QEMU qdisk", "vbd": "blkback (kernel)", "vbd3": "tapdisk3 (user space)"}
XEN_NET_BACKENDS = {"vif": "netback (kernel)", "qnic": "QEMU (user space)"}


def read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return None


def run(argv: list[str], errors: list[str], ok_codes: tuple[int, ...] = (0,)) -> str | None:
    """stdout of argv, or None with the reason appended to errors."""
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        errors.append(f"{' '.join(argv)}: {exc}")
        return None
    if proc.returncode not in ok_codes:
        errors.append(f"{' '.join(argv)} exited with {proc.returncode}: {proc.stderr.strip()[-300:]}")
        return None
    return proc.stdout


# ---------------------------------------------------------------- parsers of Linux files


def cpu_model(cpuinfo: str | None) -> str | None:
    for line in (cpuinfo or "").splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "model name":
            return value.strip()
    return None


def bracketed(text: str | None) -> str | None:
    """The selected word of a sysfs choice file: 'always [madvise] never' -> 'madvise'."""
    match = re.search(r"\[([^\]]+)\]", text or "")
    return match.group(1) if match else None


def kib_field(text: str | None, field: str) -> int | None:
    """Sum of 'Field:  N kB' lines (one in /proc/PID/status, possibly several in smaps)."""
    values = [int(m.group(1)) for m in re.finditer(rf"^{re.escape(field)}:\s+(\d+) kB", text or "", re.MULTILINE)]
    return sum(values) if values else None


def sched_policy(sched: str | None) -> str | None:
    """Policy name from /proc/PID/sched's 'policy : N' line."""
    match = re.search(r"^policy\s*:\s*(\d+)", sched or "", re.MULTILINE)
    if match is None:
        return None
    number = int(match.group(1))
    return SCHED_POLICIES.get(number, f"policy {number}")


def parse_os_release(text: str | None) -> dict[str, str | None]:
    """ID, VERSION_ID and PRETTY_NAME of os-release(5): KEY=value lines, the value maybe quoted."""
    values: dict[str, str] = {}
    for line in (text or "").splitlines():
        key, sep, value = line.strip().partition("=")
        if sep and key in OS_RELEASE_FIELDS:
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
                value = value[1:-1]
            values[key] = value
    return {key.lower(): values.get(key) for key in OS_RELEASE_FIELDS}


def os_release(etc_root: Path) -> dict[str, str | None]:
    """The host's distribution release; /etc/os-release, else /usr/lib/os-release (os-release(5))."""
    text = read_text(etc_root / "os-release")
    if text is None:
        text = read_text(etc_root.parent / "usr" / "lib" / "os-release")
    return parse_os_release(text)


def firmware_mode(sys_root: Path) -> str:
    """"bios", "uefi" or "uefi-secureboot", as the running kernel was booted.

    The kernel creates /sys/firmware/efi only when booted by UEFI; secure boot is on when the
    SecureBoot EFI variable's last byte is 1 (the first four bytes are its attributes).
    """
    efi = sys_root / "firmware" / "efi"
    if not efi.is_dir():
        return "bios"
    try:
        variable = (efi / "efivars" / SECURE_BOOT_VAR).read_bytes()
    except OSError:
        return "uefi"
    return "uefi-secureboot" if variable[-1:] == b"\x01" else "uefi"


def image_format(path: Path) -> dict[str, str | None]:
    """A disk image's format as its first bytes say, and its backing file (a linked clone's base).

    Why the header and not the configuration: the configuration says what was asked for; the
    header is what QEMU opens. Only qcow2 is recognised; anything else is reported as raw.
    """
    with path.open("rb") as image:
        header = image.read(20)
        if header[:4] != QCOW2_MAGIC:
            return {"format": "raw", "backing_file": None}
        offset, size = int.from_bytes(header[8:16], "big"), int.from_bytes(header[16:20], "big")
        backing = None
        if offset and size:
            image.seek(offset)
            backing = image.read(min(size, 4096)).decode("utf-8", "replace")
    return {"format": "qcow2", "backing_file": backing}


def image_facts(path: str | None, errors: list[str]) -> dict[str, str | None]:
    if not path:
        return {"format": None, "backing_file": None}
    try:
        return image_format(Path(path))
    except OSError as exc:
        errors.append(f"{path}: cannot read the image header: {exc.strerror}")
        return {"format": None, "backing_file": None}


def vhost_net_open(pid_dir: Path) -> bool | None:
    """Whether a QEMU process holds /dev/vhost-net open (the host kernel then moves the guest's
    packets), or None when its file descriptors cannot be read."""
    try:
        fds = list((pid_dir / "fd").iterdir())
    except OSError:
        return None
    for fd in fds:
        try:
            if os.readlink(fd) == "/dev/vhost-net":
                return True
        except OSError:
            continue
    return False


def cgroup_path(cgroup: str | None) -> str | None:
    """The cgroup v2 path ('0::/...'), else the v1 lines joined by ';'."""
    lines = [line for line in (cgroup or "").splitlines() if line]
    for line in lines:
        if line.startswith("0::"):
            return line[3:]
    return ";".join(lines) or None


def qemu_guest_name(cmdline: list[str]) -> str | None:
    """Guest name from QEMU's '-name guest=NAME,debug-threads=on' (libvirt) or '-name NAME'."""
    for flag, value in itertools.pairwise(cmdline):
        if flag == "-name":
            options = value.split(",")
            for option in options:
                if option.startswith("guest="):
                    return option[len("guest="):]
            return options[0] or None
    return None


def qemu_xen_domid(cmdline: list[str]) -> int | None:
    for flag, value in itertools.pairwise(cmdline):
        if flag == "-xen-domid" and value.isdigit():
            return int(value)
    return None


def parse_domain_devices(domain_xml: str) -> dict[str, Any]:
    """A running libvirt domain's first disk and network interface, as `virsh dumpxml` reports them.

    disk_cache is 'default' when libvirt chose. Whether vhost-net serves the interface is not
    taken from the XML (<driver name> is a request) but from the QEMU process's open files.
    """
    root = ET.fromstring(domain_xml)
    devices: dict[str, Any] = dict.fromkeys(("disk_cache", "disk_bus", "disk_source", "net_type"))
    disk = next((d for d in root.iterfind("./devices/disk") if d.get("device", "disk") == "disk"), None)
    if disk is not None:
        driver, target, source = disk.find("driver"), disk.find("target"), disk.find("source")
        devices["disk_cache"] = driver.get("cache", "default") if driver is not None else "default"
        devices["disk_bus"] = target.get("bus") if target is not None else None
        devices["disk_source"] = (source.get("file") or source.get("dev")) if source is not None else None
    interface = root.find("./devices/interface")
    if interface is not None:
        devices["net_type"] = interface.get("type")
    return devices


def libvirt_devices(guest: str, errors: list[str]) -> dict[str, Any]:
    domain_xml = run(["virsh", "-c", LIBVIRT_URI, "dumpxml", guest], errors)
    if domain_xml is None:
        return {}
    try:
        return parse_domain_devices(domain_xml)
    except ET.ParseError as exc:
        errors.append(f"virsh dumpxml {guest}: not XML: {exc}")
        return {}


def kvm_net_backend(devices: dict[str, Any], vhost: bool | None) -> str | None:
    """Who moves a KVM guest's packets: the host kernel (vhost-net) or QEMU, by what the process holds open."""
    if devices.get("net_type") == "user":
        return "QEMU user-mode networking (slirp)"
    if vhost is None or devices.get("net_type") is None:
        return None
    return "vhost-net (host kernel)" if vhost else "QEMU user space (no vhost-net)"


def kvm_backends(process: dict[str, Any], devices: dict[str, Any], proc_root: Path,
                 errors: list[str]) -> dict[str, Any]:
    """A KVM guest's disk and network back-ends as the host reports them."""
    model = KVM_DISK_MODELS.get(devices.get("disk_bus") or "", devices.get("disk_bus"))
    image = image_facts(devices.get("disk_source"), errors)
    return {
        "disk_path": f"QEMU {model} in a Linux process (pid {process['pid']})" if model else None,
        "disk_format": image["format"],
        "disk_backing_file": image["backing_file"],
        "net_backend": kvm_net_backend(devices, vhost_net_open(proc_root / str(process["pid"]))),
    }


def ksm_state(ksm_dir: Path) -> dict[str, int | None]:
    values: dict[str, int | None] = {}
    for field in KSM_FIELDS:
        raw = read_text(ksm_dir / field)
        values[field] = int(raw) if raw is not None and raw.isdigit() else None
    return values


def ksm_before(path: Path | None, errors: list[str]) -> dict[str, Any] | None:
    """The KSM state the guests role saved before starting the guests (optional file)."""
    if path is None or not path.exists():
        return None
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        errors.append(f"{path}: {exc}")
        return None
    return document if isinstance(document, dict) else None


def _process_entry(pid_dir: Path, comm: str, live: bool) -> dict[str, Any]:
    raw_cmdline = (pid_dir / "cmdline").read_bytes()
    cmdline = [arg.decode("utf-8", "replace") for arg in raw_cmdline.split(b"\0") if arg]
    policy = sched_policy(read_text(pid_dir / "sched"))
    if policy is None and live:
        try:
            number = os.sched_getscheduler(int(pid_dir.name))
            policy = SCHED_POLICIES.get(number, f"policy {number}")
        except OSError:
            policy = None
    return {
        "guest": qemu_guest_name(cmdline),
        "xen_domid": qemu_xen_domid(cmdline),
        "pid": int(pid_dir.name),
        "comm": comm,
        "sched_policy": policy,
        "cgroup": cgroup_path(read_text(pid_dir / "cgroup")),
        "rss_kib": kib_field(read_text(pid_dir / "status"), "VmRSS"),
        "anon_huge_kib": kib_field(read_text(pid_dir / "smaps_rollup"), "AnonHugePages"),
        "vcpu_threads": vcpu_threads(pid_dir, live),
    }


def vcpu_threads(pid_dir: Path, live: bool) -> list[dict[str, Any]]:
    """QEMU's vCPU threads ('CPU 0/KVM'): their policy and the host CPUs they may run on (pinning)."""
    threads = []
    task_dir = pid_dir / "task"
    try:
        tids = sorted((entry for entry in task_dir.iterdir() if entry.name.isdigit()), key=lambda e: int(e.name))
    except OSError:
        return []
    for tid_dir in tids:
        name = read_text(tid_dir / "comm") or ""
        if not name.startswith("CPU "):
            continue
        match = re.search(r"^Cpus_allowed_list:\s*(\S+)", read_text(tid_dir / "status") or "", re.MULTILINE)
        threads.append({
            "name": name,
            "tid": int(tid_dir.name),
            "sched_policy": sched_policy(read_text(tid_dir / "sched")),
            "cpus_allowed": match.group(1) if match else None,
        })
    return threads


def qemu_processes(proc_root: Path = Path("/proc")) -> list[dict[str, Any]]:
    """Every process whose comm starts with 'qemu', with what the host does for it."""
    live = proc_root == Path("/proc")
    found = []
    try:
        pid_dirs = sorted((entry for entry in proc_root.iterdir() if entry.name.isdigit()), key=lambda e: int(e.name))
    except OSError:
        return []
    for pid_dir in pid_dirs:
        comm = read_text(pid_dir / "comm")
        if not comm or not comm.startswith("qemu"):
            continue
        try:
            found.append(_process_entry(pid_dir, comm, live))
        except OSError:  # the process ended while it was read
            continue
    return found


# ---------------------------------------------------------------- parsers of xl output


def parse_xl_info(text: str) -> dict[str, Any]:
    """The fields of `xl info` the comparison uses; integers where xl prints integers."""
    raw: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() and not key.startswith(" "):
            raw.setdefault(key.strip(), value.strip())
    info: dict[str, Any] = {}
    if "xen_major" in raw and "xen_minor" in raw:
        info["xen_version"] = f"{raw['xen_major']}.{raw['xen_minor']}{raw.get('xen_extra', '')}"
    else:
        info["xen_version"] = raw.get("xen_version")
    info["xen_scheduler"] = raw.get("xen_scheduler")
    for field in XL_INFO_INTS:
        value = raw.get(field)
        info[field] = int(value) if value is not None and value.isdigit() else None
    info["xen_commandline"] = raw.get("xen_commandline")
    return info


def parse_xl_list_dom0(text: str) -> dict[str, int | None] | None:
    """Memory (MiB) and vCPUs of Domain-0 from plain `xl list`."""
    for line in text.splitlines():
        fields = line.split()
        if len(fields) >= 4 and fields[0] == "Domain-0":
            return {"memory_mib": int(fields[2]), "vcpus": int(fields[3])}
    return None


_SIZE_UNITS = {"b": 1 / 1024 / 1024, "k": 1 / 1024, "m": 1, "g": 1024, "t": 1024 * 1024}


def dom0_mem_configured_mib(xen_commandline: str | None) -> int | None:
    """The Dom0 memory (MiB) that Xen's command line asks for, or None when it sets none.

    `dom0_mem=[min:S,][max:S,]S`: the bare S is the amount; Xen reads a size without a
    unit as KiB. A percentage or an unreadable size gives None rather than a guess.
    """
    for word in (xen_commandline or "").split():
        key, sep, value = word.partition("=")
        if not sep or key != "dom0_mem":
            continue
        for part in value.split(","):
            if ":" in part:
                continue
            number, unit = part[:-1], part[-1:].lower()
            if unit.isdigit():
                number, unit = part, "k"
            if number.isdigit() and unit in _SIZE_UNITS:
                return int(int(number) * _SIZE_UNITS[unit])
            return None
    return None


def xen_disk_cache_mode(disk: dict[str, Any]) -> str | None:
    """What a Xen disk amounts to in QEMU cache terms.

    A qdisk backend with direct-io-safe opens the image with O_DIRECT, as KVM's cache=none
    does; without it, through Dom0's page cache (writeback). Other backends: unknown (null).
    """
    if disk.get("backend") != "qdisk":
        return None
    return "none" if disk.get("direct_io_safe") is True else "writeback"


def cpu_list(cpus: set[int]) -> str:
    """A set of CPUs as Linux writes it (Cpus_allowed_list): "0-3,6"."""
    runs: list[list[int]] = []
    for cpu in sorted(cpus):
        if runs and runs[-1][1] == cpu - 1:
            runs[-1][1] = cpu
        else:
            runs.append([cpu, cpu])
    return ",".join(str(first) if first == last else f"{first}-{last}" for first, last in runs)


def parse_cpu_list(text: str, nr_cpus: int | None) -> str | None:
    """A CPU list (`0-1,3`) or Xen's `all` in one canonical form, so both stacks' pinning compare as text."""
    text = text.strip()
    if text == "all":
        return cpu_list(set(range(nr_cpus))) if nr_cpus else None
    cpus: set[int] = set()
    for part in text.split(","):
        first, _, last = part.partition("-")
        if not first.isdigit() or (last and not last.isdigit()):
            return None
        cpus.update(range(int(first), int(last or first) + 1))
    return cpu_list(cpus)


def parse_xl_vcpu_list(text: str, nr_cpus: int | None) -> dict[str, list[str | None]]:
    """Domain name -> the hard affinity of each vCPU, from `xl vcpu-list` (Domain-0 left out).

    Rows are `Name ID VCPU CPU State Time(s) Hard / Soft`; the header has no numeric ID.
    """
    affinity: dict[str, list[str | None]] = {}
    for line in text.splitlines():
        head, slash, _soft = line.rpartition("/")
        fields = head.split()
        if not slash or len(fields) < 7 or not fields[1].isdigit() or fields[0] == "Domain-0":
            continue
        affinity.setdefault(fields[0], []).append(parse_cpu_list(fields[-1], nr_cpus))
    return affinity


def parse_xl_list_long(text: str) -> list[dict[str, Any]]:
    """Domains of `xl list -l`: a JSON array of {"domid", "config": {"c_info", "b_info", "disks", ...}}.

    xl leaves out domains whose configuration it does not hold (usually Domain-0).
    """
    document = json.loads(text) if text.strip() else []
    entries = document if isinstance(document, list) else [document]
    domains = []
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        config = entry.get("config") or {}
        c_info = config.get("c_info") or {}
        b_info = config.get("b_info") or {}
        target_kb = b_info.get("target_memkb")
        disks = [
            {"vdev": disk.get("vdev"), "backend": disk.get("backend"), "format": disk.get("format"),
             "pdev_path": disk.get("pdev_path"),
             "direct_io_safe": disk.get("direct_io_safe") is True, "cache_mode": xen_disk_cache_mode(disk)}
            for disk in config.get("disks") or [] if isinstance(disk, dict)
        ]
        domains.append({
            "name": c_info.get("name"),
            "domid": entry.get("domid"),
            "type": c_info.get("type"),
            "memory_mib": target_kb // 1024 if isinstance(target_kb, int) else None,
            "vcpus": b_info.get("max_vcpus"),
            "disks": disks,
            "disk_cache_mode": disks[0]["cache_mode"] if disks else None,
        })
    return domains


def parse_xl_device_list(text: str) -> list[dict[str, Any]]:
    """The back-ends of `xl block-list DOMID` or `xl network-list DOMID`, from each row's BE-path.

    The path, /local/domain/<backend domid>/backend/<kind>/<domid>/<devid>, is where the running
    back-end registered in xenstore: its kind (qdisk, vbd, vif, ...) is what serves the device.
    """
    found = []
    for line in text.splitlines():
        match = re.search(r"/local/domain/(\d+)/backend/([^/\s]+)/\d+/\d+\s*$", line)
        if match:
            found.append({"backend_domid": int(match.group(1)), "kind": match.group(2)})
    return found


def xen_backend(device: dict[str, Any] | None, names: dict[str, str], qemu_pid: int | None = None) -> str | None:
    """A back-end in words: "QEMU qdisk in Dom0 (pid 3305)", "netback (kernel) in Dom0"."""
    if device is None:
        return None
    where = "Dom0" if device["backend_domid"] == 0 else f"driver domain {device['backend_domid']}"
    pid = f" (pid {qemu_pid})" if qemu_pid is not None else ""
    return f"{names.get(device['kind'], device['kind'])} in {where}{pid}"


def xen_backends(domain: dict[str, Any], qemu: list[dict[str, Any]], errors: list[str]) -> dict[str, Any]:
    """A Xen guest's disk and network back-ends as xl and the disk image report them."""
    domid = domain.get("domid")
    blocks = run(["xl", "block-list", str(domid)], errors)
    nics = run(["xl", "network-list", str(domid)], errors)
    disk = next(iter(parse_xl_device_list(blocks or "")), None)
    nic = next(iter(parse_xl_device_list(nics or "")), None)
    # A qdisk back-end is a QEMU process in the back-end domain that serves this domid.
    pid = next((p["pid"] for p in qemu if p["xen_domid"] == domid), None) if disk and disk["kind"] == "qdisk" else None
    image = image_facts(domain["disks"][0]["pdev_path"] if domain["disks"] else None, errors)
    return {
        "disk_path": xen_backend(disk, XEN_DISK_BACKENDS, pid),
        "disk_format": image["format"],
        "disk_backing_file": image["backing_file"],
        "net_backend": xen_backend(nic, XEN_NET_BACKENDS),
    }


# ---------------------------------------------------------------- collection


def _bool_flag(value: str | None) -> bool | None:
    if value is None or value == "":
        return None
    return value.strip().lower() in ("true", "yes", "1")


# DMI system vendors of virtual machines: a host that reports one is itself a guest
# (nested, or emulated), whatever systemd-detect-virt says (in Dom0 it says "xen").
VM_VENDORS = ("QEMU", "VMware, Inc.", "innotek GmbH", "Xen", "Parallels Software International Inc.",
              "Microsoft Corporation", "Red Hat", "Google", "Amazon EC2", "OpenStack Foundation")


def platform(sys_root: Path) -> dict[str, Any]:
    """The machine as its firmware names it (DMI), and whether that is a virtual machine.

    Hyper-V and Amazon name bare-metal machines with the same vendors as their VMs, so
    for those only the product name ("Virtual Machine", or an EC2 instance type without
    ".metal") decides.
    """
    dmi = sys_root / "class" / "dmi" / "id"
    vendor, product = read_text(dmi / "sys_vendor"), read_text(dmi / "product_name")
    in_vm: bool | None = None
    if vendor is not None:
        in_vm = vendor in VM_VENDORS
        if vendor == "Microsoft Corporation":
            in_vm = product == "Virtual Machine"
        elif vendor == "Amazon EC2":
            in_vm = not (product or "").endswith(".metal")
    return {"vendor": vendor, "product": product, "in_vm": in_vm}


def parse_xenpm_governor(text: str) -> str | None:
    """CPU 0's cpufreq governor from `xenpm get-cpufreq-para 0`: Xen, not Dom0, scales the CPUs."""
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() in ("current_governor", "scaling_governor") and value.strip():
            return value.strip().split()[0]
    return None


def collect_common(args: argparse.Namespace, errors: list[str], proc_root: Path, sys_root: Path,
                   etc_root: Path) -> dict[str, Any]:
    virt = run(["systemd-detect-virt"], errors, ok_codes=(0, 1))
    return {
        "os_release": os_release(etc_root),
        "firmware": firmware_mode(sys_root),
        "kernel": os.uname().release,
        "cpu_model": cpu_model(read_text(proc_root / "cpuinfo")),
        "governor": read_text(sys_root / "devices" / "system" / "cpu" / "cpu0" / "cpufreq" / "scaling_governor"),
        "emulated": _bool_flag(args.emulated),
        "virtualization": (virt.strip() or "none") if virt is not None else None,
        "platform": platform(sys_root),
    }


def collect_kvm(args: argparse.Namespace, errors: list[str], proc_root: Path, sys_root: Path) -> dict[str, Any]:
    mm = sys_root / "kernel" / "mm"
    processes = qemu_processes(proc_root)
    backends: dict[str, dict[str, Any]] = {}
    for process in processes:
        devices = libvirt_devices(process["guest"], errors) if process["guest"] else {}
        process["disk_cache"] = devices.get("disk_cache")
        if process["guest"] and process["xen_domid"] is None:
            backends[process["guest"]] = kvm_backends(process, devices, proc_root, errors)
    return {
        "ksm": {"before": ksm_before(Path(args.ksm_before) if args.ksm_before else None, errors),
                "after": ksm_state(mm / "ksm")},
        "thp_enabled": bracketed(read_text(mm / "transparent_hugepage" / "enabled")),
        "guest_processes": processes,
        # guest name -> disk cache mode, the same key on both stacks for the guest probes.
        "guest_disk_cache": {p["guest"]: p["disk_cache"] for p in processes if p["guest"]},
        # guest name -> the host CPUs each vCPU thread may run on (its pinning), as on Xen.
        "guest_vcpu_affinity": {
            p["guest"]: [parse_cpu_list(t["cpus_allowed"], None) if t["cpus_allowed"] else None
                         for t in p["vcpu_threads"]]  # in thread order: vCPU 0 first
            for p in processes if p["guest"] and p["vcpu_threads"]},
        # guest name -> disk path, image format and network back-end, as on Xen.
        "guest_backends": backends,
    }


def collect_xen(errors: list[str], proc_root: Path) -> dict[str, Any]:
    data: dict[str, Any] = {"xl_info": None, "dom0": None, "domains": None}
    info = run(["xl", "info"], errors)
    if info is not None:
        data["xl_info"] = parse_xl_info(info)
    listing = run(["xl", "list"], errors)
    if listing is not None:
        data["dom0"] = parse_xl_list_dom0(listing)
    if data["dom0"] is not None and data["xl_info"] is not None:
        data["dom0"]["dom0_mem_configured"] = dom0_mem_configured_mib(data["xl_info"]["xen_commandline"])
    long_listing = run(["xl", "list", "-l"], errors)
    if long_listing is not None:
        try:
            data["domains"] = parse_xl_list_long(long_listing)
        except json.JSONDecodeError as exc:
            errors.append(f"xl list -l: not JSON: {exc}")
    data["guest_disk_cache"] = {d["name"]: d["disk_cache_mode"] for d in data["domains"] or [] if d["name"]}
    vcpus = run(["xl", "vcpu-list"], errors)
    nr_cpus = (data["xl_info"] or {}).get("nr_cpus")
    data["guest_vcpu_affinity"] = parse_xl_vcpu_list(vcpus, nr_cpus) if vcpus is not None else {}
    # Device models and qdisk backends serving the guests' disks run as QEMU in Dom0.
    data["qemu_processes"] = qemu_processes(proc_root)
    data["guest_backends"] = {d["name"]: xen_backends(d, data["qemu_processes"], errors)
                              for d in data["domains"] or [] if d["name"] and isinstance(d["domid"], int)}
    # Dom0 has no cpufreq of its own; Xen's governor is asked for. Without cpufreq (a
    # virtual machine, or a BIOS that keeps it) xenpm fails: no governor, not an error.
    xenpm = run(["xenpm", "get-cpufreq-para", "0"], [])
    data["xen_governor"] = parse_xenpm_governor(xenpm) if xenpm is not None else None
    return data


def collect(args: argparse.Namespace, proc_root: Path = Path("/proc"), sys_root: Path = Path("/sys"),
            etc_root: Path = Path("/etc")) -> dict[str, Any]:
    errors: list[str] = []
    data = collect_common(args, errors, proc_root, sys_root, etc_root)
    if args.stack == "kvm":
        data.update(collect_kvm(args, errors, proc_root, sys_root))
    else:
        data.update(collect_xen(errors, proc_root))
        data["governor"] = data["governor"] or data["xen_governor"]
    data["errors"] = errors
    return data


def document(args: argparse.Namespace, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "kind": "host",
        "stack": args.stack,
        "name": args.name,
        "collected": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "data": data,
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack", required=True, choices=["kvm", "xen"])
    parser.add_argument("--name", required=True, help="inventory name of this host")
    parser.add_argument("--emulated", default=None, help="true or false: the host is an emulated lab machine")
    parser.add_argument("--ksm-before", default=None, help="JSON file with the KSM state before the guests started")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        data = collect(args)
    except Exception as exc:  # a probe that cannot read something still prints a document
        data = {"errors": [f"internal error: {type(exc).__name__}: {exc}"]}
    print(json.dumps(document(args, data)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
