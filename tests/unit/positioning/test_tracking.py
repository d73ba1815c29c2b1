"""The device table: reorder buffer, late drops, eviction, closing, determinism."""

from __future__ import annotations

import numpy as np
import pytest

from positioning.dwell import DwellConfig, ZoneObservation
from positioning.events import EventKind, PresenceEvent
from positioning.tracking import DeviceTable, TrackingConfig, TrackingConfigError
from positioning.visits import VisitConfig

SHOES = ZoneObservation("shoes", 0.9, -60.0)
TILL = ZoneObservation("till", 0.9, -65.0)


def table(**tracking: float) -> DeviceTable:
    return DeviceTable(
        dwell_config=DwellConfig(grace_exit_s=10.0),
        visit_config=VisitConfig(visit_gap_s=60.0, min_dwell_s=30.0, engaged_dwell_s=300.0),
        config=TrackingConfig(**tracking),  # type: ignore[arg-type]
    )


def summary(events: list[PresenceEvent]) -> list[tuple[str, str, float, str | None, str]]:
    return [(e.device_key, e.kind.value, e.ts_s, e.zone, e.reason) for e in events]


def test_late_observations_within_the_bound_are_reordered() -> None:
    """Observations arriving up to max_lateness_s late give the same events as in order."""
    times = [float(t) for t in range(100, 130)]
    in_order = table(max_lateness_s=5.0)
    shuffled = table(max_lateness_s=5.0)
    expected: list[PresenceEvent] = []
    got: list[PresenceEvent] = []
    for ts in times:
        in_order.push("dk_a", SHOES, ts)
        expected += in_order.advance(ts)
    # Swap neighbours pairwise and deliver each pair 3 s after the later one was taken.
    for a, b in zip(times[::2], times[1::2], strict=True):
        shuffled.push("dk_a", SHOES, b)
        shuffled.push("dk_a", SHOES, a)
        got += shuffled.advance(b + 3.0)
    expected += in_order.close_all()
    got += shuffled.close_all()
    assert summary(got) == summary(expected)
    assert shuffled.counters.dropped_late == 0
    assert [e.kind for e in got] == [
        EventKind.VISIT_START,
        EventKind.ZONE_ENTER,
        EventKind.ZONE_EXIT,
        EventKind.VISIT_END,
    ]


def test_too_late_and_bad_times_are_dropped_and_counted() -> None:
    """An observation behind the watermark or with a NaN time is refused and counted."""
    devices = table(max_lateness_s=5.0)
    assert devices.push("dk_a", SHOES, 100.0)
    devices.advance(110.0)
    assert not devices.push("dk_a", SHOES, 104.0)
    assert not devices.push("dk_a", SHOES, float("nan"))
    assert devices.push("dk_a", SHOES, 105.5)
    counters = devices.counters
    assert (counters.accepted, counters.dropped_late, counters.dropped_bad_time) == (2, 1, 1)


def test_events_leave_after_the_lateness_bound_but_keep_their_times() -> None:
    """An enter is released once the watermark passes, stamped at the first sample."""
    devices = table(max_lateness_s=5.0)
    for ts in (100.0, 101.0, 102.0):
        devices.push("dk_a", SHOES, ts)
    assert devices.advance(106.0) == []
    events = devices.advance(107.0)
    assert [(e.kind, e.ts_s) for e in events] == [
        (EventKind.VISIT_START, 100.0),
        (EventKind.ZONE_ENTER, 100.0),
    ]
    assert devices.zone_of("dk_a") == "shoes"
    assert devices.occupancy() == {"shoes": 1}


def test_stale_devices_are_evicted_after_their_visit_ends() -> None:
    """A device silent past the visit gap plus the margin leaves the table."""
    devices = table(max_lateness_s=0.0, eviction_margin_s=30.0)
    for ts in range(0, 40):
        devices.push("dk_a", SHOES, float(ts))
        devices.advance(float(ts))
    events = devices.advance(39.0 + 10.5)  # grace over
    assert [(e.kind, e.reason) for e in events] == [
        (EventKind.ZONE_EXIT, "absent_for_grace_period")
    ]
    events = devices.advance(39.0 + 60.5)  # visit gap over
    assert [(e.kind, e.visit_class) for e in events] == [(EventKind.VISIT_END, "visitor")]
    assert len(devices) == 1
    assert devices.advance(39.0 + 90.5) == []
    assert len(devices) == 0
    assert devices.counters.evicted_stale == 1


def test_capacity_evicts_the_least_recently_seen_and_closes_it() -> None:
    """Beyond max_devices the oldest device is closed with reason 'evicted' and dropped."""
    devices = table(max_lateness_s=0.0, max_devices=2)
    for ts in (0.0, 1.0, 2.0, 3.0):
        devices.push("dk_a", SHOES, ts)
    devices.push("dk_b", TILL, 3.5)
    devices.advance(3.5)
    devices.push("dk_c", TILL, 4.0)
    events = devices.advance(4.0)
    assert summary(events) == [
        ("dk_a", "zone_exit", 3.0, "shoes", "evicted"),
        ("dk_a", "visit_end", 3.0, None, "evicted"),
    ]
    assert len(devices) == 2
    assert devices.counters.evicted_capacity == 1


def test_close_all_closes_open_zones_and_visits() -> None:
    """At the end of a stream every open zone and visit is closed as stream_closed."""
    devices = table(max_lateness_s=5.0)
    for ts in range(0, 10):
        devices.push("dk_a", TILL, float(ts))
    events = devices.close_all()
    assert summary(events)[-2:] == [
        ("dk_a", "zone_exit", 9.0, "till", "stream_closed"),
        ("dk_a", "visit_end", 9.0, None, "stream_closed"),
    ]
    assert len(devices) == 0
    assert devices.buffered == 0


def test_same_input_gives_the_same_events() -> None:
    """Two tables fed the same seeded stream of 50 devices emit identical event lists."""

    def replay() -> list[PresenceEvent]:
        rng = np.random.default_rng(7)
        devices = table(max_lateness_s=3.0, max_devices=30)
        out: list[PresenceEvent] = []
        zones = ["shoes", "till", None]
        for i in range(3000):
            ts = i * 0.2 + float(rng.uniform(-2.0, 0.0))
            zone = zones[int(rng.integers(0, 3))]
            devices.push(f"dk_{int(rng.integers(0, 50))}", ZoneObservation(zone, 0.9), ts)
            out += devices.advance(i * 0.2)
        return out + devices.close_all()

    first, second = replay(), replay()
    assert first == second
    assert len(first) > 50


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_lateness_s": -1.0}, "'max_lateness_s' must be seconds in [0, 3600] (got -1.0)"),
        ({"max_devices": 0}, "'max_devices' must be >= 1 (got 0)"),
    ],
)
def test_config_errors_name_the_field(kwargs: dict[str, float], message: str) -> None:
    """A bad tracking setting fails with the field, the expectation and the value."""
    with pytest.raises(TrackingConfigError) as info:
        TrackingConfig(**kwargs)  # type: ignore[arg-type]
    assert message in str(info.value)


def test_a_visit_spans_the_walk_in_and_out_through_unconfirmed_zones() -> None:
    """Walking through the till too briefly to confirm it is still part of the visit.

    The till is supported at 100-101 s (two samples: the zone needs three), shoes from
    102 s on; the visit starts at 100 s, not at the shoes' first support. On the way out
    the till is supported again after shoes' last support (240-241 s): the visit ends at
    241 s, the end of the run of supports its last zone belonged to.
    """
    t = table(max_lateness_s=0.0)
    events: list[PresenceEvent] = []
    stream = [(100.0, TILL), (101.0, TILL)]
    stream += [(float(ts), SHOES) for ts in range(102, 240)]
    stream += [(240.0, TILL), (241.0, TILL)]
    for ts, observation in stream:
        t.push("dk_a", observation, ts)
        events += t.advance(ts)
    events += t.advance(241.0 + 61.0)  # past the visit gap
    starts = [e for e in events if e.kind is EventKind.VISIT_START]
    ends = [e for e in events if e.kind is EventKind.VISIT_END]
    enters = [e for e in events if e.kind is EventKind.ZONE_ENTER]
    assert [(e.zone, e.ts_s) for e in enters] == [("shoes", 102.0)]
    assert [e.ts_s for e in starts] == [100.0]
    assert [(e.ts_s, e.dwell_s, e.zones) for e in ends] == [(241.0, 141.0, ("shoes",))]


def test_a_later_run_of_supports_does_not_stretch_a_visit() -> None:
    """Supports after a silence longer than the exit grace start a new run: not the visit's."""
    t = table(max_lateness_s=0.0)
    events: list[PresenceEvent] = []
    stream = [(float(ts), SHOES) for ts in range(100, 140)]
    stream += [(170.0, TILL), (171.0, TILL)]  # 31 s after the last support (grace 10 s)
    for ts, observation in stream:
        t.push("dk_a", observation, ts)
        events += t.advance(ts)
    events += t.advance(171.0 + 61.0)
    ends = [e for e in events if e.kind is EventKind.VISIT_END]
    assert [(e.ts_s, e.dwell_s) for e in ends] == [(139.0, 39.0)]
