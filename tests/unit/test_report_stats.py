"""The report's statistics against figures worked out by hand (and Student's t tables)."""

import math
import statistics

import pytest

from hvlab.report.stats import FEW_REPEATS, outliers, ratio, summarize, t_cdf, t_quantile


def test_summary_of_known_data() -> None:
    summary = summarize([2, 4, 4, 4, 5, 5, 7, 9])
    assert summary is not None
    assert summary.n == 8
    assert summary.mean == 5
    assert summary.stdev == pytest.approx(math.sqrt(32 / 7))  # squared deviations add up to 32
    assert (summary.minimum, summary.maximum) == (2, 9)


def test_summary_of_one_value_has_no_stdev_and_of_none_is_none() -> None:
    single = summarize([3.0])
    assert single is not None and single.mean == 3.0 and single.stdev is None
    assert summarize([]) is None


@pytest.mark.parametrize(("df", "expected"), [(1, 12.7062), (2, 4.3027), (4, 2.7764), (10, 2.2281),
                                              (30, 2.0423), (1e7, 1.9600)])
def test_t_quantile_matches_the_tables(df: float, expected: float) -> None:
    assert t_quantile(0.975, df) == pytest.approx(expected, abs=1e-4)


def test_t_quantile_is_symmetric_and_inverts_the_cdf() -> None:
    assert t_quantile(0.025, 4) == pytest.approx(-t_quantile(0.975, 4))
    assert t_cdf(t_quantile(0.9, 7.3), 7.3) == pytest.approx(0.9, abs=1e-9)
    with pytest.raises(ValueError):
        t_quantile(1.0, 3)


def test_ratio_with_welch_interval_on_logs() -> None:
    # ln kvm = 1, 2, 3 and ln xen = 0, 1, 2: difference of log means 1, each log variance 1,
    # se = sqrt(1/3 + 1/3), Welch df = (2/3)^2 / (2 * (1/3)^2 / 2) = 4, t(0.975, 4) = 2.776445.
    result = ratio([math.e, math.e**2, math.e**3], [1.0, math.e, math.e**2])
    half = 2.776445 * math.sqrt(2 / 3)
    assert result.estimate == pytest.approx(math.e)
    assert result.low == pytest.approx(math.exp(1 - half), rel=1e-5)
    assert result.high == pytest.approx(math.exp(1 + half), rel=1e-5)
    assert result.note is None


def test_ratio_with_unequal_noise_uses_welch_degrees_of_freedom() -> None:
    # ln kvm = 0, 0, 0, 0 (no noise): df = n_xen - 1 = 2 however noisy Xen is; ln xen = -1, 0, 1.
    result = ratio([1.0] * 4, [math.exp(-1), 1.0, math.e])
    half = 4.302653 * math.sqrt(1 / 3)
    assert result.estimate == pytest.approx(1.0)
    assert (result.low, result.high) == (pytest.approx(math.exp(-half), rel=1e-5),
                                         pytest.approx(math.exp(half), rel=1e-5))


def test_identical_data_gives_ratio_one_with_a_collapsed_interval() -> None:
    result = ratio([250.0] * 5, [250.0] * 5)
    assert (result.estimate, result.low, result.high) == (1.0, 1.0, 1.0)


@pytest.mark.parametrize(("kvm", "xen"), [([1.0, 2.0], [1.0, 2.0, 3.0]), ([1.0, 2.0, 3.0], [2.0])])
def test_fewer_than_three_repeats_give_no_interval(kvm: list[float], xen: list[float]) -> None:
    result = ratio(kvm, xen)
    assert result.estimate is not None
    assert (result.low, result.high) == (None, None)
    assert result.note == FEW_REPEATS == "fewer than 3 repeats: no interval can be given"


def test_no_ratio_without_runs_or_with_non_positive_values() -> None:
    assert ratio([], [1.0, 2.0, 3.0]).note == f"no successful runs on KVM; {FEW_REPEATS}"
    assert ratio([1.0, 2.0, 3.0], []).estimate is None
    assert "zero or negative" in (ratio([0.0, 1.0, 2.0], [1.0, 2.0, 3.0]).note or "")


# The network runs of issue 22 (Mbit/s): one KVM run of 10.4, a twelfth of its neighbours.
NETWORK_KVM = [127.9, 10.4, 125.0, 128.7, 51.3]
NETWORK_XEN = [111.3, 112.2, 79.9, 60.8, 56.9]


def test_the_network_runs_of_issue_22_give_the_geometric_means_the_ratio_divides() -> None:
    kvm, xen = summarize(NETWORK_KVM), summarize(NETWORK_XEN)
    assert kvm is not None and xen is not None
    assert (round(kvm.geomean, 1), round(xen.geomean, 1)) == (64.3, 80.8)
    assert (kvm.mean, xen.mean) == (pytest.approx(88.66), pytest.approx(84.22))
    assert (kvm.median, xen.median) == (125.0, 79.9)
    # The ratio is the quotient of the two figures the tables show, not of the arithmetic means.
    assert ratio(NETWORK_KVM, NETWORK_XEN).estimate == pytest.approx(kvm.geomean / xen.geomean)
    assert kvm.geomean / xen.geomean == pytest.approx(0.795, abs=5e-4)


def test_coefficient_of_variation_and_noise() -> None:
    kvm, xen = summarize(NETWORK_KVM), summarize(NETWORK_XEN)
    assert kvm is not None and xen is not None
    assert kvm.cv == pytest.approx(statistics.stdev(NETWORK_KVM) / 88.66)
    assert (round(kvm.cv, 3), round(xen.cv, 3)) == (0.617, 0.316)
    assert kvm.noisy and xen.noisy
    steady = summarize([100.0, 102.0, 98.0, 101.0, 99.0])
    assert steady is not None and steady.cv == pytest.approx(0.0158, abs=1e-4) and not steady.noisy
    single = summarize([5.0])
    assert single is not None and single.cv is None and not single.noisy


def test_the_stalled_network_run_is_the_only_outlier() -> None:
    # KVM's median is 125.0: 10.4 is below 125.0 / 3 = 41.7, 51.3 is not. Xen's median 79.9 keeps all.
    assert outliers(NETWORK_KVM) == (1,)
    assert outliers(NETWORK_XEN) == ()
    assert summarize(NETWORK_KVM).outliers == (1,)  # type: ignore[union-attr]


@pytest.mark.parametrize(("values", "expected"), [
    ([127.9, 10.4, 125.0], (1,)),                     # three runs are enough to judge by
    ([127.9, 125.0, 128.7, 10.4], (3,)),
    ([100.0, 100.0, 100.0, 100.0, 301.0], (4,)),      # above: three times too fast is as far out
    ([100.0, 100.0, 100.0, 100.0, 33.0], (4,)),
    ([100.0, 100.0, 100.0, 100.0, 34.0], ()),         # within the factor: noise, left to the CV
    ([100.0, 100.0, 100.0, 100.0, 299.0], ()),
    ([100.0, 300.0, 33.4], ()),                       # the median is the middle run, each end within 3x
    ([10.0, 10.0, 100.0, 100.0, 100.0], (0, 1)),      # two broken runs of five
    ([100.0, 10.0], ()),                              # two runs: no majority to judge by
])
def test_outlier_rule(values: list[float], expected: tuple[int, ...]) -> None:
    assert outliers(values) == expected


def test_the_ratio_of_geometric_means_is_the_geometric_mean_of_the_ratios() -> None:
    """Why the tables show geometric means: pairing each KVM repeat with a Xen repeat, in any order,
    gives per-pair ratios whose geometric mean is the table's ratio; arithmetic means do not agree."""
    pairs = [k / x for k, x in zip(NETWORK_KVM, NETWORK_XEN, strict=True)]
    shuffled = [k / x for k, x in zip(NETWORK_KVM, reversed(NETWORK_XEN), strict=True)]
    estimate = ratio(NETWORK_KVM, NETWORK_XEN).estimate
    assert estimate == pytest.approx(statistics.geometric_mean(pairs)) == pytest.approx(
        statistics.geometric_mean(shuffled))
    assert ratio(NETWORK_XEN, NETWORK_KVM).estimate == pytest.approx(1 / estimate)  # type: ignore[operator]
    # Arithmetic means: the ratio of the means (1.053, "KVM higher") is neither the mean of the per-pair
    # ratios (1.165) nor does that mean survive another pairing (1.118).
    arithmetic = statistics.fmean(NETWORK_KVM) / statistics.fmean(NETWORK_XEN)
    assert arithmetic == pytest.approx(1.053, abs=5e-4)
    assert statistics.fmean(pairs) == pytest.approx(1.165, abs=5e-4)
    assert statistics.fmean(shuffled) == pytest.approx(1.118, abs=5e-4)
