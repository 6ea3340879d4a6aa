"""The claims of "KVM is Linux, Xen is not", each judged on what this lab recorded.

Every claim is defined once here: its sentence, the experiment that tests it, the commands a user
can type on their own lab, and a pure rule that turns evidence into a verdict. Evidence comes from
the claim's record (claims/CLAIM.json, written by a claims experiment) or, for the claims the
ordinary probes and runs already answer, is derived from those when there is no record. A claim
with neither is "could not be measured", never guessed. Claim 10 (isolation) only states facts.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from hvlab.report import fmt
from hvlab.report.compare import comparisons
from hvlab.report.model import STACK_LABELS, Results

HELD = "held"
NOT_HELD = "did not hold"
UNMEASURED = "could not be measured"
FACTS = "facts only"
NO_RECORD = "no claims experiment recorded: hvlab claims (or hvlab up) runs it on a lab whose guests are up"
NO_PROBES = "the comparison's probes and runs hold nothing for this claim"
EMULATION_CAVEAT = "emulated lab (QEMU TCG): these figures are not hardware's"

# Claim 1: a weight change slows a guest when its rate falls by more than SCHED_EFFECT, and
# "has no effect" when it falls by less than SCHED_NO_EFFECT (run-to-run noise of sysbench cpu
# is a few percent); a rate that rose was not slowed.
SCHED_EFFECT = 0.20
SCHED_NO_EFFECT = 0.05
# Claim 8: the PV path must beat the emulated one by more than this to say PV drivers matter.
PV_GAIN = 0.20
# The paravirtual front-end drivers as the guest probe names them (Xen's and virtio's): a copy
# with emulated devices that bound one was not the set-up the pv_fairness claim measures.
PV_FRONTENDS = frozenset({"xen_blkfront", "xen_netfront", "virtio_blk", "virtio_net"})


class PvFairnessKeys(NamedTuple):
    """One stack's keys in the pv_fairness record.

    Defined once: the claims role writes the record with these keys (through the Ansible filter
    hvlab_pv_fairness_keys) and the rule below reads it with them.
    """

    pv: str  # the lab guest's median rate (PV drivers)
    emulated: str  # the copy's median rate (emulated devices)
    pv_prefix: str  # prefix of the lab guest's root_disk/block_driver/net_driver keys
    emulated_prefix: str  # prefix of the copy's root_disk/block_driver/net_driver keys


PV_FAIRNESS_KEYS = {"kvm": PvFairnessKeys("virtio", "emulated", "", "emulated_"),
                    "xen": PvFairnessKeys("pv", "hvm_emulated", "pv_", "hvm_")}
# Claim 5: Linux 3.0 is the first mainline kernel that runs as Dom0 without patches.
DOM0_MAINLINE = (3, 0)

Side = Mapping[str, Any]


@dataclass(frozen=True)
class Evidence:
    """What each stack showed for one claim, and why a stack could not show it; source names the files."""

    kvm: Side
    xen: Side
    unmeasured: Mapping[str, str] = field(default_factory=dict)
    source: str = ""


@dataclass(frozen=True)
class Verdict:
    verdict: str
    why: str


@dataclass(frozen=True)
class Claim:
    id: str
    text: str
    experiment: str
    commands: tuple[str, ...]
    judge: Callable[[Evidence], Verdict]
    derive: Callable[[Results], Evidence | None] | None = None
    performance: bool = False  # its verdict rests on speeds, so an emulated lab's caveat applies
    live: bool = False  # the claims role has a live experiment for it (roles/claims)


@dataclass(frozen=True)
class ClaimResult:
    number: int
    claim: Claim
    verdict: str
    why: str
    kvm: str
    xen: str
    source: str
    caveat: str | None


class _Missing(Exception):
    """Evidence a rule needs is absent: the claim could not be measured, for this reason."""


def _need(evidence: Evidence, stack: str, key: str) -> Any:
    side = evidence.kvm if stack == "kvm" else evidence.xen
    value = side.get(key)
    if value is None:
        raise _Missing(evidence.unmeasured.get(stack) or f"{STACK_LABELS[stack]}: {key} not recorded")
    return value


def _number(evidence: Evidence, stack: str, key: str) -> float:
    value = _need(evidence, stack, key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _Missing(f"{STACK_LABELS[stack]}: {key} is not a number ({value!r:.40})")
    return float(value)


def _rule(check: Callable[[Evidence], Verdict]) -> Callable[[Evidence], Verdict]:
    """A verdict rule that turns missing evidence into "could not be measured", with the reason."""
    def judge(evidence: Evidence) -> Verdict:
        try:
            return check(evidence)
        except _Missing as missing:
            return Verdict(UNMEASURED, str(missing))
    return judge


def _slowdown(before: float, after: float) -> float:
    """How much slower after is than before (0.3: 30% slower; negative: faster)."""
    if before <= 0:
        raise _Missing(f"a baseline rate of {fmt.number(before)} cannot be compared")
    return 1 - after / before


def _moved(slowdown: float) -> str:
    return f"fell {slowdown:.0%}" if slowdown >= 0 else f"rose {-slowdown:.0%}"


@_rule
def judge_scheduler(ev: Evidence) -> Verdict:
    # Every change the experiment makes favours the hog over the guest, so it can only slow the
    # guest: what is judged is the slowdown, and a guest that ran faster was not slowed (noise).
    kvm = _slowdown(_number(ev, "kvm", "rate_default"), _number(ev, "kvm", "rate_low_weight"))
    xen_base = _number(ev, "xen", "rate_default")
    dom0 = _slowdown(xen_base, _number(ev, "xen", "rate_dom0_weight"))
    xl = _slowdown(xen_base, _number(ev, "xen", "rate_xl_weight"))
    why = (f"the KVM guest's rate {_moved(kvm)} when Linux's cgroup weight favoured a CPU hog; the Xen guest's "
           f"{_moved(dom0)} with the same change in Dom0 and {_moved(xl)} with its xl sched-credit2 weight lowered")
    held = kvm > SCHED_EFFECT and dom0 < SCHED_NO_EFFECT and xl > SCHED_EFFECT
    return Verdict(HELD if held else NOT_HELD, why + (f" (held needs slowdowns above {SCHED_EFFECT:.0%}, below "
                                                      f"{SCHED_NO_EFFECT:.0%} and above {SCHED_EFFECT:.0%})"
                                                      if not held else ""))


@_rule
def judge_overcommit(ev: Evidence) -> Verdict:
    asked, host = _number(ev, "kvm", "memory_requested_mib"), _number(ev, "kvm", "host_memory_mib")
    running, requested = _number(ev, "kvm", "guests_running"), _number(ev, "kvm", "guests_requested")
    sharing = _number(ev, "kvm", "pages_sharing")
    refused = _need(ev, "xen", "create_refused")
    if asked <= host:
        raise _Missing(f"the KVM guests asked for {asked:.0f} MiB of the host's {host:.0f} MiB: not overcommitted")
    ksm_off = " (KSM is off on the host: /sys/kernel/mm/ksm/run is 0)" if ev.kvm.get("ksm_run") == 0 else ""
    stopped = (f"; the watch stopped at the host's margin after {fmt.value(ev.kvm.get('watched_s'))} s"
               if ev.kvm.get("stopped_at_margin") is True else "")
    xen_memory, xen_free = ev.xen.get("guest_memory_mib"), ev.xen.get("free_memory_mib_after")
    xen = (f"xl create refused a guest of {fmt.value(xen_memory)} MiB with {fmt.value(xen_free)} MiB free"
           if refused is True else "xl create did not refuse")
    # KSM must have merged more while the guests ran than before they started: the lab's own
    # guests may share pages already, and guests that touch little of their memory run without
    # any merging (Linux gives a guest memory as it touches it), which is not the claim.
    before = ev.kvm.get("pages_sharing_before")
    merged = sharing > before if isinstance(before, int | float) else sharing > 0
    sharing_text = (f"KSM's pages_sharing went from {before:.0f} to {sharing:.0f}" if isinstance(before, int | float)
                    else f"KSM's pages_sharing was {sharing:.0f}")
    resident = ev.kvm.get("qemu_rss_kib")
    resident_text = (f"; their QEMU processes held {sum(v for v in resident.values() if v) / 1024:.0f} MiB resident"
                     if isinstance(resident, dict) and resident else "")
    held = running == requested and merged and refused is True
    return Verdict(HELD if held else NOT_HELD,
                   f"KVM ran {running:.0f} of {requested:.0f} guests asking for {asked:.0f} MiB when the host could "
                   f"give {host:.0f} MiB{resident_text}, and {sharing_text}{ksm_off}{stopped}; {xen}")


@_rule
def judge_paging(ev: Evidence) -> Verdict:
    swapped = _number(ev, "kvm", "qemu_swap_kib")
    before, after = _number(ev, "xen", "memory_mib_before"), _number(ev, "xen", "memory_mib_after")
    xen_cgroup = ev.xen.get("reclaimed_from")
    shared = ", ".join(str(c) for c in ev.xen.get("backend_cgroups_shared") or [])
    xen_lever = (f"the same request to the cgroup of its Dom0 back-end ({xen_cgroup})" if xen_cgroup
                 else f"its Dom0 back-end shares a cgroup with other processes ({shared}), so nothing was asked"
                 if shared else "no Dom0 process holds it, so Linux had nothing to reclaim")
    held = swapped > 0 and before == after
    return Verdict(HELD if held else NOT_HELD,
                   f"after Linux was asked to reclaim memory from the KVM guest's cgroup, its QEMU process had "
                   f"{swapped:.0f} KiB swapped out; for the Xen guest, {xen_lever}, its memory went from "
                   f"{before:.0f} to {after:.0f} MiB")


@_rule
def judge_thp(ev: Evidence) -> Verdict:
    huge = _number(ev, "kvm", "anon_huge_kib")
    domains = _number(ev, "xen", "domains")
    if domains < 1:
        raise _Missing("Xen: no guest domain was running")
    return Verdict(HELD if huge > 0 else NOT_HELD,
                   f"{huge:.0f} KiB of the KVM guests' QEMU memory is AnonHugePages; the {domains:.0f} Xen "
                   "domain(s) get their memory from the hypervisor, not from a Dom0 process")


def _version(release: str) -> tuple[int, int] | None:
    parts = release.split(".")
    return (int(parts[0]), int(parts[1])) if len(parts) > 1 and parts[0].isdigit() and parts[1].isdigit() else None


@_rule
def judge_dom0_kernel(ev: Evidence) -> Verdict:
    kvm, dom0 = str(_need(ev, "kvm", "kernel")), str(_need(ev, "xen", "kernel"))
    version = _version(dom0)
    if version is None:
        raise _Missing(f"Xen: Dom0 kernel release {dom0!r} has no version")
    if version < DOM0_MAINLINE:
        return Verdict(NOT_HELD, f"Dom0 runs {dom0}, older than Linux 3.0")
    capabilities = ev.xen.get("capabilities")
    if capabilities is not None and "control_d" not in str(capabilities):
        return Verdict(NOT_HELD, f"Dom0's /proc/xen/capabilities lacks control_d ({capabilities!r:.40})")
    if dom0 != kvm:
        raise _Missing(f"Dom0 runs {dom0} and the KVM host {kvm}: not the same kernel, so this lab cannot show "
                       "that Dom0's is the unmodified one")
    return Verdict(HELD, f"Dom0 and the KVM host run the same kernel, {dom0} (Linux >= 3.0)")


KVM_PV = ("virtio_blk", "virtio_net")
XEN_PV = ("xen_blkfront", "xen_netfront")


@_rule
def judge_pv_drivers(ev: Evidence) -> Verdict:
    kvm = (_need(ev, "kvm", "block_driver"), _need(ev, "kvm", "net_driver"))
    xen = (_need(ev, "xen", "block_driver"), _need(ev, "xen", "net_driver"))
    same = _need(ev, "kvm", "image_sha256") == _need(ev, "xen", "image_sha256") and \
        _need(ev, "kvm", "kernel") == _need(ev, "xen", "kernel")
    held = same and kvm == KVM_PV and xen == XEN_PV
    return Verdict(HELD if held else NOT_HELD,
                   f"{'one' if same else 'not the same'} image and kernel; KVM drivers {', '.join(kvm)}; "
                   f"Xen drivers {', '.join(xen)}")


@_rule
def judge_cpufreq(ev: Evidence) -> Verdict:
    linux = _need(ev, "kvm", "governor")
    xen = ev.xen.get("xen_governor")
    if xen is None:
        dom0 = ev.xen.get("governor")
        if dom0 is not None:
            return Verdict(NOT_HELD, f"Dom0's Linux cpufreq ({dom0}) scales the Xen host's CPUs, not xenpm")
        raise _Missing(ev.unmeasured.get("xen") or "Xen: xenpm reports no cpufreq (a VM, or the firmware keeps it)")
    return Verdict(HELD, f"Linux cpufreq governor {linux} on the KVM host; Xen's own governor {xen} (xenpm)")


def _pv_gain(ev: Evidence, stack: str) -> str:
    """One stack's PV drivers against its emulated copy, as "+N%" text; _Missing when not measured."""
    keys = PV_FAIRNESS_KEYS[stack]
    side = ev.kvm if stack == "kvm" else ev.xen
    emulated, pv = _number(ev, stack, keys.emulated), _number(ev, stack, keys.pv)
    if emulated <= 0:
        raise _Missing(f"{STACK_LABELS[stack]}: the emulated devices' rate is not positive")
    bound = [side.get(keys.emulated_prefix + "block_driver"), side.get(keys.emulated_prefix + "net_driver")]
    if any(driver in PV_FRONTENDS for driver in bound):
        raise _Missing(f"{STACK_LABELS[stack]}: the copy meant to have emulated devices bound a PV driver "
                       f"({', '.join(map(str, bound))})")
    return f"{pv / emulated - 1:+.0%}"


@_rule
def judge_pv_fairness(ev: Evidence) -> Verdict:
    """Held when, on every stack measured, PV drivers beat that stack's emulated devices by over PV_GAIN."""
    gains: dict[str, float] = {}
    parts: list[str] = []
    for stack in ("kvm", "xen"):
        keys = PV_FAIRNESS_KEYS[stack]
        side = ev.kvm if stack == "kvm" else ev.xen
        unit = f" {side['unit']}" if side.get("unit") else ""
        try:
            gain = _pv_gain(ev, stack)
        except _Missing as missing:
            parts.append(f"{STACK_LABELS[stack]}: not measured ({missing})")
            continue
        gains[stack] = side[keys.pv] / side[keys.emulated] - 1
        parts.append(f"{STACK_LABELS[stack]}: emulated devices {fmt.number(side[keys.emulated])}{unit}, "
                     f"{keys.pv} {fmt.number(side[keys.pv])}{unit} ({gain})")
    if not gains:
        raise _Missing("; ".join(parts))
    held = all(gain > PV_GAIN for gain in gains.values())
    why = "; ".join(parts) + f" (held above {PV_GAIN:+.0%} on every stack measured)"
    return Verdict(HELD if held else NOT_HELD, why)


@_rule
def judge_performance(ev: Evidence) -> Verdict:
    kvm_wins, xen_wins = _number(ev, "kvm", "better_in"), _number(ev, "xen", "better_in")
    ties = _number(ev, "kvm", "no_clear_difference")
    total = kvm_wins + xen_wins + ties
    if total == 0:
        raise _Missing("no workload was measured on both stacks")
    why = f"of {total:.0f} comparisons KVM is better in {kvm_wins:.0f}, Xen in {xen_wins:.0f}, {ties:.0f} too close"
    one_sided = (kvm_wins == total) or (xen_wins == total)
    return Verdict(NOT_HELD if one_sided else HELD, why)


@_rule
def judge_isolation(ev: Evidence) -> Verdict:
    kvm, xen = _need(ev, "kvm", "highest_privilege"), _need(ev, "xen", "highest_privilege")
    return Verdict(FACTS, f"KVM: {kvm}; Xen: {xen}. Which is safer is not measured here")


def derive_thp(results: Results) -> Evidence | None:
    kvm = [h for h in results.hosts if h.stack == "kvm"]
    xen = [h for h in results.hosts if h.stack == "xen"]
    if not kvm and not xen:
        return None
    processes = [p for h in kvm for p in h.data.get("guest_processes") or [] if isinstance(p, Mapping)]
    huge = [p["anon_huge_kib"] for p in processes if isinstance(p.get("anon_huge_kib"), int)]
    domains = [d for h in xen for d in h.data.get("domains") or [] if isinstance(d, Mapping)]
    return Evidence({"anon_huge_kib": sum(huge) if huge else None,
                     "thp_enabled": kvm[0].data.get("thp_enabled") if kvm else None},
                    {"domains": len(domains) if xen and xen[0].data.get("domains") is not None else None},
                    {"kvm": "no KVM guest process reported AnonHugePages", "xen": "no Xen domain list"},
                    "probes/host__*.json")


def derive_dom0_kernel(results: Results) -> Evidence | None:
    kernels = {h.stack: h.data.get("kernel") for h in results.hosts}
    if not kernels:
        return None
    return Evidence({"kernel": kernels.get("kvm")}, {"kernel": kernels.get("xen")},
                    {"kvm": "no KVM host kernel probed", "xen": "no Dom0 kernel probed"}, "probes/host__*.json")


def derive_pv_drivers(results: Results) -> Evidence | None:
    for guest in results.guest_names():
        probes = {p.stack: p.data for p in results.guests if p.name == guest}
        if len(probes) == 2:
            keys = ("block_driver", "net_driver", "image_sha256", "kernel")
            return Evidence({k: probes["kvm"].get(k) for k in keys}, {k: probes["xen"].get(k) for k in keys},
                            source=f"probes/guest__*__{guest}.json")
    return None


def derive_cpufreq(results: Results) -> Evidence | None:
    hosts = {h.stack: h.data for h in results.hosts}
    if not hosts:
        return None
    xen = hosts.get("xen", {})
    # The Xen probe fills governor from xenpm when Dom0 has no cpufreq: only a different value is Dom0's own.
    dom0 = xen.get("governor") if xen.get("governor") != xen.get("xen_governor") else None
    return Evidence({"governor": hosts.get("kvm", {}).get("governor")},
                    {"xen_governor": xen.get("xen_governor"), "governor": dom0},
                    {"kvm": "the KVM host has no cpufreq governor (a VM, or the firmware keeps it)"},
                    "probes/host__*.json")


def derive_performance(results: Results) -> Evidence | None:
    found = [c for c in comparisons(results) if c.ratio.estimate is not None]
    if not found:
        return None
    better = [c.better for c in found]
    return Evidence({"better_in": better.count("kvm"), "no_clear_difference": better.count(None)},
                    {"better_in": better.count("xen")}, source="runs/*.json")


def derive_isolation(results: Results) -> Evidence | None:
    hosts = {h.stack: h.data for h in results.hosts}
    if not hosts:
        return None
    kvm, xen = hosts.get("kvm"), hosts.get("xen")
    kvm_fact = (f"the host's Linux kernel {kvm.get('kernel')} with the kvm module; each guest is a QEMU process "
                "under it") if kvm and kvm.get("kernel") else None
    version = fmt.dig(xen, "xl_info", "xen_version")
    xen_fact = (f"the Xen hypervisor{f' {version}' if version else ''}; Dom0 (Linux {xen.get('kernel')}) is a "
                "privileged domain that runs the guests' back-ends") if xen and xen.get("kernel") else None
    return Evidence({"highest_privilege": kvm_fact}, {"highest_privilege": xen_fact},
                    {"kvm": "no KVM host probed", "xen": "no Xen host probed"}, "probes/host__*.json")


CLAIMS: tuple[Claim, ...] = (
    Claim("scheduler", "A KVM guest is a Linux process scheduled by Linux; a Xen guest is scheduled by Xen.",
          "A CPU hog (one busy loop per CPU) runs on each host in machine.slice, where libvirt puts its guests; the "
          "guest's sysbench rate is read with the default weights, with Linux told to favour the hog (its cgroup "
          "cpu.weight raised), and on Xen with the guest's xl sched-credit2 weight lowered.",
          ("systemd-run --unit=hog --slice=machine.slice -p CPUWeight=1000 sh -c 'for i in $(seq $(nproc)); do "
           "(while :; do :; done) & done; wait'   # KVM host and Xen Dom0",
           "xl sched-credit2 -d g1 -w 128   # Xen Dom0 (xl sched-credit2 -d g1 -w 256 puts it back)",
           "sysbench cpu --time=10 run   # in the guest; systemctl stop hog afterwards"),
          judge_scheduler, performance=True, live=True),
    Claim("overcommit", "KVM overcommits memory by merging identical pages (KSM); Xen refuses a guest it has "
          "no free memory for.",
          "Start identical throwaway guests (hvlab's, removed afterwards) whose memory together asks for more than "
          "the host can give - on KVM Linux's available memory plus free swap, on Xen xl info's free_memory; on KVM "
          "watch the host's memory while they run (stopping at a margin) and read KSM's pages_sharing and each QEMU "
          "process's resident memory; on Xen see whether xl create refuses one.",
          ("grep -e MemAvailable -e SwapFree /proc/meminfo; cat /sys/kernel/mm/ksm/pages_sharing   # KVM host",
           "xl info | grep free_memory; xl create g2.cfg   # Xen Dom0"),
          judge_overcommit, live=True),
    Claim("paging", "A KVM guest's memory is pageable by the host; a Xen guest's is not.",
          "With swap on the host (a swap file for the experiment when it has none), ask Linux to reclaim memory "
          "(cgroup v2 memory.reclaim) from the cgroup of the guest's host-side process: on KVM the guest's QEMU "
          "scope, whose memory is the guest's RAM; on Xen the cgroup of the guest's Dom0 back-end, if it has one. "
          "Read the QEMU process's VmSwap on KVM and the domain's memory in xl list on Xen, before and after; the "
          "guest must still answer.",
          ("echo 256M > /sys/fs/cgroup/machine.slice/machine-qemu*g1.scope/memory.reclaim   # KVM host (swap on)",
           "grep VmSwap /proc/$(pgrep -f 'guest=g1')/status   # KVM host", "xl list g1   # Xen Dom0"),
          judge_paging, live=True),
    Claim("thp", "Transparent huge pages back a KVM guest's memory; a Xen guest's memory is outside Linux's THP.",
          "Read AnonHugePages of each guest's QEMU process on KVM; on Xen the domains' memory belongs to the "
          "hypervisor.",
          ("grep AnonHugePages /proc/$(pgrep -f 'guest=g1')/smaps_rollup   # KVM host", "xl list   # Xen Dom0"),
          judge_thp, derive_thp),
    Claim("dom0_kernel", "Dom0 runs an unmodified distribution kernel (Linux 3.0 or later).",
          "Compare Dom0's kernel release with the KVM host's, both from the distribution's package.",
          ("uname -r; cat /proc/xen/capabilities   # Xen Dom0 (control_d)", "uname -r   # KVM host"),
          judge_dom0_kernel, derive_dom0_kernel),
    Claim("pv_drivers", "The same guest kernel carries both stacks' paravirtual drivers.",
          "Boot one image on both stacks and read the block and network drivers it bound.",
          ("readlink /sys/block/vda/device/driver /sys/block/xvda/device/driver   # in the guest",
           "ethtool -i eth0   # in the guest"),
          judge_pv_drivers, derive_pv_drivers),
    Claim("cpufreq", "Linux's cpufreq scales the CPUs on KVM; on Xen the hypervisor does (xenpm).",
          "Read the cpufreq governor in sysfs on the KVM host and with xenpm on the Xen host.",
          ("cat /sys/devices/system/cpu/cpu0/cpufreq/scaling_governor   # KVM host",
           "xenpm get-cpufreq-para 0   # Xen Dom0"),
          judge_cpufreq, derive_cpufreq),
    Claim("pv_fairness", "A fair comparison needs paravirtual drivers on both sides.",
          "On each stack make a copy of the guest with emulated devices only (Xen: HVM with xen_platform_pci = 0, "
          "IDE disks, an e1000 NIC; KVM: a SATA disk, an e1000e NIC: its kernel binds no PV driver), and run the "
          "comparison's 4k random-read disk workload in turn in the copies and in the lab's guests with their PV "
          "drivers (virtio, Xen's front-ends); the median of each guest's runs, and the drivers each bound.",
          ('xl create hvm.cfg   # Xen Dom0: type = "hvm", xen_platform_pci = 0, disk vdev=hda, vif model=e1000',
           "virsh define copy.xml   # KVM host: disk target bus sata, interface model e1000e",
           "fio --name=r --rw=randread --bs=4k --size=64M --runtime=5 --direct=1 --iodepth=32 --ioengine=libaio"
           "   # in each guest",
           "readlink /sys/block/sda/device/driver /sys/class/net/eth0/device/driver   # in each copy"),
          judge_pv_fairness, performance=True, live=True),
    Claim("performance", "Neither stack is faster across the board.",
          "The report's workloads: the KVM/Xen ratio of each, with its interval.",
          ("hvlab up && hvlab report results/",),
          judge_performance, derive_performance, performance=True),
    Claim("isolation", "What runs with the highest privilege differs: Linux itself on KVM, the Xen hypervisor "
          "under Dom0 on Xen.",
          "Name what runs with the highest privilege on each host; no verdict on which isolates better.",
          ("lsmod | grep kvm   # KVM host", "xl info | grep xen_version; xl list   # Xen Dom0"),
          judge_isolation, derive_isolation),
)
CLAIM_IDS = tuple(c.id for c in CLAIMS)


def _shown(side: Side) -> str:
    return "; ".join(f"{k}: {fmt.value(v)}" for k, v in side.items() if v is not None) or fmt.MISSING


def judge_claims(results: Results) -> list[ClaimResult]:
    """Every claim's verdict, from its record, else from the probes and runs, else unmeasured."""
    emulated = any(h.data.get("emulated") is True for h in results.hosts)
    out = []
    for number, claim in enumerate(CLAIMS, 1):
        record = results.claims.get(claim.id)
        if record is not None:
            evidence: Evidence | None = Evidence(record.evidence.get("kvm", {}), record.evidence.get("xen", {}),
                                                 record.unmeasured, record.file)
        else:
            evidence = claim.derive(results) if claim.derive else None
        if evidence is None:
            verdict, shown = Verdict(UNMEASURED, NO_RECORD if claim.live else NO_PROBES), Evidence({}, {})
        else:
            verdict, shown = claim.judge(evidence), evidence
        caveat = EMULATION_CAVEAT if claim.performance and emulated and verdict.verdict != UNMEASURED else None
        out.append(ClaimResult(number, claim, verdict.verdict, verdict.why, _shown(shown.kvm), _shown(shown.xen),
                               shown.source, caveat))
    return out
