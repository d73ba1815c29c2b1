"""The binary COPY stores exactly what classify produced; non-finite numbers never get in."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from gateway.db import make_engine
from gateway.ingest import DeadLetterReason, EventBatch, Limits, Rejected, classify
from gateway.migrate import upgrade
from gateway.models import PresenceEventRow, VisitDirty
from gateway.store import COPY_MIN_ROWS, Received, _dirty_ranges, write_batch

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
TOPIC = "footfall/v1/krakow-01/entrance-a/events"


def _event(seq: int) -> dict[str, object]:
    ts = (NOW - timedelta(seconds=600 - seq)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    kinds = ("visit_start", "zone_enter", "zone_exit", "visit_end")
    kind = kinds[seq % 4]
    return {
        "event_id": f"entrance-a:{seq:012d}",
        "seq": seq,
        "kind": kind,
        "ts": ts,
        "device_key": f"dk1_{seq % 7:08x}",
        "id_class": "personal_beacon" if seq % 2 else "wifi_global",
        "zone": "shoes" if kind in ("zone_enter", "zone_exit") else None,
        "dwell_s": 12.5 + seq if kind in ("zone_exit", "visit_end") else None,
        "zones": ["shoes", "tills"] if kind == "visit_end" else None,
        "rssi_dbm": -70.25 if seq % 3 else None,
        "reason": "threshold" if seq % 5 else None,
    }


def _payload(events: list[dict[str, object]]) -> bytes:
    body = {
        "schema": 1,
        "store_id": "krakow-01",
        "agent_id": "entrance-a",
        "sent_at": "2026-11-23T11:59:59.000Z",
        "events": events,
    }
    return json.dumps(body).encode()


@pytest.mark.postgres
def test_binary_copy_round_trip_and_redelivery(postgres_url: str) -> None:
    """Every column of a COPY-sized batch reads back as classified; a redelivery adds nothing."""
    n = COPY_MIN_ROWS + 50
    payloads = [_payload([_event(s) for s in range(i, min(i + 50, n))]) for i in range(0, n, 50)]
    items = []
    for raw in payloads:
        outcome = classify(TOPIC, raw, NOW, Limits())
        assert isinstance(outcome, EventBatch)
        items.append(Received(outcome, NOW))
    upgrade(postgres_url)
    engine = make_engine(postgres_url)
    try:
        with engine.begin() as conn:
            assert write_batch(conn, items).events == n
        with engine.begin() as conn:  # the broker re-sent the lot: the slow path, no new rows
            write_batch(conn, items)
        with engine.connect() as conn:
            table = PresenceEventRow.__table__
            rows = conn.execute(select(table).order_by(table.c.seq)).all()
            dirty = conn.execute(select(VisitDirty.device_key)).scalars().all()
            ranges = conn.execute(
                select(
                    VisitDirty.store_id,
                    VisitDirty.device_key,
                    func.min(VisitDirty.ts_min),
                    func.max(VisitDirty.ts_max),
                ).group_by(VisitDirty.store_id, VisitDirty.device_key)
            ).all()
    finally:
        engine.dispose()
    expected = [ev for item in items for ev in item.outcome.events]  # type: ignore[union-attr]
    assert len(rows) == n
    for row, ev in zip(rows, expected, strict=True):
        got = row
        assert (got.event_id, got.store_id, got.agent_id, got.seq) == ev[:4]
        assert (got.kind, got.ts, got.device_key, got.id_class, got.zone) == ev[4:9]
        assert got.dwell_s == ev.dwell_s
        assert got.zones == (list(ev.zones) if ev.zones is not None else None)
        assert (got.rssi_dbm, got.reason, got.received_at) == (ev.rssi_dbm, ev.reason, NOW)
    assert len(set(dirty)) == 7
    # queued by the server from the copied rows: the ranges the Python path computes
    assert {(r[0], r[1]): (r[2], r[3]) for r in ranges} == _dirty_ranges(expected)


@pytest.mark.parametrize("field", ["dwell_s", "rssi_dbm"])
@pytest.mark.parametrize("literal", [b"NaN", b"Infinity", b"-Infinity"])
def test_non_finite_numbers_are_dead_lettered(field: str, literal: bytes) -> None:
    """NaN and infinities (which Python's json writes) are refused, naming the field."""
    event = _event(2)  # a zone_exit: dwell_s and rssi_dbm both present
    event[field] = 1.0
    raw = _payload([event]).replace(f'"{field}": 1.0'.encode(), f'"{field}": '.encode() + literal)
    assert literal in raw
    result = classify(TOPIC, raw, NOW, Limits())
    assert isinstance(result, Rejected)
    assert result.reason is DeadLetterReason.INVALID
    assert f"events.0.{field}" in result.detail
