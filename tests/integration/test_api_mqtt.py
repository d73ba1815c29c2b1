"""Zone changes reach the agents' retained config topics, and Home Assistant discovery,
both on a real (private) Mosquitto."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import Engine

from edge_agent.payloads import ConfigUpdate
from gateway.api import ApiSettings, create_app
from gateway.api.homeassistant import AVAILABILITY_TOPIC, HomeAssistantLoop, state_topic
from gateway.api.mqtt import MqttPublisher, MqttTarget
from gateway.db import make_session_factory
from tests.integration.api_seed import fixed_clock, migrated_engine, seed_fleet, seed_keys
from tests.support.mosquitto import Mosquitto, free_port


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def fleet(sqlite_url: str) -> Iterator[tuple[Engine, dict[str, str]]]:
    engine = migrated_engine(sqlite_url)
    keys = seed_keys(engine)
    seed_fleet(engine)
    yield engine, keys
    engine.dispose()


def _retained(port: int, pattern: str, expect: int, timeout_s: float = 5.0) -> dict[str, bytes]:
    """Subscribe and collect retained messages until ``expect`` topics have arrived."""
    got: dict[str, bytes] = {}
    done = threading.Event()
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"t-{uuid.uuid4().hex[:8]}")

    def on_message(_c: Any, _u: Any, msg: Any) -> None:
        if msg.retain:
            got[msg.topic] = msg.payload
        if len(got) >= expect:
            done.set()

    client.on_message = on_message
    client.connect("127.0.0.1", port)
    client.subscribe(pattern, qos=1)
    client.loop_start()
    done.wait(timeout_s)
    client.loop_stop()
    client.disconnect()
    return got


@pytest.fixture
async def pushing_client(
    fleet: tuple[Engine, dict[str, str]], mosquitto: Mosquitto
) -> AsyncIterator[tuple[httpx.AsyncClient, str, dict[str, str]]]:
    engine, keys = fleet
    root = f"footfall-test-{uuid.uuid4().hex[:8]}/v1"
    publisher = MqttPublisher(
        MqttTarget("127.0.0.1", mosquitto.port, f"api-{uuid.uuid4().hex[:6]}")
    )
    app = create_app(
        ApiSettings(),
        make_session_factory(engine),
        publisher=publisher,
        topic_root=root,
        clock=fixed_clock(),
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        yield c, root, keys


@pytest.mark.mosquitto
@pytest.mark.anyio
async def test_zone_change_is_pushed_to_every_agent_as_a_valid_config(
    pushing_client: tuple[httpx.AsyncClient, str, dict[str, str]], mosquitto: Mosquitto
) -> None:
    """Adding a zone publishes the store's zones, in order, to each agent's retained config,
    in the exact form the agent's ConfigUpdate accepts."""
    client, root, keys = pushing_client
    r = await client.post(
        "/api/v1/stores/krakow-01/zones",
        json={"name": "tills", "min_rssi_dbm": -58.0, "position": 0},
        headers={"X-API-Key": keys["technician"]},
    )
    assert r.status_code == 201
    push = r.json()["config_push"]
    assert push["pushed"] is True
    assert push["agents"] == ["back-b", "entrance-a"]
    got = _retained(mosquitto.port, f"{root}/krakow-01/+/config", expect=2)
    assert set(got) == {f"{root}/krakow-01/back-b/config", f"{root}/krakow-01/entrance-a/config"}
    for payload in got.values():
        update = ConfigUpdate.model_validate_json(payload)
        assert update.version == push["version"]
        assert update.zones is not None
        names = [z.name for z in update.zones]
        assert names == ["entrance", "tills", "dairy", "bakery", "checkout"]
        assert update.zones[1].min_rssi_dbm == -58.0
    again = await client.post(
        "/api/v1/stores/krakow-01/config/push", headers={"X-API-Key": keys["technician"]}
    )
    assert again.json()["version"] == push["version"]  # same zones, same version


@pytest.mark.anyio
async def test_broker_down_keeps_the_zone_and_says_why(
    fleet: tuple[Engine, dict[str, str]],
) -> None:
    """With the broker unreachable the zone is still stored and the answer says it was not
    pushed, and why."""
    engine, keys = fleet
    publisher = MqttPublisher(MqttTarget("127.0.0.1", free_port(), "api-down"))
    app = create_app(
        ApiSettings(), make_session_factory(engine), publisher=publisher, clock=fixed_clock()
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        r = await c.post(
            "/api/v1/stores/krakow-01/zones",
            json={"name": "tills"},
            headers={"X-API-Key": keys["technician"]},
        )
        zones = await c.get(
            "/api/v1/stores/krakow-01/zones", headers={"X-API-Key": keys["technician"]}
        )
    assert r.status_code == 201
    assert r.json()["config_push"]["pushed"] is False
    assert "unreachable" in r.json()["config_push"]["error"]
    assert "tills" in [z["name"] for z in zones.json()]


@pytest.mark.mosquitto
def test_home_assistant_discovery_announces_each_zone_with_its_occupancy(
    fleet: tuple[Engine, dict[str, str]], mosquitto: Mosquitto
) -> None:
    """One retained discovery config per zone and the zone's occupancy as its state."""
    engine, _keys = fleet
    prefix = f"ha-{uuid.uuid4().hex[:8]}"
    loop = HomeAssistantLoop(
        MqttPublisher(MqttTarget("127.0.0.1", mosquitto.port, f"ha-{uuid.uuid4().hex[:6]}")),
        make_session_factory(engine),
        prefix,
        every_s=10.0,
        max_age_s=60.0,
        clock=fixed_clock(),
    )
    sent = loop.step()
    assert sent == 4 + 1 + 4  # discovery per zone, availability, a state per zone
    assert loop.step() == 4  # unchanged zones are not announced again
    configs = _retained(mosquitto.port, f"{prefix}/sensor/+/config", expect=4)
    assert len(configs) == 4
    dairy = json.loads(configs[f"{prefix}/sensor/footfall_krakow-01_dairy/config"])
    assert dairy["state_topic"] == state_topic("krakow-01", "dairy")
    assert dairy["unit_of_measurement"] == "devices"
    assert dairy["availability_topic"] == AVAILABILITY_TOPIC
    states = _retained(mosquitto.port, "footfall/ha/krakow-01/+/occupancy", expect=4)
    assert states[state_topic("krakow-01", "dairy")] == b"5"
    assert states[state_topic("krakow-01", "checkout")] == b"0"
