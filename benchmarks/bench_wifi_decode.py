"""Probe-request decoding speed: our bytes parser vs scapy's dissection, same frames, same run.

What is timed (process CPU, medians of ``--repeats`` runs), over every frame of a capture
already read into memory:

* ``ours``: ``hardware.wifi.decode_frame`` (radiotap + 802.11 + elements + fingerprint),
  then the privacy step (``sighting_from_probe`` with a ``DeviceKeyer``) for each probe;
* ``scapy``: ``RadioTap(frame)`` dissection plus reading addr2, SC, dBm_AntSignal,
  ChannelFrequency of each probe request (the baseline a scapy-based agent would pay).

Prints microseconds per frame for each, and the ratio scapy / ours. Also the whole
replay (file read + decode + keying) in frames per second.

Run: ``python benchmarks/bench_wifi_decode.py`` (default: the unfiltered Vigo capture,
8,497 frames of which 741 probe requests; ``--path`` for another, ``--limit`` to cut).
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from hardware.capture import iter_capture, iter_probe_requests
from hardware.privacy import DeviceKeyer
from hardware.sightings import sighting_from_probe
from hardware.wifi import ProbeRequest, decode_frame

DEFAULT = (
    Path(__file__).resolve().parents[2]
    / "shared/data/wifi-probe-macrand-vigo/WiresharkCaptures/Samsung/04_SamsungA53_01.pcapng"
)
SECRET = b"benchmark-site-secret-0123456789"


def run_ours(frames: list[tuple[int, float, bytes]]) -> float:
    keyer = DeviceKeyer(SECRET)
    start = time.process_time()
    for linktype, ts_s, frame in frames:
        result = decode_frame(frame, linktype=linktype, ts_s=ts_s)
        if isinstance(result, ProbeRequest):
            sighting_from_probe(result, "bench", keyer)
    return time.process_time() - start


def run_scapy(frames: list[tuple[int, float, bytes]]) -> float:
    from scapy.layers.dot11 import Dot11, Dot11ProbeReq, RadioTap

    start = time.process_time()
    for _linktype, _ts_s, frame in frames:
        packet = RadioTap(frame)
        if packet.haslayer(Dot11ProbeReq):
            _ = (packet[Dot11].addr2, packet[Dot11].SC, packet.dBm_AntSignal)
            _ = packet.ChannelFrequency
    return time.process_time() - start


def run_replay(path: Path) -> tuple[float, int]:
    keyer = DeviceKeyer(SECRET)
    start = time.process_time()
    count = 0
    for result in iter_probe_requests(path):
        count += 1
        if isinstance(result, ProbeRequest):
            sighting_from_probe(result, "bench", keyer)
    return time.process_time() - start, count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--path", type=Path, default=DEFAULT)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--limit", type=int, default=0, help="use only the first N frames")
    args = parser.parse_args()
    frames = [(r.linktype, r.ts_s, r.frame) for r in iter_capture(args.path)]
    if args.limit:
        frames = frames[: args.limit]
    if any(linktype != 127 for linktype, _, _ in frames):
        parser.error("the scapy baseline here expects a radiotap capture (link type 127)")
    ours = statistics.median(run_ours(frames) for _ in range(args.repeats))
    scapy = statistics.median(run_scapy(frames) for _ in range(max(1, args.repeats // 2)))
    replay_s, count = min(run_replay(args.path) for _ in range(args.repeats))
    n = len(frames)
    print(f"capture: {args.path.name}, {n} frames")
    print(f"ours : {ours / n * 1e6:8.1f} us/frame (decode + keying of probes)")
    print(f"scapy: {scapy / n * 1e6:8.1f} us/frame (dissection + field reads)")
    print(f"ratio scapy/ours: {scapy / ours:.1f}x")
    print(f"whole replay (read + decode + key): {count / replay_s:,.0f} frames/s CPU")


if __name__ == "__main__":
    main()
