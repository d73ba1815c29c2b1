"""Mutation and random fuzzing of the BLE decoders: any bytes in, no exception out.

Run ``python -m tests.fuzz.ble_fuzz --n 100000`` (add ``--seed N`` to replay); it
prints its seed, the counts of what the decoders returned, and exits 1 on any
exception or broken invariant. ``tests/unit/hardware/test_ble_fuzz.py`` runs a
short seeded round in the normal suite and the 100k round as ``slow``.

Inputs, one strategy drawn per iteration:

- random bytes (0-255 long) as raw AD data, as manufacturer data under a random
  company id (Apple's half the time), and as Eddystone service data;
- mutations of real and valid frames (the published vectors in tests/data/ble
  and one valid frame of every format): bit flips, truncation, extension,
  byte insertion and deletion, boundary bytes (0x00, 0x7f, 0x80, 0xff), splices,
  a length byte rewritten.
"""

from __future__ import annotations

import argparse
import json
import random
import secrets
import struct
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from uuid import UUID

from hardware import (
    BEACON_FRAME_TYPES,
    DecodeResult,
    EddystoneEncryptedTlm,
    EddystoneTlm,
    OtherAdvertisement,
    Rejection,
    decode_ad_bytes,
    decode_advertisement,
)
from hardware.ble import APPLE_COMPANY_ID, EDDYSTONE_UUID16

VECTORS = Path(__file__).resolve().parents[1] / "data" / "ble" / "vectors.json"
_KNOWN_TYPES = (
    *BEACON_FRAME_TYPES,
    EddystoneTlm,
    EddystoneEncryptedTlm,
    OtherAdvertisement,
    Rejection,
)
_BOUNDARY_BYTES = (0x00, 0x01, 0x02, 0x15, 0x7F, 0x80, 0xBE, 0xAC, 0xFF)


def _valid_frames() -> list[tuple[str, bytes]]:
    """One valid payload per format, tagged ``apple``, ``mfr`` (any company) or ``svc`` (0xFEAA)."""
    uuid = UUID("e2c56db5-dffb-48d2-b060-d0f5a71096e0").bytes
    return [
        ("apple", struct.pack(">BB16sHHb", 0x02, 0x15, uuid, 1, 2, -59)),
        ("mfr", b"\xbe\xac" + bytes(range(20)) + b"\xc5\x00"),
        ("svc", b"\x00\xee" + bytes(range(16)) + b"\x00\x00"),
        ("svc", b"\x10\xee\x03goo.gl/Aq18zF"),
        ("svc", struct.pack(">BBHHII", 0x20, 0, 3000, 0x1380, 100, 1000)),
        ("svc", b"\x20\x01" + bytes(range(16))),
        ("svc", b"\x30\xe3" + bytes(range(8))),
    ]


def _corpus() -> tuple[list[bytes], list[tuple[str, bytes]]]:
    """Raw AD byte strings and tagged payloads to mutate."""
    raw: list[bytes] = []
    payloads = _valid_frames()
    if VECTORS.exists():
        for vector in json.loads(VECTORS.read_text()):
            if "ad_hex" in vector:
                raw.append(bytes.fromhex(vector["ad_hex"]))
            adv = vector.get("advertisement", {})
            payloads += [
                ("apple", bytes.fromhex(v)) for v in adv.get("manufacturer_data", {}).values()
            ]
            payloads += [("svc", bytes.fromhex(v)) for v in adv.get("service_data", {}).values()]
    return raw, payloads


def _mutate(rng: random.Random, data: bytes) -> bytes:
    buf = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(7)
        if op == 0 and buf:  # flip a bit
            i = rng.randrange(len(buf))
            buf[i] ^= 1 << rng.randrange(8)
        elif op == 1:  # truncate
            del buf[rng.randint(0, len(buf)) :]
        elif op == 2:  # extend with random bytes
            buf += rng.randbytes(rng.randint(1, 8))
        elif op == 3:  # insert a byte
            buf.insert(rng.randint(0, len(buf)), rng.randrange(256))
        elif op == 4 and buf:  # delete a byte
            del buf[rng.randrange(len(buf))]
        elif op == 5 and buf:  # a boundary value
            buf[rng.randrange(len(buf))] = rng.choice(_BOUNDARY_BYTES)
        elif op == 6 and buf:  # rewrite what may be a length byte
            buf[rng.randrange(min(len(buf), 4))] = rng.randrange(32)
    return bytes(buf[:255])


@dataclass
class FuzzReport:
    """What a fuzz run saw."""

    seed: int
    inputs: int = 0
    kinds: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    """Exceptions and broken invariants, first 20 with the input's hex."""

    @property
    def ok(self) -> bool:
        return not self.failures


def _check(
    report: FuzzReport, label: str, data: bytes, call: Callable[[], tuple[DecodeResult, ...]]
) -> None:
    report.inputs += 1
    try:
        results = call()
        problem = ""
        if not results:
            problem = "empty result"
        for result in results:
            if not isinstance(result, _KNOWN_TYPES):
                problem = f"unknown result type {type(result).__name__}"
            elif isinstance(result, Rejection):
                report.kinds[f"rejection:{result.reason}"] += 1
            else:
                report.kinds[result.kind] += 1
                if isinstance(result, BEACON_FRAME_TYPES):
                    beacon_id = result.beacon_id
                    power = result.tx_power_1m_dbm
                    if not beacon_id or not -200 <= power <= 200:
                        problem = f"implausible beacon {beacon_id!r} {power}"
    except Exception as exc:  # noqa: BLE001 - a fuzzer records every exception as a failure
        problem = f"{type(exc).__name__}: {exc}"
    if problem and len(report.failures) < 20:
        report.failures.append(f"{label} {data.hex()}: {problem}")
    elif problem:
        report.failures.append(problem)


def run(seed: int, n: int) -> FuzzReport:
    """Feed ``n`` random or mutated inputs through the decoders with ``random.Random(seed)``."""
    rng = random.Random(seed)
    raw_corpus, payloads = _corpus()
    report = FuzzReport(seed=seed)
    while report.inputs < n:
        strategy = rng.randrange(6)
        if strategy == 0:
            data = rng.randbytes(rng.randint(0, 255))
            _check(report, "ad", data, partial(decode_ad_bytes, data))
        elif strategy == 1 and raw_corpus:
            data = _mutate(rng, rng.choice(raw_corpus))
            _check(report, "ad", data, partial(decode_ad_bytes, data))
        else:
            if strategy == 2:
                where, data = rng.choice(("apple", "mfr", "svc")), rng.randbytes(rng.randint(0, 40))
            else:
                where, original = rng.choice(payloads)
                data = _mutate(rng, original)
            if where == "svc":
                _check(
                    report,
                    "svc",
                    data,
                    partial(decode_advertisement, service_data={EDDYSTONE_UUID16: data}),
                )
            else:
                company = APPLE_COMPANY_ID if where == "apple" else rng.randrange(0x10000)
                _check(
                    report,
                    f"mfr[{company}]",
                    data,
                    partial(decode_advertisement, manufacturer_data={company: data}),
                )
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="number of inputs (default 100000)")
    parser.add_argument("--seed", type=int, default=None, help="replay a seed (default: random)")
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else secrets.randbits(32)
    print(f"ble fuzz: seed={seed} n={args.n}", flush=True)  # noqa: T201 - the seed replays a failure
    report = run(seed, args.n)
    for kind, count in sorted(report.kinds.items()):
        print(f"  {kind:32s} {count:7d}")  # noqa: T201
    print(f"inputs={report.inputs} failures={len(report.failures)}")  # noqa: T201
    for failure in report.failures[:20]:
        print(f"  FAIL {failure}")  # noqa: T201
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
