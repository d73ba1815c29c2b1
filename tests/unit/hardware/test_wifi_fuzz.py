"""Fuzz: random and mutated frames and capture files never raise out of the decoder or reader."""

from __future__ import annotations

import os
import random
import re
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hardware import ProbeRequest, WifiRejection, decode_probe_request
from hardware.capture import CaptureFormatError, DecodeStats, iter_capture, iter_probe_requests
from hardware.wifi import decode_frame
from tests.conftest import TEST_DATA

RADIOTAP = TEST_DATA / "wifi" / "handmade_radiotap.pcap"
DOT11 = TEST_DATA / "wifi" / "handmade_dot11.pcapng"
MAC_RE = re.compile(r"([0-9a-f]{2}:){5}[0-9a-f]{2}")
SEEDS = [record.frame for record in iter_capture(RADIOTAP)]
DOT11_SEEDS = [record.frame for record in iter_capture(DOT11)]
# Seed of the long mutation run; override to explore: FOOTFALL_FUZZ_SEED=123 pytest ...
FUZZ_SEED = int(os.environ.get("FOOTFALL_FUZZ_SEED", "20261123"))


def _check(result: ProbeRequest | WifiRejection) -> None:
    """Whatever came in, what comes out is well formed."""
    if isinstance(result, WifiRejection):
        assert result.reason.value
        return
    assert MAC_RE.fullmatch(result.mac)
    assert 0 <= result.seq_num <= 4095
    assert result.rssi_dbm is None or -128 <= result.rssi_dbm <= 127
    assert len(result.ie_fingerprint) == 16
    assert result.channel is None or 0 <= result.channel <= 255
    assert result.freq_mhz is None or 0 < result.freq_mhz <= 0xFFFF


@given(
    frame=st.binary(max_size=300),
    linktype=st.sampled_from([127, 105, 192, 1]),
    fcs=st.sampled_from([None, True, False]),
)
@settings(max_examples=1500, deadline=None)
def test_random_bytes_never_raise(frame: bytes, linktype: int, fcs: bool | None) -> None:
    """Any byte string under any link type gives a ProbeRequest or a WifiRejection."""
    _check(decode_frame(frame, linktype=linktype, ts_s=0.0, fcs=fcs))


@st.composite
def _mutated(draw: st.DrawFn) -> tuple[bytes, int]:
    linktype = draw(st.sampled_from([127, 105]))
    seeds = SEEDS if linktype == 127 else DOT11_SEEDS
    frame = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(0, 6))):
        position = draw(st.integers(0, max(len(frame) - 1, 0)))
        action = draw(st.sampled_from(["flip", "insert", "delete", "set"]))
        if not frame:
            break
        if action == "flip":
            frame[position] ^= 1 << draw(st.integers(0, 7))
        elif action == "insert":
            frame[position:position] = draw(st.binary(min_size=1, max_size=8))
        elif action == "delete":
            del frame[position : position + draw(st.integers(1, 8))]
        else:
            frame[position] = draw(st.sampled_from([0x00, 0x7F, 0x80, 0xFF]))
    cut = draw(st.integers(0, len(frame)))
    return bytes(frame[:cut] if draw(st.booleans()) else frame), linktype


@given(case=_mutated())
@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_mutated_frames_never_raise(case: tuple[bytes, int]) -> None:
    """Bit flips, insertions, deletions and cuts of real-shaped frames never raise."""
    frame, linktype = case
    _check(decode_frame(frame, linktype=linktype, ts_s=1.0))


def test_long_seeded_mutation_run_never_raises() -> None:
    """100,000 seeded mutations and random frames decode without an exception."""
    print(f"fuzz seed {FUZZ_SEED} (set FOOTFALL_FUZZ_SEED to change)")  # noqa: T201
    rng = random.Random(FUZZ_SEED)
    outcomes: dict[str, int] = {}
    for _ in range(100_000):
        frame: bytearray
        if rng.random() < 0.2:
            frame = bytearray(rng.randbytes(rng.randrange(0, 200)))
        else:
            frame = bytearray(rng.choice(SEEDS))
            for _ in range(rng.randrange(1, 5)):
                frame[rng.randrange(len(frame))] = rng.randrange(256)
            if rng.random() < 0.3:
                del frame[rng.randrange(len(frame) + 1) :]
        result = decode_frame(bytes(frame), linktype=127, ts_s=0.0)
        _check(result)
        key = "decoded" if isinstance(result, ProbeRequest) else result.reason.value
        outcomes[key] = outcomes.get(key, 0) + 1
    print(outcomes)  # noqa: T201
    # the mutations reach the deep paths, not just the first length check
    assert outcomes.get("decoded", 0) > 1000
    assert {"bad_radiotap", "malformed_ies", "not_probe_request", "truncated"} <= set(outcomes)


@given(data=st.binary(max_size=200))
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_scapy_dissected_garbage_never_raises(data: bytes) -> None:
    """Random bytes dissected by scapy as RadioTap go through decode_probe_request safely."""
    from scapy.config import conf
    from scapy.layers.dot11 import RadioTap

    try:
        packet: Any = RadioTap(data)
    except Exception:  # noqa: BLE001 - scapy's readers do the same: fall back to a Raw layer
        packet = conf.raw_layer(data)
    _check(decode_probe_request(packet))


@given(
    flips=st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=8),
    cut=st.integers(0, 10_000),
    source=st.sampled_from([RADIOTAP, DOT11]),
)
@settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_mutated_capture_files_never_raise(
    tmp_path: Path, flips: list[tuple[int, int]], cut: int, source: Path
) -> None:
    """A damaged capture file either is refused up front (bad magic) or reads without raising."""
    data = bytearray(source.read_bytes())
    for position, value in flips:
        data[position % len(data)] = value
    data = data[: max(cut, 4)]
    path = tmp_path / f"damaged{source.suffix}"
    path.write_bytes(bytes(data))
    try:
        stats = DecodeStats()
        for result in iter_probe_requests(path, stats):
            _check(result)
        assert stats.frames_read == stats.decoded + stats.skipped_total
    except CaptureFormatError:
        assert bytes(data[:4]) not in {
            b"\xd4\xc3\xb2\xa1",
            b"\xa1\xb2\xc3\xd4",
            b"\x4d\x3c\xb2\xa1",
            b"\xa1\xb2\x3c\x4d",
            b"\x0a\x0d\x0d\x0a",
        }
    finally:
        path.unlink(missing_ok=True)
