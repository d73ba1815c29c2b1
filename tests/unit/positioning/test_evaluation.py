"""Scoring: hand-made truth and predictions with answers worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from positioning.evaluation import EmittedEvent, TruthDevice, TruthVisit, predicted_stays, score
from positioning.events import EventKind, PresenceEvent

K = "dk1_a"


def _enter(zone: str, ts: float, at: float | None = None) -> EmittedEvent:
    ev = PresenceEvent(EventKind.ZONE_ENTER, ts, K, "confirmed_for_4.0s", zone=zone)
    return EmittedEvent(ev, ts + 5 if at is None else at)


def _exit(zone: str, ts: float, dwell: float) -> EmittedEvent:
    return EmittedEvent(
        PresenceEvent(EventKind.ZONE_EXIT, ts, K, "switched", zone=zone, dwell_s=dwell), ts + 5
    )


def _visit_end(ts: float, dwell: float, cls: str, key: str = K) -> EmittedEvent:
    ev = PresenceEvent(EventKind.VISIT_END, ts, key, "gap", dwell_s=dwell, visit_class=cls)
    return EmittedEvent(ev, ts + 900)


def _device(**kw: object) -> TruthDevice:
    base: dict[str, object] = {
        "device_id": "p1-ble",
        "signal": "ble",
        "person_kind": "shopper",
        "keys": ((K, 0.0, 1000.0),),
        "zone_intervals": (("a", 0.0, 100.0), ("b", 100.0, 200.0)),
        "stops": ((20.0, 90.0), (110.0, 190.0)),
        "visits": (TruthVisit(0.0, 200.0, "visitor"),),
    }
    base.update(kw)
    return TruthDevice(**base)  # type: ignore[arg-type]


def test_perfect_prediction_scores_perfectly() -> None:
    """Exact zone events and visit give accuracy 1, no switches, zero latency and errors."""
    events = [
        _enter("a", 0.0),
        _exit("a", 100.0, 100.0),
        _enter("b", 100.0),
        _exit("b", 200.0, 100.0),
        _visit_end(200.0, 200.0, "visitor"),
    ]
    s = score([_device()], events)
    assert s.per_second_accuracy == 1.0
    assert s.coverage == 1.0
    assert s.false_switches_per_device_hour == 0.0
    assert s.latency_median_s == 0.0
    assert s.confirm_delay_median_s == 5.0
    assert s.dwell_error_median == 0.0
    assert (s.visits_true, s.visits_predicted, s.visit_count_error) == (1, 1, 0.0)


def test_a_late_switch_costs_accuracy_and_latency() -> None:
    """Switching to b 10 s late: 190 of 200 seconds right and a 10 s latency on b."""
    events = [_enter("a", 0.0), _exit("a", 110.0, 110.0), _enter("b", 110.0), _exit("b", 200, 90)]
    s = score([_device()], events)
    assert s.scored_seconds == 200
    assert s.per_second_accuracy == pytest.approx(190 / 200)
    assert sorted([s.latency_median_s, s.latency_p95_s]) == pytest.approx([5.0, 9.5])
    assert s.zone_changes == 2
    assert s.zone_changes_missed == 0


def test_a_flip_while_standing_counts_as_false_switches() -> None:
    """Two enters inside the first stop (after settling) are two false switches in 60 s."""
    events = [
        _enter("a", 0.0),
        _exit("a", 40.0, 40.0),
        _enter("b", 40.0),
        _exit("b", 50.0, 10.0),
        _enter("a", 50.0),
        _exit("a", 100.0, 50.0),
        _enter("b", 100.0),
        _exit("b", 200.0, 100.0),
    ]
    s = score([_device()], events)
    # stationary: (30..90) + (120..190) = 130 s; switches inside: the enters at 40 and 50
    assert s.stationary_hours == pytest.approx(130 / 3600)
    assert s.false_switches_per_device_hour == pytest.approx(2 / (130 / 3600))
    assert s.per_second_accuracy == pytest.approx(190 / 200)


def test_near_boundary_seconds_are_scored_apart() -> None:
    """Wrong seconds that fall in the flagged near-boundary window make up its wrong share."""
    near = np.zeros(201, dtype=bool)
    near[90:110] = True  # 20 flagged seconds around the change at 100
    events = [_enter("a", 0.0), _exit("a", 105.0, 105.0), _enter("b", 105.0), _exit("b", 200, 95)]
    s = score([_device(near_boundary=near, near_boundary_start_s=0.0)], events)
    assert s.near_boundary_seconds == 20
    assert s.near_boundary_wrong_share == pytest.approx(5 / 20)


def test_missed_zone_and_missing_visit() -> None:
    """No prediction for zone b is a missed change; a visit never predicted has dwell error 1."""
    s = score([_device()], [_enter("a", 0.0), _exit("a", 100.0, 100.0)])
    assert s.zone_changes_missed == 1
    assert s.coverage == pytest.approx(100 / 200)
    assert s.dwell_error_median == 1.0
    assert s.visit_count_error == 1.0


def test_dwell_error_and_visit_count_from_split_visits() -> None:
    """A visit predicted as two pieces sums its dwell; both pieces count as visits."""
    events = [_visit_end(90.0, 90.0, "visitor"), _visit_end(200.0, 90.0, "visitor")]
    s = score([_device()], events)
    assert s.dwell_error_median == pytest.approx(20 / 200)
    assert (s.visits_predicted, s.visit_count_error) == (2, 1.0)


def test_passer_by_precision_and_recall() -> None:
    """One passer-by caught, one shopper wrongly called a passer-by, one passer-by missed."""
    pb1 = _device(device_id="pb1", person_kind="passer_by", keys=(("k1", 0, 1e9),), visits=())
    pb2 = _device(device_id="pb2", person_kind="passer_by", keys=(("k2", 0, 1e9),), visits=())
    shop = _device(device_id="s", keys=(("k3", 0, 1e9),))
    events = [
        _visit_end(50.0, 30.0, "passer_by", "k1"),
        _visit_end(50.0, 200.0, "visitor", "k2"),
        _visit_end(300.0, 60.0, "passer_by", "k3"),
    ]
    s = score([pb1, pb2, shop], events)
    assert (s.passer_by_precision, s.passer_by_recall) == (0.5, 0.5)
    assert s.passer_by_devices_true == 2


def test_nothing_to_score_is_nan_not_an_error() -> None:
    """An empty truth gives NaN metrics rather than dividing by zero."""
    s = score([], [])
    assert math.isnan(s.per_second_accuracy)
    assert math.isnan(s.latency_median_s)


def test_predicted_stays_pair_enters_with_exits() -> None:
    """Enter/exit pairs become stays; an enter never closed stays open to infinity."""
    evs = [e.event for e in (_enter("a", 0.0), _exit("a", 10.0, 10.0), _enter("b", 10.0))]
    assert predicted_stays(evs) == [("a", 0.0, 10.0), ("b", 10.0, math.inf)]
