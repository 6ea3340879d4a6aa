"""KVM against Xen, one workload and guest at a time: the figures every output shows."""

from dataclasses import dataclass

from hvlab.report.model import STACK_LABELS, Results, Run
from hvlab.report.stats import Ratio, Summary, ratio, summarize


@dataclass(frozen=True)
class Side:
    """One stack's runs of a workload on a guest; failed runs are kept to be shown, not computed with."""

    stack: str
    runs: tuple[Run, ...]

    @property
    def measured(self) -> list[Run]:
        return [r for r in self.runs if r.ok and r.value is not None]

    @property
    def values(self) -> list[float]:
        return [r.value for r in self.measured if r.value is not None]

    @property
    def failed(self) -> list[Run]:
        return [r for r in self.runs if not r.ok]

    @property
    def summary(self) -> Summary | None:
        return summarize(self.values)

    @property
    def outliers(self) -> list[Run]:
        """The runs the summary flags as outliers (stats.OUTLIER_RULE)."""
        summary = self.summary
        measured = self.measured
        return [measured[i] for i in summary.outliers] if summary else []

    @property
    def noisy(self) -> bool:
        summary = self.summary
        return summary is not None and summary.noisy


@dataclass(frozen=True)
class Comparison:
    workload: str
    guest: str
    metric: str | None
    unit: str | None
    higher_is_better: bool | None
    kvm: Side
    xen: Side
    ratio: Ratio

    @property
    def sides(self) -> tuple[Side, Side]:
        return self.kvm, self.xen

    @property
    def noisy(self) -> list[Side]:
        """The sides whose spread (CV above stats.NOISY_CV) makes the interval meaningless."""
        return [side for side in self.sides if side.noisy]

    @property
    def unbalanced(self) -> bool:
        """The stacks have different numbers of runs (failed ones included): not sampled alike."""
        return len(self.kvm.runs) != len(self.xen.runs)

    @property
    def better(self) -> str | None:
        """The stack the interval shows to be better, or None when it cannot tell (or is too noisy to)."""
        low, high = self.ratio.low, self.ratio.high
        if low is None or high is None or low <= 1 <= high or self.noisy:
            return None
        kvm_higher = low > 1
        return "kvm" if kvm_higher == bool(self.higher_is_better) else "xen"

    @property
    def reading(self) -> str:
        """What the interval says, in words."""
        if self.ratio.low is None:
            return self.ratio.note or "no interval"
        if self.noisy:
            return "too noisy to tell: " + ", ".join(
                f"{STACK_LABELS[side.stack]} CV {side.summary.cv:.0%}" for side in self.noisy
                if side.summary and side.summary.cv is not None)
        return f"{STACK_LABELS[self.better]} better" if self.better else "no clear difference"


def comparisons(results: Results) -> list[Comparison]:
    """One comparison per workload and guest that has runs, workloads in report order."""
    found = []
    for workload in results.workloads():
        for guest in results.guest_names():
            runs = [r for r in results.runs if r.workload == workload and r.guest == guest]
            if not runs:
                continue
            measured = next((r for r in runs if r.ok), runs[0])
            kvm = Side("kvm", tuple(sorted((r for r in runs if r.stack == "kvm"), key=lambda r: r.repeat)))
            xen = Side("xen", tuple(sorted((r for r in runs if r.stack == "xen"), key=lambda r: r.repeat)))
            found.append(Comparison(workload, guest, measured.metric, measured.unit, measured.higher_is_better,
                                    kvm, xen, ratio(kvm.values, xen.values)))
    return found
