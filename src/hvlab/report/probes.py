"""The probe tables: what each host looked like while the workloads ran.

They show where the two architectures differ by design. On KVM a guest is an ordinary Linux
process (scheduled by the host kernel, in a cgroup, its memory merged by KSM and backed by
transparent huge pages); on Xen the hypervisor schedules domains itself, Dom0 is a guest with
its own fixed memory, and pages are not shared between domains in this set-up.
"""

from collections.abc import Mapping
from typing import Any

from hvlab.report import fmt
from hvlab.report.model import STACK_LABELS, Probe, Results
from hvlab.report.tables import Cell, Section, Table, cells


def _cell(raw: Any) -> Cell:
    return Cell(fmt.value(raw))


def _kib(raw: Any) -> Cell:
    return Cell(fmt.MISSING if raw is None else f"{fmt.value(raw)} KiB")


def _long(raw: Any) -> Cell:
    """Free text that may be long (a CPU model, a cgroup path): wraps in HTML."""
    return Cell(fmt.value(raw), "long")


def _mib(raw: Any) -> Cell:
    return Cell(fmt.MISSING if raw is None else f"{fmt.value(raw)} MiB")


def _change(data: Mapping[str, Any], key: str) -> Cell:
    before, after = fmt.dig(data, "ksm", "before", key), fmt.dig(data, "ksm", "after", key)
    return Cell(f"{fmt.value(before)} → {fmt.value(after)}")


def _records(raw: Any) -> list[Mapping[str, Any]]:
    return [item for item in raw if isinstance(item, Mapping)] if isinstance(raw, list) else []


def distribution(data: Mapping[str, Any]) -> Any:
    """The host's release as os-release names it: PRETTY_NAME, else ID VERSION_ID."""
    release = data.get("os_release")
    pretty = fmt.dig(release, "pretty_name")
    named = " ".join(str(part) for part in (fmt.dig(release, "id"), fmt.dig(release, "version_id")) if part)
    return pretty or named or None


def xen_version(host: Probe) -> Any:
    return fmt.dig(host.data, "xl_info", "xen_version") if host.stack == "xen" else "n/a (KVM)"


def hosts_section(results: Results) -> Section:
    table = Table(cells("host", "stack", "distribution", "firmware", "Xen", "CPU model", "machine (DMI)",
                        "host kernel", "CPU governor", "emulated", "itself a VM", "virtualized by", "collected"))
    for host in results.hosts:
        emulated = host.data.get("emulated")
        in_vm = fmt.dig(host.data, "platform", "in_vm")
        machine = " ".join(str(part) for part in (fmt.dig(host.data, "platform", "vendor"),
                                                   fmt.dig(host.data, "platform", "product")) if part)
        table.rows.append((Cell(host.name), Cell(STACK_LABELS[host.stack], host.stack),
                           _long(distribution(host.data)), _cell(host.data.get("firmware")), _cell(xen_version(host)),
                           _long(host.data.get("cpu_model")), _long(machine or None), _cell(host.data.get("kernel")),
                           _cell(fmt.nullable(host.data, "governor", "none")),
                           Cell(fmt.value(emulated), "emulated" if emulated else ""),
                           Cell(fmt.value(in_vm), "emulated" if in_vm else ""),
                           _cell(host.data.get("virtualization")), _long(host.collected)))
    return Section("Hosts", "Where each stack ran. An emulated host (QEMU TCG) runs the real software "
                   "at a fraction of a hardware host's speed; a host that is itself a VM (its firmware "
                   "names a hypervisor's machine) runs its guests nested.", table)


def kvm_sections(hosts: list[Probe]) -> list[Section]:
    memory = Table(cells("host", "KSM run", "pages_shared (before → after)", "pages_sharing (before → after)",
                         "THP enabled"))
    processes = Table(cells("host", "guest", "pid", "command", "scheduling policy", "cgroup", "RSS",
                            "AnonHugePages"))
    for host in hosts:
        data = host.data
        run = fmt.dig(data, "ksm", "after", "run")
        memory.rows.append((Cell(host.name), _cell(run if run is not None else fmt.dig(data, "ksm", "before", "run")),
                            _change(data, "pages_shared"), _change(data, "pages_sharing"),
                            _cell(data.get("thp_enabled"))))
        for proc in _records(data.get("guest_processes")):
            processes.rows.append((Cell(host.name), _cell(proc.get("guest")), _cell(proc.get("pid")),
                                   _cell(proc.get("comm")), _cell(proc.get("sched_policy")),
                                   _long(proc.get("cgroup")), _kib(proc.get("rss_kib")),
                                   _kib(proc.get("anon_huge_kib"))))
    return [
        Section("KVM: memory sharing and huge pages",
                "KSM merges identical pages of guests into one (pages_shared: merged pages kept, pages_sharing: "
                "pages that point at them, so the saving is pages_sharing). THP backs guest memory with 2 MiB pages.",
                memory),
        Section("KVM: guests are Linux processes",
                "Each guest is a QEMU process that the host kernel schedules like any other, accounted in a "
                "cgroup; AnonHugePages is the part of its memory backed by transparent huge pages.",
                processes),
    ]


def xen_sections(hosts: list[Probe]) -> list[Section]:
    info = Table(cells("host", "Xen", "scheduler", "CPUs", "total memory", "free memory", "Dom0 memory",
                       "dom0_mem configured", "Dom0 vCPUs", "sharing freed", "sharing used"))
    domains = Table(cells("host", "domain", "type", "memory", "vCPUs"))
    for host in hosts:
        xl, dom0 = host.data.get("xl_info"), host.data.get("dom0")
        info.rows.append((Cell(host.name), _cell(fmt.dig(xl, "xen_version")), _cell(fmt.dig(xl, "xen_scheduler")),
                          _cell(fmt.dig(xl, "nr_cpus")), _mib(fmt.dig(xl, "total_memory")),
                          _mib(fmt.dig(xl, "free_memory")), _mib(fmt.dig(dom0, "memory_mib")),
                          _mib(fmt.dig(dom0, "dom0_mem_configured")), _cell(fmt.dig(dom0, "vcpus")),
                          _mib(fmt.dig(xl, "sharing_freed_memory")), _mib(fmt.dig(xl, "sharing_used_memory"))))
        for domain in _records(host.data.get("domains")):
            domains.rows.append((Cell(host.name), _cell(domain.get("name")), _cell(domain.get("type")),
                                 _mib(domain.get("memory_mib")), _cell(domain.get("vcpus"))))
    return [
        Section("Xen: the hypervisor and Dom0",
                "Xen schedules every domain itself (scheduler), Dom0 has fixed memory of its own (dom0_mem), "
                "and memory is not shared between domains: the sharing figures stay at 0.",
                info),
        Section("Xen: domains", "Each guest is a domain of the type the spec asked for (PVH, PV or HVM).", domains),
    ]


def probe_sections(results: Results) -> list[Section]:
    """Hosts, then the KVM-only and Xen-only tables of the stacks that have a host probe."""
    sections = [hosts_section(results)]
    kvm = [h for h in results.hosts if h.stack == "kvm"]
    xen = [h for h in results.hosts if h.stack == "xen"]
    if kvm:
        sections += kvm_sections(kvm)
    if xen:
        sections += xen_sections(xen)
    return sections
