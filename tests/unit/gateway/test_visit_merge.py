"""The store-visit merge rule, on its own (no database)."""

from __future__ import annotations

import itertools
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.visits import Evidence, VisitRules, classify_visit, merge_visits

RULES = VisitRules(gap_s=600.0, min_dwell_s=120.0, engaged_dwell_s=900.0, engaged_zones=3)


def visit(agent: str, start_s: float, end_s: float, zones: tuple[str, ...] = ()) -> list[Evidence]:
    """What one agent reports of one stay: start, zone enters/exits spread evenly, end."""
    out = [Evidence(agent, "visit_start", start_s)]
    step = (end_s - start_s) / max(len(zones), 1)
    for i, zone in enumerate(zones):
        t0 = start_s + i * step
        out.append(Evidence(agent, "zone_enter", t0, zone=zone))
        out.append(Evidence(agent, "zone_exit", t0 + step, dwell_s=step, zone=zone))
    out.append(Evidence(agent, "visit_end", end_s, dwell_s=end_s - start_s, zones=zones))
    return out


def test_two_agents_overlapping_make_one_visit() -> None:
    """Overlapping stays seen by two agents are one visit spanning both."""
    merged = merge_visits(visit("a", 0, 300, ("shoes",)) + visit("b", 200, 500, ("tills",)), RULES)
    assert len(merged) == 1
    (v,) = merged
    assert (v.started_s, v.ended_s, v.dwell_s) == (0, 500, 500)
    assert v.zones == ("shoes", "tills")
    assert v.agent_count == 2
    assert not v.open
    assert v.visit_class == "visitor"


def test_stays_within_the_gap_merge_and_beyond_it_split() -> None:
    """A second stay 599 s after the first joins it; one 601 s after starts a new visit."""
    joined = merge_visits(visit("a", 0, 100) + visit("a", 699, 800), RULES)
    assert [(v.started_s, v.ended_s) for v in joined] == [(0, 800)]
    split = merge_visits(visit("a", 0, 100) + visit("a", 701, 800), RULES)
    assert [(v.started_s, v.ended_s) for v in split] == [(0, 100), (701, 800)]


def test_an_end_without_its_start_reaches_back_by_its_dwell() -> None:
    """A late visit_end alone covers [ts - dwell, ts] (its start may have been purged or lost)."""
    (v,) = merge_visits([Evidence("a", "visit_end", 1000, dwell_s=400, zones=("shoes",))], RULES)
    assert (v.started_s, v.ended_s) == (600, 1000)
    assert v.zones == ("shoes",)


def test_open_until_every_agent_ended() -> None:
    """A visit stays open while an agent's latest visit_start has no later visit_end."""
    ev = [
        *visit("a", 0, 300),
        Evidence("b", "visit_start", 100),
        Evidence("b", "zone_enter", 110, zone="kids"),
    ]
    (v,) = merge_visits(ev, RULES)
    assert v.open
    (closed,) = merge_visits([*ev, Evidence("b", "visit_end", 400, dwell_s=300)], RULES)
    assert not closed.open
    assert closed.ended_s == 400


def test_classes() -> None:
    """Short is a passer-by, long or through many zones is engaged, the rest visitors."""
    assert classify_visit(119.9, 5, RULES) == "passer_by"
    assert classify_visit(120.0, 1, RULES) == "visitor"
    assert classify_visit(900.0, 1, RULES) == "engaged"
    assert classify_visit(200.0, 3, RULES) == "engaged"
    (v,) = merge_visits(visit("a", 0, 60, ("shoes", "coats", "tills")), RULES)
    assert v.visit_class == "passer_by"


def test_zones_in_order_first_seen() -> None:
    """Zones are listed once each, in the order the device first reached them."""
    ev = visit("a", 0, 300, ("tills", "shoes")) + visit("b", 10, 290, ("shoes", "kids", "tills"))
    (v,) = merge_visits(ev, RULES)
    assert v.zones == ("tills", "shoes", "kids")


def test_empty() -> None:
    """No evidence, no visits."""
    assert merge_visits([], RULES) == []


stays = st.lists(
    st.tuples(
        st.sampled_from(["a", "b", "c"]),
        st.floats(0, 20_000, allow_nan=False),
        st.floats(0, 2_000, allow_nan=False),
    ),
    min_size=1,
    max_size=12,
)


@settings(max_examples=200, deadline=None)
@given(stays, st.randoms(use_true_random=False))
def test_merge_is_independent_of_arrival_order(
    raw: list[tuple[str, float, float]], rnd: random.Random
) -> None:
    """Late or shuffled arrival changes nothing: the visits depend only on the evidence."""
    evidence = [e for agent, start, dur in raw for e in visit(agent, start, start + dur)]
    shuffled = list(evidence)
    rnd.shuffle(shuffled)
    assert merge_visits(shuffled, RULES) == merge_visits(evidence, RULES)


@settings(max_examples=200, deadline=None)
@given(stays)
def test_visits_are_disjoint_separated_by_more_than_the_gap_and_cover_all(
    raw: list[tuple[str, float, float]],
) -> None:
    """Visits come out in order, more than the gap apart, and every stay lies inside one."""
    evidence = [e for agent, start, dur in raw for e in visit(agent, start, start + dur)]
    merged = merge_visits(evidence, RULES)
    for before, after in itertools.pairwise(merged):
        assert after.started_s - before.ended_s > RULES.gap_s
    for _agent, start, dur in raw:
        assert any(v.started_s <= start and start + dur <= v.ended_s for v in merged)
    assert all(v.dwell_s >= 0 for v in merged)
