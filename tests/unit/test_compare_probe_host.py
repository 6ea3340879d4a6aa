"""roles/compare/files/hvlab_probe_host.py: parsers of /proc, xl and virsh output, and whole probes.

/proc comes from fixtures/compare/proc (a libvirt QEMU, a Xen qdisk QEMU, systemd); xl and
virsh are shell scripts on PATH that print the fixtures, so nothing touches a real host.
"""

import argparse
import json
import shutil
import stat
from pathlib import Path
from types import ModuleType

import pytest
from plugin_loader import load_plugin

FIXTURES = Path(__file__).parent / "fixtures" / "compare"


@pytest.fixture(scope="module")
def probe() -> ModuleType:
    return load_plugin("roles/compare/files/hvlab_probe_host.py", "hvlab_probe_host")


@pytest.fixture
def proc(tmp_path: Path) -> Path:
    """The fixture /proc tree, with cmdline.lines turned into NUL-separated cmdline files."""
    root = tmp_path / "proc"
    shutil.copytree(FIXTURES / "proc", root)
    for lines in root.glob("*/cmdline.lines"):
        args = lines.read_text().splitlines()
        (lines.parent / "cmdline").write_bytes(b"\0".join(arg.encode() for arg in args) + b"\0")
        lines.unlink()
    return root


@pytest.fixture
def fake_bin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", str(bin_dir))
    return bin_dir


def script(bin_dir: Path, name: str, body: str) -> None:
    path = bin_dir / name
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


def qcow2(path: Path, backing: str | None) -> Path:
    """A qcow2 header (magic, version 3, backing file offset and size), the backing name after it."""
    name = (backing or "").encode()
    header = b"QFI\xfb" + (3).to_bytes(4, "big") + (104 if backing else 0).to_bytes(8, "big") \
        + len(name).to_bytes(4, "big")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(header.ljust(104, b"\0") + name)
    return path


def fake_xl(bin_dir: Path) -> None:
    """xl printing the fixtures; `xl list -l` names disk images made here (web1 a linked clone, db1 raw)."""
    images = bin_dir.parent / "images"
    long_listing = json.loads((FIXTURES / "xl_list_long.json").read_text())
    long_listing[0]["config"]["disks"][0]["pdev_path"] = str(qcow2(images / "web1.qcow2", "/srv/base.qcow2"))
    raw = images / "db1.img"
    raw.write_bytes(b"\0" * 512)
    long_listing[1]["config"]["disks"][0]["pdev_path"] = str(raw)
    (bin_dir.parent / "xl_list_long.json").write_text(json.dumps(long_listing))
    script(bin_dir, "xl", f"""case "$*" in
  info) /bin/cat {FIXTURES / "xl_info.txt"} ;;
  list) /bin/cat {FIXTURES / "xl_list.txt"} ;;
  "list -l") /bin/cat {bin_dir.parent / "xl_list_long.json"} ;;
  vcpu-list) /bin/cat {FIXTURES / "xl_vcpu_list.txt"} ;;
  "block-list 1"|"block-list 2") /bin/cat {FIXTURES}/xl_block_list_$2.txt ;;
  "network-list 1"|"network-list 2") /bin/cat {FIXTURES}/xl_network_list_$2.txt ;;
  *) echo "unexpected xl $*" >&2; exit 2 ;;
esac""")


def make_sys(root: Path) -> Path:
    sys = root / "sys"
    ksm = sys / "kernel" / "mm" / "ksm"
    ksm.mkdir(parents=True)
    for name, value in {"run": "1", "pages_shared": "1523", "pages_sharing": "20931"}.items():
        (ksm / name).write_text(value + "\n")
    thp = sys / "kernel" / "mm" / "transparent_hugepage"
    thp.mkdir(parents=True)
    (thp / "enabled").write_text("always [madvise] never\n")
    gov = sys / "devices" / "system" / "cpu" / "cpu0" / "cpufreq"
    gov.mkdir(parents=True)
    (gov / "scaling_governor").write_text("performance\n")
    return sys


def args(stack: str, **overrides: object) -> argparse.Namespace:
    values: dict[str, object] = {"stack": stack, "name": f"{stack}1", "emulated": "true", "ksm_before": None}
    values.update(overrides)
    return argparse.Namespace(**values)


# ---------------------------------------------------------------- small parsers


def test_linux_file_parsers(probe: ModuleType) -> None:
    assert probe.cpu_model((FIXTURES / "proc" / "cpuinfo").read_text()) == "AMD Ryzen 7 5800X 8-Core Processor"
    assert probe.cpu_model("") is None
    assert probe.bracketed("always [madvise] never") == "madvise"
    assert probe.bracketed(None) is None
    assert probe.kib_field("AnonHugePages:   2048 kB\nAnonHugePages:   4096 kB\n", "AnonHugePages") == 6144
    assert probe.kib_field("Rss: 1 kB\n", "AnonHugePages") is None
    assert probe.sched_policy((FIXTURES / "proc" / "2817" / "sched").read_text()) == "SCHED_OTHER"
    assert probe.sched_policy("policy    :    1\n") == "SCHED_FIFO"
    assert probe.sched_policy("policy    :    6\n") == "SCHED_DEADLINE"
    assert probe.sched_policy("policy    :    9\n") == "policy 9"
    assert probe.sched_policy("prio : 120\n") is None


@pytest.mark.parametrize(("vendor", "product", "in_vm"), [
    ("QEMU", "Standard PC (Q35 + ICH9, 2009)", True),
    ("Dell Inc.", "PowerEdge R650", False),
    ("Microsoft Corporation", "Virtual Machine", True),
    ("Microsoft Corporation", "Surface Laptop 5", False),
    ("Amazon EC2", "m6i.large", True),
    ("Amazon EC2", "m6i.metal", False),
    (None, None, None),
])
def test_platform_from_dmi(probe: ModuleType, tmp_path: Path, vendor: str | None, product: str | None,
                           in_vm: bool | None) -> None:
    dmi = tmp_path / "class" / "dmi" / "id"
    dmi.mkdir(parents=True)
    for name, text in (("sys_vendor", vendor), ("product_name", product)):
        if text is not None:
            (dmi / name).write_text(text + "\n")
    assert probe.platform(tmp_path) == {"vendor": vendor, "product": product, "in_vm": in_vm}


def test_xenpm_governor(probe: ModuleType) -> None:
    text = ("cpu id               : 0\naffected_cpus        : 0\nscaling_driver       : acpi-cpufreq\n"
            "scaling_avail_gov    : userspace performance powersave ondemand\n"
            "current_governor     : ondemand\n  ondemand specific  :\n")
    assert probe.parse_xenpm_governor(text) == "ondemand"
    assert probe.parse_xenpm_governor("failed to get cpufreq parameter\n") is None


def test_cgroup_path(probe: ModuleType) -> None:
    v2 = (FIXTURES / "proc" / "2817" / "cgroup").read_text()
    assert probe.cgroup_path(v2) == "/machine.slice/machine-qemu\\x2d1\\x2dweb1.scope/libvirt/emulator"
    assert probe.cgroup_path("4:memory:/machine\n1:cpu:/machine\n") == "4:memory:/machine;1:cpu:/machine"
    assert probe.cgroup_path("") is None


@pytest.mark.parametrize(("cmdline", "name"), [
    (["qemu-system-x86_64", "-name", "guest=web1,debug-threads=on", "-S"], "web1"),
    (["qemu-system-x86_64", "-name", "debug-threads=on,guest=db1"], "db1"),
    (["qemu-system-i386", "-xen-domid", "3", "-name", "web1"], "web1"),
    (["qemu-system-x86_64", "-m", "512"], None),
    (["qemu-system-x86_64", "-name"], None),
])
def test_qemu_guest_name(probe: ModuleType, cmdline: list[str], name: str | None) -> None:
    assert probe.qemu_guest_name(cmdline) == name


def test_domain_devices(probe: ModuleType) -> None:
    assert probe.parse_domain_devices((FIXTURES / "virsh_dumpxml_web1.xml").read_text()) == {
        "disk_cache": "none", "disk_bus": "virtio", "disk_source": "/var/lib/hvlab/guests/web1/disk.qcow2",
        "net_type": "network"}
    xml = ("<domain><devices><disk type='file' device='disk'><driver name='qemu'/></disk>"
           "<interface type='user'><driver name='qemu'/></interface></devices></domain>")
    assert probe.parse_domain_devices(xml) == {"disk_cache": "default", "disk_bus": None, "disk_source": None,
                                               "net_type": "user"}
    assert probe.kvm_net_backend({"net_type": "user"}, None) == "QEMU user-mode networking (slirp)"
    assert probe.kvm_net_backend({"net_type": "network"}, None) is None  # the process's files unreadable
    assert set(probe.parse_domain_devices("<domain><devices/></domain>").values()) == {None}


@pytest.mark.parametrize(("text", "expected"), [
    ((FIXTURES / "os-release").read_text(),
     {"id": "debian", "version_id": "12", "pretty_name": "Debian GNU/Linux 12 (bookworm)"}),
    ("ID='ubuntu'\nVERSION_ID=24.04\n# PRETTY_NAME=\"no\"\n", {"id": "ubuntu", "version_id": "24.04",
                                                                 "pretty_name": None}),
    (None, {"id": None, "version_id": None, "pretty_name": None}),
])
def test_os_release(probe: ModuleType, text: str | None, expected: dict[str, str | None]) -> None:
    assert probe.parse_os_release(text) == expected


def test_os_release_falls_back_to_usr_lib(probe: ModuleType, tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    (tmp_path / "usr" / "lib").mkdir(parents=True)
    (tmp_path / "usr" / "lib" / "os-release").write_text("ID=fedora\nVERSION_ID=41\n")
    assert probe.os_release(tmp_path / "etc")["id"] == "fedora"


@pytest.mark.parametrize(("efi", "secure_boot", "mode"), [
    (False, None, "bios"),
    (True, None, "uefi"),
    (True, b"\x06\x00\x00\x00\x00", "uefi"),
    (True, b"\x06\x00\x00\x00\x01", "uefi-secureboot"),
])
def test_firmware_mode(probe: ModuleType, tmp_path: Path, efi: bool, secure_boot: bytes | None, mode: str) -> None:
    efivars = tmp_path / "firmware" / "efi" / "efivars"
    if efi:
        efivars.mkdir(parents=True)
    if secure_boot is not None:
        (efivars / probe.SECURE_BOOT_VAR).write_bytes(secure_boot)
    assert probe.firmware_mode(tmp_path) == mode


def test_image_format_from_the_header(probe: ModuleType, tmp_path: Path) -> None:
    assert probe.image_format(qcow2(tmp_path / "clone.qcow2", "/var/lib/hvlab/base.qcow2")) == {
        "format": "qcow2", "backing_file": "/var/lib/hvlab/base.qcow2"}
    assert probe.image_format(qcow2(tmp_path / "base.qcow2", None)) == {"format": "qcow2", "backing_file": None}
    (tmp_path / "disk.img").write_bytes(b"\xebc\x90" + b"\0" * 509)
    assert probe.image_format(tmp_path / "disk.img") == {"format": "raw", "backing_file": None}
    errors: list[str] = []
    assert probe.image_facts(str(tmp_path / "absent.qcow2"), errors) == {"format": None, "backing_file": None}
    assert errors == [f"{tmp_path / 'absent.qcow2'}: cannot read the image header: No such file or directory"]


def test_xl_device_lists(probe: ModuleType) -> None:
    assert probe.parse_xl_device_list((FIXTURES / "xl_block_list_1.txt").read_text()) == [
        {"backend_domid": 0, "kind": "qdisk"}]
    assert probe.parse_xl_device_list((FIXTURES / "xl_network_list_1.txt").read_text()) == [
        {"backend_domid": 0, "kind": "vif"}]
    assert probe.parse_xl_device_list("Vdev  BE  handle state evt-ch ring-ref BE-path\n") == []
    assert probe.xen_backend({"backend_domid": 0, "kind": "qdisk"}, probe.XEN_DISK_BACKENDS, 3305) == \
        "QEMU qdisk in Dom0 (pid 3305)"
    assert probe.xen_backend({"backend_domid": 4, "kind": "vif"}, probe.XEN_NET_BACKENDS) == \
        "netback (kernel) in driver domain 4"


def test_ksm_before(probe: ModuleType, tmp_path: Path) -> None:
    errors: list[str] = []
    assert probe.ksm_before(tmp_path / "absent.json", errors) is None
    assert probe.ksm_before(None, errors) is None
    assert errors == []
    saved = tmp_path / "ksm-before.json"
    saved.write_text('{"run": 1, "pages_shared": 0, "pages_sharing": 0}\n')
    assert probe.ksm_before(saved, errors) == {"run": 1, "pages_shared": 0, "pages_sharing": 0}
    saved.write_text("{truncated")
    assert probe.ksm_before(saved, errors) is None
    assert errors and errors[0].startswith(str(saved))


# ---------------------------------------------------------------- xl


def test_xl_info(probe: ModuleType) -> None:
    info = probe.parse_xl_info((FIXTURES / "xl_info.txt").read_text())
    assert info == {
        "xen_version": "4.17.5",
        "xen_scheduler": "credit2",
        "total_memory": 4095,
        "free_memory": 1335,
        "nr_cpus": 2,
        "sharing_freed_memory": 0,
        "sharing_used_memory": 0,
        "xen_commandline": "placeholder dom0_mem=1024M,max:1024M dom0_max_vcpus=1 sched=credit2 smap=0 "
                           "console=com1 com1=115200,8n1",
    }


def test_xl_info_version_from_parts(probe: ModuleType) -> None:
    info = probe.parse_xl_info("xen_major              : 4\nxen_minor              : 20\n"
                               "xen_extra              : -rc\n")
    assert info["xen_version"] == "4.20-rc"
    assert info["total_memory"] is None


def test_xl_list_dom0(probe: ModuleType) -> None:
    assert probe.parse_xl_list_dom0((FIXTURES / "xl_list.txt").read_text()) == {"memory_mib": 1024, "vcpus": 1}
    assert probe.parse_xl_list_dom0("Name ID Mem VCPUs\tState\tTime(s)\n") is None


@pytest.mark.parametrize(("cmdline", "mib"), [
    ("placeholder dom0_mem=1024M,max:1024M dom0_max_vcpus=1", 1024),
    ("dom0_mem=min:512M,max:2G,1G", 1024),
    ("dom0_mem=2g", 2048),
    ("dom0_mem=524288", 512),
    ("dom0_mem=max:4G", None),
    ("dom0_mem=50%", None),
    ("dom0_max_vcpus=2 console=com1", None),
    ("", None),
    (None, None),
])
def test_dom0_mem_from_the_xen_command_line(probe: ModuleType, cmdline: str | None, mib: int | None) -> None:
    assert probe.dom0_mem_configured_mib(cmdline) == mib


@pytest.mark.parametrize(("text", "nr_cpus", "canonical"), [
    ("0-1", None, "0-1"), ("1,0", None, "0-1"), ("0-2,4,5", None, "0-2,4-5"), ("3", None, "3"),
    ("all", 2, "0-1"), ("all", None, None), ("x-1", 2, None), ("", 2, None),
])
def test_cpu_lists_compare_as_text(probe: ModuleType, text: str, nr_cpus: int | None, canonical: str | None) -> None:
    assert probe.parse_cpu_list(text, nr_cpus) == canonical


def test_xl_vcpu_list(probe: ModuleType) -> None:
    text = (FIXTURES / "xl_vcpu_list.txt").read_text()
    assert probe.parse_xl_vcpu_list(text, 2) == {"web1": ["0-1", "0-1"], "db1": ["1"]}


def test_xl_list_long_is_an_array(probe: ModuleType) -> None:
    domains = probe.parse_xl_list_long((FIXTURES / "xl_list_long.json").read_text())
    assert [(d["name"], d["domid"], d["type"], d["memory_mib"], d["vcpus"]) for d in domains] == [
        ("web1", 1, "pvh", 1024, 2),
        ("db1", 2, "hvm", 512, 1),
    ]
    assert domains[0]["disks"] == [{"vdev": "xvda", "backend": "qdisk", "format": "qcow2",
                                    "pdev_path": "/var/lib/hvlab/guests/web1/disk.qcow2", "direct_io_safe": True,
                                    "cache_mode": "none"}]
    assert domains[1]["disk_cache_mode"] == "writeback"


def test_xl_list_long_odd_entries(probe: ModuleType) -> None:
    text = json.dumps([
        {"domid": 0, "config": {"c_info": {"type": "pv", "name": "Domain-0"}, "b_info": {"max_vcpus": 2}}},
        {"domid": 4, "config": None},
        "junk",
    ])
    domains = probe.parse_xl_list_long(text)
    assert domains[0] == {"name": "Domain-0", "domid": 0, "type": "pv", "memory_mib": None, "vcpus": 2, "disks": [],
                          "disk_cache_mode": None}
    assert domains[1]["name"] is None
    assert len(domains) == 2
    assert probe.parse_xl_list_long("") == []
    single = probe.parse_xl_list_long(json.dumps({"domid": 3, "config": {"c_info": {"name": "g", "type": "pvh"}}}))
    assert single[0]["name"] == "g"


# ---------------------------------------------------------------- whole probes


def test_qemu_processes(probe: ModuleType, proc: Path) -> None:
    processes = probe.qemu_processes(proc)
    assert [(p["pid"], p["comm"], p["guest"]) for p in processes] == [
        (2817, "qemu-system-x86", "web1"),
        (3305, "qemu-system-i38", "web1"),
    ]
    kvm = processes[0]
    assert kvm["sched_policy"] == "SCHED_OTHER"
    assert kvm["cgroup"] == "/machine.slice/machine-qemu\\x2d1\\x2dweb1.scope/libvirt/emulator"
    assert (kvm["rss_kib"], kvm["anon_huge_kib"]) == (612344, 522240)
    assert kvm["xen_domid"] is None
    assert kvm["vcpu_threads"] == [
        {"name": "CPU 0/KVM", "tid": 2820, "sched_policy": "SCHED_OTHER", "cpus_allowed": "0"},
        {"name": "CPU 1/KVM", "tid": 2821, "sched_policy": "SCHED_OTHER", "cpus_allowed": "1"},
    ]
    assert processes[1]["xen_domid"] == 1
    assert processes[1]["anon_huge_kib"] == 0


def test_kvm_host_probe(probe: ModuleType, proc: Path, tmp_path: Path, fake_bin: Path) -> None:
    script(fake_bin, "systemd-detect-virt", "echo none; exit 1")
    # The domain's disk is a linked clone made here; QEMU (pid 2817) holds /dev/vhost-net open.
    image = qcow2(tmp_path / "images" / "web1.qcow2", "/var/lib/hvlab/images/base.qcow2")
    xml = (FIXTURES / "virsh_dumpxml_web1.xml").read_text().replace("/var/lib/hvlab/guests/web1/disk.qcow2",
                                                                    str(image))
    (tmp_path / "web1.xml").write_text(xml)
    script(fake_bin, "virsh", f'[ "$4" = web1 ] && exec /bin/cat {tmp_path / "web1.xml"}; exit 1')
    fds = proc / "2817" / "fd"
    fds.mkdir()
    for fd, target in (("0", "/dev/null"), ("31", "/dev/vhost-net"), ("32", "/dev/net/tun")):
        (fds / fd).symlink_to(target)
    saved = tmp_path / "ksm-before.json"
    saved.write_text('{"run": 1, "pages_shared": 0, "pages_sharing": 0}')
    sys_root = make_sys(tmp_path)
    (sys_root / "firmware" / "efi").mkdir(parents=True)
    (tmp_path / "etc").mkdir()
    shutil.copy(FIXTURES / "os-release", tmp_path / "etc" / "os-release")
    data = probe.collect(args("kvm", ksm_before=str(saved)), proc_root=proc, sys_root=sys_root,
                         etc_root=tmp_path / "etc")
    assert data["os_release"] == {"id": "debian", "version_id": "12", "pretty_name": "Debian GNU/Linux 12 (bookworm)"}
    assert data["firmware"] == "uefi"
    assert data["guest_backends"] == {"web1": {
        "disk_path": "QEMU virtio-blk in a Linux process (pid 2817)", "disk_format": "qcow2",
        "disk_backing_file": "/var/lib/hvlab/images/base.qcow2", "net_backend": "vhost-net (host kernel)"}}
    (fds / "31").unlink()
    data = probe.collect(args("kvm", ksm_before=str(saved)), proc_root=proc, sys_root=sys_root)
    assert data["guest_backends"]["web1"]["net_backend"] == "QEMU user space (no vhost-net)"
    assert data["firmware"] == "uefi"
    assert data["cpu_model"] == "AMD Ryzen 7 5800X 8-Core Processor"
    assert data["governor"] == "performance"
    assert data["emulated"] is True
    assert data["virtualization"] == "none"
    assert data["ksm"] == {"before": {"run": 1, "pages_shared": 0, "pages_sharing": 0},
                           "after": {"run": 1, "pages_shared": 1523, "pages_sharing": 20931}}
    assert data["thp_enabled"] == "madvise"
    assert [p["guest"] for p in data["guest_processes"]] == ["web1", "web1"]
    assert data["guest_processes"][0]["disk_cache"] == "none"
    assert data["guest_disk_cache"] == {"web1": "none"}
    assert data["guest_vcpu_affinity"] == {"web1": ["0", "1"]}
    assert data["errors"] == []


def test_xen_host_probe(probe: ModuleType, proc: Path, tmp_path: Path, fake_bin: Path) -> None:
    fake_xl(fake_bin)
    script(fake_bin, "systemd-detect-virt", "echo xen")
    data = probe.collect(args("xen", emulated="false"), proc_root=proc, sys_root=make_sys(tmp_path))
    assert data["emulated"] is False
    assert data["virtualization"] == "xen"
    assert data["xl_info"]["xen_version"] == "4.17.5"
    assert data["dom0"] == {"memory_mib": 1024, "vcpus": 1, "dom0_mem_configured": 1024}
    assert [d["name"] for d in data["domains"]] == ["web1", "db1"]
    assert data["guest_disk_cache"] == {"web1": "none", "db1": "writeback"}
    assert data["guest_vcpu_affinity"] == {"web1": ["0-1", "0-1"], "db1": ["1"]}
    assert [p["xen_domid"] for p in data["qemu_processes"]] == [None, 1]
    assert data["guest_backends"] == {
        "web1": {"disk_path": "QEMU qdisk in Dom0 (pid 3305)", "disk_format": "qcow2",
                 "disk_backing_file": "/srv/base.qcow2", "net_backend": "netback (kernel) in Dom0"},
        "db1": {"disk_path": "blkback (kernel) in Dom0", "disk_format": "raw", "disk_backing_file": None,
                "net_backend": "netback (kernel) in Dom0"}}
    assert data["firmware"] == "bios"
    assert "ksm" not in data
    assert data["errors"] == []


def test_xen_host_governor_comes_from_xen(probe: ModuleType, proc: Path, tmp_path: Path, fake_bin: Path) -> None:
    """Dom0 has no cpufreq directory: the governor is Xen's, from xenpm; without xenpm, none and no error."""
    fake_xl(fake_bin)
    script(fake_bin, "systemd-detect-virt", "echo xen")
    script(fake_bin, "xenpm", 'printf "cpu id : 0\\ncurrent_governor     : performance\\n"')
    data = probe.collect(args("xen"), proc_root=proc, sys_root=tmp_path)
    assert (data["governor"], data["xen_governor"]) == ("performance", "performance")
    (fake_bin / "xenpm").unlink()
    data = probe.collect(args("xen"), proc_root=proc, sys_root=tmp_path)
    assert (data["governor"], data["xen_governor"], data["errors"]) == (None, None, [])


def test_xen_probe_without_xl(probe: ModuleType, proc: Path, tmp_path: Path, fake_bin: Path) -> None:
    data = probe.collect(args("xen", emulated=None), proc_root=proc, sys_root=tmp_path)
    assert (data["xl_info"], data["dom0"], data["domains"]) == (None, None, None)
    assert data["guest_disk_cache"] == {}
    assert data["emulated"] is None
    assert data["virtualization"] is None
    assert data["governor"] is None
    assert len(data["errors"]) == 5  # systemd-detect-virt and four xl commands


def test_xl_failure_is_an_error_entry(probe: ModuleType, proc: Path, tmp_path: Path, fake_bin: Path) -> None:
    script(fake_bin, "xl", 'echo "xc: error: Could not obtain handle on privileged command interface" >&2; exit 1')
    data = probe.collect(args("xen"), proc_root=proc, sys_root=tmp_path)
    assert data["xl_info"] is None
    assert any("xl info exited with 1: xc: error" in error for error in data["errors"])


def test_main_prints_one_document(probe: ModuleType, fake_bin: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fake_xl(fake_bin)
    assert probe.main(["--stack", "xen", "--name", "xen1", "--emulated", "true"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert {k: document[k] for k in ("schema", "kind", "stack", "name")} == {
        "schema": "hvlab.probe/1", "kind": "host", "stack": "xen", "name": "xen1"}
    assert document["data"]["xl_info"]["xen_scheduler"] == "credit2"
    assert set(document["data"]) >= {"kernel", "cpu_model", "governor", "emulated", "virtualization"}


def test_main_survives_a_bug(probe: ModuleType, capsys: pytest.CaptureFixture[str],
                             monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(_args: object) -> None:
        raise ValueError("bug")

    monkeypatch.setattr(probe, "collect", broken)
    assert probe.main(["--stack", "kvm", "--name", "kvm1"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["data"]["errors"] == ["internal error: ValueError: bug"]
