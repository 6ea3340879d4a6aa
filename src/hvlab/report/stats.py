"""Statistics of the repeats: a summary per stack and the KVM/Xen ratio with its 95% interval.

The ratio is computed on a log scale, with a Welch t-interval:

    d  = mean(ln kvm) - mean(ln xen)
    se = sqrt(s_kvm^2 / n_kvm + s_xen^2 / n_xen)        (s: sample stdev of the logs)
    df = se^4 / ((s_kvm^2/n_kvm)^2/(n_kvm-1) + (s_xen^2/n_xen)^2/(n_xen-1))   (Welch-Satterthwaite)
    ratio = exp(d),  interval = exp(d -/+ t(0.975, df) * se)

Why logs: a hypervisor comparison is a question of "how many times faster", benchmark noise
is roughly proportional to the figure, and an interval for a difference of logs turns into an
interval for a ratio that is never negative and is symmetric for KVM/Xen versus Xen/KVM. The
point estimate is therefore the ratio of the geometric means (for repeats a few percent apart it
is within a hair of the ratio of the arithmetic means). Why Welch: the two stacks need not be
equally noisy. Below 3 repeats on either side the sample stdev is too unreliable (1 degree of
freedom gives t = 12.7) and no interval is given at all.

The tables therefore show each side's geometric mean, the figure the ratio divides. Its spread is
given as the coefficient of variation (sample stdev / arithmetic mean), and single runs that do not
belong with the others are flagged as outliers by one rule, a factor from the median of the side:

    outlier  <=>  v < median / OUTLIER_FACTOR  or  v > median * OUTLIER_FACTOR   (at least 3 runs)

The rule is for a broken measurement (a stalled transfer, a guest paused by its host), not for
noise: noise is what the CV measures. A working benchmark's repeats lie within some tens of percent
of each other; even at NOISY_CV (25 %) a run 3 times off is more than four log-scale standard
deviations out, so a flagged run is almost never a good one. A factor is symmetric on the log scale
the ratio lives on (three times too fast is as far out as three times too slow). The median of 3 or
more runs lies among the good runs whenever a single run is broken, so the rule works from the
interval's minimum of 3 repeats on; Tukey's quartile fences do not: with 3 runs (sorted logs
x1 <= x2 <= x3) their lower fence 1.25 x1 + 0.5 x2 - 0.75 x3 is never above x1, and with 4 or 5 runs
the broken run widens the very interquartile range it is judged by. With 2 runs there is no majority to
judge by and nothing is flagged. An outlier is flagged, never dropped: removing it would change the
statistic behind the reader's back. When either side's CV exceeds NOISY_CV, the repeats scatter too
much for the log-normal model behind the interval, and the reading says so instead of naming a
better stack.

Student's t quantile is computed here (incomplete beta function and bisection) rather than taken
from scipy: Welch's degrees of freedom are not integers, so a printed table would not do.
"""

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

MIN_REPEATS = 3
CONFIDENCE = 0.95
FEW_REPEATS = f"fewer than {MIN_REPEATS} repeats: no interval can be given"
OUTLIER_MIN_RUNS = 3
OUTLIER_FACTOR = 3.0
NOISY_CV = 0.25
OUTLIER_RULE = (f"a run is an outlier when it is more than {OUTLIER_FACTOR:g} times below or above the median of "
                f"its stack's runs (with {OUTLIER_MIN_RUNS} runs or more); outliers are flagged, never removed")


@dataclass(frozen=True)
class Summary:
    """The successful repeats of one stack; stdev and cv are None for a single value.

    geomean is the figure the KVM/Xen ratio is built from; mean and median are for the detail.
    geomean is None when a value is not positive (the loader refuses those, so only by direct use).
    """

    n: int
    geomean: float | None
    mean: float
    median: float
    stdev: float | None
    cv: float | None
    minimum: float
    maximum: float
    outliers: tuple[int, ...]  # indices into the values summarised

    @property
    def noisy(self) -> bool:
        return self.cv is not None and self.cv > NOISY_CV


@dataclass(frozen=True)
class Ratio:
    """KVM/Xen; low/high are None when no interval can be given, and note says why."""

    estimate: float | None
    low: float | None = None
    high: float | None = None
    note: str | None = None


def summarize(values: Sequence[float]) -> Summary | None:
    if not values:
        return None
    mean = statistics.fmean(values)
    stdev = statistics.stdev(values) if len(values) > 1 else None
    cv = stdev / mean if stdev is not None and mean > 0 else None
    positive = min(values) > 0
    return Summary(len(values), statistics.geometric_mean(values) if positive else None, mean,
                   statistics.median(values), stdev, cv, min(values), max(values),
                   outliers(values) if positive else ())


def outliers(values: Sequence[float]) -> tuple[int, ...]:
    """Indices of the values more than OUTLIER_FACTOR from their median (see the module doc); values > 0."""
    if len(values) < OUTLIER_MIN_RUNS:
        return ()
    middle = statistics.median(values)
    low, high = middle / OUTLIER_FACTOR, middle * OUTLIER_FACTOR
    return tuple(i for i, value in enumerate(values) if not low <= value <= high)


def ratio(kvm: Sequence[float], xen: Sequence[float], confidence: float = CONFIDENCE) -> Ratio:
    """The KVM/Xen ratio of geometric means with a Welch t-interval on the logs (see the module doc)."""
    if not kvm or not xen:
        return Ratio(None, note=f"no successful runs on {'KVM' if not kvm else 'Xen'}; {FEW_REPEATS}")
    if min(*kvm, *xen) <= 0:
        return Ratio(None, note="a value is zero or negative: no ratio on a log scale")
    log_kvm = [math.log(v) for v in kvm]
    log_xen = [math.log(v) for v in xen]
    estimate = math.exp(statistics.fmean(log_kvm) - statistics.fmean(log_xen))
    if min(len(kvm), len(xen)) < MIN_REPEATS:
        return Ratio(estimate, note=FEW_REPEATS)
    var_kvm = statistics.variance(log_kvm) / len(log_kvm)
    var_xen = statistics.variance(log_xen) / len(log_xen)
    se = math.sqrt(var_kvm + var_xen)
    if se == 0.0:
        # Every repeat identical on both sides: the interval collapses onto the estimate.
        return Ratio(estimate, estimate, estimate)
    df = (var_kvm + var_xen) ** 2 / (var_kvm**2 / (len(kvm) - 1) + var_xen**2 / (len(xen) - 1))
    half = t_quantile(0.5 + confidence / 2, df) * se
    return Ratio(estimate, estimate * math.exp(-half), estimate * math.exp(half))


def t_quantile(p: float, df: float) -> float:
    """The p quantile of Student's t with df (> 0, not necessarily whole) degrees of freedom."""
    if not 0.0 < p < 1.0 or df <= 0:
        raise ValueError(f"t_quantile needs 0 < p < 1 and df > 0, got p={p}, df={df}")
    if p < 0.5:
        return -t_quantile(1.0 - p, df)
    low, high = 0.0, 1.0
    while t_cdf(high, df) < p:
        low, high = high, high * 2
    for _ in range(200):
        mid = (low + high) / 2
        if t_cdf(mid, df) < p:
            low = mid
        else:
            high = mid
        if high - low < 1e-12 * max(1.0, high):
            break
    return (low + high) / 2


def t_cdf(t: float, df: float) -> float:
    """P(T <= t) for Student's t: 1 - I_x(df/2, 1/2) / 2 with x = df / (df + t^2), for t >= 0."""
    tail = _incomplete_beta(df / 2, 0.5, df / (df + t * t)) / 2
    return 1.0 - tail if t >= 0 else tail


def _incomplete_beta(a: float, b: float, x: float) -> float:
    """The regularised incomplete beta function I_x(a, b), by its continued fraction."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x))
    # The continued fraction converges fast only below the mean of the distribution; use symmetry above it.
    if x < (a + 1) / (a + b + 2):
        return front * _beta_fraction(a, b, x) / a
    return 1.0 - front * _beta_fraction(b, a, 1.0 - x) / b


def _beta_fraction(a: float, b: float, x: float) -> float:
    """Lentz's evaluation of the continued fraction of I_x(a, b) (Numerical Recipes, betacf)."""
    tiny = 1e-300
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    result = d
    for m in range(1, 300):
        for numerator in (m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
                          -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + numerator / c
            c = c if abs(c) > tiny else tiny
            result *= c * d
        if abs(c * d - 1.0) < 1e-15:
            break
    return result
