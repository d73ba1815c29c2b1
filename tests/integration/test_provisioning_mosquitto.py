"""Provisioned credentials and ACL lines confine an agent to its own topics on a real Mosquitto."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from edge_agent.provisioning import gateway_acl_block, mosquitto_password_line, provision_agent
from tests.support.mosquitto import Mosquitto, mosquitto_available

pytestmark = pytest.mark.mosquitto


@pytest.fixture
def acl_broker(tmp_path: Path) -> Iterator[tuple[Mosquitto, dict[str, str]]]:
    if not mosquitto_available():
        pytest.skip("mosquitto is not installed (.ci/run installs it)")
    a = provision_agent("krakow-01", "entrance-a", password_bytes=b"a" * 18, salt=b"s" * 12)
    b = provision_agent("krakow-01", "shoes-b", password_bytes=b"b" * 18, salt=b"t" * 12)
    gw_line = mosquitto_password_line("gateway", "gw-secret-123", b"g" * 12)
    workdir = tmp_path / "broker"
    workdir.mkdir()
    (workdir / "passwd").write_text("\n".join([a.password_line, b.password_line, gw_line]) + "\n")
    acl = "\n".join([a.acl_block, b.acl_block, gateway_acl_block("gateway")])
    (workdir / "acl").write_text(acl)
    broker = Mosquitto(
        workdir,
        extra_conf=[
            "allow_anonymous false",
            f"password_file {workdir / 'passwd'}",
            f"acl_file {workdir / 'acl'}",
        ],
    )
    broker.start()
    users = {a.username: a.password, b.username: b.password, "gateway": "gw-secret-123"}
    yield broker, users
    broker.stop()


@contextmanager
def client(port: int, username: str, password: str) -> Iterator[tuple[mqtt.Client, list[str]]]:
    """A connected MQTT 5 client that records the topics of what it receives."""
    received: list[str] = []
    connected = threading.Event()
    outcome: list[ReasonCode] = []
    c = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    c.username_pw_set(username, password)

    def on_connect(_c: mqtt.Client, _u: object, _f: object, rc: ReasonCode, _p: object) -> None:
        outcome.append(rc)
        connected.set()

    c.on_connect = on_connect
    c.on_message = lambda _c, _u, msg: received.append(msg.topic)
    c.connect("127.0.0.1", port)
    c.loop_start()
    try:
        assert connected.wait(5), "no CONNACK in 5 s"
        if outcome[0].is_failure:
            raise ConnectionRefusedError(str(outcome[0]))
        yield c, received
    finally:
        c.loop_stop()
        c.disconnect()


def _subscribe(c: mqtt.Client, topic: str) -> None:
    done = threading.Event()
    c.on_subscribe = lambda *_args: done.set()
    c.subscribe(topic, qos=1)
    assert done.wait(5)


def test_agent_publishes_only_under_its_own_topic(
    acl_broker: tuple[Mosquitto, dict[str, str]],
) -> None:
    """The gateway receives an agent's own events but never what it sends under another agent."""
    broker, users = acl_broker
    agent_user = "agent-krakow-01-entrance-a"
    with client(broker.port, "gateway", users["gateway"]) as (gw, seen):
        _subscribe(gw, "footfall/v1/#")
        with client(broker.port, agent_user, users[agent_user]) as (forger, _):
            info = forger.publish("footfall/v1/krakow-01/shoes-b/events", b"forged", qos=1)
            # Mosquitto either acknowledges with "not authorized" or drops the connection.
            with contextlib.suppress(RuntimeError):
                info.wait_for_publish(5)
        with client(broker.port, agent_user, users[agent_user]) as (agent, _):
            agent.publish(
                "footfall/v1/krakow-01/entrance-a/events", b"own", qos=1
            ).wait_for_publish(5)
            threading.Event().wait(1.0)
    assert seen == ["footfall/v1/krakow-01/entrance-a/events"]


def test_agent_cannot_read_another_agents_topics(
    acl_broker: tuple[Mosquitto, dict[str, str]],
) -> None:
    """An agent subscribed to everything hears only its own config, not another agent's events."""
    broker, users = acl_broker
    with (
        client(broker.port, "agent-krakow-01-entrance-a", users["agent-krakow-01-entrance-a"]) as (
            spy,
            heard,
        ),
        client(broker.port, "agent-krakow-01-shoes-b", users["agent-krakow-01-shoes-b"]) as (b, _),
        client(broker.port, "gateway", users["gateway"]) as (gw, _),
    ):
        _subscribe(spy, "footfall/v1/#")
        b.publish("footfall/v1/krakow-01/shoes-b/events", b"b's events", qos=1).wait_for_publish(5)
        gw.publish("footfall/v1/krakow-01/shoes-b/config", b"{}", qos=1).wait_for_publish(5)
        gw.publish("footfall/v1/krakow-01/entrance-a/config", b"{}", qos=1).wait_for_publish(5)
        threading.Event().wait(1.0)
    assert heard == ["footfall/v1/krakow-01/entrance-a/config"]


def test_wrong_password_is_refused(acl_broker: tuple[Mosquitto, dict[str, str]]) -> None:
    """The broker refuses an agent whose password is not the provisioned one."""
    broker, _ = acl_broker
    with (
        pytest.raises(ConnectionRefusedError),
        client(broker.port, "agent-krakow-01-entrance-a", "not-the-password"),
    ):
        pass
