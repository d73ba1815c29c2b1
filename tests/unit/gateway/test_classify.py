"""Validation of MQTT payloads: every accepted shape, every dead-letter reason."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from gateway.ingest import (
    DeadLetterReason,
    EventBatch,
    Ignored,
    Limits,
    OccupancyRecord,
    Rejected,
    StatusRecord,
    classify,
    parse_topic,
)

NOW = datetime(2026, 11, 23, 10, 15, 5, tzinfo=UTC)
TOPIC = "footfall/v1/krakow-01/entrance-a/events"
LIMITS = Limits()


def design_event(**changes: Any) -> dict[str, Any]:
    """The example event of DESIGN.md, with ``changes`` applied (``...`` removes a field)."""
    event = {
        "event_id": "entrance-a:000000004217",
        "seq": 4217,
        "kind": "zone_exit",
        "ts": "2026-11-23T10:14:58.900Z",
        "device_key": "dk1_7q3m9x2p4k8r5t1v",
        "id_class": "personal_beacon",
        "zone": "shoes",
        "dwell_s": 312.4,
        "zones": None,
        "rssi_dbm": -71.2,
        "reason": "absent_for_grace_period",
    }
    event.update(changes)
    return {k: v for k, v in event.items() if v is not ...}


def payload(*events: dict[str, Any], **changes: Any) -> bytes:
    body = {
        "schema": 1,
        "store_id": "krakow-01",
        "agent_id": "entrance-a",
        "sent_at": "2026-11-23T10:15:02.120Z",
        "events": list(events) if events else [design_event()],
    }
    body.update(changes)
    return json.dumps({k: v for k, v in body.items() if v is not ...}).encode()


def rejected(result: object) -> Rejected:
    assert isinstance(result, Rejected), result
    return result


def test_design_example_is_accepted() -> None:
    """The DESIGN.md example payload becomes one event record with aware UTC times."""
    result = classify(TOPIC, payload(), NOW, LIMITS)
    assert isinstance(result, EventBatch)
    (ev,) = result.events
    assert ev.event_id == "entrance-a:000000004217"
    assert ev.kind == "zone_exit"
    assert ev.ts == datetime(2026, 11, 23, 10, 14, 58, 900000, tzinfo=UTC)
    assert ev.dwell_s == pytest.approx(312.4)
    assert ev.store_id == "krakow-01"
    assert ev.zone == "shoes"


def test_unknown_fields_are_ignored() -> None:
    """Fields the gateway does not know (forward compatibility) do not reject the payload."""
    body = payload(design_event(visit_class="visitor", future={"x": 1}), extra_top=[1, 2])
    assert isinstance(classify(TOPIC, body, NOW, LIMITS), EventBatch)


def test_visit_end_with_zones_and_integer_dwell() -> None:
    """A visit_end carries its zones in order; an integer dwell is a valid number."""
    ev = design_event(kind="visit_end", zone=None, zones=["shoes", "tills"], dwell_s=300)
    result = classify(TOPIC, payload(ev), NOW, LIMITS)
    assert isinstance(result, EventBatch)
    assert result.events[0].zones == ("shoes", "tills")
    assert result.events[0].dwell_s == 300.0


def test_redelivered_duplicates_in_one_batch_collapse() -> None:
    """The same event twice in one payload is stored once."""
    result = classify(TOPIC, payload(design_event(), design_event()), NOW, LIMITS)
    assert isinstance(result, EventBatch)
    assert len(result.events) == 1


@pytest.mark.parametrize(
    ("body", "reason", "detail"),
    [
        (b"{not json", DeadLetterReason.NOT_JSON, "Invalid JSON"),
        (b"\xff\xfe\x00garbage", DeadLetterReason.NOT_JSON, "JSON"),
        (b"[1, 2, 3]", DeadLetterReason.NOT_OBJECT, "object"),
        (b'"a string"', DeadLetterReason.NOT_OBJECT, "object"),
        (payload(schema=2), DeadLetterReason.SCHEMA_VERSION, "schema"),
        (payload(schema=...), DeadLetterReason.SCHEMA_VERSION, "schema"),
        (payload(schema="1"), DeadLetterReason.SCHEMA_VERSION, "schema"),
        (payload(design_event(seq="4217")), DeadLetterReason.INVALID, "events.0.seq"),
        (payload(design_event(dwell_s=-1.0)), DeadLetterReason.INVALID, "dwell_s"),
        (payload(design_event(dwell_s=True)), DeadLetterReason.INVALID, "dwell_s"),
        (payload(design_event(dwell_s=...)), DeadLetterReason.INVALID, "'dwell_s' is required"),
        (
            payload(design_event(kind="visit_end", zone=None, dwell_s=None)),
            DeadLetterReason.INVALID,
            "'dwell_s' is required on visit_end",
        ),
        (payload(design_event(zone=None)), DeadLetterReason.INVALID, "'zone' is required"),
        (payload(design_event(kind="teleport")), DeadLetterReason.INVALID, "events.0.kind"),
        (payload(design_event(id_class="mac")), DeadLetterReason.INVALID, "events.0.id_class"),
        (payload(design_event(rssi_dbm=40.0)), DeadLetterReason.INVALID, "rssi_dbm"),
        (payload(design_event(ts="2026-11-23T10:14:58")), DeadLetterReason.INVALID, "ts"),
        (payload(design_event(ts="yesterday")), DeadLetterReason.INVALID, "ts"),
        (payload(design_event(device_key="")), DeadLetterReason.INVALID, "device_key"),
        (payload(design_event(zone="a/b")), DeadLetterReason.INVALID, "zone"),
        (payload(design_event(), events=...), DeadLetterReason.INVALID, "events"),
        (payload(design_event(), sent_at=12345), DeadLetterReason.INVALID, "sent_at"),
        (
            payload(design_event(device_key="AA:BB:CC:DD:EE:FF")),
            DeadLetterReason.RAW_IDENTIFIER,
            "raw MAC",
        ),
        (
            payload(design_event(device_key="f7826da6-4fa2-4e98-8024-bc5b71e0893e")),
            DeadLetterReason.RAW_IDENTIFIER,
            "beacon UUID",
        ),
        (payload(agent_id="entrance-b"), DeadLetterReason.TOPIC_MISMATCH, "entrance-b"),
        (payload(store_id="warsaw-02"), DeadLetterReason.TOPIC_MISMATCH, "warsaw-02"),
        (
            payload(design_event(event_id="entrance-a:4217")),
            DeadLetterReason.EVENT_ID_MISMATCH,
            "entrance-a:000000004217",
        ),
        (
            payload(design_event(ts="2026-11-24T10:14:58.900Z")),
            DeadLetterReason.TS_IN_FUTURE,
            "events.0.ts",
        ),
    ],
)
def test_malformed_payloads_are_dead_lettered(
    body: bytes, reason: DeadLetterReason, detail: str
) -> None:
    """Each kind of malformed payload is rejected with its reason and a detail naming the field."""
    result = rejected(classify(TOPIC, body, NOW, LIMITS))
    assert result.reason is reason
    assert detail in result.detail
    assert result.payload_size == len(body)
    assert len(result.payload_sha256) == 64


def test_too_many_events() -> None:
    """A batch of 501 events breaks the 500-event contract."""
    events = [design_event(seq=i, event_id=f"entrance-a:{i:012d}") for i in range(501)]
    assert (
        rejected(classify(TOPIC, payload(*events), NOW, LIMITS)).reason
        is DeadLetterReason.TOO_MANY_EVENTS
    )


def test_oversized_payload_is_rejected_before_parsing_and_copy_is_bounded() -> None:
    """A payload over 256 KiB is dead-lettered with only the first bytes kept."""
    body = payload(design_event(reason="x" * (300 * 1024)))
    result = rejected(classify(TOPIC, body, NOW, Limits(dead_letter_copy_bytes=100)))
    assert result.reason is DeadLetterReason.OVERSIZED
    assert result.payload_copy == body[:100]
    assert result.payload_size == len(body)


def test_detail_never_echoes_a_raw_identifier() -> None:
    """The dead-letter detail names the field but not the MAC that was in it."""
    result = rejected(
        classify(TOPIC, payload(design_event(device_key="aa:bb:cc:dd:ee:ff")), NOW, LIMITS)
    )
    assert "aa:bb" not in result.detail


def test_clock_skew_within_limit_is_accepted() -> None:
    """An event a few minutes ahead of the gateway's clock (agent skew) is fine."""
    ahead = (NOW + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    assert isinstance(classify(TOPIC, payload(design_event(ts=ahead)), NOW, LIMITS), EventBatch)


@pytest.mark.parametrize(
    "topic",
    [
        "footfall/v1/krakow-01/events",
        "footfall/v2/krakow-01/entrance-a/events",
        "footfall/v1/krakow-01/entrance-a/events/extra",
        "footfall/v1//entrance-a/events",
        "other/topic",
    ],
)
def test_bad_topics(topic: str) -> None:
    """A topic outside ``footfall/v1/{store}/{agent}/{channel}`` is a dead letter."""
    assert rejected(classify(topic, payload(), NOW, LIMITS)).reason is DeadLetterReason.BAD_TOPIC


def test_parse_topic() -> None:
    """Topic parts come back named."""
    parts = parse_topic("footfall/v1/krakow-01/entrance-a/status")
    assert parts is not None
    assert (parts.store_id, parts.agent_id, parts.channel) == ("krakow-01", "entrance-a", "status")


def test_status_online_and_offline() -> None:
    """The agent's status payloads (online with counters, offline as last will) are read."""
    online = json.dumps(
        {
            "schema": 1,
            "state": "online",
            "version": "0.1.0",
            "at": "2026-11-23T10:15:00.000Z",
            "uptime_s": 12.5,
            "counters": {"adverts_per_s": 3.5, "outbox_depth": 0},
        }
    ).encode()
    result = classify("footfall/v1/krakow-01/entrance-a/status", online, NOW, LIMITS)
    assert isinstance(result, StatusRecord)
    assert result.online
    assert result.health == "ok"
    assert result.counters == {"adverts_per_s": 3.5, "outbox_depth": 0}
    offline = json.dumps({"schema": 1, "state": "offline", "version": "0.1.0"}).encode()
    result = classify("footfall/v1/krakow-01/entrance-a/status", offline, NOW, LIMITS)
    assert isinstance(result, StatusRecord)
    assert not result.online
    assert result.health == "offline"


def test_cleared_retained_status_is_ignored() -> None:
    """An empty retained status (agent decommissioned) is not an error."""
    assert isinstance(
        classify("footfall/v1/krakow-01/entrance-a/status", b"", NOW, LIMITS), Ignored
    )


def test_occupancy() -> None:
    """Occupancy counts per zone are read and checked against the topic."""
    body = json.dumps(
        {
            "schema": 1,
            "store_id": "krakow-01",
            "agent_id": "entrance-a",
            "at": "2026-11-23T10:15:00.000Z",
            "zones": {"shoes": 3, "tills": 0},
        }
    ).encode()
    result = classify("footfall/v1/krakow-01/entrance-a/occupancy", body, NOW, LIMITS)
    assert isinstance(result, OccupancyRecord)
    assert result.counts == (("shoes", 3), ("tills", 0))
    bad = body.replace(b": 3", b": -3")
    assert (
        rejected(classify("footfall/v1/krakow-01/entrance-a/occupancy", bad, NOW, LIMITS)).reason
        is DeadLetterReason.INVALID
    )


def test_rssi_and_config_topics_are_ignored() -> None:
    """Topics the gateway does not store are ignored, not dead-lettered."""
    assert isinstance(
        classify("footfall/v1/krakow-01/entrance-a/rssi", b"{}", NOW, LIMITS), Ignored
    )
    assert isinstance(
        classify("footfall/v1/krakow-01/entrance-a/config", b"{}", NOW, LIMITS), Ignored
    )


def test_agent_payload_builder_is_accepted() -> None:
    """What the edge agent's own serialiser writes passes the gateway's independent validator."""
    payloads = pytest.importorskip("edge_agent.payloads")
    outbox = pytest.importorskip("edge_agent.outbox")
    from hardware.observations import IdClass
    from positioning.events import EventKind, PresenceEvent

    ts_s = NOW.timestamp() - 10
    event = PresenceEvent(
        EventKind.VISIT_END, ts_s, "dk1_abcdefgh", "absent", dwell_s=42.0, zones=("shoes",)
    )
    body = payloads.event_body(event, IdClass.WIFI_GLOBAL)
    item = outbox.OutboxItem(seq=7, created_s=ts_s, body=body)
    raw = payloads.events_payload("krakow-01", "entrance-a", ts_s, [item])
    result = classify(TOPIC, raw, NOW, LIMITS)
    assert isinstance(result, EventBatch), result
    assert result.events[0].event_id == "entrance-a:000000000007"


def test_agent_status_payload_is_accepted() -> None:
    """The agent's own status (drops grouped by reason in the counters) is read, not refused."""
    payloads = pytest.importorskip("edge_agent.payloads")
    raw = payloads.status_payload(
        online=True,
        version="0.1.0",
        now_s=NOW.timestamp(),
        uptime_s=12.0,
        counters={"adverts_per_s": 1.5, "outbox_age_s": None, "drops": {"outbox_full": 3}},
        config={"version": "v7", "applied": True},
    )
    result = classify("footfall/v1/krakow-01/entrance-a/status", raw, NOW, LIMITS)
    assert isinstance(result, StatusRecord), result
    assert result.counters is not None
    assert result.counters["drops"] == {"outbox_full": 3}


def _numbered(seq: int, **changes: Any) -> dict[str, Any]:
    return design_event(**{"event_id": f"entrance-a:{seq:012d}", "seq": seq, **changes})


FUTURE = "2026-11-24T10:14:58.900Z"


@pytest.mark.parametrize(
    ("events", "reason", "detail"),
    [
        # the first failing event names the dead letter; within one event, event_id first
        (
            [_numbered(1), _numbered(2, ts=FUTURE), _numbered(3, event_id="entrance-a:3")],
            DeadLetterReason.TS_IN_FUTURE,
            "events.1.ts",
        ),
        (
            [_numbered(1), _numbered(2, event_id="entrance-a:2"), _numbered(3, ts=FUTURE)],
            DeadLetterReason.EVENT_ID_MISMATCH,
            "events.1.event_id must be 'entrance-a:000000000002'",
        ),
        (
            [_numbered(1, event_id="entrance-a:000000000009", ts=FUTURE)],
            DeadLetterReason.EVENT_ID_MISMATCH,
            "events.0.event_id",
        ),
    ],
)
def test_first_failing_event_names_the_dead_letter(
    events: list[dict[str, Any]], reason: DeadLetterReason, detail: str
) -> None:
    result = rejected(classify(TOPIC, payload(*events), NOW, LIMITS))
    assert result.reason is reason
    assert detail in result.detail


def test_events_keep_their_order_and_fields() -> None:
    events = [_numbered(s, rssi_dbm=None if s % 2 else -60.5) for s in (5, 3, 9, 3)]
    result = classify(TOPIC, payload(*events), NOW, LIMITS)
    assert isinstance(result, EventBatch)
    assert [e.seq for e in result.events] == [5, 3, 9]  # the repeated 3 once, where first seen
    assert [e.rssi_dbm for e in result.events] == [None, None, None]
    first = result.events[0]
    assert first._fields[:4] == ("event_id", "store_id", "agent_id", "seq")
    assert (first.store_id, first.agent_id, first.kind, first.id_class) == (
        "krakow-01",
        "entrance-a",
        "zone_exit",
        "personal_beacon",
    )
    assert type(first.kind) is str
    assert type(first.id_class) is str
