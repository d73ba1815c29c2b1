"""Which topics the ingest subscribes to, and the fallback when the broker cannot share."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from sqlalchemy import create_engine

from gateway.service import IngestService, subscriptions
from gateway.settings import GatewaySettings


class RecordingClient:
    """Stands in for paho's client in the callbacks: records what the gateway asks of it."""

    def __init__(self) -> None:
        self.subscribed: list[list[tuple[str, int]]] = []
        self.unsubscribed: list[list[str]] = []

    def subscribe(self, topics: list[tuple[str, int]]) -> None:
        self.subscribed.append(topics)

    def unsubscribe(self, topics: list[str]) -> None:
        self.unsubscribed.append(topics)


def service(shared_group: str | None) -> IngestService:
    settings = GatewaySettings(database_url="sqlite://", shared_group=shared_group)
    return IngestService(settings, create_engine("sqlite://"))


def test_events_and_occupancy_shared_status_not() -> None:
    """Retained status is never delivered on a shared subscription, so it stays plain."""
    assert subscriptions("footfall/v1", "g") == [
        ("$share/g/footfall/v1/+/+/events", 1),
        ("$share/g/footfall/v1/+/+/occupancy", 0),
        ("footfall/v1/+/+/status", 1),
    ]
    assert subscriptions("footfall/v1/", None)[0] == ("footfall/v1/+/+/events", 1)


def connack(shared_available: int | None) -> tuple[Any, Any]:
    props = Properties(PacketTypes.CONNACK)  # type: ignore[no-untyped-call]
    if shared_available is not None:
        props.SharedSubscriptionAvailable = shared_available
    return ReasonCode(PacketTypes.CONNACK, "Success"), props


def test_connack_without_shared_subscriptions_falls_back(caplog: pytest.LogCaptureFixture) -> None:
    """A broker announcing no shared subscriptions gets plain ones, with a warning saying so."""
    svc, client = service("g"), RecordingClient()
    reason, props = connack(0)
    with caplog.at_level(logging.WARNING, logger="gateway"):
        svc._on_connect(client, None, None, reason, props)
    assert client.subscribed == [subscriptions("footfall/v1", None)]
    assert "does not support shared subscriptions" in caplog.text


def test_connack_with_shared_subscriptions_keeps_them() -> None:
    """Without the property (default: available) the shared filters are used."""
    svc, client = service("g"), RecordingClient()
    svc._on_connect(client, None, None, *connack(None))
    assert client.subscribed == [subscriptions("footfall/v1", "g")]


def test_suback_refusal_resubscribes_plainly(caplog: pytest.LogCaptureFixture) -> None:
    """SUBACK reason 0x9E (shared subscriptions not supported) triggers a plain subscription."""
    svc, client = service("g"), RecordingClient()
    codes = [ReasonCode(PacketTypes.SUBACK, identifier=0x9E)]
    with caplog.at_level(logging.WARNING, logger="gateway"):
        svc._on_subscribe(client, None, 1, codes, None)
    assert client.subscribed == [subscriptions("footfall/v1", None)]
    assert client.unsubscribed == [
        ["$share/g/footfall/v1/+/+/events", "$share/g/footfall/v1/+/+/occupancy"]
    ]
    assert "falling back to a plain subscription" in caplog.text
