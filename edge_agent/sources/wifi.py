"""Wi-Fi source: scapy ``AsyncSniffer`` on a monitor-mode interface, with channel hopping.

* BPF filter ``type mgt subtype probe-req``: the kernel drops everything else.
* Channels hop every ``hop_interval_s`` over the configured list with
  ``iw dev IFACE set channel N`` (needs CAP_NET_ADMIN; see ``docs/deploy-pi.md``).
* Before sniffing we check that the interface exists and is in monitor mode
  (``/sys/class/net/IFACE/type`` is 803, radiotap) and fail with a clear
  :class:`SourceError` otherwise.
* Frames are decoded by :mod:`hardware.wifi` (never raises) and keyed by
  :mod:`hardware.sightings`; a rejected frame is counted by reason.

:func:`pcap_sightings` keys the probe requests of a capture file for ``--replay``.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import shutil
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from edge_agent.config import AgentSettings
from edge_agent.sources import Emit, SourceError
from hardware.capture import CaptureFormatError, iter_probe_requests
from hardware.observations import Sighting
from hardware.privacy import DeviceKeyer
from hardware.sightings import sighting_from_probe
from hardware.wifi import ProbeRequest, decode_probe_request

__all__ = ["WifiSource", "check_monitor_interface", "pcap_sightings"]

_LOGGER = logging.getLogger(__name__)

PROBE_REQUEST_BPF = "type mgt subtype probe-req"
# /sys/class/net/*/type of a monitor-mode interface delivering radiotap headers.
ARPHRD_IEEE80211_RADIOTAP = 803


def check_monitor_interface(iface: str, sys_net: Path = Path("/sys/class/net")) -> None:
    """Raise :class:`SourceError` unless ``iface`` exists and is in monitor mode."""
    node = sys_net / iface
    if not node.exists():
        present = sorted(p.name for p in sys_net.iterdir()) if sys_net.is_dir() else []
        raise SourceError(
            f"wifi: interface {iface!r} not found (present: {', '.join(present) or 'none'}); "
            "create it with `iw phy phy1 interface add wlan1mon type monitor`"
        )
    try:
        link_type = int((node / "type").read_text().strip())
    except (OSError, ValueError):
        link_type = -1
    if link_type != ARPHRD_IEEE80211_RADIOTAP:
        raise SourceError(
            f"wifi: interface {iface!r} is not in monitor mode (link type {link_type}, expected "
            f"{ARPHRD_IEEE80211_RADIOTAP}); run `ip link set {iface} down && "
            f"iw dev {iface} set type monitor && ip link set {iface} up`"
        )


def pcap_sightings(
    path: Path, site_secret: str, sensor_id: str, drops: Counter[str]
) -> Iterator[Sighting]:
    """Keyed sightings of every probe request in a pcap/pcapng file."""
    keyer = DeviceKeyer(site_secret.encode())
    try:
        for result in iter_probe_requests(path):
            if isinstance(result, ProbeRequest):
                yield sighting_from_probe(result, sensor_id, keyer)
            else:
                drops[str(result.reason)] += 1
    except CaptureFormatError as exc:
        raise SourceError(f"replay: {exc}") from None


class WifiSource:
    name = "wifi"
    finite = False
    live_clock = True

    def __init__(self, settings: AgentSettings) -> None:
        self._s = settings.sources.wifi
        self._sensor_id = settings.agent_id
        self._keyer = DeviceKeyer(settings.site_secret.get_secret_value().encode())
        self.drops: Counter[str] = Counter()

    def _on_packet(self, loop: asyncio.AbstractEventLoop, emit: Emit, packet: Any) -> None:
        # Runs on scapy's sniffer thread: decode and key here, hand the sighting to the loop.
        result = decode_probe_request(packet)
        if isinstance(result, ProbeRequest):
            sighting = sighting_from_probe(result, self._sensor_id, self._keyer)
            loop.call_soon_threadsafe(emit, sighting)
        else:
            self.drops[str(result.reason)] += 1

    async def _hop(self) -> None:
        iw = shutil.which("iw")
        if iw is None or len(self._s.channels) < 2:
            if iw is None:
                _LOGGER.warning("wifi: `iw` not found; staying on the current channel")
            return
        failures = 0
        for channel in itertools.cycle(self._s.channels):
            proc = await asyncio.create_subprocess_exec(
                iw,
                "dev",
                self._s.iface,
                "set",
                "channel",
                str(channel),
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
            )
            _, err = await proc.communicate()
            if proc.returncode != 0:
                failures += 1
                self.drops["hop_failed"] += 1
                level = logging.WARNING if failures == 1 else logging.DEBUG
                _LOGGER.log(level, "wifi: cannot set channel %d: %s", channel, err.decode().strip())
            await asyncio.sleep(self._s.hop_interval_s)

    async def run(self, emit: Emit) -> None:
        check_monitor_interface(self._s.iface)
        try:
            from scapy.sendrecv import AsyncSniffer
        except ImportError:
            raise SourceError(
                "wifi: scapy is not installed (pip install 'footfall[edge]')"
            ) from None
        loop = asyncio.get_running_loop()
        sniffer = AsyncSniffer(
            iface=self._s.iface,
            filter=PROBE_REQUEST_BPF,
            store=False,
            prn=lambda pkt: self._on_packet(loop, emit, pkt),
        )
        try:
            sniffer.start()
        except (OSError, PermissionError) as exc:
            raise SourceError(
                f"wifi: cannot sniff on {self._s.iface!r}: {exc} (needs CAP_NET_RAW)"
            ) from None
        hopper = asyncio.create_task(self._hop())
        try:
            while True:
                await asyncio.sleep(1.0)
                if not sniffer.running:
                    break
            raise SourceError(f"wifi: the sniffer on {self._s.iface!r} stopped")
        finally:
            hopper.cancel()
            if sniffer.running:
                sniffer.stop(join=False)
