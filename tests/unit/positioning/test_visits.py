"""The store-visit machine: start, gap, zones in order, and the visit classes."""

from __future__ import annotations

import pytest

from positioning.events import EventKind, PresenceEvent
from positioning.visits import (
    VisitClass,
    VisitConfig,
    VisitConfigError,
    VisitState,
    classify_visit,
    close,
    initial_visit_state,
    step,
    tick,
)

CFG = VisitConfig()
KEY = "dk1_visitor"


def enter(ts_s: float, zone: str) -> PresenceEvent:
    return PresenceEvent(EventKind.ZONE_ENTER, ts_s, KEY, "confirmed_for_2.0s", zone=zone)


def leave(ts_s: float, zone: str, since_s: float) -> PresenceEvent:
    return PresenceEvent(
        EventKind.ZONE_EXIT, ts_s, KEY, "absent_for_grace_period", zone=zone, dwell_s=ts_s - since_s
    )


def run(events: list[PresenceEvent], until_s: float) -> tuple[VisitState, list[PresenceEvent]]:
    state = initial_visit_state(KEY)
    out: list[PresenceEvent] = []
    for event in events:
        state, new = step(state, [event], event.ts_s, CFG)
        out.extend(new)
    state, new = tick(state, until_s, CFG)
    out.extend(new)
    return state, out


def test_visit_spans_first_enter_to_last_exit() -> None:
    """A visit starts at the first enter and, after the gap, ends at the last exit."""
    events = [enter(1000.0, "shoes"), leave(1300.0, "shoes", 1000.0)]
    state, out = run(events, until_s=1300.0 + 900.0)
    assert [e.kind for e in out] == [EventKind.VISIT_START]  # gap not yet *longer* than 15 min
    state, end = tick(state, 1300.0 + 900.5, CFG)
    assert [(e.kind, e.ts_s, e.dwell_s, e.zones, e.visit_class, e.reason) for e in end] == [
        (
            EventKind.VISIT_END,
            1300.0,
            300.0,
            ("shoes",),
            "visitor",
            "absent_longer_than_visit_gap",
        )
    ]
    assert not state.active


def test_return_within_the_gap_continues_the_visit() -> None:
    """Coming back before the gap is over keeps one visit; zones keep their order."""
    events = [
        enter(0.0, "shoes"),
        leave(100.0, "shoes", 0.0),
        enter(600.0, "till"),
        leave(700.0, "till", 600.0),
        enter(800.0, "till"),
        leave(900.0, "till", 800.0),
        enter(950.0, "shoes"),
        leave(960.0, "shoes", 950.0),
    ]
    _, out = run(events, until_s=10_000.0)
    assert [e.kind for e in out] == [EventKind.VISIT_START, EventKind.VISIT_END]
    end = out[-1]
    assert end.zones == ("shoes", "till", "shoes")
    assert end.dwell_s == 960.0


def test_return_after_the_gap_is_a_new_visit() -> None:
    """An enter more than the gap after the last exit ends the old visit and starts a new one."""
    events = [enter(0.0, "shoes"), leave(200.0, "shoes", 0.0), enter(2000.0, "till")]
    state, out = run(events, until_s=2000.0)
    assert [(e.kind, e.ts_s) for e in out] == [
        (EventKind.VISIT_START, 0.0),
        (EventKind.VISIT_END, 200.0),
        (EventKind.VISIT_START, 2000.0),
    ]
    assert state.active
    assert state.zones == ("till",)


def test_close_ends_an_open_visit_at_its_last_presence() -> None:
    """Closing ends the visit with the given reason; a closed machine stays quiet."""
    state, _ = run([enter(0.0, "shoes"), leave(50.0, "shoes", 0.0)], until_s=60.0)
    state, out = close(state, CFG, "stream_closed")
    assert [(e.kind, e.ts_s, e.dwell_s, e.visit_class, e.reason) for e in out] == [
        (EventKind.VISIT_END, 50.0, 50.0, "passer_by", "stream_closed")
    ]
    assert close(state, CFG, "stream_closed")[1] == []


@pytest.mark.parametrize(
    ("dwell_s", "zones", "peak", "cfg", "expected"),
    [
        (60.0, ("shoes",), -50.0, CFG, VisitClass.PASSER_BY),
        (120.0, ("shoes",), -50.0, CFG, VisitClass.VISITOR),
        (599.0, ("shoes", "till"), None, CFG, VisitClass.VISITOR),
        (600.0, ("shoes",), None, CFG, VisitClass.ENGAGED),
        (300.0, ("a", "b", "a", "c"), None, CFG, VisitClass.ENGAGED),
        (300.0, ("a", "b", "a", "b"), None, CFG, VisitClass.VISITOR),
        (4 * 3600.0 + 1, ("till",), None, CFG, VisitClass.STAFF),
        (300.0, ("shoes",), -90.0, VisitConfig(min_peak_rssi_dbm=-80.0), VisitClass.PASSER_BY),
        (300.0, ("shoes",), None, VisitConfig(min_peak_rssi_dbm=-80.0), VisitClass.PASSER_BY),
        (300.0, ("shoes",), -70.0, VisitConfig(min_peak_rssi_dbm=-80.0), VisitClass.VISITOR),
    ],
)
def test_visit_classes(
    dwell_s: float,
    zones: tuple[str, ...],
    peak: float | None,
    cfg: VisitConfig,
    expected: VisitClass,
) -> None:
    """Staff over 4 h, passer-by under 2 min or never strong, engaged at 10 min or 3 zones."""
    assert classify_visit(dwell_s, zones, peak, cfg) is expected


def test_peak_rssi_comes_from_observations_while_in_a_zone() -> None:
    """The RSSI passed with the clock raises the visit's peak only while in a zone."""
    state = initial_visit_state(KEY)
    state, _ = step(state, [enter(0.0, "shoes")], 0.0, CFG, rssi_dbm=-80.0)
    state, _ = step(state, [], 5.0, CFG, rssi_dbm=-55.0)
    state, _ = step(state, [leave(10.0, "shoes", 0.0)], 10.0, CFG, rssi_dbm=-40.0)
    assert state.peak_rssi_dbm == -55.0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"visit_gap_s": -1.0}, "'visit_gap_s' must be seconds in [0, 604800] (got -1.0)"),
        ({"min_dwell_s": 900.0}, "'min_dwell_s' <= 'engaged_dwell_s' <= 'max_dwell_s'"),
        ({"engaged_min_zones": 0}, "'engaged_min_zones' must be >= 1 (got 0)"),
        ({"min_peak_rssi_dbm": 5.0}, "'min_peak_rssi_dbm' must be in [-130, 0] dBm (got 5.0)"),
    ],
)
def test_config_errors_name_the_field(kwargs: dict[str, float], message: str) -> None:
    """A bad visit threshold fails with the field, the expectation and the value."""
    with pytest.raises(VisitConfigError) as info:
        VisitConfig(**kwargs)  # type: ignore[arg-type]
    assert message in str(info.value)


def test_visit_starts_at_the_presence_run_of_its_first_zone() -> None:
    """A run of supports that began before the enter back-dates the visit; a later one not."""
    _, out = step(initial_visit_state(KEY), [enter(1010.0, "shoes")], 1015.0, CFG, None, 1002.0)
    assert [(e.kind, e.ts_s) for e in out] == [(EventKind.VISIT_START, 1002.0)]
    # the run's start after the enter (a stale or another run): the enter's own time
    _, out = step(initial_visit_state(KEY), [enter(1010.0, "shoes")], 1015.0, CFG, None, 1012.0)
    assert [(e.kind, e.ts_s) for e in out] == [(EventKind.VISIT_START, 1010.0)]


def test_walking_out_through_unconfirmed_zones_extends_presence() -> None:
    """After the last exit, the same run of supports is presence; a new run is not."""
    state, _ = step(initial_visit_state(KEY), [enter(1000.0, "shoes")], 1000.0, CFG, None, 995.0)
    state, _ = step(state, [leave(1200.0, "shoes", 1000.0)], 1216.0, CFG, None, 995.0, 1209.0)
    assert state.last_presence_ts_s == 1209.0
    state, _ = step(state, [], 1300.0, CFG, None, 1290.0, 1300.0)  # a new run
    assert state.last_presence_ts_s == 1209.0
    _, out = tick(state, 1209.0 + 900.5, CFG)
    assert [(e.ts_s, e.dwell_s) for e in out] == [(1209.0, 214.0)]
