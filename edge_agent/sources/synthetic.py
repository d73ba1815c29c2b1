"""A seeded synthetic store: keyed sightings of devices that arrive, wander and leave.

It produces :class:`~hardware.observations.Sighting` values directly (the keys are
synthetic ``dk1_`` hashes, no raw identifiers exist), vectorised with numpy so it
can feed the agent 2,000 sightings per second for benchmarks. Same seed, same
parameters: the same sightings, whatever the pacing.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from edge_agent.sources import Emit
from edge_agent.sources.pacing import Pacer
from hardware.observations import IdClass, Sighting, SignalKind

__all__ = ["SyntheticSource", "SyntheticStore"]

_CLASSES = (IdClass.WIFI_RANDOMIZED, IdClass.WIFI_GLOBAL, IdClass.PERSONAL_BEACON)
# Share of each class among shoppers' devices: randomized MACs dominate modern phones.
_CLASS_P = (0.6, 0.15, 0.25)


@dataclass(frozen=True, slots=True)
class SyntheticStore:
    """Poisson arrivals, exponential stays, a random-walk RSSI level per device."""

    seed: int = 1
    start_s: float = 1_795_000_000.0
    """Stream start, UTC POSIX seconds (fixed by default so runs are reproducible)."""
    duration_s: float = 600.0
    arrivals_per_s: float = 0.5
    mean_stay_s: float = 240.0
    sightings_per_device_s: float = 0.5
    """Mean sightings per present device per second."""
    rssi_noise_db: float = 4.0
    sensor_id: str = "sim"
    initial_devices: int = 0
    """Devices already present at the start (stays are memoryless: a steady state at once)."""

    def sightings(self) -> Iterator[Sighting]:
        """Every sighting, in time order."""
        rng = np.random.default_rng(self.seed)
        keys: list[str] = []
        classes: list[IdClass] = []
        level = np.empty(0)
        leave = np.empty(0)
        counter = 0
        for step in range(int(self.duration_s)):
            t0 = self.start_s + step
            n_new = int(rng.poisson(self.arrivals_per_s))
            if step == 0:
                n_new += self.initial_devices
            if n_new:
                for _ in range(n_new):
                    keys.append(_key(self.seed, counter))
                    counter += 1
                classes.extend(_CLASSES[i] for i in rng.choice(3, size=n_new, p=_CLASS_P))
                level = np.concatenate([level, rng.uniform(-88.0, -50.0, n_new)])
                leave = np.concatenate([leave, t0 + rng.exponential(self.mean_stay_s, n_new)])
            stay = leave > t0
            if not stay.all():
                idx = np.flatnonzero(stay)
                keys = [keys[i] for i in idx]
                classes = [classes[i] for i in idx]
                level, leave = level[stay], leave[stay]
            # Each device's mean level drifts: people walk between zones.
            level = np.clip(level + rng.normal(0.0, 1.0, level.size), -95.0, -40.0)
            emit = np.flatnonzero(rng.random(level.size) < self.sightings_per_device_s)
            offsets = rng.random(emit.size)
            rssi = level[emit] + rng.normal(0.0, self.rssi_noise_db, emit.size)
            order = np.argsort(offsets, kind="stable")
            for j in order:
                i = int(emit[j])
                cls = classes[i]
                yield Sighting(
                    ts_s=round(t0 + float(offsets[j]), 3),
                    sensor_id=self.sensor_id,
                    device_key=keys[i],
                    id_class=cls,
                    signal=SignalKind.BLE if cls is IdClass.PERSONAL_BEACON else SignalKind.WIFI,
                    rssi_dbm=round(float(rssi[j]), 1),
                )


def _key(seed: int, counter: int) -> str:
    digest = hashlib.blake2b(f"{seed}:{counter}".encode(), digest_size=10).digest()
    return "dk1_" + base64.b32encode(digest).decode().lower()


class SyntheticSource:
    """:class:`SyntheticStore` as an agent source, paced in real time times ``speed``."""

    name = "simulate"
    finite = True
    live_clock = False

    def __init__(self, store: SyntheticStore, *, speed: float | None = 1.0) -> None:
        self.store = store
        self._pacer = Pacer(speed)

    async def run(self, emit: Emit) -> None:
        for sighting in self.store.sightings():
            await self._pacer.wait_for(sighting.ts_s)
            emit(sighting)
