"""BLE JSON-lines records: the documented format, round trips, and bad lines reported by number."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hardware import BleRecord, IBeacon, JsonlError, ble_record_to_json, iter_ble_jsonl
from hardware.ble_jsonl import JsonlErrorReason, format_ts, iter_ble_lines, parse_ble_line

IBEACON_HEX = "0215e2c56db5dffb48d2b060d0f5a71096e000010002c5"
DOC_LINE = (
    '{"ts":"2026-11-23T10:15:02.120Z","sensor_id":"entrance-a","address":"C4:7C:8D:6A:1B:2F",'
    '"rssi":-67,"manufacturer_data":{"76":"' + IBEACON_HEX + '"},"service_data":{},'
    '"service_uuids":[],"tx_power":null,"local_name":null}'
)
TS_S = 1_795_428_902.12  # 2026-11-23T10:15:02.120Z


def _record(**changes: object) -> BleRecord:
    fields: dict[str, object] = {
        "ts_s": TS_S,
        "sensor_id": "entrance-a",
        "address": "C4:7C:8D:6A:1B:2F",
        "rssi_dbm": -67,
        "manufacturer_data": {76: bytes.fromhex(IBEACON_HEX)},
    }
    fields.update(changes)
    return BleRecord(**fields)  # type: ignore[arg-type]


def test_documented_line_parses_to_its_fields() -> None:
    """The example line of docs/ble-jsonl.md reads back field for field."""
    record = parse_ble_line(DOC_LINE, 1)
    assert isinstance(record, BleRecord)
    assert record.ts_s == pytest.approx(TS_S, abs=1e-6)
    assert (record.sensor_id, record.address, record.rssi_dbm) == (
        "entrance-a",
        "C4:7C:8D:6A:1B:2F",
        -67,
    )
    assert record.manufacturer_data == {76: bytes.fromhex(IBEACON_HEX)}
    assert (record.service_data, record.service_uuids) == ({}, ())
    assert (record.tx_power, record.local_name) == (None, None)


def test_writer_produces_the_documented_line() -> None:
    """ble_record_to_json writes compact JSON, keys in the documented order, ts in ms with Z."""
    assert ble_record_to_json(_record()) == DOC_LINE


def test_record_decodes_its_frames() -> None:
    """A record's decode() runs decode_advertisement on its fields."""
    (frame,) = _record().decode()
    assert isinstance(frame, IBeacon)
    assert (frame.major, frame.minor, frame.measured_power) == (1, 2, -59)


def test_timestamp_with_offset_is_converted_to_utc() -> None:
    """An RFC 3339 offset is honoured: 11:15:02.120+01:00 is 10:15:02.120Z."""
    line = DOC_LINE.replace("2026-11-23T10:15:02.120Z", "2026-11-23T11:15:02.120+01:00")
    record = parse_ble_line(line, 1)
    assert isinstance(record, BleRecord)
    assert format_ts(record.ts_s) == "2026-11-23T10:15:02.120Z"


def test_optional_fields_may_be_absent() -> None:
    """Only ts, sensor_id and address are required; unknown keys are ignored."""
    record = parse_ble_line('{"ts":"2026-11-23T10:15:02Z","sensor_id":"s","address":"a","x":1}', 1)
    assert record == BleRecord(ts_s=1_795_428_902.0, sensor_id="s", address="a", rssi_dbm=None)


@pytest.mark.parametrize(
    ("line", "reason", "words"),
    [
        ("{not json", JsonlErrorReason.INVALID_JSON, "not JSON"),
        ("[1, 2]", JsonlErrorReason.NOT_AN_OBJECT, "got list"),
        ('{"sensor_id":"s","address":"a"}', JsonlErrorReason.MISSING_FIELD, "'ts'"),
        (
            '{"ts":"2026-11-23T10:15:02","sensor_id":"s","address":"a"}',
            JsonlErrorReason.BAD_FIELD,
            "'ts'",
        ),
        ('{"ts":"yesterday","sensor_id":"s","address":"a"}', JsonlErrorReason.BAD_FIELD, "'ts'"),
        (
            '{"ts":"2026-11-23T10:15:02Z","sensor_id":"","address":"a"}',
            JsonlErrorReason.BAD_FIELD,
            "'sensor_id'",
        ),
        (
            '{"ts":"2026-11-23T10:15:02Z","sensor_id":"s"}',
            JsonlErrorReason.MISSING_FIELD,
            "'address'",
        ),
        (
            '{"ts":"2026-11-23T10:15:02Z","sensor_id":"s","address":"a","rssi":"-60"}',
            JsonlErrorReason.BAD_FIELD,
            "'rssi'",
        ),
        (
            '{"ts":"2026-11-23T10:15:02Z","sensor_id":"s","address":"a","rssi":true}',
            JsonlErrorReason.BAD_FIELD,
            "'rssi'",
        ),
        (
            '{"ts":"2026-11-23T10:15:02Z","sensor_id":"s","address":"a","rssi":-300}',
            JsonlErrorReason.BAD_FIELD,
            "got -300",
        ),
        (
            '{"ts":"2026-11-23T10:15:02Z","sensor_id":"s","address":"a","manufacturer_data":{"0x4c":"00"}}',
            JsonlErrorReason.BAD_FIELD,
            "decimal company ids",
        ),
        (
            '{"ts":"2026-11-23T10:15:02Z","sensor_id":"s","address":"a","manufacturer_data":{"65536":"00"}}',
            JsonlErrorReason.BAD_FIELD,
            "decimal company ids",
        ),
        (
            '{"ts":"2026-11-23T10:15:02Z","sensor_id":"s","address":"a","manufacturer_data":{"76":"zz"}}',
            JsonlErrorReason.BAD_FIELD,
            "manufacturer_data.76",
        ),
        (
            '{"ts":"2026-11-23T10:15:02Z","sensor_id":"s","address":"a","manufacturer_data":[1]}',
            JsonlErrorReason.BAD_FIELD,
            "'manufacturer_data'",
        ),
        (
            '{"ts":"2026-11-23T10:15:02Z","sensor_id":"s","address":"a","service_data":{"feaa":5}}',
            JsonlErrorReason.BAD_FIELD,
            "service_data.feaa",
        ),
        (
            '{"ts":"2026-11-23T10:15:02Z","sensor_id":"s","address":"a","service_uuids":"feaa"}',
            JsonlErrorReason.BAD_FIELD,
            "'service_uuids'",
        ),
        (
            '{"ts":"2026-11-23T10:15:02Z","sensor_id":"s","address":"a","tx_power":1.5}',
            JsonlErrorReason.BAD_FIELD,
            "'tx_power'",
        ),
        (
            '{"ts":"2026-11-23T10:15:02Z","sensor_id":"s","address":"a","local_name":7}',
            JsonlErrorReason.BAD_FIELD,
            "'local_name'",
        ),
        (b'{"ts":"\xff"}', JsonlErrorReason.BAD_ENCODING, "UTF-8"),
    ],
)
def test_bad_line_is_reported_with_reason_and_field(
    line: str | bytes, reason: JsonlErrorReason, words: str
) -> None:
    """A bad line becomes a JsonlError naming the reason and the field, never an exception."""
    error = parse_ble_line(line, 7)
    assert isinstance(error, JsonlError)
    assert (error.line_number, error.reason) == (7, reason)
    assert words in error.detail


def test_file_reader_goes_on_after_bad_lines_and_numbers_them(tmp_path: Path) -> None:
    """iter_ble_jsonl yields records and errors in file order, numbered from 1, blanks skipped."""
    path = tmp_path / "ble.jsonl"
    path.write_bytes(
        b"\n".join(
            [
                DOC_LINE.encode(),
                b"",
                b"garbage",
                b"\xff\xfe",
                DOC_LINE.replace("-67", "-70").encode(),
            ]
        )
        + b"\n"
    )
    items = list(iter_ble_jsonl(path))
    assert [type(i).__name__ for i in items] == [
        "BleRecord",
        "JsonlError",
        "JsonlError",
        "BleRecord",
    ]
    assert [i.line_number for i in items if isinstance(i, JsonlError)] == [3, 4]
    last = items[-1]
    assert isinstance(last, BleRecord)
    assert last.rssi_dbm == -70


records = st.builds(
    BleRecord,
    ts_s=st.integers(0, 4_102_444_800_000).map(lambda ms: ms / 1000),
    sensor_id=st.text(min_size=1, max_size=12).filter(str.strip),
    address=st.text(min_size=1, max_size=20).filter(str.strip),
    rssi_dbm=st.one_of(st.none(), st.integers(-128, 127)),
    manufacturer_data=st.dictionaries(st.integers(0, 0xFFFF), st.binary(max_size=27), max_size=3),
    service_data=st.dictionaries(st.uuids().map(str), st.binary(max_size=24), max_size=2),
    service_uuids=st.lists(st.uuids().map(str), max_size=3).map(tuple),
    tx_power=st.one_of(st.none(), st.integers(-128, 127)),
    local_name=st.one_of(st.none(), st.text(max_size=29)),
)


@settings(max_examples=300, deadline=None)
@given(records)
def test_write_then_read_round_trips(record: BleRecord) -> None:
    """Any record at millisecond resolution survives ble_record_to_json then the reader."""
    line = ble_record_to_json(record)
    assert "\n" not in line
    (back,) = list(iter_ble_lines([line]))
    assert isinstance(back, BleRecord)
    assert back.ts_s == pytest.approx(record.ts_s, abs=5e-7)
    assert ble_record_to_json(back) == line
    assert (back.manufacturer_data, back.service_data) == (
        record.manufacturer_data,
        record.service_data,
    )
    assert (back.rssi_dbm, back.local_name, back.service_uuids) == (
        record.rssi_dbm,
        record.local_name,
        record.service_uuids,
    )


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.text(max_size=200),
        st.binary(max_size=200),
        st.builds(
            json.dumps,
            st.recursive(
                st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
                lambda children: (
                    st.lists(children, max_size=3)
                    | st.dictionaries(st.text(max_size=10), children, max_size=4)
                ),
                max_leaves=10,
            ),
        ),
    )
)
def test_any_line_never_raises(line: str | bytes) -> None:
    """Arbitrary text, bytes or JSON values give a record, an error or None, never an exception."""
    result = parse_ble_line(line, 1)
    assert result is None or isinstance(result, BleRecord | JsonlError)
