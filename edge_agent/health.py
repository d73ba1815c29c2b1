"""Counters for the retained ``status`` message: rates, tracked devices, outbox, drops, CPU temp."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hardware.observations import Sighting, SignalKind

__all__ = ["Health", "read_cpu_temp_c"]

_THERMAL = Path("/sys/class/thermal/thermal_zone0/temp")


def read_cpu_temp_c(path: Path = _THERMAL) -> float | None:
    """The SoC temperature in degrees Celsius (Raspberry Pi and most Linux boards), if exposed."""
    try:
        return round(int(path.read_text().strip()) / 1000.0, 1)
    except (OSError, ValueError):
        return None


@dataclass
class Health:
    """Counts since start, and rates over the last status interval (time passed in)."""

    adverts: int = 0
    probes: int = 0
    events: int = 0
    drops: Counter[str] = field(default_factory=Counter)
    _last_s: float | None = None
    _last_adverts: int = 0
    _last_probes: int = 0

    def count(self, sighting: Sighting) -> None:
        if sighting.signal is SignalKind.BLE:
            self.adverts += 1
        else:
            self.probes += 1

    def drop(self, reason: str, n: int = 1) -> None:
        self.drops[reason] += n

    def snapshot(
        self,
        now_s: float,
        *,
        tracked_devices: int,
        outbox_depth: int,
        outbox_oldest_s: float | None,
        outbox_dropped: int,
        extra: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Counters for ``status``; rates are per second since the previous snapshot."""
        elapsed = None if self._last_s is None else max(now_s - self._last_s, 1e-9)
        adverts_per_s = 0.0 if elapsed is None else (self.adverts - self._last_adverts) / elapsed
        probes_per_s = 0.0 if elapsed is None else (self.probes - self._last_probes) / elapsed
        self._last_s, self._last_adverts, self._last_probes = now_s, self.adverts, self.probes
        drops = dict(self.drops)
        if outbox_dropped:
            drops["outbox_full"] = outbox_dropped
        out: dict[str, Any] = {
            "adverts_per_s": round(adverts_per_s, 2),
            "probes_per_s": round(probes_per_s, 2),
            "adverts": self.adverts,
            "probes": self.probes,
            "events": self.events,
            "tracked_devices": tracked_devices,
            "outbox_depth": outbox_depth,
            "outbox_age_s": None
            if outbox_oldest_s is None
            else round(max(0.0, now_s - outbox_oldest_s), 1),
            "drops": drops,
            "cpu_temp_c": read_cpu_temp_c(),
        }
        if extra:
            out.update(extra)
        return out
