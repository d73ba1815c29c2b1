"""Per-device zone presence machine: confirm-to-enter, grace-to-exit, a reason on every switch.

Functional core: :func:`step` takes the previous :class:`DwellState`, the classifier's
output for the device at ``now_s`` and returns the new state and the
:class:`~positioning.events.PresenceEvent` values it caused. :func:`tick` does the same
without an observation, so a silent device's zone closes. Nothing here reads a clock.

Rules (``cfg`` is a :class:`DwellConfig`):

* An observation *supports* zone ``z`` when its best zone is ``z`` with probability
  ``>= cfg.min_probability``; anything else (no zone, a weak best zone) supports nothing.
* Enter: a zone other than the current one becomes a *candidate* at its first supporting
  observation; it is confirmed once it has been supported for ``>= confirm_enter_s``
  by at least ``confirm_min_samples`` observations with no other zone supported in between.
  The ``zone_enter`` carries the time of the *first* supporting observation, or the
  earlier ``since_ts_s`` that observation brings (bounded: never before the held zone was
  entered, nor, with none held, before the last supporting observation of any zone).
* Switch: confirming a candidate while in another zone closes that zone at the
  candidate's first observation (``switched_to_<zone>``), so zone times tile without gaps.
* Exit: a zone not supported for longer than ``grace_exit_s`` closes at the *last*
  supporting observation (``absent_for_grace_period``); a candidate not supported for
  longer than ``grace_exit_s`` is forgotten.

Event times are when the transition took effect, never when it was confirmed, so
``dwell_s`` is not inflated by the hysteresis. Observations older than the last one
processed are ignored (the reorder buffer in :mod:`positioning.tracking` sorts them first).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace

from positioning.events import EventKind, PresenceEvent

# Reasons: a small machine-readable vocabulary (also listed in docs/dwell-and-visits.md).
REASON_CONFIRMED_PREFIX = "confirmed_for_"
"""``zone_enter``: ``confirmed_for_<confirm_enter_s>s``, e.g. ``confirmed_for_2.0s``."""
REASON_SWITCHED_PREFIX = "switched_to_"
"""``zone_exit``: ``switched_to_<zone>``, another zone was confirmed."""
REASON_ABSENT = "absent_for_grace_period"
"""``zone_exit``: the zone was not supported for longer than the grace period."""
REASON_EVICTED = "evicted"
"""``zone_exit``/``visit_end``: the device table dropped the device (capacity or staleness)."""
REASON_CLOSED = "stream_closed"
"""``zone_exit``/``visit_end``: the caller closed the stream (shutdown, end of a replay)."""


class DwellConfigError(ValueError):
    """A :class:`DwellConfig` field is out of range."""


@dataclass(frozen=True, slots=True)
class DwellConfig:
    """Thresholds of the zone machine. Defaults aim at 1 Hz BLE after a Kalman filter."""

    confirm_enter_s: float = 2.0
    """A zone must be supported this long (first to latest supporting sample) to be entered."""
    confirm_min_samples: int = 3
    """...and by at least this many observations (1 with ``confirm_enter_s == 0`` = instant).
    Three at 1 Hz is the 2 s window itself; two would let two stray samples with silence
    between them confirm a zone. Sparse sources (Wi-Fi probes) want their own, lower value."""
    confirm_switch_s: float | None = None
    """Like ``confirm_enter_s`` but to leave a confirmed zone for another (``None``: the
    same). Longer means fewer false switches of standing devices; as the enter is stamped
    at the candidate's first sample, zone times do not pay for it, only the live delay."""
    confirm_switch_min_samples: int | None = None
    """Like ``confirm_min_samples`` for a switch (``None``: the same)."""
    grace_exit_s: float = 15.0
    """A zone closes after this long without a supporting observation."""
    min_probability: float = 0.6
    """An observation supports its best zone only at or above this probability."""

    def __post_init__(self) -> None:
        _check_range("confirm_enter_s", self.confirm_enter_s, 0.0, 3600.0)
        _check_range("grace_exit_s", self.grace_exit_s, 0.0, 86400.0)
        _check_range("min_probability", self.min_probability, 0.0, 1.0)
        if self.confirm_switch_s is not None:
            _check_range("confirm_switch_s", self.confirm_switch_s, 0.0, 3600.0)
        for name in ("confirm_min_samples", "confirm_switch_min_samples"):
            value = getattr(self, name)
            if value is not None and not 1 <= value <= 1000:
                raise DwellConfigError(f"'{name}' must be in [1, 1000] (got {value})")

    @property
    def enter_reason(self) -> str:
        """The ``zone_enter`` reason for this configuration, e.g. ``confirmed_for_2.0s``."""
        return f"{REASON_CONFIRMED_PREFIX}{float(self.confirm_enter_s)!r}s"


def _check_range(name: str, value: float, low: float, high: float) -> None:
    if not (math.isfinite(value) and low <= value <= high):
        raise DwellConfigError(f"'{name}' must be a number in [{low:g}, {high:g}] (got {value!r})")


@dataclass(frozen=True, slots=True)
class ZoneObservation:
    """The zone classifier's output for one device at one time.

    ``zone`` is the best zone (``None``: outside every zone), ``probability`` its
    probability in [0, 1], ``rssi_dbm`` the smoothed RSSI that led to it.
    """

    zone: str | None
    probability: float = 1.0
    rssi_dbm: float | None = None
    since_ts_s: float | None = None
    """When the evidence for ``zone`` began, if the classifier knows it (``None``: now).
    A classifier with hysteresis names ``zone`` some time after it became the most
    probable one; a zone entered from this observation is back-dated to that time
    (never before the zone it replaces was entered, or the last one closed)."""

    @classmethod
    def from_probabilities(
        cls, probabilities: Mapping[str, float], rssi_dbm: float | None = None
    ) -> ZoneObservation:
        """Pick the most probable zone (ties broken by name, so the choice is deterministic)."""
        if not probabilities:
            return cls(zone=None, probability=0.0, rssi_dbm=rssi_dbm)
        zone, probability = min(probabilities.items(), key=lambda item: (-item[1], item[0]))
        return cls(zone=zone, probability=probability, rssi_dbm=rssi_dbm)


@dataclass(frozen=True, slots=True)
class DwellState:
    """Where one device is. Build the first one with :func:`initial_state`."""

    device_key: str
    zone: str | None = None
    """The confirmed zone, or ``None``."""
    entered_ts_s: float = 0.0
    last_support_ts_s: float = 0.0
    """Last observation that supported ``zone``."""
    last_rssi_dbm: float | None = None
    candidate: str | None = None
    candidate_since_ts_s: float = 0.0
    candidate_last_ts_s: float = 0.0
    candidate_samples: int = 0
    candidate_rssi_dbm: float | None = None
    present_since_ts_s: float = math.nan
    """First supporting observation (of any zone) of the current presence run: supports
    no further apart than ``grace_exit_s``. A visit starts and ends with its run."""
    present_last_ts_s: float = -math.inf
    """Last supporting observation of any zone."""
    last_ts_s: float = -math.inf
    """Time of the last observation or tick processed."""
    candidate_from_ts_s: float = math.nan
    """When the candidate took effect: its first observation's ``since_ts_s`` (bounded),
    at or before ``candidate_since_ts_s``; the ``zone_enter`` carries this time."""


def initial_state(device_key: str) -> DwellState:
    """A device that has not been placed in any zone yet."""
    return DwellState(device_key=device_key)


def _exit(state: DwellState, ts_s: float, reason: str, rssi_dbm: float | None) -> PresenceEvent:
    assert state.zone is not None  # noqa: S101 - callers check; keeps mypy's narrowing honest
    return PresenceEvent(
        kind=EventKind.ZONE_EXIT,
        ts_s=ts_s,
        device_key=state.device_key,
        reason=reason,
        zone=state.zone,
        dwell_s=max(0.0, ts_s - state.entered_ts_s),
        rssi_dbm=rssi_dbm,
    )


# step() and tick() run once per observation of every device: they build the next state
# with one positional constructor call from locals (the fields in declaration order)
# rather than chaining dataclasses.replace, which costs ~2x a constructor call per use.


def tick(
    state: DwellState, now_s: float, cfg: DwellConfig
) -> tuple[DwellState, list[PresenceEvent]]:
    """Advance time without an observation: close zones whose grace period ran out."""
    if now_s < state.last_ts_s:
        return state, []
    grace_s = cfg.grace_exit_s
    zone, candidate, candidate_samples = state.zone, state.candidate, state.candidate_samples
    events: list[PresenceEvent] = []
    if zone is not None and now_s - state.last_support_ts_s > grace_s:
        events.append(_exit(state, state.last_support_ts_s, REASON_ABSENT, state.last_rssi_dbm))
        zone = None
    if candidate is not None and now_s - state.candidate_last_ts_s > grace_s:
        candidate, candidate_samples = None, 0
    new = DwellState(
        state.device_key,
        zone,
        state.entered_ts_s,
        state.last_support_ts_s,
        state.last_rssi_dbm,
        candidate,
        state.candidate_since_ts_s,
        state.candidate_last_ts_s,
        candidate_samples,
        state.candidate_rssi_dbm,
        state.present_since_ts_s,
        state.present_last_ts_s,
        now_s,
        state.candidate_from_ts_s,
    )
    return new, events


def step(
    state: DwellState,
    observation: ZoneObservation | None,
    now_s: float,
    cfg: DwellConfig,
) -> tuple[DwellState, list[PresenceEvent]]:
    """Feed one classifier output taken at ``now_s``; ``None`` is the same as :func:`tick`."""
    if observation is None or now_s < state.last_ts_s:
        return tick(state, now_s, cfg)
    key = state.device_key
    zone, entered_ts_s = state.zone, state.entered_ts_s
    support_ts_s, support_rssi_dbm = state.last_support_ts_s, state.last_rssi_dbm
    candidate, since_ts_s = state.candidate, state.candidate_since_ts_s
    candidate_ts_s, samples = state.candidate_last_ts_s, state.candidate_samples
    candidate_rssi_dbm = state.candidate_rssi_dbm
    from_ts_s = state.candidate_from_ts_s
    grace_s = cfg.grace_exit_s
    events: list[PresenceEvent] = []
    # Expire first: the zone and the candidate whose grace periods ran out by now_s.
    if zone is not None and now_s - support_ts_s > grace_s:
        events.append(_exit(state, support_ts_s, REASON_ABSENT, support_rssi_dbm))
        zone = None
    if candidate is not None and now_s - candidate_ts_s > grace_s:
        candidate, samples = None, 0
    supported = observation.zone if observation.probability >= cfg.min_probability else None
    present_since_ts_s = state.present_since_ts_s
    if supported is None:
        new = DwellState(
            key,
            zone,
            entered_ts_s,
            support_ts_s,
            support_rssi_dbm,
            candidate,
            since_ts_s,
            candidate_ts_s,
            samples,
            candidate_rssi_dbm,
            present_since_ts_s,
            state.present_last_ts_s,
            now_s,
            from_ts_s,
        )
        return new, events
    # When the evidence began: back-dated by the classifier, but never before the held zone
    # was entered (with none, before the last support of any zone), so zone times tile.
    began_ts_s = now_s
    if observation.since_ts_s is not None and observation.since_ts_s < now_s:
        if zone is not None:
            floor_ts_s = entered_ts_s
        else:
            floor_ts_s = max(support_ts_s, state.present_last_ts_s)
        began_ts_s = max(observation.since_ts_s, floor_ts_s)
    if now_s - state.present_last_ts_s > grace_s:
        present_since_ts_s = began_ts_s
    rssi = observation.rssi_dbm
    if supported == zone:
        # Seen again where it is: refresh, and a rival candidate loses its run.
        new = DwellState(
            key,
            zone,
            entered_ts_s,
            now_s,
            rssi,
            None,
            since_ts_s,
            candidate_ts_s,
            0,
            candidate_rssi_dbm,
            present_since_ts_s,
            now_s,
            now_s,
            from_ts_s,
        )
        return new, events
    if supported != candidate:
        candidate, since_ts_s, candidate_ts_s = supported, now_s, now_s
        samples, candidate_rssi_dbm, from_ts_s = 1, rssi, began_ts_s
        present_since_ts_s = min(present_since_ts_s, began_ts_s)
    else:
        candidate_ts_s, samples = now_s, samples + 1
    if zone is None:
        need_s, need_samples = cfg.confirm_enter_s, cfg.confirm_min_samples
    else:
        need_s = cfg.confirm_enter_s if cfg.confirm_switch_s is None else cfg.confirm_switch_s
        need_samples = cfg.confirm_switch_min_samples or cfg.confirm_min_samples
    if not (now_s - since_ts_s >= need_s and samples >= need_samples):
        new = DwellState(
            key,
            zone,
            entered_ts_s,
            support_ts_s,
            support_rssi_dbm,
            candidate,
            since_ts_s,
            candidate_ts_s,
            samples,
            candidate_rssi_dbm,
            present_since_ts_s,
            now_s,
            now_s,
            from_ts_s,
        )
        return new, events
    if zone is not None:
        events.append(_exit(state, from_ts_s, f"{REASON_SWITCHED_PREFIX}{supported}", rssi))
    events.append(
        PresenceEvent(
            kind=EventKind.ZONE_ENTER,
            ts_s=from_ts_s,
            device_key=key,
            reason=f"{REASON_CONFIRMED_PREFIX}{float(need_s)!r}s",
            zone=supported,
            rssi_dbm=candidate_rssi_dbm,
        )
    )
    new = DwellState(
        key,
        supported,
        from_ts_s,
        now_s,
        rssi,
        None,
        since_ts_s,
        candidate_ts_s,
        0,
        candidate_rssi_dbm,
        present_since_ts_s,
        now_s,
        now_s,
        from_ts_s,
    )
    return new, events


def close(
    state: DwellState, now_s: float, reason: str = REASON_CLOSED
) -> tuple[DwellState, list[PresenceEvent]]:
    """Close an open zone at its last supporting observation (eviction, shutdown)."""
    if state.zone is None:
        return replace(state, candidate=None, candidate_samples=0), []
    event = _exit(state, min(state.last_support_ts_s, now_s), reason, state.last_rssi_dbm)
    return replace(state, zone=None, candidate=None, candidate_samples=0), [event]
