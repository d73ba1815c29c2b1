"""Multi-touch credit models and the exact Markov removal effects."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from campaigns.attribution import CreditModel, Touch, credit_touches, credit_weights
from campaigns.markov import MarkovInputError, PathCount, markov_attribution

DAY = 86_400.0


@given(
    st.lists(st.floats(min_value=-10, max_value=60 * DAY), min_size=1, max_size=30),
    st.sampled_from(list(CreditModel)),
    st.floats(min_value=60.0, max_value=30 * DAY),
)
def test_credits_of_one_visit_sum_to_one(ages: list[float], model: CreditModel, hl: float) -> None:
    """Every model's credits are non-negative and add up to one."""
    credits = credit_weights(sorted(ages, reverse=True), model, hl)
    assert len(credits) == len(ages)
    assert all(c >= 0 for c in credits)
    assert sum(credits) == pytest.approx(1.0, abs=1e-12)


def test_rule_based_models_on_three_touches() -> None:
    """Last, first, linear and position-based (40/20/40) give the textbook shares."""
    ages = [3 * DAY, 2 * DAY, 1 * DAY]
    assert credit_weights(ages, CreditModel.LAST_TOUCH) == (0.0, 0.0, 1.0)
    assert credit_weights(ages, CreditModel.FIRST_TOUCH) == (1.0, 0.0, 0.0)
    assert credit_weights(ages, CreditModel.LINEAR) == pytest.approx((1 / 3,) * 3)
    assert credit_weights(ages, CreditModel.POSITION_BASED) == pytest.approx((0.4, 0.2, 0.4))
    four = credit_weights([4.0, 3.0, 2.0, 1.0], CreditModel.POSITION_BASED)
    assert four == pytest.approx((0.4, 0.1, 0.1, 0.4))


def test_position_based_two_touches_split_evenly() -> None:
    """Two touches share 50/50 and one touch takes everything."""
    assert credit_weights([2.0, 1.0], CreditModel.POSITION_BASED) == (0.5, 0.5)
    assert credit_weights([2.0], CreditModel.POSITION_BASED) == (1.0,)


def test_time_decay_halves_per_half_life() -> None:
    """A touch one half-life older gets half the weight of the younger one."""
    c = credit_weights([8 * DAY, 1 * DAY], CreditModel.TIME_DECAY, half_life_s=7 * DAY)
    assert c[0] / c[1] == pytest.approx(0.5)
    assert c == pytest.approx((1 / 3, 2 / 3))


def test_credit_touches_groups_by_key_in_time_order() -> None:
    """Touches are sorted by time before crediting and a key's touches add up."""
    touches = [Touch(300.0, "search"), Touch(100.0, "social"), Touch(200.0, "search")]
    assert credit_touches(touches, 400.0, CreditModel.FIRST_TOUCH) == {"social": 1.0, "search": 0.0}
    assert credit_touches(touches, 400.0, CreditModel.POSITION_BASED) == pytest.approx(
        {"social": 0.4, "search": 0.6}
    )


def test_markov_reproduces_published_removal_effects() -> None:
    """Puzyrov (2019) four-path example: removal effects 0.75 and 0.5, 2.4 and 1.6 conversions.

    Paths: google ads (2 conv), mailing (1 conv), google ads > mailing (1 conv), google ads
    (1 null); https://serhiipuzyrov.com/2019/07/markov-chain-attribution-simple-explanation-of-removal-effect/
    """
    r = markov_attribution(
        [
            PathCount(("google ads",), 2, 0),
            PathCount(("mailing",), 1, 0),
            PathCount(("google ads", "mailing"), 1, 0),
            PathCount(("google ads",), 0, 1),
        ]
    )
    assert r.conversion_probability == pytest.approx(0.8)
    assert r.removal_effects == pytest.approx({"google ads": 0.75, "mailing": 0.5})
    assert r.attributed_conversions == pytest.approx({"google ads": 2.4, "mailing": 1.6})


def _simulate(paths: list[PathCount], removed: str | None, seed: int, walks: int) -> float:
    """Monte Carlo walks on the estimated chain: the simulation our exact solve replaces."""
    counts: dict[str, dict[str, float]] = {}
    for p in paths:
        w = p.conversions + p.nulls
        states = ["S", *p.channels]
        for a, b in itertools.pairwise(states):
            counts.setdefault(a, {}).setdefault(b, 0.0)
            counts[a][b] += w
        counts.setdefault(p.channels[-1], {}).setdefault("C", 0.0)
        counts[p.channels[-1]]["C"] += p.conversions
        counts[p.channels[-1]].setdefault("N", 0.0)
        counts[p.channels[-1]]["N"] += p.nulls
    rng = np.random.default_rng(seed)
    table = {a: (list(d), np.array(list(d.values())) / sum(d.values())) for a, d in counts.items()}
    hits = 0
    for _ in range(walks):
        state = "S"
        while state not in ("C", "N"):
            names, probs = table[state]
            state = names[rng.choice(len(names), p=probs)]
            if state == removed:
                state = "N"
        hits += state == "C"
    return hits / walks


def test_markov_exact_agrees_with_simulation_on_a_looping_chain() -> None:
    """With self-loops and cycles, the exact solve matches 20,000 seeded simulated walks."""
    paths = [
        PathCount(("a", "b", "a", "c"), 3, 5),
        PathCount(("b", "b", "c"), 2, 4),
        PathCount(("c",), 1, 6),
        PathCount(("a",), 0, 3),
        PathCount(("b", "a"), 4, 2),
    ]
    r = markov_attribution(paths)
    base = _simulate(paths, None, seed=7, walks=20_000)
    assert r.conversion_probability == pytest.approx(base, abs=0.015)
    for ch in ("a", "b", "c"):
        sim = 1 - _simulate(paths, ch, seed=8, walks=20_000) / base
        assert r.removal_effects[ch] == pytest.approx(sim, abs=0.04)
    assert sum(r.attributed_conversions.values()) == pytest.approx(10.0)


def test_markov_refuses_empty_paths() -> None:
    """An empty path or no journeys at all is a named error."""
    with pytest.raises(MarkovInputError, match="'channels'"):
        markov_attribution([PathCount((), 1, 0)])
    with pytest.raises(MarkovInputError, match="'paths'"):
        markov_attribution([])
