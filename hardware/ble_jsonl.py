"""Recorded BLE advertisements as JSON lines: one advertisement per line.

Each line is one JSON object (see ``docs/ble-jsonl.md``)::

    {"ts": "2026-11-23T10:15:02.120Z", "sensor_id": "entrance-a",
     "address": "C4:7C:8D:6A:1B:2F", "rssi": -67,
     "manufacturer_data": {"76": "0215..."}, "service_data": {"0000feaa-...": "20..."},
     "service_uuids": ["0000feaa-0000-1000-8000-00805f9b34fb"],
     "tx_power": null, "local_name": null}

The reader never raises on a bad line: it yields a :class:`JsonlError` with the
line number and the reason, and goes on. Unknown keys are ignored, so newer
recorders can add fields.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path

from hardware.ble import DecodeResult, decode_advertisement

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MAX_COMPANY_ID = 0xFFFF
_RSSI_RANGE_DBM = (-128, 127)
"""What fits the HCI signed byte; real readings are about -100..-20 dBm."""


@dataclass(frozen=True, slots=True)
class BleRecord:
    """One received advertisement, as bleak's detection callback saw it.

    Holds the raw address: it stays inside the edge agent (privacy step first).
    """

    ts_s: float
    """Reception time, UTC POSIX seconds (millisecond resolution in the file)."""
    sensor_id: str
    """The receiving sensor, e.g. ``"entrance-a"``."""
    address: str
    """The advertiser's address as bleak reports it (``"AA:BB:..."``; a UUID on macOS)."""
    rssi_dbm: int | None
    """Received signal strength in dBm; ``None`` when the capture has none."""
    manufacturer_data: dict[int, bytes] = field(default_factory=dict)
    """Company id -> data after the 2-byte id, as ``AdvertisementData.manufacturer_data``."""
    service_data: dict[str, bytes] = field(default_factory=dict)
    """128-bit lower-case service UUID -> data, as ``AdvertisementData.service_data``."""
    service_uuids: tuple[str, ...] = ()
    tx_power: int | None = None
    """Advertised TX power level (AD type 0x0A), in dBm."""
    local_name: str | None = None

    def decode(self) -> tuple[DecodeResult, ...]:
        """The frames this advertisement carries (``decode_advertisement`` on its fields)."""
        return decode_advertisement(
            manufacturer_data=self.manufacturer_data,
            service_data=self.service_data,
            service_uuids=self.service_uuids,
            tx_power=self.tx_power,
            local_name=self.local_name,
        )


class JsonlErrorReason(StrEnum):
    """Why a line of a BLE JSON-lines file was skipped."""

    BAD_ENCODING = "bad_encoding"
    INVALID_JSON = "invalid_json"
    NOT_AN_OBJECT = "not_an_object"
    MISSING_FIELD = "missing_field"
    BAD_FIELD = "bad_field"


@dataclass(frozen=True, slots=True)
class JsonlError:
    """A line that was skipped: where, why, and what came."""

    line_number: int
    """1-based."""
    reason: JsonlErrorReason
    detail: str


class _FieldError(ValueError):
    def __init__(self, reason: JsonlErrorReason, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def _type_name(value: object) -> str:
    return "null" if value is None else type(value).__name__


def _bad(name: str, expected: str, value: object) -> _FieldError:
    shown = (
        repr(value) if isinstance(value, int | float | bool) or value is None else _type_name(value)
    )
    return _FieldError(JsonlErrorReason.BAD_FIELD, f"'{name}' must be {expected} (got {shown})")


def format_ts(ts_s: float) -> str:
    """POSIX seconds -> RFC 3339 UTC with milliseconds, e.g. ``2026-11-23T10:15:02.120Z``."""
    moment = _EPOCH + timedelta(milliseconds=round(ts_s * 1000))
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_ts(text: str) -> float:
    """RFC 3339 with an offset (``Z`` or ``+01:00``) -> UTC POSIX seconds; ValueError otherwise."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError("timestamp has no UTC offset")
    return (moment - _EPOCH) / timedelta(seconds=1)


def _hex(name: str, value: object) -> bytes:
    if not isinstance(value, str):
        raise _bad(name, "a hex string", value)
    try:
        return bytes.fromhex(value)
    except ValueError:
        raise _bad(name, "a hex string", "non-hex text") from None


def _optional_int(name: str, value: object, low: int, high: int) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise _bad(name, f"an integer in [{low}, {high}] or null", value)
    return value


def _required_str(obj: Mapping[str, object], name: str) -> str:
    if name not in obj:
        raise _FieldError(JsonlErrorReason.MISSING_FIELD, f"'{name}' is required")
    value = obj[name]
    if not isinstance(value, str) or not value.strip():
        raise _bad(name, "a non-empty string", value)
    return value


def _record_from_object(obj: Mapping[str, object]) -> BleRecord:
    ts_text = _required_str(obj, "ts")
    try:
        ts_s = parse_ts(ts_text)
    except ValueError:
        raise _bad("ts", "an RFC 3339 timestamp with an offset", "unparseable text") from None
    if not math.isfinite(ts_s):
        raise _bad("ts", "a finite timestamp", ts_s)
    sensor_id = _required_str(obj, "sensor_id")
    address = _required_str(obj, "address")
    rssi = _optional_int("rssi", obj.get("rssi"), *_RSSI_RANGE_DBM)
    tx_power = _optional_int("tx_power", obj.get("tx_power"), -128, 127)

    raw_mfr = obj.get("manufacturer_data") or {}
    if not isinstance(raw_mfr, dict):
        raise _bad("manufacturer_data", "an object", raw_mfr)
    manufacturer: dict[int, bytes] = {}
    for key, value in raw_mfr.items():
        if not (key.isascii() and key.isdigit() and int(key) <= _MAX_COMPANY_ID):
            raise _bad("manufacturer_data", "keyed by decimal company ids 0..65535", key)
        manufacturer[int(key)] = _hex(f"manufacturer_data.{key}", value)

    raw_svc = obj.get("service_data") or {}
    if not isinstance(raw_svc, dict):
        raise _bad("service_data", "an object", raw_svc)
    service = {str(key): _hex(f"service_data.{key}", value) for key, value in raw_svc.items()}

    raw_uuids = obj.get("service_uuids") or []
    if not isinstance(raw_uuids, list) or not all(isinstance(u, str) for u in raw_uuids):
        raise _bad("service_uuids", "a list of strings", raw_uuids)

    name = obj.get("local_name")
    if name is not None and not isinstance(name, str):
        raise _bad("local_name", "a string or null", name)
    return BleRecord(
        ts_s=ts_s,
        sensor_id=sensor_id,
        address=address,
        rssi_dbm=rssi,
        manufacturer_data=manufacturer,
        service_data=service,
        service_uuids=tuple(raw_uuids),
        tx_power=tx_power,
        local_name=name,
    )


def parse_ble_line(line: str | bytes, line_number: int) -> BleRecord | JsonlError | None:
    """One line -> a record, an error, or ``None`` for a blank line. Never raises."""
    if isinstance(line, bytes):
        try:
            line = line.decode("utf-8")
        except UnicodeDecodeError as exc:
            return JsonlError(
                line_number, JsonlErrorReason.BAD_ENCODING, f"not UTF-8 ({exc.reason})"
            )
    if not line.strip():
        return None
    try:
        obj = json.loads(line)
    except (ValueError, RecursionError) as exc:
        return JsonlError(line_number, JsonlErrorReason.INVALID_JSON, f"not JSON ({exc})"[:200])
    if not isinstance(obj, dict):
        return JsonlError(
            line_number,
            JsonlErrorReason.NOT_AN_OBJECT,
            f"a line must be an object (got {_type_name(obj)})",
        )
    try:
        return _record_from_object(obj)
    except _FieldError as exc:
        return JsonlError(line_number, exc.reason, exc.detail)


def iter_ble_lines(lines: Iterable[str | bytes]) -> Iterator[BleRecord | JsonlError]:
    """Records and per-line errors from lines of text (the pure core of :func:`iter_ble_jsonl`)."""
    for number, line in enumerate(lines, start=1):
        parsed = parse_ble_line(line, number)
        if parsed is not None:
            yield parsed


def iter_ble_jsonl(path: str | Path) -> Iterator[BleRecord | JsonlError]:
    """Read a BLE JSON-lines file; a bad line yields a :class:`JsonlError`, never an exception.

    Opening the file may raise ``OSError`` (a caller's wrong path, not bad data).
    """
    with Path(path).open("rb") as lines:
        yield from iter_ble_lines(lines)


def ble_record_to_json(record: BleRecord) -> str:
    """One JSON line (without the newline) for ``record``; ``ts`` rounded to milliseconds."""
    return json.dumps(
        {
            "ts": format_ts(record.ts_s),
            "sensor_id": record.sensor_id,
            "address": record.address,
            "rssi": record.rssi_dbm,
            "manufacturer_data": {
                str(company_id): data.hex() for company_id, data in record.manufacturer_data.items()
            },
            "service_data": {uuid: data.hex() for uuid, data in record.service_data.items()},
            "service_uuids": list(record.service_uuids),
            "tx_power": record.tx_power,
            "local_name": record.local_name,
        },
        separators=(",", ":"),
        ensure_ascii=False,
    )
