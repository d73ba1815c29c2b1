"""Ingest on a broker without shared subscriptions (the demo's embedded amqtt, MQTT 3.1.1)."""

from __future__ import annotations

import json
import logging
import threading
import time

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import func, select

from footfall.broker import EmbeddedBroker
from gateway.bootstrap import build_ingest
from gateway.migrate import upgrade
from gateway.models import PresenceEventRow
from gateway.settings import GatewaySettings


def events_payload(seq: int) -> bytes:
    return json.dumps(
        {
            "schema": 1,
            "store_id": "demo",
            "agent_id": "door",
            "sent_at": "2026-11-23T10:00:00.000Z",
            "events": [
                {
                    "event_id": f"door:{seq:012d}",
                    "seq": seq,
                    "kind": "visit_start",
                    "ts": "2026-11-23T09:59:00.000Z",
                    "device_key": f"dk1_demo{seq:04d}",
                    "id_class": "wifi_global",
                }
            ],
        }
    ).encode()


def test_falls_back_to_a_plain_subscription_and_says_so(
    sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """On MQTT 3.1.1 a shared group falls back to a plain subscription, logged; all is stored."""
    upgrade(sqlite_url)
    broker = EmbeddedBroker()
    broker.start()
    ingest = build_ingest(
        GatewaySettings(
            database_url=sqlite_url,
            mqtt_port=broker.port,
            mqtt_protocol="3.1.1",
            shared_group="footfall",
            mqtt_client_id="gw-fallback",
            batch_max_wait_s=0.05,
        )
    )
    stop = threading.Event()
    caplog.set_level(logging.INFO, logger="gateway")
    worker = threading.Thread(target=ingest.service.run, args=(stop,))
    worker.start()
    try:
        deadline = time.monotonic() + 15
        while "subscribed to" not in caplog.text and time.monotonic() < deadline:
            time.sleep(0.05)
        assert "subscribing without '$share/footfall/'" in caplog.text
        pub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="demo-pub")
        pub.connect(broker.host, broker.port)
        pub.loop_start()
        for seq in range(1, 21):
            pub.publish(
                "footfall/v1/demo/door/events", events_payload(seq), qos=1
            ).wait_for_publish(5)
        pub.disconnect()
        pub.loop_stop()
        while ingest.service.metrics.events_stored < 20 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stop.set()
        worker.join(15)
        with ingest.engine.connect() as conn:
            stored = conn.execute(select(func.count()).select_from(PresenceEventRow)).scalar_one()
        ingest.close()
        broker.stop()
    assert stored == 20
    # a clean stop is the gateway's own disconnect: said at INFO, no "paho reconnects" warning
    assert "disconnected from the broker (ingest stopping)" in caplog.text
    assert not [
        r for r in caplog.records if r.levelno >= logging.WARNING and "disconnected" in r.msg
    ]
