"""Fuzz: no payload or topic makes the validator raise; anything it rejects has a reason."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.ingest import DeadLetterReason, EventBatch, Ignored, Limits, Rejected, classify

NOW = datetime(2026, 11, 23, 10, 15, 5, tzinfo=UTC)
TOPIC = "footfall/v1/krakow-01/entrance-a/events"
LIMITS = Limits()

VALID: dict[str, Any] = {
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

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=50),
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5)
    ),
    max_leaves=30,
)


def check(topic: str, body: bytes) -> None:
    result = classify(topic, body, NOW, LIMITS)
    assert isinstance(result, EventBatch | Rejected | Ignored)
    if isinstance(result, Rejected):
        assert isinstance(result.reason, DeadLetterReason)
        assert result.detail
        assert len(result.payload_copy) <= LIMITS.dead_letter_copy_bytes


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2048))
def test_random_bytes(body: bytes) -> None:
    """Arbitrary bytes never raise."""
    check(TOPIC, body)


@settings(max_examples=300)
@given(json_values)
def test_random_json(value: Any) -> None:
    """Any JSON document never raises."""
    check(TOPIC, json.dumps(value).encode())


@settings(max_examples=400)
@given(
    st.sampled_from(
        [
            "schema",
            "store_id",
            "agent_id",
            "sent_at",
            "events",
            "event_id",
            "seq",
            "kind",
            "ts",
            "device_key",
            "id_class",
            "zone",
            "dwell_s",
            "zones",
            "rssi_dbm",
            "reason",
        ]
    ),
    json_values,
)
def test_one_field_replaced_by_anything(field: str, value: Any) -> None:
    """The valid payload with one field set to any JSON value never raises."""
    body = json.loads(json.dumps(VALID))
    target = body if field in body else body["events"][0]
    target[field] = value
    check(TOPIC, json.dumps(body).encode())


@settings(max_examples=200)
@given(st.binary(min_size=1, max_size=64), st.integers(min_value=0, max_value=400))
def test_valid_payload_with_bytes_spliced_in(chunk: bytes, at: int) -> None:
    """Corrupting the valid payload anywhere never raises."""
    raw = json.dumps(VALID).encode()
    at = min(at, len(raw))
    check(TOPIC, raw[:at] + chunk + raw[at + len(chunk) :])


@settings(max_examples=100)
@given(st.text(min_size=0, max_size=100))
def test_any_topic(topic: str) -> None:
    """Any topic string, with a valid payload, never raises."""
    check(topic, json.dumps(VALID).encode())


def test_deep_nesting() -> None:
    """Nesting far beyond any parser's recursion limit is a dead letter, not a crash."""
    for depth in (100, 10_000, 200_000):
        body = b"[" * depth + b"]" * depth
        result = classify(TOPIC, body, NOW, LIMITS)
        assert isinstance(result, Rejected)
        nested = b'{"schema":1,"events":' + b'{"a":' * depth + b"1" + b"}" * depth + b"}"
        assert isinstance(classify(TOPIC, nested, NOW, LIMITS), Rejected)


def test_huge_strings_and_unicode() -> None:
    """Huge strings, odd unicode and surrogates in every text field are handled."""
    for text in ("x" * 200_000, "\u202e\u0000\ud7ff", "😀" * 1000, "\\ud800"):
        body = json.loads(json.dumps(VALID))
        body["events"][0]["device_key"] = text
        body["events"][0]["zone"] = text
        check(TOPIC, json.dumps(body).encode())
    lone_surrogate = json.dumps(VALID).replace("shoes", "\\udc00").encode()
    check(TOPIC, lone_surrogate)


fuzz_events = st.fixed_dictionaries(
    {
        "event_id": st.just("entrance-a:000000004217"),
        "seq": st.sampled_from([4217] * 6 + [-1, "4217"]),
        "kind": st.sampled_from(
            ["zone_enter", "zone_exit", "visit_start", "visit_end"] * 2 + ["x"]
        ),
        "ts": st.sampled_from(["2026-11-23T10:14:58.900Z"] * 6 + ["2026-11-23T10:14:58", "soon"]),
        "device_key": st.sampled_from(
            [
                *["dk1_7q3m9x2p4k8r5t1v"] * 8,
                "AA:BB:CC:DD:EE:FF",
                "aabbccddeeff",
                "12345678-1234-1234-1234-123456789abc",
                "abc",
                "k" * 129,
            ]
        ),
        "id_class": st.sampled_from(["personal_beacon", "wifi_global"] * 3 + ["staff"]),
    },
    optional={
        "zone": st.sampled_from([None, *["shoes"] * 6, "bad zone", 5]),
        "dwell_s": st.sampled_from([None, *[0.0, 312.4] * 3, -1.0, 1e9, "1"]),
        "zones": st.sampled_from([*[None, [], ["shoes"]] * 2, ["bad zone"], "shoes"]),
        "rssi_dbm": st.sampled_from([None, -71.2] * 3 + [99.0]),
        "reason": st.sampled_from([None, "grace"] * 3 + ["r" * 65]),
    },
)


@settings(max_examples=500)
@given(st.lists(fuzz_events, max_size=4))
def test_fast_validation_agrees_with_the_full_validator(events: list[dict[str, Any]]) -> None:
    """EVENTS_FIELDS plus breaks_event_rules accepts exactly what EVENTS_PAYLOAD accepts, with
    the same result (the hot path of classify; the full validator gives the errors)."""
    from pydantic import ValidationError

    from gateway.schemas import EVENTS_FIELDS, EVENTS_PAYLOAD, breaks_event_rules

    body = json.dumps({**VALID, "events": events}).encode()
    try:
        full: Any = EVENTS_PAYLOAD.validate_json(body)
    except ValidationError:
        full = None
    try:
        fast: Any = EVENTS_FIELDS.validate_json(body)
    except ValidationError:
        fast = None
    if fast is not None and breaks_event_rules(fast["events"]):
        fast = None
    assert fast == full
