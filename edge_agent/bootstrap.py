"""Composition root for the agent: settings in, a wired :class:`Agent` and its sources out.

Tests wire their own sources (any object of the :class:`~edge_agent.sources.Source`
shape) and may leave MQTT out; the CLI calls :func:`build_agent` and
:func:`build_sources` with what the user asked for.
"""

from __future__ import annotations

import dataclasses
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from edge_agent import __version__
from edge_agent.agent import Agent
from edge_agent.config import AgentSettings
from edge_agent.mqtt import MqttLink
from edge_agent.outbox import Outbox
from edge_agent.payloads import status_payload
from edge_agent.pipeline import Pipeline, make_tracker
from edge_agent.sources import Source, SourceError
from edge_agent.sources.replay import ReplaySource, SightingRecorder
from edge_agent.sources.synthetic import SyntheticSource, SyntheticStore

__all__ = ["SourceChoice", "build_agent", "build_sources", "sensor_zones_for"]


@dataclass(frozen=True, slots=True)
class SourceChoice:
    """What ``footfall agent run`` was asked to listen to."""

    replay: Path | None = None
    simulate: bool = False
    speed: float | None = 1.0
    """Stream seconds per wall second for replay/simulate; ``None``: as fast as possible."""
    sim: str = "store"
    """``store``: ``hardware.simulator`` (floor plan, shoppers, real decoders);
    ``synthetic``: the light vectorised generator (benchmarks, load tests)."""
    seed: int = 1
    duration_s: float = 600.0
    arrivals_per_s: float = 0.5
    start_s: float | None = None


def build_sources(settings: AgentSettings, choice: SourceChoice) -> list[Source]:
    """Replay or simulation if asked for, else the radios enabled in the settings."""
    if choice.replay is not None:
        return [
            ReplaySource(
                choice.replay,
                speed=choice.speed,
                site_secret=settings.site_secret.get_secret_value(),
                sensor_id=settings.agent_id,
            )
        ]
    if choice.simulate and choice.sim == "store":
        from edge_agent.sources.store_sim import StoreSimSource
        from hardware.simulator import SimConfig, SimulatedStore

        config = SimConfig(duration_s=choice.duration_s)
        if choice.start_s is not None:
            config = dataclasses.replace(config, start_ts_s=choice.start_s)
        sim_store = SimulatedStore(config=config, seed=choice.seed)
        return [
            StoreSimSource(sim_store, settings.site_secret.get_secret_value(), speed=choice.speed)
        ]
    if choice.simulate:
        store = SyntheticStore(
            seed=choice.seed,
            duration_s=choice.duration_s,
            arrivals_per_s=choice.arrivals_per_s,
            sensor_id=settings.agent_id,
        )
        if choice.start_s is not None:
            store = dataclasses.replace(store, start_s=choice.start_s)
        return [SyntheticSource(store, speed=choice.speed)]
    sources: list[Source] = []
    if settings.sources.ble.enabled:
        from edge_agent.sources.ble import BleSource

        sources.append(BleSource(settings))
    if settings.sources.wifi.enabled:
        from edge_agent.sources.wifi import WifiSource

        sources.append(WifiSource(settings))
    if not sources:
        raise SourceError(
            "no source: enable [sources.ble] or [sources.wifi] in the config, "
            "or pass --replay FILE or --simulate"
        )
    return sources


def sensor_zones_for(settings: AgentSettings, choice: SourceChoice) -> dict[str, str]:
    """Sensor -> zone for the tracker: the config's, else the simulator's floor plan, else
    the layout saved in a replayed simulator run, else this agent's radio -> first zone."""
    if settings.sensor_zones:
        return dict(settings.sensor_zones)
    if choice.simulate and choice.sim == "store":
        from hardware.simulator import default_store

        return default_store().sensor_zones()
    if choice.replay is not None and (choice.replay / "layout.json").is_file():
        import json

        from hardware.simulator import FloorPlan

        layout = json.loads((choice.replay / "layout.json").read_text(encoding="utf-8"))
        return FloorPlan.from_json(layout).sensor_zones()
    return settings.effective_sensor_zones


def build_agent(
    settings: AgentSettings,
    *,
    with_mqtt: bool = True,
    outbox_path: Path | None = None,
    record: Path | None = None,
    sensor_zones: Mapping[str, str] | None = None,
    clock: Callable[[], float] = time.time,
    rng: random.Random | None = None,
) -> Agent:
    """Open the outbox, build the pipeline and (optionally) the MQTT link."""
    outbox = Outbox(
        outbox_path or settings.outbox.path,
        max_events=settings.outbox.max_events,
        when_full=settings.outbox.when_full,
    )
    pipeline = Pipeline(
        make_tracker(
            settings.tracker,
            settings.zones,
            settings.thresholds,
            settings.effective_sensor_zones if sensor_zones is None else sensor_zones,
            settings.fingerprints,
        )
    )
    agent = Agent(
        settings,
        outbox=outbox,
        pipeline=pipeline,
        link=None,
        version=__version__,
        clock=clock,
        recorder=None if record is None else SightingRecorder(record),
    )
    if with_mqtt:
        agent.link = MqttLink(
            settings.mqtt,
            client_id=f"footfall-{settings.store_id}-{settings.agent_id}",
            store_id=settings.store_id,
            agent_id=settings.agent_id,
            outbox=outbox,
            will_payload=status_payload(online=False, version=__version__, now_s=clock()),
            on_config=agent.offer_config,
            clock=clock,
            rng=rng,
        )
    return agent
