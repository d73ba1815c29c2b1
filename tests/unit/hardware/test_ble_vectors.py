"""BLE decoders against byte vectors published by other beacon libraries (tests/data/ble)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from hardware import (
    DecodeResult,
    EddystoneUrl,
    Rejection,
    RejectReason,
    decode_ad_bytes,
    decode_advertisement,
    decode_eddystone,
)
from hardware.ble.eddystone import MAX_ENCODED_URL_BYTES, expand_eddystone_url

DATA = Path(__file__).resolve().parents[2] / "data" / "ble"
VECTORS: list[dict[str, Any]] = json.loads((DATA / "vectors.json").read_text())
URLS: list[dict[str, Any]] = json.loads((DATA / "eddystone_urls.json").read_text())


def _kind(result: DecodeResult) -> str:
    return "rejection" if isinstance(result, Rejection) else result.kind


def _plain(value: object) -> object:
    """Bytes as hex, UUIDs as strings, tuples as lists: the vectors' JSON spelling."""
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, tuple):
        return [_plain(item) for item in value]
    return value


def _decode(vector: dict[str, Any]) -> tuple[DecodeResult, ...]:
    if "ad_hex" in vector:
        return decode_ad_bytes(bytes.fromhex(vector["ad_hex"]))
    adv = vector["advertisement"]
    return decode_advertisement(
        manufacturer_data={
            int(k): bytes.fromhex(v) for k, v in adv.get("manufacturer_data", {}).items()
        },
        service_data={k: bytes.fromhex(v) for k, v in adv.get("service_data", {}).items()},
        service_uuids=adv.get("service_uuids"),
        tx_power=adv.get("tx_power"),
        local_name=adv.get("local_name"),
    )


@pytest.mark.parametrize("vector", VECTORS, ids=[v["name"] for v in VECTORS])
def test_published_vector_decodes_to_the_expected_frames(vector: dict[str, Any]) -> None:
    """Each published advertisement decodes to exactly the listed frames, field for field."""
    results = _decode(vector)
    assert [_kind(r) for r in results] == [e["kind"] for e in vector["expect"]]
    for result, expected in zip(results, vector["expect"], strict=True):
        for name, value in expected.items():
            if name != "kind":
                assert _plain(getattr(result, name)) == value, name


@pytest.mark.parametrize("vector", URLS, ids=[v["name"] for v in URLS])
def test_published_url_encoding_expands_to_the_url(vector: dict[str, Any]) -> None:
    """Scheme and encoded bytes from other libraries' tests expand to their URL."""
    encoded = bytes.fromhex(vector["encoded_hex"])
    assert expand_eddystone_url(encoded[0], encoded[1:]) == vector["url"]
    frame = decode_eddystone(b"\x10\xee" + encoded)
    if len(encoded) - 1 <= MAX_ENCODED_URL_BYTES:
        assert isinstance(frame, EddystoneUrl)
        assert frame.url == vector["url"]
        assert frame.ranging_power_0m == -18  # the spec's example: 0xEE is -18 dBm
    else:  # compressors accept it, but the frame would not fit an advertisement
        assert isinstance(frame, Rejection)
        assert frame.reason is RejectReason.BAD_LENGTH


def test_every_vector_cites_a_source_listed_in_the_readme() -> None:
    """Every vector names a source that tests/data/ble/README.md describes."""
    readme = (DATA / "README.md").read_text()
    for vector in [*VECTORS, *URLS]:
        assert f"`{vector['source']}`" in readme, vector["name"]
