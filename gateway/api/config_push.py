"""Zones to the agents: the retained ``footfall/v1/{store}/{agent}/config`` message.

The payload is the agent's ``ConfigUpdate`` (schema 1): ``version`` plus the store's
zones in order (nearest first). The version is a hash of the zones, so pushing the same
zones twice sends the same message, and an agent echoes the version it applied on its
``status``. Zones are per store: every agent of the store gets the same list.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from gateway.api.mqtt import Message, PublishError

_LOGGER = logging.getLogger(__name__)

SCHEMA_VERSION = 1


class Publisher(Protocol):
    def publish(self, messages: Sequence[Message]) -> None: ...


@dataclass(frozen=True, slots=True)
class ZoneConfig:
    name: str
    min_rssi_dbm: float


@dataclass(frozen=True, slots=True)
class PushResult:
    pushed: bool
    version: str | None
    agents: tuple[str, ...]
    error: str | None = None


def config_topic(topic_root: str, store_id: str, agent_id: str) -> str:
    return f"{topic_root}/{store_id}/{agent_id}/config"


def config_payload(zones: Sequence[ZoneConfig]) -> tuple[str, bytes]:
    """The version and the JSON bytes of a config carrying ``zones`` (in the order given)."""
    body = [{"name": z.name, "min_rssi_dbm": z.min_rssi_dbm} for z in zones]
    digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
    version = f"zones-{digest[:12]}"
    payload = {"schema": SCHEMA_VERSION, "version": version, "zones": body}
    return version, json.dumps(payload, separators=(",", ":"), allow_nan=False).encode()


def push_zones(
    publisher: Publisher | None,
    topic_root: str,
    store_id: str,
    agent_ids: Sequence[str],
    zones: Sequence[ZoneConfig],
) -> PushResult:
    """Publish the store's zones to each of its agents; never raises (the result says why)."""
    agents = tuple(agent_ids)
    if publisher is None:
        return PushResult(False, None, agents, "config push is off")
    if not zones:
        return PushResult(False, None, agents, "the store has no zones; agents keep theirs")
    version, payload = config_payload(zones)
    if not agents:
        return PushResult(False, version, agents, "no agent of this store has reported yet")
    messages = [Message(config_topic(topic_root, store_id, a), payload) for a in agents]
    try:
        publisher.publish(messages)
    except PublishError as exc:
        _LOGGER.warning("config %s for store %s not pushed: %s", version, store_id, exc)
        return PushResult(False, version, agents, str(exc))
    _LOGGER.info("config %s pushed to %d agent(s) of store %s", version, len(agents), store_id)
    return PushResult(True, version, agents)
