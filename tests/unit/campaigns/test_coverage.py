"""Simulation with a known truth: interval coverage and the test's size under no effect."""

from __future__ import annotations

import numpy as np

from campaigns.stats import rate_lift

REPLICATIONS = 1_000  # >= 200 asked; 1,000 puts the 93-97 % band ~3 standard errors wide
N_EXPOSED, N_CONTROL = 4_000, 2_000
CONTROL_RATE = 0.08


def test_95_percent_intervals_cover_the_true_lift() -> None:
    """Katz lift CI and Newcombe difference CI cover the true values 93-97 % of the time."""
    rng = np.random.default_rng(20261123)
    true_lift = 0.25
    p1 = CONTROL_RATE * (1 + true_lift)
    x1 = rng.binomial(N_EXPOSED, p1, size=REPLICATIONS)
    x0 = rng.binomial(N_CONTROL, CONTROL_RATE, size=REPLICATIONS)
    lift_hits = diff_hits = 0
    for a, b in zip(x1, x0, strict=True):
        r = rate_lift(int(a), N_EXPOSED, int(b), N_CONTROL)
        ci = r.relative_lift_intervals[1]
        assert ci is not None
        lift_hits += ci.lower <= true_lift <= ci.upper
        d = r.difference_intervals[1]
        diff_hits += d.lower <= p1 - CONTROL_RATE <= d.upper
    print(f"coverage lift={lift_hits / REPLICATIONS:.3f} diff={diff_hits / REPLICATIONS:.3f}")  # noqa: T201
    assert 0.93 <= lift_hits / REPLICATIONS <= 0.97
    assert 0.93 <= diff_hits / REPLICATIONS <= 0.97


def test_null_rejection_rate_is_at_most_six_percent() -> None:
    """With no effect, the pooled z-test rejects at the 5 % level in at most 6 % of runs."""
    rng = np.random.default_rng(7)
    x1 = rng.binomial(N_EXPOSED, CONTROL_RATE, size=REPLICATIONS)
    x0 = rng.binomial(N_CONTROL, CONTROL_RATE, size=REPLICATIONS)
    rejections = sum(
        rate_lift(int(a), N_EXPOSED, int(b), N_CONTROL).p_value < 0.05
        for a, b in zip(x1, x0, strict=True)
    )
    print(f"null rejection={rejections / REPLICATIONS:.3f}")  # noqa: T201
    assert rejections / REPLICATIONS <= 0.06
