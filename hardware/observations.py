"""Typed, keyed observations: what leaves the radio layer.

A :class:`Sighting` is one reception of one device by one sensor, after the
privacy step has replaced the raw identifier (MAC address, personal beacon id)
with a keyed ``device_key``. It carries no raw identifier by construction, so it
may cross into ``edge_agent``, the MQTT payloads and logs.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class IdClass(StrEnum):
    """Which kind of identifier a device key was made from (DESIGN.md)."""

    INFRASTRUCTURE_BEACON = "infrastructure_beacon"
    """The store's own reference or calibration beacon, configured by id, named in clear."""
    PERSONAL_BEACON = "personal_beacon"
    """A beacon carried by a person (loyalty app); keyed with the site secret."""
    WIFI_GLOBAL = "wifi_global"
    """A globally administered (burned-in) Wi-Fi MAC; keyed with the site secret."""
    WIFI_RANDOMIZED = "wifi_randomized"
    """A locally administered (randomized) Wi-Fi MAC; keyed with a key that rotates daily."""


class SignalKind(StrEnum):
    """The radio a sighting came from; the filters use a different noise model for each."""

    BLE = "ble"
    WIFI = "wifi"


@dataclass(frozen=True, slots=True)
class Sighting:
    """One keyed reception of a device by one sensor. Holds no raw identifier."""

    ts_s: float
    """Reception time, UTC POSIX seconds."""
    sensor_id: str
    """The receiving sensor (an agent's radio), e.g. ``"entrance-a"``."""
    device_key: str
    """Keyed hash of the identifier (``dk1_...``), or an infrastructure beacon's configured name."""
    id_class: IdClass
    signal: SignalKind
    rssi_dbm: float | None
    """Received signal strength in dBm; ``None`` when the capture carries none."""
    tx_power_dbm: float | None = None
    """Calibrated power at 1 m the frame announces (iBeacon measured power), in dBm, if any."""
    ie_fingerprint: str | None = None
    """Wi-Fi only: hash of the probe request's information elements (never the MAC)."""
    seq_num: int | None = None
    """Wi-Fi only: the 802.11 sequence number (0-4095)."""
