"""What a results directory holds once read: runs, probes, the lab description and the problems.

Only the fields the report computes with are typed attributes; probe data stays a mapping
because every field in it may be missing and is only ever shown.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

STACKS = ("kvm", "xen")
STACK_LABELS = {"kvm": "KVM", "xen": "Xen"}
# Known workloads come first, in this order; any other name follows, sorted.
WORKLOAD_ORDER = ("cpu", "memory", "disk_randread_4k", "disk_randwrite_4k", "disk_seqread_1m",
                  "disk_seqwrite_1m", "network", "boot", "kernel_compile")


@dataclass(frozen=True)
class Problem:
    """Something wrong with one input file (named relative to the results dir)."""

    file: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.message}"


# The parts a run record may split its value into (its `extra`), with the report's labels:
# the guests role times a boot as domain creation (libvirt start / xl create until the domain
# runs) and guest boot (running until SSH answers).
RUN_PARTS = {"create_s": "domain creation", "guest_boot_s": "guest boot"}


@dataclass(frozen=True)
class Run:
    """One workload run. For a failed run metric, unit, direction and value may be None."""

    file: str
    stack: str
    guest: str
    workload: str
    repeat: int
    status: str
    value: float | None
    metric: str | None
    unit: str | None
    higher_is_better: bool | None
    host: str | None = None
    sequence: int | None = None
    error: str | None = None
    tool: str | None = None
    started: str | None = None
    duration_s: float | None = None
    # Named parts of the value, in seconds (RUN_PARTS), e.g. a boot's domain creation and guest boot.
    parts: tuple[tuple[str, float], ...] = ()
    # How often the guests role reset the guest during this boot (guests_boot_resets: its
    # console showed a kernel panic or a frozen systemd); the value then includes the failed boot.
    resets: int = 0

    @property
    def ok(self) -> bool:
        return self.status == "ok"


@dataclass(frozen=True)
class Probe:
    """A host or guest probe; host is the guest's host (guest probes only)."""

    file: str
    kind: str
    stack: str
    name: str
    data: Mapping[str, Any]
    host: str | None = None
    collected: str | None = None


@dataclass(frozen=True)
class ClaimRecord:
    """One claim experiment as the claims role recorded it (claims/CLAIM.json).

    evidence holds what each stack measured, keyed by stack; unmeasured says, per stack, why
    something could not be measured there. Both stay mappings: only the claim's verdict rule
    reads them, and every field may be missing.
    """

    file: str
    claim: str
    evidence: Mapping[str, Mapping[str, Any]]
    unmeasured: Mapping[str, str]
    collected: str | None = None


@dataclass
class Results:
    lab: Mapping[str, Any] | None = None
    runs: list[Run] = field(default_factory=list)
    hosts: list[Probe] = field(default_factory=list)
    guests: list[Probe] = field(default_factory=list)
    claims: dict[str, ClaimRecord] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    def guest_names(self) -> list[str]:
        """Guests in the lab's order, then any other guest seen in a run or probe, sorted."""
        lab_guests = (self.lab or {}).get("guests")
        named = [g["name"] for g in lab_guests if isinstance(g, dict) and isinstance(g.get("name"), str)] \
            if isinstance(lab_guests, list) else []
        seen = {r.guest for r in self.runs} | {p.name for p in self.guests}
        return list(dict.fromkeys(named)) + sorted(seen - set(named))

    def workloads(self) -> list[str]:
        seen = {r.workload for r in self.runs}
        return [w for w in WORKLOAD_ORDER if w in seen] + sorted(seen - set(WORKLOAD_ORDER))
