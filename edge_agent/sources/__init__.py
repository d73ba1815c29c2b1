"""Where sightings come from: radios (BLE, Wi-Fi), captures (replay) and the simulator.

Every source is an object with ``name``, ``finite`` (it ends by itself: replay,
simulation), ``live_clock`` (its sightings are timed by the wall clock, so the
agent may also advance time from the clock) and ``async run(emit)``, which calls
``emit(sighting)`` in time order until it ends or is cancelled. Radio and
library imports happen inside ``run``, so a Pi without scapy can still replay.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from hardware.observations import Sighting

__all__ = ["Emit", "Source", "SourceError"]

Emit = Callable[[Sighting], None]


class SourceError(RuntimeError):
    """A source cannot start (missing interface, no adapter, unreadable file); not retryable."""


class Source(Protocol):
    name: str
    finite: bool
    live_clock: bool

    async def run(self, emit: Emit) -> None: ...
