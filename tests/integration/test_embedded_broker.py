"""The demo's embedded broker carries QoS 1 messages and retained status like a real one."""

from __future__ import annotations

import threading

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from footfall.broker import EmbeddedBroker


def test_embedded_broker_delivers_qos1_and_retained() -> None:
    """A subscriber gets every QoS 1 message and the retained status published before it joined."""
    broker = EmbeddedBroker()
    broker.start()
    try:
        pub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="pub")
        pub.connect(broker.host, broker.port)
        pub.loop_start()
        pub.publish("footfall/v1/s/a/status", b"online", qos=1, retain=True).wait_for_publish(5)

        got: list[tuple[str, bytes]] = []
        all_in = threading.Event()

        def on_message(_c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
            got.append((msg.topic, bytes(msg.payload)))
            if len(got) == 101:
                all_in.set()

        sub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="sub")
        sub.on_message = on_message
        sub.connect(broker.host, broker.port)
        sub.loop_start()
        subscribed = threading.Event()
        sub.on_subscribe = lambda *_a: subscribed.set()
        sub.subscribe("footfall/v1/#", qos=1)
        assert subscribed.wait(5)
        for i in range(100):
            pub.publish("footfall/v1/s/a/events", str(i).encode(), qos=1).wait_for_publish(5)
        assert all_in.wait(10)
        pub.loop_stop()
        sub.loop_stop()
        pub.disconnect()
        sub.disconnect()
    finally:
        broker.stop()
    assert got[0] == ("footfall/v1/s/a/status", b"online")
    assert [int(p) for t, p in got[1:]] == list(range(100))
