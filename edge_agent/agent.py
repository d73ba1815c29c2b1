"""The agent shell: sources -> pipeline -> outbox -> MQTT link, plus status, occupancy and config.

Imperative shell around :class:`~edge_agent.pipeline.Pipeline`: it gathers
sightings from the sources, lets the pipeline decide, persists the events in the
outbox (one durable commit per flush: every 0.1 s or 500 events, whichever
comes first), wakes the MQTT link, and publishes status/occupancy on a clock
that is passed in.

A finite source (replay, simulation) closes every open visit at its end by
advancing the pipeline past the visit gap, so a capture yields complete visits.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import queue
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from edge_agent.config import AgentSettings, ThresholdSettings, ZoneSettings
from edge_agent.health import Health
from edge_agent.mqtt import LinkStage, MqttLink
from edge_agent.outbox import Outbox
from edge_agent.payloads import (
    ConfigUpdate,
    event_body,
    occupancy_payload,
    rssi_payload,
    status_payload,
)
from edge_agent.pipeline import ClassifiedEvent, Pipeline
from edge_agent.sources import Source
from edge_agent.sources.replay import SightingRecorder
from hardware.observations import Sighting

__all__ = ["Agent", "RunResult"]

_LOGGER = logging.getLogger(__name__)

# Flush pending events to the outbox at least this often (one fsync'd commit each).
FLUSH_INTERVAL_S = 0.1
FLUSH_EVENTS = 500


@dataclass(frozen=True, slots=True)
class RunResult:
    sightings: int
    events: int
    first_seq: int | None
    last_seq: int | None
    outbox_depth: int


class Agent:
    """One running agent; build it with :func:`edge_agent.bootstrap.build_agent`."""

    def __init__(
        self,
        settings: AgentSettings,
        *,
        outbox: Outbox,
        pipeline: Pipeline,
        link: MqttLink | None,
        version: str,
        clock: Callable[[], float] = time.time,
        recorder: SightingRecorder | None = None,
    ) -> None:
        self.settings = settings
        self.outbox = outbox
        self.pipeline = pipeline
        self.link = link
        self.version = version
        self._clock = clock
        self._recorder = recorder
        self.health = Health()
        self._pending: list[ClassifiedEvent] = []
        self._configs: queue.SimpleQueue[bytes] = queue.SimpleQueue()
        self._config_state: dict[str, Any] | None = None
        self._config_version: str | None = None
        self._started_s = clock()
        self._next_status_s = 0.0
        self._next_occupancy_s = self._started_s + settings.status.occupancy_interval_s
        self._last_live_advance_s = 0.0
        self.first_seq: int | None = None
        self.last_seq: int | None = None
        self._sources: Sequence[Source] = ()
        self.zones: tuple[ZoneSettings, ...] = settings.zones
        self.thresholds: ThresholdSettings = settings.thresholds

    # -- the pipeline side --------------------------------------------------------------------

    def handle(self, sighting: Sighting) -> None:
        """One sighting from a source (called on the event loop thread)."""
        if self._recorder is not None:
            self._recorder.write(sighting)
        self.health.count(sighting)
        self._pending.extend(self.pipeline.process(sighting))
        if len(self._pending) >= FLUSH_EVENTS:
            self.flush()

    def advance(self, now_s: float) -> None:
        self._pending.extend(self.pipeline.advance(now_s))

    def flush(self) -> list[int]:
        """Persist pending events (one durable commit) and wake the link."""
        if not self._pending:
            return []
        bodies = [event_body(c.event, c.id_class) for c in self._pending]
        seqs = self.outbox.append(bodies, self._clock())
        self.health.events += len(seqs)
        if len(seqs) < len(bodies):
            self.health.drop("outbox_full_refused", len(bodies) - len(seqs))
        self._pending.clear()
        if seqs:
            self.first_seq = seqs[0] if self.first_seq is None else self.first_seq
            self.last_seq = seqs[-1]
        if self.link is not None:
            self.link.notify()
        return seqs

    # -- config from the broker -----------------------------------------------------------------

    def offer_config(self, payload: bytes) -> None:
        """Called from the MQTT thread; applied on the agent thread by :meth:`apply_configs`."""
        self._configs.put(payload)

    def apply_configs(self) -> None:
        while not self._configs.empty():
            payload = self._configs.get()
            self._apply_config(payload)

    def _apply_config(self, payload: bytes) -> None:
        if not payload:
            return  # a cleared retained message
        try:
            update = ConfigUpdate.model_validate_json(payload)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "(top level)"
            reason = f"{where}: {first['msg']}"
            version = _peek_version(payload)
            _LOGGER.warning("config %s rejected: %s", version, reason)
            self._config_state = {"version": version, "state": "rejected", "reason": reason}
            self._next_status_s = 0.0  # report now
            return
        if update.version == self._config_version:
            return
        zones = update.zones if update.zones is not None else self.zones
        thresholds = update.thresholds if update.thresholds is not None else self.thresholds
        # Applied as one swap: no sighting is ever classified with half a config.
        self.pipeline.tracker.reconfigure(zones, thresholds)
        self.zones, self.thresholds = zones, thresholds
        self._config_version = update.version
        self._config_state = {"version": update.version, "state": "applied"}
        _LOGGER.info("config %s applied (%d zones)", update.version, len(zones))
        self._next_status_s = 0.0

    # -- periodic publications ------------------------------------------------------------------

    def counters(self, now_s: float) -> dict[str, Any]:
        extra: dict[str, Any] = {}
        if self.link is not None:
            extra["mqtt"] = {
                "stage": self.link.stage.value,
                "connects": self.link.counters.connects,
                "auth_failures": self.link.counters.auth_failures,
                "events_acked": self.link.counters.events_acked,
            }
        tracker_drops = {k: v for k, v in self.pipeline.tracker.drop_counts().items() if v}
        if tracker_drops:
            extra["tracker_drops"] = tracker_drops
        for source in self._sources:
            # Sources count what they drop (undecodable frames, non-beacons, hop failures).
            for reason, n in getattr(source, "drops", {}).items():
                extra.setdefault("source_drops", {})[f"{source.name}:{reason}"] = n
        return self.health.snapshot(
            now_s,
            tracked_devices=self.pipeline.tracker.tracked_devices,
            outbox_depth=self.outbox.depth,
            outbox_oldest_s=self.outbox.oldest_created_s(),
            outbox_dropped=self.outbox.dropped,
            extra=extra,
        )

    def status(self, now_s: float, *, online: bool = True) -> bytes:
        return status_payload(
            online=online,
            version=self.version,
            now_s=now_s,
            uptime_s=now_s - self._started_s,
            counters=self.counters(now_s) if online else None,
            config=self._config_state,
        )

    def periodic(self, now_s: float, *, live_clock: bool) -> None:
        """Flush, apply configs, advance time (live sources only), publish what is due."""
        self.apply_configs()
        if live_clock and now_s - self._last_live_advance_s >= 1.0:
            self._last_live_advance_s = now_s
            self.advance(now_s)
        self.flush()
        if self.link is None:
            return
        if now_s >= self._next_status_s:
            self._next_status_s = now_s + self.settings.status.interval_s
            self.link.set_status(self.status(now_s))
        if now_s >= self._next_occupancy_s and self.link.stage is LinkStage.CONNECTED:
            self._next_occupancy_s = now_s + self.settings.status.occupancy_interval_s
            s = self.settings
            self.link.publish_qos0(
                "occupancy",
                occupancy_payload(s.store_id, s.agent_id, now_s, self.pipeline.tracker.occupancy()),
            )
            if s.status.rssi_summaries:
                self.link.publish_qos0(
                    "rssi",
                    rssi_payload(
                        s.store_id, s.agent_id, now_s, self.pipeline.tracker.smoothed_rssi()
                    ),
                )

    # -- the loop -------------------------------------------------------------------------------

    async def run(
        self,
        sources: Sequence[Source],
        stop: asyncio.Event,
        *,
        exit_when_done: bool = True,
        drain_timeout_s: float = 30.0,
    ) -> RunResult:
        """Run until ``stop`` is set, or (``exit_when_done``) the finite sources end and drain."""
        if self.link is not None:
            self.link.set_status(self.status(self._clock()))
            self.link.start()
        self._sources = sources
        live_clock = any(s.live_clock for s in sources)
        tasks = {asyncio.create_task(s.run(self.handle), name=s.name): s for s in sources}
        last_ts = 0.0
        drain_deadline: float | None = None
        try:
            while not stop.is_set():
                done = [t for t in tasks if t.done()]
                for task in done:
                    source = tasks.pop(task)
                    exc = task.exception()
                    if exc is not None:
                        raise exc
                    _LOGGER.info("source %s finished", source.name)
                    if source.finite:
                        last_ts = max(last_ts, self._last_sighting_ts())
                        gap = max(self.thresholds.visit_gap_s, self.thresholds.exit_grace_s)
                        self.advance(last_ts + gap + 1.0)
                self.periodic(self._clock(), live_clock=live_clock)
                if not tasks and exit_when_done:
                    drain_deadline = drain_deadline or time.monotonic() + drain_timeout_s
                    if self.link is None or self.outbox.depth == 0:
                        break
                    if time.monotonic() > drain_deadline:
                        _LOGGER.warning(
                            "exiting with %d events still in the outbox", self.outbox.depth
                        )
                        break
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), FLUSH_INTERVAL_S)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self.flush()
            if self.link is not None:
                self.link.stop(final_status=self.status(self._clock(), online=False))
            if self._recorder is not None:
                self._recorder.close()
        return RunResult(
            sightings=self.pipeline.sightings,
            events=self.pipeline.events,
            first_seq=self.first_seq,
            last_seq=self.last_seq,
            outbox_depth=self.outbox.depth,
        )

    def _last_sighting_ts(self) -> float:
        return self.pipeline.last_ts_s


def _peek_version(payload: bytes) -> str | None:
    try:
        doc = json.loads(payload)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    version = doc.get("version") if isinstance(doc, dict) else None
    return version if isinstance(version, str) else None
