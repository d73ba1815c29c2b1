"""Lift statistics agree with statsmodels to 1e-6 (statsmodels is a test-only oracle)."""

from __future__ import annotations

import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import (
    confint_proportions_2indep,
    proportion_effectsize,
    proportions_ztest,
)
from statsmodels.stats.weightstats import CompareMeans, DescrStatsW

from campaigns.stats import (
    ArmMoments,
    StatsInputError,
    diff_in_diff,
    mean_lift,
    minimum_detectable_effect,
    power_two_proportions,
    rate_lift,
    t_quantile,
    t_sf,
)

CASES = [
    (1200, 40000, 500, 20000),
    (30, 100, 20, 100),
    (7, 50, 3, 60),
    (5000, 9000, 4000, 9100),
    (1, 1000, 2, 1000),
]


def test_issue_case_matches_published_figures() -> None:
    """The issue's worked case: z = 3.4796, p = 5.02e-4, Newcombe and Katz CIs as stated."""
    r = rate_lift(1200, 40000, 500, 20000)
    assert r.z == pytest.approx(3.4796, abs=5e-5)
    assert r.p_value == pytest.approx(5.02e-4, abs=5e-7)
    ci95 = r.difference_intervals[1]
    assert ci95.level == 0.95
    assert (round(ci95.lower, 6), round(ci95.upper, 6)) == (0.002218, 0.007693)
    lift95 = r.relative_lift_intervals[1]
    assert lift95 is not None
    assert (round(lift95.lower, 4), round(lift95.upper, 4)) == (0.0826, 0.3301)
    assert r.relative_lift == pytest.approx(0.2)
    assert r.incremental_visitors == pytest.approx(200.0)
    assert r.incremental_share == pytest.approx(200 / 1200)


@pytest.mark.parametrize(("x1", "n1", "x0", "n0"), CASES)
def test_rate_lift_matches_statsmodels(x1: int, n1: int, x0: int, n0: int) -> None:
    """z, p, Newcombe difference CI and Katz ratio CI equal statsmodels' at 90 % and 95 %."""
    r = rate_lift(x1, n1, x0, n0)
    z, p = proportions_ztest([x1, x0], [n1, n0])
    assert r.z == pytest.approx(z, abs=1e-6)
    assert r.p_value == pytest.approx(p, abs=1e-6)
    for i, level in enumerate((0.90, 0.95)):
        lo, hi = confint_proportions_2indep(
            x1, n1, x0, n0, method="newcomb", compare="diff", alpha=1 - level
        )
        assert r.difference_intervals[i].lower == pytest.approx(lo, abs=1e-6)
        assert r.difference_intervals[i].upper == pytest.approx(hi, abs=1e-6)
        lo, hi = confint_proportions_2indep(
            x1, n1, x0, n0, method="log", compare="ratio", alpha=1 - level
        )
        ci = r.relative_lift_intervals[i]
        assert ci is not None
        assert ci.lower == pytest.approx(lo - 1, abs=1e-6)
        assert ci.upper == pytest.approx(hi - 1, abs=1e-6)


def test_katz_interval_is_absent_when_an_arm_has_no_visits() -> None:
    """With zero control visitors the ratio is undefined and no interval is invented."""
    r = rate_lift(10, 100, 0, 100)
    assert r.relative_lift is None
    assert r.relative_lift_intervals == (None, None)


def test_bad_counts_name_the_arm() -> None:
    """More visitors than people is refused with the arm's name in the message."""
    with pytest.raises(StatsInputError, match="'control' successes"):
        rate_lift(1, 10, 11, 10)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_mean_lift_matches_statsmodels_welch(seed: int) -> None:
    """Welch t, df, p and the difference CI equal statsmodels' from n, sum and sum of squares."""
    rng = np.random.default_rng(seed)
    a = rng.poisson(1.3, size=400).astype(float)
    b = rng.poisson(1.1, size=350).astype(float)
    r = mean_lift(
        ArmMoments(len(a), float(a.sum()), float((a * a).sum())),
        ArmMoments(len(b), float(b.sum()), float((b * b).sum())),
    )
    cm = CompareMeans(DescrStatsW(a), DescrStatsW(b))
    t, p, df = cm.ttest_ind(usevar="unequal")
    assert r.t == pytest.approx(t, abs=1e-6)
    assert r.p_value == pytest.approx(p, abs=1e-6)
    assert r.df == pytest.approx(df, abs=1e-6)
    for i, level in enumerate((0.90, 0.95)):
        lo, hi = cm.tconfint_diff(alpha=1 - level, usevar="unequal")
        assert r.difference_intervals[i].lower == pytest.approx(lo, abs=1e-6)
        assert r.difference_intervals[i].upper == pytest.approx(hi, abs=1e-6)
    # delta method: Var(log m1/m0) = v1/(n1 m1^2) + v0/(n0 m0^2)
    se = np.sqrt(
        a.var(ddof=1) / (len(a) * a.mean() ** 2) + b.var(ddof=1) / (len(b) * b.mean() ** 2)
    )
    ci = r.relative_lift_intervals[1]
    assert ci is not None
    assert ci.lower == pytest.approx(
        np.exp(np.log(a.mean() / b.mean()) - 1.959963984540054 * se) - 1, abs=1e-9
    )


@pytest.mark.parametrize(
    ("t", "df"), [(0.0, 3.0), (1.3, 7.5), (-2.2, 12.0), (4.0, 1.0), (2.5, 250.0)]
)
def test_t_distribution_matches_statsmodels_backend(t: float, df: float) -> None:
    """Our incomplete-beta Student t matches scipy's (statsmodels' backend) to 1e-10."""
    from scipy import stats as sps

    assert t_sf(t, df) == pytest.approx(sps.t.sf(t, df), abs=1e-10)
    assert t_quantile(0.95, df) == pytest.approx(sps.t.ppf(0.975, df), abs=1e-8)


@pytest.mark.parametrize(
    ("p1", "p0", "n1", "n0"), [(0.03, 0.025, 40000, 20000), (0.12, 0.1, 2000, 2000)]
)
def test_power_matches_statsmodels(p1: float, p0: float, n1: int, n0: int) -> None:
    """Power equals statsmodels NormalIndPower on Cohen's h; the MDE reaches the power asked."""
    h = proportion_effectsize(p1, p0)
    expected = NormalIndPower().power(effect_size=h, nobs1=n1, alpha=0.05, ratio=n0 / n1)
    assert power_two_proportions(p1, p0, n1, n0) == pytest.approx(expected, abs=1e-6)
    mde = minimum_detectable_effect(p0, n1, n0, power=0.8)
    assert power_two_proportions(p0 + mde, p0, n1, n0) == pytest.approx(0.8, abs=1e-6)
    h_needed = NormalIndPower().solve_power(nobs1=n1, alpha=0.05, power=0.8, ratio=n0 / n1)
    assert proportion_effectsize(p0 + mde, p0) == pytest.approx(h_needed, abs=1e-6)


def test_diff_in_diff_is_labelled_and_correct() -> None:
    """DiD subtracts the comparison group's change and says it is not randomized."""
    r = diff_in_diff((100, 1000), (150, 1000), (200, 2000), (220, 2000))
    assert r.estimate == pytest.approx(0.05 - 0.01)
    assert "no randomized control" in r.label
    assert r.intervals[1].lower < r.estimate < r.intervals[1].upper


@settings(max_examples=50, deadline=None)
@given(st.integers(min_value=0, max_value=10_000), st.randoms(use_true_random=False))
def test_lift_is_independent_of_row_order(seed: int, rnd: random.Random) -> None:
    """Counting the same per-person rows in any order gives the identical lift."""
    rng = np.random.default_rng(seed)
    rows = [("exposed", bool(v)) for v in rng.random(300) < 0.3] + [
        ("control", bool(v)) for v in rng.random(200) < 0.2
    ]
    rows[0] = ("exposed", True)
    rows[-1] = ("control", True)

    def lift(rs: list[tuple[str, bool]]) -> tuple[float, float]:
        x1 = sum(v for g, v in rs if g == "exposed")
        n1 = sum(1 for g, _ in rs if g == "exposed")
        x0 = sum(v for g, v in rs if g == "control")
        n0 = sum(1 for g, _ in rs if g == "control")
        r = rate_lift(x1, n1, x0, n0)
        return r.z, r.difference_intervals[1].lower

    shuffled = list(rows)
    rnd.shuffle(shuffled)
    assert lift(rows) == lift(shuffled)
