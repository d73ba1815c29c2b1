"""Multi-touch credit: how one attributed visit is shared among the exposures before it.

A *touch* is an exposure inside the attribution window before a visit. Every model
returns one credit per touch, in the touches' chronological order, and the credits of
one visit sum to one (within float rounding; the last credit absorbs the remainder).

Models:

- ``last_touch``: all credit to the latest touch;
- ``first_touch``: all credit to the earliest touch;
- ``linear``: ``1/n`` each;
- ``time_decay``: weight ``2^(-age_s / half_life_s)`` where ``age_s`` is the time from
  the touch to the visit, normalised (half-life default 7 days, as Google Ads uses);
- ``position_based``: 40 % first, 40 % last, 20 % shared by the middle touches; two
  touches 50/50; one touch 100 %.

The data-driven model (Markov removal effects) is in :mod:`campaigns.markov`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

DEFAULT_HALF_LIFE_S = 7 * 86_400.0  # 7 days, the common time-decay default
POSITION_ENDS = 0.4  # share of the first and of the last touch in the position-based model


class CreditModel(StrEnum):
    """The rule-based credit models (``markov`` is computed over paths, see markov.py)."""

    LAST_TOUCH = "last_touch"
    FIRST_TOUCH = "first_touch"
    LINEAR = "linear"
    TIME_DECAY = "time_decay"
    POSITION_BASED = "position_based"


class AttributionInputError(ValueError):
    """Touches or parameters that no model can credit."""


@dataclass(frozen=True, slots=True)
class Touch:
    """One exposure before a visit: when (epoch seconds) and what it is credited to."""

    ts_s: float
    key: str


def _normalise(weights: Sequence[float]) -> tuple[float, ...]:
    total = sum(weights)
    credits = [w / total for w in weights]
    credits[-1] = 1.0 - sum(credits[:-1])  # exact sum of one, rounding into the last
    return tuple(credits)


def credit_weights(
    ages_s: Sequence[float],
    model: CreditModel,
    half_life_s: float = DEFAULT_HALF_LIFE_S,
) -> tuple[float, ...]:
    """Credits for touches given their ages before the visit, oldest touch first.

    ``ages_s`` must be non-increasing (oldest first); ages below zero are allowed down to
    the clock-skew tolerance and count as zero for time decay.
    """
    n = len(ages_s)
    if n == 0:
        raise AttributionInputError("'touches' must not be empty (got 0 touches)")
    if half_life_s <= 0:
        raise AttributionInputError(f"'half_life_s' must be > 0 (got {half_life_s})")
    if model is CreditModel.LAST_TOUCH:
        return tuple(1.0 if i == n - 1 else 0.0 for i in range(n))
    if model is CreditModel.FIRST_TOUCH:
        return tuple(1.0 if i == 0 else 0.0 for i in range(n))
    if model is CreditModel.LINEAR:
        return _normalise([1.0] * n)
    if model is CreditModel.TIME_DECAY:
        # w = 2^(-age / half_life); divided by the largest weight first to avoid underflow
        youngest = min(max(a, 0.0) for a in ages_s)
        return _normalise([2.0 ** (-(max(a, 0.0) - youngest) / half_life_s) for a in ages_s])
    if model is CreditModel.POSITION_BASED:
        if n == 1:
            return (1.0,)
        if n == 2:
            return (0.5, 0.5)
        middle = (1.0 - 2 * POSITION_ENDS) / (n - 2)
        return _normalise([POSITION_ENDS] + [middle] * (n - 2) + [POSITION_ENDS])
    raise AttributionInputError(
        f"'model' must be one of {[m.value for m in CreditModel]} (got {model})"
    )


def credit_touches(
    touches: Sequence[Touch],
    visit_ts_s: float,
    model: CreditModel,
    half_life_s: float = DEFAULT_HALF_LIFE_S,
) -> dict[str, float]:
    """Credit per key for one visit; touches are ordered by time, then key, first."""
    ordered = sorted(touches, key=lambda t: (t.ts_s, t.key))
    weights = credit_weights([visit_ts_s - t.ts_s for t in ordered], model, half_life_s)
    out: dict[str, float] = {}
    for touch, w in zip(ordered, weights, strict=True):
        out[touch.key] = out.get(touch.key, 0.0) + w
    return out
