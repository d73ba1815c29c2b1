"""Hypothesis state machine over the device table: the event stream stays well-formed."""

from __future__ import annotations

import itertools

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from positioning.dwell import DwellConfig, ZoneObservation
from positioning.events import EventKind, PresenceEvent
from positioning.tracking import DeviceTable, TrackingConfig
from positioning.visits import VisitConfig

DEVICES = ("dk_a", "dk_b", "dk_c")
ZONES = ("entrance", "shoes", "till")


def build() -> DeviceTable:
    return DeviceTable(
        dwell_config=DwellConfig(confirm_enter_s=2.0, grace_exit_s=6.0),
        visit_config=VisitConfig(visit_gap_s=20.0, min_dwell_s=5.0, engaged_dwell_s=30.0),
        config=TrackingConfig(max_lateness_s=2.0, eviction_margin_s=5.0, max_devices=2),
    )


class DeviceTableMachine(RuleBasedStateMachine):
    """Random pushes (some late), clock advances and closes, in any order."""

    def __init__(self) -> None:
        super().__init__()
        self.table = build()
        self.now_s = 0.0
        self.inputs: list[tuple[str, tuple[str, ZoneObservation, float] | float | None]] = []
        self.events: list[PresenceEvent] = []
        self.closed = False

    def _record(self, events: list[PresenceEvent]) -> None:
        self.events.extend(events)

    @rule(
        device=st.sampled_from(DEVICES),
        zone=st.sampled_from((*ZONES, None)),
        probability=st.floats(0.0, 1.0),
        lateness_s=st.floats(0.0, 4.0),
    )
    def push(self, device: str, zone: str | None, probability: float, lateness_s: float) -> None:
        obs = ZoneObservation(zone, probability, -60.0)
        ts_s = self.now_s - lateness_s
        self.closed = False
        self.inputs.append(("push", (device, obs, ts_s)))
        self.table.push(device, obs, ts_s)

    @rule(
        device=st.sampled_from(DEVICES),
        zone=st.sampled_from(ZONES),
        samples=st.integers(1, 8),
    )
    def stay(self, device: str, zone: str, samples: int) -> None:
        """A run of confident samples one second apart, so zones do get confirmed."""
        for _ in range(samples):
            self.now_s += 1.0
            self.closed = False
            obs = ZoneObservation(zone, 0.95, -55.0)
            self.inputs.append(("push", (device, obs, self.now_s)))
            self.table.push(device, obs, self.now_s)
            self.inputs.append(("advance", self.now_s))
            self._record(self.table.advance(self.now_s))

    @rule(dt_s=st.sampled_from((0.5, 1.0, 1.0, 1.0, 3.0, 7.0, 25.0)))
    def advance(self, dt_s: float) -> None:
        self.now_s += dt_s
        self.closed = False
        self.inputs.append(("advance", self.now_s))
        self._record(self.table.advance(self.now_s))

    @rule()
    def close(self) -> None:
        self.inputs.append(("close", None))
        self._record(self.table.close_all())
        self.closed = True

    @invariant()
    def per_device_stream_is_well_formed(self) -> None:
        for device in DEVICES:
            own = [e for e in self.events if e.device_key == device]
            assert all(a.ts_s <= b.ts_s for a, b in itertools.pairwise(own))
            zone: str | None = None
            in_visit = False
            for event in own:
                if event.kind is EventKind.ZONE_ENTER:
                    assert zone is None, "enter while already in a zone"
                    assert in_visit, "zone entered outside a visit"
                    zone = event.zone
                elif event.kind is EventKind.ZONE_EXIT:
                    assert zone is not None, "exit without enter"
                    assert event.zone == zone, "exit of another zone than entered"
                    assert event.dwell_s is not None
                    assert event.dwell_s >= 0.0
                    zone = None
                elif event.kind is EventKind.VISIT_START:
                    assert not in_visit, "visit started twice"
                    in_visit = True
                else:
                    assert in_visit, "visit ended without start"
                    assert zone is None, "visit ended while in a zone"
                    assert event.dwell_s is not None
                    assert event.dwell_s >= 0.0
                    assert event.zones, "a visit has at least one zone"
                    in_visit = False
            if self.closed:
                assert zone is None, "close_all left a zone open"
                assert not in_visit, "close_all left a visit open"

    @invariant()
    def memory_is_bounded(self) -> None:
        assert len(self.table) <= 2

    def teardown(self) -> None:
        # Determinism: replaying the same inputs gives the same events.
        replay = build()
        events: list[PresenceEvent] = []
        for _action, arg in self.inputs:
            if isinstance(arg, tuple):
                replay.push(*arg)
            elif isinstance(arg, float):
                events.extend(replay.advance(arg))
            else:
                events.extend(replay.close_all())
        assert events == self.events


DeviceTableMachine.TestCase.settings = settings(
    max_examples=150, stateful_step_count=60, deadline=None, derandomize=True
)
TestDeviceTableMachine = DeviceTableMachine.TestCase
