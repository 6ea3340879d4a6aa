"""The fairness table: is each guest really the same on KVM and on Xen?

One column per stack and guest; a row is compared guest by guest across the two stacks, and a
cell that differs from its counterpart gets the `differs` class. Paravirtual devices are the one
expected difference: virtio on KVM and the Xen front-ends on Xen are each hypervisor's native
PV path, so a virtio/xen-front pair is marked `pv` (fair), and only an emulated device (or PV on
one side alone) counts as a difference. Rows that exist on one stack only (Dom0 memory, the Xen
guest type) are shown and never compared. A missing value is unknown, not a difference.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from hvlab.report import fmt
from hvlab.report.model import STACK_LABELS, STACKS, Probe, Results
from hvlab.report.probes import distribution, xen_version
from hvlab.report.tables import Cell, Table

PV_DEVICES = frozenset({"virtio_blk", "virtio_scsi", "virtio_net", "xen_blkfront", "xen_netfront",
                        "kvm-clock", "xen"})
# Memory the guest sees is what is left after the kernel's and firmware's reservations, which differ
# a little per hypervisor; more than this share apart is worth a look.
MEMORY_TOLERANCE = 0.05
NOT_APPLICABLE = "n/a"


@dataclass(frozen=True)
class Column:
    stack: str
    guest: str
    probe: Probe | None
    host: Probe | None

    @property
    def data(self) -> Mapping[str, Any]:
        return self.probe.data if self.probe else {}


@dataclass(frozen=True)
class Row:
    label: str
    value: Callable[[Column], Any]
    rule: str  # same | pv | close | info
    shown: Callable[[Any], Cell] = lambda raw: Cell(fmt.value(raw))


@dataclass(frozen=True)
class Difference:
    row: str
    guest: str
    kvm: str
    xen: str


def _sha(raw: Any) -> Cell:
    text = fmt.value(raw)
    return Cell(text[:12] + "…" if len(text) > 13 else text, hint=text)


def _mib(raw: Any) -> Cell:
    return Cell(fmt.MISSING if raw is None else f"{fmt.value(raw)} MiB")


def _vcpus(column: Column) -> Any:
    seen, spec = column.data.get("vcpus"), column.data.get("spec_vcpus")
    return seen if spec is None or spec == seen else f"{fmt.value(seen)} (spec {fmt.value(spec)})"


def _dom0_mem(column: Column) -> Any:
    if column.stack != "xen":
        return f"{NOT_APPLICABLE} (no Dom0)"
    dom0 = fmt.dig(column.host.data if column.host else {}, "dom0")
    configured, actual = fmt.dig(dom0, "dom0_mem_configured"), fmt.dig(dom0, "memory_mib")
    if configured is None and actual is None:
        return None
    return f"{fmt.value(actual)} MiB (dom0_mem {fmt.value(configured)})"


def _affinity(column: Column) -> Any:
    """The host CPUs each vCPU may run on, as the host reports them (pinning as applied)."""
    seen = fmt.dig(column.host.data if column.host else {}, "guest_vcpu_affinity", column.guest)
    if not isinstance(seen, list) or not seen:
        return None
    return ", ".join(f"vCPU {index}: {fmt.value(cpus)}" for index, cpus in enumerate(seen))


def _host(column: Column) -> Mapping[str, Any]:
    return column.host.data if column.host else {}


def _backend(column: Column, key: str) -> Any:
    """A guest's back-end fact as its host's probe reports it (not as the configuration intends)."""
    return fmt.dig(_host(column), "guest_backends", column.guest, key)


def _image(column: Column) -> Any:
    """The disk image's format, and whether it is a linked clone (has a backing file), from its header."""
    image_format = _backend(column, "disk_format")
    if image_format is None:
        return None
    return f"{image_format}, linked clone" if _backend(column, "disk_backing_file") else image_format


def _image_cell(raw: Any) -> Cell:
    return Cell(fmt.value(raw), hint="read from the image's header on the host")


def _xen_version(column: Column) -> Any:
    return xen_version(column.host) if column.host else None


def _xen_type(column: Column) -> Any:
    if column.stack != "xen":
        return f"{NOT_APPLICABLE} (KVM)"
    asked, seen = column.data.get("xen_type"), column.data.get("xen_guest_type_seen")
    return f"{fmt.value(asked)} (the guest sees {seen})" if seen else asked


ROWS = (
    Row("image sha256", lambda c: c.data.get("image_sha256"), "same", _sha),
    Row("guest kernel", lambda c: c.data.get("kernel"), "same"),
    Row("vCPUs", _vcpus, "same"),
    Row("memory (spec)", lambda c: c.data.get("spec_memory_mib"), "same", _mib),
    Row("memory seen by the guest", lambda c: c.data.get("memory_mib"), "close", _mib),
    Row("block driver", lambda c: c.data.get("block_driver"), "pv"),
    Row("net driver", lambda c: c.data.get("net_driver"), "pv"),
    Row("clocksource", lambda c: c.data.get("clocksource"), "pv"),
    Row("disk cache mode", lambda c: c.data.get("disk_cache_mode"), "same"),
    Row("CPU pinning", lambda c: fmt.nullable(c.data, "cpu_pinning", "none"), "same"),
    Row("vCPU affinity seen by the host", _affinity, "same"),
    Row("disk back-end (host reports)", lambda c: _backend(c, "disk_path"), "info"),
    Row("disk image (host reports)", _image, "same", _image_cell),
    Row("net back-end (host reports)", lambda c: _backend(c, "net_backend"), "info"),
    Row("host CPU governor", lambda c: fmt.nullable(c.host.data, "governor", "none") if c.host else None, "same"),
    Row("host distribution", lambda c: distribution(_host(c)), "same"),
    Row("host firmware", lambda c: _host(c).get("firmware"), "same"),
    Row("Xen version", _xen_version, "info"),
    Row("Dom0 memory (Xen host)", _dom0_mem, "info"),
    Row("Xen guest type", _xen_type, "info"),
)


def columns(results: Results) -> list[Column]:
    """KVM then Xen for each guest that has a guest probe on either stack."""
    probes = {(p.stack, p.name): p for p in results.guests}
    probed = [g for g in results.guest_names() if any((s, g) in probes for s in STACKS)]
    return [Column(stack, guest, probes.get((stack, guest)), _host_of(results, stack, probes.get((stack, guest))))
            for guest in probed for stack in STACKS]


def _host_of(results: Results, stack: str, guest: Probe | None) -> Probe | None:
    """The guest's host probe by name, or the only host probe of that stack."""
    hosts = [h for h in results.hosts if h.stack == stack]
    named = [h for h in hosts if guest is not None and h.name == guest.host]
    return named[0] if named else hosts[0] if len(hosts) == 1 else None


def _differs(rule: str, kvm: Any, xen: Any) -> bool:
    if rule == "info" or kvm is None or xen is None:
        return False
    if rule == "close" and isinstance(kvm, int | float) and isinstance(xen, int | float):
        return abs(kvm - xen) > MEMORY_TOLERANCE * max(abs(kvm), abs(xen))
    return kvm != xen


def fairness(results: Results) -> tuple[Table, list[Difference]]:
    """The table, and the differences it highlights (for the summary and summary.json)."""
    cols = columns(results)
    headers = (Cell(""), *(Cell(f"{STACK_LABELS[c.stack]} · {c.guest}", c.stack) for c in cols))
    table = Table(headers)
    differences: list[Difference] = []
    for row in ROWS:
        raws = [row.value(c) for c in cols]
        shown = [row.shown(raw) for raw in raws]
        for i in range(0, len(cols), 2):  # columns come in KVM, Xen pairs of one guest
            kvm, xen = raws[i], raws[i + 1]
            if row.rule == "pv" and kvm in PV_DEVICES and xen in PV_DEVICES:
                for j in (i, i + 1):
                    shown[j] = Cell(f"PV · {shown[j].text}", "pv", "paravirtual on both stacks: the fair pairing")
            elif _differs(row.rule, kvm, xen):
                for j in (i, i + 1):
                    shown[j] = Cell(shown[j].text, "differs", shown[j].hint or "differs between KVM and Xen")
                differences.append(Difference(row.label, cols[i].guest, fmt.value(kvm), fmt.value(xen)))
        table.rows.append((Cell(row.label, "label"), *shown))
    return table, differences
