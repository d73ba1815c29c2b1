"""Home Assistant MQTT discovery: each zone's live occupancy as a sensor.

Pure part: :func:`discovery_messages` and :func:`state_messages` build the retained
discovery configs (``<prefix>/sensor/<object_id>/config``) and the state messages.
Thin shell: :class:`HomeAssistantLoop` publishes them every few seconds from the
database (started by ``footfall gateway serve`` when discovery is on). The sensors
carry device counts only, never an identifier.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from gateway.api.config_push import Publisher
from gateway.api.mqtt import Message, PublishError

_LOGGER = logging.getLogger(__name__)

STATE_ROOT = "footfall/ha"
AVAILABILITY_TOPIC = f"{STATE_ROOT}/status"
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


@dataclass(frozen=True, slots=True)
class ZoneSensor:
    store_id: str
    zone: str
    label: str | None = None


def object_id(store_id: str, zone: str) -> str:
    """A discovery object id: only ``[A-Za-z0-9_-]`` (dots in our names become ``_``)."""
    return _UNSAFE.sub("_", f"footfall_{store_id}_{zone}")


def state_topic(store_id: str, zone: str) -> str:
    return f"{STATE_ROOT}/{store_id}/{zone}/occupancy"


def discovery_messages(prefix: str, sensors: Sequence[ZoneSensor]) -> list[Message]:
    """One retained discovery config per zone (a sensor of the store's HA device)."""
    out = []
    for s in sensors:
        oid = object_id(s.store_id, s.zone)
        config = {
            "name": f"{s.label or s.zone} occupancy",
            "unique_id": f"{oid}_occupancy",
            "object_id": f"{oid}_occupancy",
            "state_topic": state_topic(s.store_id, s.zone),
            "availability_topic": AVAILABILITY_TOPIC,
            "unit_of_measurement": "devices",
            "state_class": "measurement",
            "icon": "mdi:account-group",
            "device": {
                "identifiers": [_UNSAFE.sub("_", f"footfall_{s.store_id}")],
                "name": f"Footfall {s.store_id}",
                "manufacturer": "Footfall",
                "model": "store",
            },
        }
        out.append(
            Message(f"{prefix}/sensor/{oid}/config", json.dumps(config, sort_keys=True).encode())
        )
    return out


def state_messages(
    counts: dict[tuple[str, str], int], sensors: Sequence[ZoneSensor]
) -> list[Message]:
    """The occupancy of every sensor's zone (0 when no agent reported it recently)."""
    return [
        Message(
            state_topic(s.store_id, s.zone),
            str(counts.get((s.store_id, s.zone), 0)).encode(),
            qos=0,
            retain=True,
        )
        for s in sensors
    ]


class HomeAssistantLoop:
    """Every ``every_s``: (re)announce the zones when they changed and publish occupancy."""

    def __init__(
        self,
        publisher: Publisher,
        session_factory: sessionmaker[Session],
        prefix: str,
        every_s: float,
        max_age_s: float,
        clock: Callable[[], datetime],
    ) -> None:
        self.publisher = publisher
        self.session_factory = session_factory
        self.prefix = prefix
        self.every_s = every_s
        self.max_age_s = max_age_s
        self.clock = clock
        self._announced: tuple[ZoneSensor, ...] = ()
        self._down = False

    def step(self) -> int:
        """One round; returns how many messages were published."""
        from gateway.api import queries

        with self.session_factory() as session:
            sensors = tuple(
                ZoneSensor(z.store_id, z.name, z.label)
                for s in queries.stores(session)
                for z in queries.zones(session, s.id)
            )
            occupancy = queries.occupancy_now(session, None, self.clock(), self.max_age_s)
        counts = {(o.store_id, o.zone): o.devices for o in occupancy}
        messages = []
        if sensors != self._announced:
            messages += discovery_messages(self.prefix, sensors)
            messages.append(Message(AVAILABILITY_TOPIC, b"online"))
        messages += state_messages(counts, sensors)
        self.publisher.publish(messages)
        self._announced = sensors
        return len(messages)

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self.step()
                if self._down:
                    _LOGGER.info("home assistant: broker back")
                self._down = False
            except PublishError as exc:
                # log once when the broker goes away, DEBUG while it stays down
                if not self._down:
                    _LOGGER.warning("home assistant: %s", exc)
                else:
                    _LOGGER.debug("home assistant: still down: %s", exc)
                self._down = True
                self._announced = ()
            stop.wait(self.every_s)
