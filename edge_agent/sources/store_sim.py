"""The store simulator (``hardware.simulator``) as an agent source, live or replayed.

Live: ``SimulatedStore.records()`` yields raw adverts and probe requests (with
simulated MACs) from every sensor of the floor plan; they go through the same
decoders and the same keyer as real radios (BLE: ``decode_advertisement`` ->
``sighting_from_ble``; Wi-Fi: the probe's radiotap bytes -> ``decode_frame`` ->
``sighting_from_probe``), so nothing raw leaves this module.

Replayed: a run directory written by the simulator (``ble.jsonl`` and one
``wifi-<sensor>.pcap`` per sensor) read back and merged in time order; the same
seed gives the same sightings, hence the same events.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from edge_agent.sources import Emit, SourceError
from edge_agent.sources.pacing import Pacer
from edge_agent.sources.replay import ble_jsonl_sightings
from edge_agent.sources.wifi import pcap_sightings
from hardware.ble import decode_advertisement
from hardware.ble_jsonl import parse_ts
from hardware.observations import Sighting
from hardware.privacy import DeviceKeyer
from hardware.sightings import sighting_from_ble, sighting_from_probe
from hardware.simulator import SimBleAdvert, SimulatedStore
from hardware.simulator.output import BLE_FILE, ProbeFrameBuilder, rfc3339_ms
from hardware.wifi import LINKTYPE_IEEE802_11_RADIOTAP, ProbeRequest, decode_frame

__all__ = ["StoreSimSource", "run_dir_sightings", "store_sightings"]

_REORDER_S = 0.002


def store_sightings(
    store: SimulatedStore, site_secret: str, drops: Counter[str]
) -> Iterator[Sighting]:
    """Keyed sightings of a simulation, through the real decoders, in recording order.

    Times are those a recording keeps (ms in the BLE JSONL, us in the pcaps) and the
    order is the replay's merge order -- by time, ties BLE first, then Wi-Fi sensors by
    name -- so a live run and a replay of its recording give the same sightings.
    """
    keyer = DeviceKeyer(site_secret.encode())
    builder = ProbeFrameBuilder()
    stream_of = {
        sid: i + 1 for i, sid in enumerate(sorted(s.sensor_id for s in store.plan.sensors))
    }
    # Quantising moves a time by < 0.5 ms: hold records back 2 ms to restore the order.
    pending: list[tuple[float, int, int, Sighting]] = []
    for counter, rec in enumerate(store.records()):
        while pending and pending[0][0] < rec.ts_s - _REORDER_S:
            yield heapq.heappop(pending)[3]
        if isinstance(rec, SimBleAdvert):
            ts_s = parse_ts(rfc3339_ms(rec.ts_s))
            for frame in decode_advertisement(manufacturer_data=rec.manufacturer_data):
                sighting = sighting_from_ble(
                    frame,
                    ts_s=ts_s,
                    rssi_dbm=float(rec.rssi_dbm),
                    sensor_id=rec.sensor_id,
                    keyer=keyer,
                )
                if sighting is None:
                    drops["ble_not_a_beacon"] += 1
                else:
                    heapq.heappush(pending, (ts_s, 0, counter, sighting))
        else:
            sec = int(rec.ts_s)  # the pcap's seconds + microseconds, as write_run stores them
            ts_s = sec + round((rec.ts_s - sec) * 1e6) / 1e6
            result = decode_frame(
                builder.frame(rec), linktype=LINKTYPE_IEEE802_11_RADIOTAP, ts_s=ts_s
            )
            if isinstance(result, ProbeRequest):
                sighting = sighting_from_probe(result, rec.sensor_id, keyer)
                heapq.heappush(pending, (ts_s, stream_of.get(rec.sensor_id, 0), counter, sighting))
            else:
                drops[str(result.reason)] += 1
    while pending:
        yield heapq.heappop(pending)[3]


def run_dir_sightings(run_dir: Path, site_secret: str, drops: Counter[str]) -> Iterator[Sighting]:
    """A simulator run directory's BLE JSONL and per-sensor pcaps, merged in time order."""
    ble = run_dir / BLE_FILE
    pcaps = sorted(run_dir.glob("wifi-*.pcap"))
    if not ble.is_file() and not pcaps:
        raise SourceError(
            f"replay: {str(run_dir)!r} is not a simulator run (no {BLE_FILE} or wifi-*.pcap)"
        )
    streams: list[Iterator[Sighting]] = []
    if ble.is_file():
        streams.append(ble_jsonl_sightings(ble, site_secret, drops))
    for pcap in pcaps:
        sensor_id = pcap.stem.removeprefix("wifi-")
        streams.append(pcap_sightings(pcap, site_secret, sensor_id, drops))
    # Ties (same ms in two files): BLE first, then sensors in name order, as the merge is stable.
    return heapq.merge(*streams, key=lambda s: s.ts_s)


class StoreSimSource:
    """The simulator, paced in real time times ``speed`` (``None``: as fast as possible)."""

    name = "simulate"
    finite = True
    live_clock = False

    def __init__(self, store: SimulatedStore, site_secret: str, *, speed: float | None) -> None:
        self.store = store
        self._secret = site_secret
        self._pacer = Pacer(speed)
        self.drops: Counter[str] = Counter()

    def sightings(self) -> Iterator[Sighting]:
        return store_sightings(self.store, self._secret, self.drops)

    async def run(self, emit: Emit) -> None:
        for sighting in self.sightings():
            await self._pacer.wait_for(sighting.ts_s)
            emit(sighting)
