"""BLE source: bleak's ``BleakScanner`` with a detection callback, supervised.

* Passive scanning where the platform allows: on BlueZ it needs advertisement
  monitor "or-patterns", so we register the beacon formats we decode (Apple
  manufacturer data for iBeacon, the Eddystone service data UUID 0xFEAA).
  AltBeacon frames of other companies are only seen in active mode.
* BlueZ filters duplicate advertisements during active discovery, which would
  starve RSSI tracking; we pass the ``DuplicateData: True`` discovery filter so
  every advertisement is reported.
* Adapter failures (``BleakError``, D-Bus errors, OSError) restart the scanner
  after ``min(2 ** tries, cap)`` seconds with jitter -- never a reset loop.
* Health: when the advert rate over ``health_window_s`` stays below
  ``min_adverts_per_s`` the scanner is restarted once per window (a wedged
  scanner is the common failure), and the restart is counted.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import Counter
from typing import Any

from edge_agent.config import AgentSettings
from edge_agent.sources import Emit, SourceError
from hardware.ble import decode_advertisement
from hardware.privacy import DeviceKeyer
from hardware.sightings import sighting_from_ble

__all__ = ["BleSource"]

_LOGGER = logging.getLogger(__name__)

# AD types for BlueZ or-patterns: 0xFF manufacturer specific data, 0x16 service data (16 bit).
_AD_MANUFACTURER = 0xFF
_AD_SERVICE_DATA_16 = 0x16
_APPLE_COMPANY_LE = b"\x4c\x00"  # 0x004C little-endian, iBeacon's company id
_EDDYSTONE_UUID_LE = b"\xaa\xfe"  # 0xFEAA little-endian


class BleSource:
    name = "ble"
    finite = False
    live_clock = True

    def __init__(self, settings: AgentSettings, *, rng: random.Random | None = None) -> None:
        self._s = settings.sources.ble
        self._sensor_id = settings.agent_id
        self._keyer = DeviceKeyer(
            settings.site_secret.get_secret_value().encode(),
            dict(settings.infrastructure_beacons),
        )
        self._rng = rng or random.Random()
        self.drops: Counter[str] = Counter()
        self.restarts = 0
        self.adverts = 0

    def _scanner_kwargs(self) -> dict[str, Any]:
        from bleak.args.bluez import BlueZScannerArgs, OrPattern
        from bleak.assigned_numbers import AdvertisementDataType

        bluez: BlueZScannerArgs = {"adapter": self._s.adapter}
        if self._s.passive:
            bluez["or_patterns"] = [
                OrPattern(0, AdvertisementDataType(_AD_MANUFACTURER), _APPLE_COMPANY_LE),
                OrPattern(0, AdvertisementDataType(_AD_SERVICE_DATA_16), _EDDYSTONE_UUID_LE),
            ]
            return {"scanning_mode": "passive", "bluez": bluez}
        bluez["filters"] = {"DuplicateData": True}
        return {"scanning_mode": "active", "bluez": bluez}

    def _on_advert(self, emit: Emit, device: Any, adv: Any) -> None:
        self.adverts += 1
        try:
            frames = decode_advertisement(
                manufacturer_data=adv.manufacturer_data,
                service_data=adv.service_data,
                service_uuids=adv.service_uuids,
                tx_power=adv.tx_power,
                local_name=adv.local_name,
            )
        except (TypeError, ValueError, AttributeError):
            self.drops["ble_undecodable"] += 1
            return
        now_s = time.time()
        for frame in frames:
            sighting = sighting_from_ble(
                frame,
                ts_s=now_s,
                rssi_dbm=None if adv.rssi is None else float(adv.rssi),
                sensor_id=self._sensor_id,
                keyer=self._keyer,
            )
            if sighting is None:
                self.drops["ble_not_a_beacon"] += 1
            else:
                emit(sighting)

    async def run(self, emit: Emit) -> None:
        try:
            from bleak import BleakScanner
            from bleak.exc import BleakError
        except ImportError:
            raise SourceError(
                "ble: bleak is not installed (pip install 'footfall[edge]')"
            ) from None
        tries = 0
        while True:
            kwargs = self._scanner_kwargs()
            try:
                scanner = BleakScanner(lambda d, a: self._on_advert(emit, d, a), **kwargs)
                async with scanner:
                    if tries:
                        _LOGGER.info("BLE scanner on %s is back", self._s.adapter)
                    tries = 0
                    await self._watch()
            except (BleakError, OSError, TimeoutError) as exc:
                tries += 1
                delay = min(2.0 ** min(tries, 16), self._s.restart_backoff_cap_s)
                delay *= 0.5 + 0.5 * self._rng.random()
                level = logging.WARNING if tries == 1 else logging.DEBUG
                _LOGGER.log(
                    level,
                    "BLE scanner on %s failed (%s); restart in %.1f s",
                    self._s.adapter,
                    exc,
                    delay,
                )
                await asyncio.sleep(delay)
            self.restarts += 1

    async def _watch(self) -> None:
        """Return when the advert rate stayed below the floor for a whole window."""
        window = self._s.health_window_s
        while True:
            before = self.adverts
            await asyncio.sleep(window)
            rate = (self.adverts - before) / window
            if self._s.min_adverts_per_s > 0 and rate < self._s.min_adverts_per_s:
                _LOGGER.warning(
                    "BLE advert rate %.2f/s below %.2f/s for %.0f s; restarting the scanner",
                    rate,
                    self._s.min_adverts_per_s,
                    window,
                )
                self.drops["ble_low_rate_restart"] += 1
                return
