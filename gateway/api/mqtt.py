"""A short-lived paho connection for the API's retained publishes (config, Home Assistant).

paho's types and error codes stay in here: callers get :class:`PublishError`.
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

_LOGGER = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 5.0
PUBLISH_TIMEOUT_S = 5.0


class PublishError(Exception):
    """The broker could not be reached or did not acknowledge; retrying later may help."""


@dataclass(frozen=True, slots=True)
class MqttTarget:
    """Where and how to connect (built from the gateway settings by the entrypoint)."""

    host: str
    port: int
    client_id: str
    username: str | None = None
    password: str | None = None
    tls: bool = False
    ca_file: Path | None = None


@dataclass(frozen=True, slots=True)
class Message:
    topic: str
    payload: bytes
    qos: int = 1
    retain: bool = True


class MqttPublisher:
    """Connect, publish a batch at QoS 1 and wait for every PUBACK, disconnect."""

    def __init__(self, target: MqttTarget) -> None:
        self.target = target

    def publish(self, messages: Sequence[Message]) -> None:
        import paho.mqtt.client as paho
        from paho.mqtt.enums import CallbackAPIVersion

        t = self.target
        client = paho.Client(
            CallbackAPIVersion.VERSION2, client_id=t.client_id, protocol=paho.MQTTv311
        )
        if t.username is not None:
            client.username_pw_set(t.username, t.password)
        if t.tls:
            client.tls_set(ca_certs=str(t.ca_file) if t.ca_file else None)
        try:
            client.connect(t.host, t.port, keepalive=30)
        except (OSError, ssl.SSLError) as exc:
            raise PublishError(f"broker {t.host}:{t.port} unreachable: {exc}") from None
        client.loop_start()
        try:
            infos = [
                client.publish(m.topic, m.payload, qos=m.qos, retain=m.retain) for m in messages
            ]
            for info in infos:
                try:
                    info.wait_for_publish(timeout=PUBLISH_TIMEOUT_S)
                except (RuntimeError, ValueError) as exc:
                    raise PublishError(f"broker {t.host}:{t.port}: publish failed: {exc}") from None
                if not info.is_published():
                    raise PublishError(
                        f"broker {t.host}:{t.port}: no acknowledgement in {PUBLISH_TIMEOUT_S} s"
                    )
        finally:
            client.disconnect()
            client.loop_stop()
