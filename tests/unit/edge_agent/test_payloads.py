"""MQTT payloads per DESIGN.md: the events v1 batch, ids, timestamps, limits, status, config."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from edge_agent.outbox import OutboxItem
from edge_agent.payloads import (
    MAX_BATCH_BYTES,
    ConfigUpdate,
    event_body,
    event_id,
    events_payload,
    format_ts,
    split_batch,
    status_payload,
)
from hardware.observations import IdClass
from positioning.events import EventKind, PresenceEvent

# 2026-11-23T10:14:58.900Z
TS = 1_795_428_898.9


def test_format_ts_is_rfc3339_utc_with_milliseconds() -> None:
    """Timestamps are UTC, millisecond precision, with a Z suffix."""
    assert format_ts(TS) == "2026-11-23T10:14:58.900Z"
    assert format_ts(TS + 0.0996) == "2026-11-23T10:14:59.000Z"
    assert format_ts(0.0) == "1970-01-01T00:00:00.000Z"


def test_event_id_is_agent_and_twelve_digit_seq() -> None:
    """event_id is agent_id:seq zero-padded to 12 digits."""
    assert event_id("entrance-a", 4217) == "entrance-a:000000004217"


def test_events_payload_matches_the_contract_example() -> None:
    """A zone_exit serialises to exactly the fields and values of DESIGN.md's example."""
    event = PresenceEvent(
        EventKind.ZONE_EXIT,
        TS,
        "dk1_7q3m9x2p4k8r5t1v",
        "absent_for_grace_period",
        zone="shoes",
        dwell_s=312.4,
        rssi_dbm=-71.2,
    )
    item = OutboxItem(4217, TS, event_body(event, IdClass.PERSONAL_BEACON))
    doc = json.loads(events_payload("krakow-01", "entrance-a", TS + 3.22, [item]))
    assert doc == {
        "schema": 1,
        "store_id": "krakow-01",
        "agent_id": "entrance-a",
        "sent_at": "2026-11-23T10:15:02.120Z",
        "events": [
            {
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
        ],
    }


def test_visit_end_carries_ordered_zones_dwell_and_class() -> None:
    """visit_end has dwell_s, the ordered zone list and the visit class."""
    event = PresenceEvent(
        EventKind.VISIT_END,
        TS,
        "dk1_x",
        "gap",
        dwell_s=600.0,
        zones=("a", "b", "a"),
        visit_class="visitor",
    )
    body = json.loads(event_body(event, IdClass.WIFI_RANDOMIZED))
    assert body["zones"] == ["a", "b", "a"]
    assert body["dwell_s"] == 600.0
    assert body["visit_class"] == "visitor"
    assert body["id_class"] == "wifi_randomized"


def test_resent_payload_events_are_byte_identical() -> None:
    """Building a batch twice gives identical events; only sent_at differs."""
    event = PresenceEvent(EventKind.VISIT_START, TS, "dk1_x", "first")
    items = [OutboxItem(s, TS, event_body(event, IdClass.WIFI_GLOBAL)) for s in (1, 2)]
    a = json.loads(events_payload("s", "a", TS, items))
    b = json.loads(events_payload("s", "a", TS + 60, items))
    assert a["events"] == b["events"]
    assert a["sent_at"] != b["sent_at"]


def test_split_batch_respects_500_events_and_256_kib() -> None:
    """A batch never holds more than 500 events or 256 KiB."""
    small = [OutboxItem(i, 0.0, '{"kind":"zone_enter"}') for i in range(1, 900)]
    assert len(split_batch("a", small)) == 500
    big_body = '{"reason":"' + "x" * 2000 + '"}'
    big = [OutboxItem(i, 0.0, big_body) for i in range(1, 400)]
    batch = split_batch("agent", big)
    assert 0 < len(batch) < 400
    assert len(events_payload("store", "agent", 0.0, batch)) <= MAX_BATCH_BYTES


def test_status_payload_online_and_offline() -> None:
    """Status carries schema, state, version and, when online, uptime and counters."""
    online = json.loads(
        status_payload(online=True, version="1.2", now_s=TS, uptime_s=5.04, counters={"x": 1})
    )
    assert online["state"] == "online"
    assert online["uptime_s"] == 5.0
    assert online["counters"] == {"x": 1}
    offline = json.loads(status_payload(online=False, version="1.2", now_s=TS))
    assert offline == {"schema": 1, "state": "offline", "version": "1.2", "at": format_ts(TS)}


def test_config_update_validates_schema_and_zone_ranges() -> None:
    """A config with an unknown schema or an out-of-range zone threshold is rejected."""
    ok = ConfigUpdate.model_validate_json(
        '{"schema":1,"version":"v1","zones":[{"name":"door","min_rssi_dbm":-60}],"x":1}'
    )
    assert ok.zones is not None
    assert ok.zones[0].name == "door"
    with pytest.raises(ValidationError):
        ConfigUpdate.model_validate_json('{"schema":2,"version":"v1"}')
    with pytest.raises(ValidationError, match="min_rssi_dbm"):
        ConfigUpdate.model_validate_json(
            '{"schema":1,"version":"v1","zones":[{"name":"door","min_rssi_dbm":7}]}'
        )
