"""The report's statistics against figures worked out by hand (and Student's t tables)."""

import math

import pytest

from hvlab.report.stats import FEW_REPEATS, ratio, summarize, t_cdf, t_quantile


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
