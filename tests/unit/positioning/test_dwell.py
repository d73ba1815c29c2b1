"""The zone presence machine: confirm-to-enter, grace-to-exit, switch reasons, exact dwell."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from positioning.dwell import (
    DwellConfig,
    DwellConfigError,
    DwellState,
    ZoneObservation,
    close,
    initial_state,
    step,
    tick,
)
from positioning.events import EventKind, PresenceEvent

CFG = DwellConfig(confirm_enter_s=2.0, confirm_min_samples=3, grace_exit_s=10.0)


def feed(
    samples: Sequence[tuple[float, str | None]], cfg: DwellConfig = CFG, probability: float = 0.9
) -> tuple[DwellState, list[PresenceEvent]]:
    state = initial_state("dk1_test")
    events: list[PresenceEvent] = []
    for ts_s, zone in samples:
        state, new = step(state, ZoneObservation(zone, probability, -60.0), ts_s, cfg)
        events.extend(new)
    return state, events


def test_enter_is_stamped_at_the_first_confirming_observation() -> None:
    """A zone seen for 2 s is entered at its first sample, with the confirm reason."""
    state, events = feed([(100.0, "shoes"), (101.0, "shoes"), (102.0, "shoes")])
    assert [(e.kind, e.ts_s, e.zone, e.reason) for e in events] == [
        (EventKind.ZONE_ENTER, 100.0, "shoes", "confirmed_for_2.0s")
    ]
    assert state.zone == "shoes"


def test_a_single_blip_never_enters() -> None:
    """One sample of a zone followed by silence causes no event at all."""
    state, events = feed([(100.0, "shoes")])
    state, more = tick(state, 200.0, CFG)
    assert events == []
    assert more == []
    assert state.zone is None
    assert state.candidate is None


def test_weak_observations_support_nothing() -> None:
    """Observations under min_probability neither enter nor keep a zone."""
    _, events = feed([(t, "shoes") for t in range(100, 110)], probability=0.5)
    assert events == []


def test_switch_closes_the_old_zone_where_the_new_one_began() -> None:
    """A confirmed switch exits the old zone at the new zone's first sample with switched_to_."""
    samples = [(float(t), "shoes") for t in range(100, 121)]
    samples += [(float(t), "till") for t in range(121, 125)]
    _, events = feed(samples)
    kinds = [(e.kind, e.zone, e.ts_s, e.reason, e.dwell_s) for e in events]
    assert kinds == [
        (EventKind.ZONE_ENTER, "shoes", 100.0, "confirmed_for_2.0s", None),
        (EventKind.ZONE_EXIT, "shoes", 121.0, "switched_to_till", 21.0),
        (EventKind.ZONE_ENTER, "till", 121.0, "confirmed_for_2.0s", None),
    ]


def test_grace_exit_is_stamped_at_the_last_supporting_observation() -> None:
    """Silence longer than the grace period closes the zone at the last sample seen there."""
    state, events = feed([(float(t), "shoes") for t in range(100, 131)])
    state, events = tick(state, 140.0, CFG)
    assert events == []  # 10 s after the last sample is still within the grace period
    state, events = tick(state, 140.5, CFG)
    assert [(e.kind, e.ts_s, e.dwell_s, e.reason) for e in events] == [
        (EventKind.ZONE_EXIT, 130.0, 30.0, "absent_for_grace_period")
    ]
    assert state.zone is None


def test_alternating_zones_do_not_switch() -> None:
    """A rival zone interrupted every other second never gets confirmed."""
    samples = [(float(t), "shoes") for t in range(100, 105)]
    samples += [(float(t), "till" if t % 2 else "shoes") for t in range(105, 160)]
    _, events = feed(samples)
    assert [e.kind for e in events] == [EventKind.ZONE_ENTER]


def test_stationary_noisy_device_stays_put() -> None:
    """Ten device-hours at 1 Hz with 15 % of samples in a random other zone: <= 1 switch/hour."""
    rng = np.random.default_rng(20261123)
    zones = ["entrance", "shoes", "till", "fitting"]
    switches = 0
    for _device in range(10):
        samples: list[tuple[float, str | None]] = []
        for t in range(3600):
            draw = rng.random()
            zone: str | None = "shoes" if draw > 0.15 else str(rng.choice(zones))
            if draw < 0.03:
                zone = None
            samples.append((1000.0 + t, zone))
        _, events = feed(samples)
        assert events[0].zone == "shoes"
        switches += sum(1 for e in events if e.kind is EventKind.ZONE_ENTER and e.zone != "shoes")
    assert switches <= 10


def test_out_of_order_observation_is_ignored() -> None:
    """An observation older than the last one processed changes nothing."""
    state, _ = feed([(100.0, "shoes"), (101.0, "shoes"), (102.0, "shoes")])
    after, events = step(state, ZoneObservation("till", 0.99), 50.0, CFG)
    assert after == state
    assert events == []


def test_instant_enter_when_confirmation_is_off() -> None:
    """confirm_enter_s=0 with one sample enters on the first observation."""
    cfg = DwellConfig(confirm_enter_s=0.0, confirm_min_samples=1)
    _, events = feed([(5.0, "shoes")], cfg)
    assert [(e.kind, e.reason) for e in events] == [(EventKind.ZONE_ENTER, "confirmed_for_0.0s")]


def test_close_exits_an_open_zone() -> None:
    """Closing a device in a zone exits it at its last sample with the given reason."""
    state, _ = feed([(100.0, "shoes"), (102.0, "shoes"), (104.0, "shoes")])
    state, events = close(state, 200.0, "evicted")
    assert [(e.kind, e.ts_s, e.dwell_s, e.reason) for e in events] == [
        (EventKind.ZONE_EXIT, 104.0, 4.0, "evicted")
    ]
    assert close(state, 300.0)[1] == []


def test_best_zone_from_probabilities_breaks_ties_by_name() -> None:
    """The most probable zone wins; equal probabilities go to the first name."""
    obs = ZoneObservation.from_probabilities({"till": 0.4, "shoes": 0.4, "entrance": 0.2}, -70.0)
    assert (obs.zone, obs.probability, obs.rssi_dbm) == ("shoes", 0.4, -70.0)
    assert ZoneObservation.from_probabilities({}).zone is None


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("confirm_enter_s", -1.0, "'confirm_enter_s' must be a number in [0, 3600] (got -1.0)"),
        ("grace_exit_s", float("nan"), "'grace_exit_s' must be a number"),
        ("min_probability", 1.5, "'min_probability' must be a number in [0, 1] (got 1.5)"),
        ("confirm_min_samples", 0, "'confirm_min_samples' must be in [1, 1000] (got 0)"),
    ],
)
def test_config_errors_name_the_field(field: str, value: float, message: str) -> None:
    """A bad threshold fails with the field, the range and the value."""
    with pytest.raises(DwellConfigError) as info:
        DwellConfig(**{field: value})  # type: ignore[arg-type]
    assert message in str(info.value)


def test_switching_can_demand_longer_evidence_than_entering() -> None:
    """With confirm_switch_s=10, a 5 s run elsewhere stays put and a 10 s run switches."""
    cfg = DwellConfig(confirm_enter_s=2.0, confirm_switch_s=10.0, grace_exit_s=30.0)
    samples: list[tuple[float, str | None]] = [(float(t), "shoes") for t in range(0, 10)]
    samples += [(float(t), "till") for t in range(10, 16)]
    samples += [(float(t), "shoes") for t in range(16, 20)]
    samples += [(float(t), "till") for t in range(20, 31)]
    _, events = feed(samples, cfg)
    assert [(e.kind, e.zone, e.ts_s, e.reason) for e in events] == [
        (EventKind.ZONE_ENTER, "shoes", 0.0, "confirmed_for_2.0s"),
        (EventKind.ZONE_EXIT, "shoes", 20.0, "switched_to_till"),
        (EventKind.ZONE_ENTER, "till", 20.0, "confirmed_for_10.0s"),
    ]


def test_presence_run_spans_supports_of_any_zone_within_the_grace() -> None:
    """The run starts at the first support, survives zone changes and unsupported
    observations, and restarts after a silence longer than the exit grace."""
    cfg = DwellConfig(grace_exit_s=10.0)
    state = initial_state("dk_a")
    for ts, obs in [
        (100.0, ZoneObservation("till", 0.9)),
        (105.0, ZoneObservation("shoes", 0.9)),
        (110.0, ZoneObservation(None, 0.0)),
        (114.0, ZoneObservation("shoes", 0.3)),  # too weak: supports nothing
        (115.0, ZoneObservation("till", 0.9)),
    ]:
        state, _ = step(state, obs, ts, cfg)
    assert (state.present_since_ts_s, state.present_last_ts_s) == (100.0, 115.0)
    state, _ = step(state, ZoneObservation("shoes", 0.9), 125.5, cfg)  # 10.5 s of silence
    assert (state.present_since_ts_s, state.present_last_ts_s) == (125.5, 125.5)


def test_a_backdated_observation_moves_the_switch_to_when_its_evidence_began() -> None:
    """A candidate whose classifier says the zone led since 117 s switches there, with the
    old zone closed at the same time; the confirmation still counts from its own samples."""
    state = initial_state("dk_b")
    events: list[PresenceEvent] = []
    for t in range(100, 121):
        state, new = step(state, ZoneObservation("shoes", 0.9), float(t), CFG)
        events.extend(new)
    for t in range(121, 125):
        state, new = step(state, ZoneObservation("till", 0.9, since_ts_s=117.0), float(t), CFG)
        events.extend(new)
    assert [(e.kind, e.zone, e.ts_s, e.dwell_s) for e in events] == [
        (EventKind.ZONE_ENTER, "shoes", 100.0, None),
        (EventKind.ZONE_EXIT, "shoes", 117.0, 17.0),
        (EventKind.ZONE_ENTER, "till", 117.0, None),
    ]
    assert state.entered_ts_s == 117.0


def test_backdating_stops_at_the_held_zone_and_the_last_closed_one() -> None:
    """A claim older than the held zone's enter (or, with none held, than the last zone's
    close) is cut there, so zone times still tile; a claim in the future is now."""
    state = initial_state("dk_c")
    for t in (100.0, 101.0, 102.0):
        state, _ = step(state, ZoneObservation("shoes", 0.9, since_ts_s=90.0), t, CFG)
    assert state.zone == "shoes"
    assert state.entered_ts_s == 90.0  # nothing before: the first zone may start earlier
    events: list[PresenceEvent] = []
    for t in (103.0, 104.0, 105.0):
        state, new = step(state, ZoneObservation("till", 0.9, since_ts_s=50.0), t, CFG)
        events.extend(new)
    assert [(e.kind, e.zone, e.ts_s) for e in events] == [
        (EventKind.ZONE_EXIT, "shoes", 90.0),
        (EventKind.ZONE_ENTER, "till", 90.0),
    ]
    state, new = tick(state, 200.0, CFG)  # grace runs out: till closes at its last support
    assert [(e.kind, e.ts_s) for e in new] == [(EventKind.ZONE_EXIT, 105.0)]
    for t in (210.0, 211.0, 212.0):
        state, new = step(state, ZoneObservation("shoes", 0.9, since_ts_s=20.0), t, CFG)
        events.extend(new)
    assert (state.zone, state.entered_ts_s) == ("shoes", 105.0)
    assert state.present_since_ts_s == 105.0
    state2, _ = step(initial_state("dk_d"), ZoneObservation("shoes", 0.9, since_ts_s=9e9), 5.0, CFG)
    assert state2.candidate_from_ts_s == 5.0
