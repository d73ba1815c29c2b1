"""Pacing for timed streams: real time (optionally sped up) or as fast as possible."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

__all__ = ["Pacer"]


class Pacer:
    """Sleeps so that stream time ``ts_s`` is reached at ``start + (ts_s - t0) / speed`` wall time.

    ``speed=None`` never sleeps (as fast as possible) but still yields to the event loop.
    """

    def __init__(
        self, speed: float | None, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        if speed is not None and speed <= 0:
            raise ValueError(f"'speed' must be > 0 or None (got {speed})")
        self._speed = speed
        self._monotonic = monotonic
        self._origin: tuple[float, float] | None = None  # (stream ts, wall monotonic)

    async def wait_for(self, ts_s: float) -> None:
        if self._speed is None:
            await asyncio.sleep(0)
            return
        if self._origin is None:
            self._origin = (ts_s, self._monotonic())
        due = self._origin[1] + (ts_s - self._origin[0]) / self._speed
        delay = due - self._monotonic()
        await asyncio.sleep(max(0.0, delay))
