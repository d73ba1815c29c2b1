"""Replay of recorded sightings: real time (optionally sped up) or as fast as possible.

Formats, chosen by the file name:

* ``*.sightings.jsonl`` / ``*.jsonl`` -- one keyed :class:`Sighting` per line, as
  written by ``footfall agent run --record FILE``. Keys only, no raw identifiers.
* ``*.jsonl`` whose lines carry ``address`` -- recorded BLE advertisements
  (``hardware.ble_jsonl``, e.g. from the store simulator); decoded and keyed with
  the site secret like live adverts.
* a directory written by the store simulator (``ble.jsonl``, ``wifi-*.pcap``,
  ``layout.json``): merged in time order, zones from its layout.
* ``*.pcap`` / ``*.pcapng`` -- a Wi-Fi monitor-mode capture; decoded and keyed by
  :mod:`edge_agent.sources.wifi` with the site secret.

A file's own ``sensor_id`` is kept (BLE JSONL and sightings); pcap frames get the
agent's id.

A malformed line is dropped and counted by reason, never raised.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from edge_agent.sources import Emit, SourceError
from edge_agent.sources.pacing import Pacer
from hardware.observations import IdClass, Sighting, SignalKind

__all__ = ["ReplaySource", "SightingRecorder", "read_sightings", "sighting_to_json"]

_LOGGER = logging.getLogger(__name__)


def sighting_to_json(s: Sighting) -> str:
    row: dict[str, Any] = {
        "ts_s": s.ts_s,
        "sensor_id": s.sensor_id,
        "device_key": s.device_key,
        "id_class": s.id_class.value,
        "signal": s.signal.value,
        "rssi_dbm": s.rssi_dbm,
    }
    for name in ("tx_power_dbm", "ie_fingerprint", "seq_num"):
        value = getattr(s, name)
        if value is not None:
            row[name] = value
    return json.dumps(row, separators=(",", ":"))


def _parse(line: str) -> Sighting | str:
    """A sighting, or the reason the line was dropped."""
    try:
        row = json.loads(line)
    except json.JSONDecodeError:
        return "bad_json"
    if not isinstance(row, dict):
        return "not_an_object"
    try:
        rssi = row.get("rssi_dbm")
        tx = row.get("tx_power_dbm")
        seq = row.get("seq_num")
        return Sighting(
            ts_s=float(row["ts_s"]),
            sensor_id=str(row["sensor_id"]),
            device_key=str(row["device_key"]),
            id_class=IdClass(row["id_class"]),
            signal=SignalKind(row["signal"]),
            rssi_dbm=None if rssi is None else float(rssi),
            tx_power_dbm=None if tx is None else float(tx),
            ie_fingerprint=row.get("ie_fingerprint"),
            seq_num=None if seq is None else int(seq),
        )
    except KeyError:
        return "missing_field"
    except (TypeError, ValueError):
        return "bad_value"


def read_sightings(path: Path, drops: Counter[str] | None = None) -> Iterator[Sighting]:
    """Sightings from a JSONL file; bad lines are counted in ``drops`` and skipped."""
    try:
        handle = path.open(encoding="utf-8")
    except OSError as exc:
        raise SourceError(f"replay: cannot read {str(path)!r}: {exc.strerror}") from None
    with handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            parsed = _parse(line)
            if isinstance(parsed, str):
                if drops is not None:
                    drops[parsed] += 1
                _LOGGER.debug("replay %s:%d dropped (%s)", path.name, number, parsed)
                continue
            yield parsed


def _is_ble_jsonl(path: Path) -> bool:
    """A JSONL file of raw BLE advertisements (``address``), not of keyed sightings."""
    try:
        with path.open(encoding="utf-8", errors="replace") as handle:
            for line in handle:
                if line.strip():
                    row = json.loads(line)
                    return isinstance(row, dict) and "address" in row and "device_key" not in row
    except (OSError, json.JSONDecodeError):
        return False
    return False


def ble_jsonl_sightings(path: Path, site_secret: str, drops: Counter[str]) -> Iterator[Sighting]:
    """Keyed sightings of the beacon frames in a BLE JSON-lines recording."""
    from hardware.ble_jsonl import JsonlError, iter_ble_jsonl
    from hardware.privacy import DeviceKeyer
    from hardware.sightings import sighting_from_ble

    keyer = DeviceKeyer(site_secret.encode())
    try:
        for record in iter_ble_jsonl(path):
            if isinstance(record, JsonlError):
                drops[f"ble_jsonl_{record.reason}"] += 1
                continue
            for frame in record.decode():
                sighting = sighting_from_ble(
                    frame,
                    ts_s=record.ts_s,
                    rssi_dbm=None if record.rssi_dbm is None else float(record.rssi_dbm),
                    sensor_id=record.sensor_id,
                    keyer=keyer,
                )
                if sighting is None:
                    drops["ble_not_a_beacon"] += 1
                else:
                    yield sighting
    except OSError as exc:
        raise SourceError(f"replay: cannot read {str(path)!r}: {exc.strerror}") from None


class SightingRecorder:
    """Appends every sighting to a JSONL file (``--record``) that :class:`ReplaySource` reads."""

    def __init__(self, path: Path) -> None:
        self._handle: IO[str] = path.open("a", encoding="utf-8")

    def write(self, s: Sighting) -> None:
        self._handle.write(sighting_to_json(s) + "\n")

    def close(self) -> None:
        self._handle.close()


class ReplaySource:
    """A recorded file as an agent source."""

    finite = True
    live_clock = False

    def __init__(
        self,
        path: Path,
        *,
        speed: float | None = None,
        site_secret: str | None = None,
        sensor_id: str = "replay",
    ) -> None:
        if not path.exists():
            raise SourceError(
                f"replay: expected a capture file or run directory (got {str(path)!r})"
            )
        self.path = path
        self.name = f"replay:{path.name}"
        self._pacer = Pacer(speed)
        self._secret = site_secret
        self._sensor_id = sensor_id
        self.drops: Counter[str] = Counter()

    def sightings(self) -> Iterator[Sighting]:
        if self.path.is_dir():
            from edge_agent.sources.store_sim import run_dir_sightings

            return run_dir_sightings(self.path, self._need_secret(), self.drops)
        if self.path.suffix in (".pcap", ".pcapng", ".cap"):
            from edge_agent.sources.wifi import pcap_sightings

            return pcap_sightings(self.path, self._need_secret(), self._sensor_id, self.drops)
        if _is_ble_jsonl(self.path):
            return ble_jsonl_sightings(self.path, self._need_secret(), self.drops)
        return read_sightings(self.path, self.drops)

    def _need_secret(self) -> str:
        if self._secret is None:
            raise SourceError("replay: a raw capture needs the site secret to key its ids")
        return self._secret

    async def run(self, emit: Emit) -> None:
        for sighting in self.sightings():
            await self._pacer.wait_for(sighting.ts_s)
            emit(sighting)
