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


def fake_xl(bin_dir: Path) -> None:
    script(bin_dir, "xl", f"""case "$*" in
  info) /bin/cat {FIXTURES / "xl_info.txt"} ;;
  list) /bin/cat {FIXTURES / "xl_list.txt"} ;;
  "list -l") /bin/cat {FIXTURES / "xl_list_long.json"} ;;
  vcpu-list) /bin/cat {FIXTURES / "xl_vcpu_list.txt"} ;;
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


def test_domain_disk_cache(probe: ModuleType) -> None:
    assert probe.parse_domain_disk_cache((FIXTURES / "virsh_dumpxml_web1.xml").read_text()) == "none"
    xml = "<domain><devices><disk type='file' device='disk'><driver name='qemu'/></disk></devices></domain>"
    assert probe.parse_domain_disk_cache(xml) == "default"
    assert probe.parse_domain_disk_cache("<domain><devices/></domain>") is None


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
    assert domains[0]["disks"] == [{"vdev": "xvda", "backend": "qdisk", "format": "qcow2", "direct_io_safe": True,
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
    script(fake_bin, "virsh", f'[ "$4" = web1 ] && exec /bin/cat {FIXTURES / "virsh_dumpxml_web1.xml"}; exit 1')
    saved = tmp_path / "ksm-before.json"
    saved.write_text('{"run": 1, "pages_shared": 0, "pages_sharing": 0}')
    data = probe.collect(args("kvm", ksm_before=str(saved)), proc_root=proc, sys_root=make_sys(tmp_path))
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
