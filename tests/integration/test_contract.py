"""The MQTT contract, both sides at once: what the agent sends, the gateway accepts, and back.

The agent (``edge_agent.payloads``) and the gateway (``gateway.schemas``/``gateway.ingest``)
implement DESIGN.md's payloads independently and never import each other; this test is
where they meet. Payloads come from a real agent run on the simulator, not hand-written.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from edge_agent.bootstrap import build_agent
from edge_agent.config import AgentSettings, OutboxSettings
from edge_agent.payloads import ConfigUpdate, events_payload, occupancy_payload
from edge_agent.sources.store_sim import StoreSimSource
from gateway.api.config_push import ZoneConfig, config_payload
from gateway.ingest import EventBatch, Limits, OccupancyRecord, StatusRecord, classify
from hardware.simulator import SimConfig, SimulatedStore, default_store

STORE, AGENT = "krakow-01", "entrance-a"
TOPIC = f"footfall/v1/{STORE}/{AGENT}"


@pytest.fixture(scope="module")
def agent_run(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A real agent, fed 10 simulated minutes, without MQTT: its outbox holds the events."""
    settings = AgentSettings(
        store_id=STORE,
        agent_id=AGENT,
        site_secret="k3Jx9vQpLm2RtZ8wYh4NcB7sDf6Ga1Ue",
        outbox=OutboxSettings(path=tmp_path_factory.mktemp("outbox") / "outbox.sqlite"),
        sensor_zones=default_store().sensor_zones(),
    )
    agent = build_agent(settings, with_mqtt=False)
    store = SimulatedStore(config=SimConfig(duration_s=600.0), seed=11)
    source = StoreSimSource(store, settings.site_secret.get_secret_value(), speed=None)

    async def main() -> Any:
        return await agent.run([source], asyncio.Event(), exit_when_done=True)

    result = asyncio.run(main())
    assert result.events > 0
    return agent


def test_every_event_the_agent_sends_is_accepted_with_its_id(agent_run: Any) -> None:
    """A batch built from the agent's outbox passes the gateway's validation unchanged."""
    items = agent_run.outbox.peek(500)
    payload = events_payload(STORE, AGENT, items[-1].created_s, items)
    outcome = classify(f"{TOPIC}/events", payload, datetime.now(UTC), Limits())
    assert isinstance(outcome, EventBatch), outcome
    assert [e.event_id for e in outcome.events] == [f"{AGENT}:{i.seq:012d}" for i in items]


def test_status_with_counters_is_accepted(agent_run: Any) -> None:
    """The agent's retained status, nested counters included, is a valid status payload."""
    now_s = datetime.now(UTC).timestamp()
    outcome = classify(f"{TOPIC}/status", agent_run.status(now_s), datetime.now(UTC), Limits())
    assert isinstance(outcome, StatusRecord), outcome
    offline = agent_run.status(now_s, online=False)
    assert isinstance(
        classify(f"{TOPIC}/status", offline, datetime.now(UTC), Limits()), StatusRecord
    )


def test_occupancy_is_accepted(agent_run: Any) -> None:
    """Per-zone counts from the tracker make a valid occupancy payload."""
    now_s = datetime.now(UTC).timestamp()
    counts = {"entrance": 3, "shoes": 1}
    payload = occupancy_payload(STORE, AGENT, now_s, counts)
    outcome = classify(f"{TOPIC}/occupancy", payload, datetime.now(UTC), Limits())
    assert isinstance(outcome, OccupancyRecord), outcome


def test_config_the_gateway_pushes_is_what_the_agent_accepts(tmp_path: Path) -> None:
    """Zones pushed by the API parse as the agent's ConfigUpdate, in order, with the version."""
    version, payload = config_payload([ZoneConfig("entrance", -65.0), ZoneConfig("store", -88.0)])
    update = ConfigUpdate.model_validate_json(payload)
    assert update.version == version
    assert [z.name for z in update.zones or ()] == ["entrance", "store"]
