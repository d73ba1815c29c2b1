"""Decoded frames -> keyed :class:`~hardware.observations.Sighting` values (the privacy step).

This is the only place where a decoded frame's raw identifier meets the
:class:`~hardware.privacy.DeviceKeyer`; what comes out holds a device key, never
a MAC or a personal beacon id, and may leave ``hardware``.

BLE choice: only *beacon* frames (iBeacon, Eddystone UID/URL/EID, AltBeacon —
anything exposing ``beacon_id`` and ``tx_power_1m_dbm``) become sightings, keyed
by their beacon id: the configured name for the store's infrastructure beacons,
else a personal-beacon key. Other advertisements (Eddystone TLM telemetry,
phones' and watches' adverts) return ``None``: their only identifier is a BLE
address that rotates every few minutes and that no consented source can link to
a person, and counting them would mix headphones and shelf labels into footfall.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from hardware.observations import Sighting, SignalKind
from hardware.privacy import DeviceKeyer
from hardware.wifi import ProbeRequest


@runtime_checkable
class BeaconFrame(Protocol):
    """What a decoded BLE beacon frame offers (``hardware.ble`` frames satisfy it)."""

    @property
    def beacon_id(self) -> str:
        """The beacon's identity as text (e.g. ``uuid:major:minor``)."""
        ...

    @property
    def tx_power_1m_dbm(self) -> int:
        """Calibrated received power at 1 m the frame announces, in dBm."""
        ...


def sighting_from_probe(probe: ProbeRequest, sensor_id: str, keyer: DeviceKeyer) -> Sighting:
    """A keyed Wi-Fi sighting of a probe request (MAC -> device key, fingerprint site-keyed)."""
    device_key, id_class = keyer.key_wifi(probe.mac, probe.ts_s)
    return Sighting(
        ts_s=probe.ts_s,
        sensor_id=sensor_id,
        device_key=device_key,
        id_class=id_class,
        signal=SignalKind.WIFI,
        rssi_dbm=None if probe.rssi_dbm is None else float(probe.rssi_dbm),
        ie_fingerprint=keyer.key_fingerprint(probe.ie_fingerprint),
        seq_num=probe.seq_num,
    )


def sighting_from_ble(
    frame: object,
    *,
    ts_s: float,
    rssi_dbm: float | None,
    sensor_id: str,
    keyer: DeviceKeyer,
) -> Sighting | None:
    """A keyed BLE sighting of a beacon frame; ``None`` for frames that are not beacons.

    ``frame`` is what ``hardware.ble.decode_advertisement`` returned (a rejection or a
    non-beacon frame gives ``None`` too); ``ts_s`` and ``rssi_dbm`` come from the
    advertisement record.
    """
    if not isinstance(frame, BeaconFrame):
        return None
    beacon_id = frame.beacon_id
    if not isinstance(beacon_id, str) or not beacon_id.strip():
        return None
    device_key, id_class = keyer.key_beacon(beacon_id)
    return Sighting(
        ts_s=ts_s,
        sensor_id=sensor_id,
        device_key=device_key,
        id_class=id_class,
        signal=SignalKind.BLE,
        rssi_dbm=None if rssi_dbm is None else float(rssi_dbm),
        tx_power_dbm=float(frame.tx_power_1m_dbm),
    )
