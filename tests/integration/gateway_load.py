"""A seeded event stream for the gateway's integration tests and benchmark.

:func:`build_stream` makes ``events`` presence events from ``agents`` agents
(spread over a few stores, agents of one store seeing the same devices) as
``events`` payloads of ``per_message`` events each, plus a fraction of malformed
payloads of every kind the gateway must dead-letter, each with the reason it
should get. :func:`publish` pushes a stream through a real broker at QoS 1.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

ROOT = "footfall/v1"
BASE_TS = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
ZONES = ("entrance", "shoes", "coats", "tills", "kids")


@dataclass(frozen=True, slots=True)
class Message:
    topic: str
    payload: bytes
    expected_reason: str | None = None
    """``None`` for a valid payload, else the dead-letter reason the gateway must give."""


@dataclass
class Stream:
    messages: list[Message] = field(default_factory=list)
    event_ids: set[str] = field(default_factory=set)

    @property
    def malformed(self) -> list[Message]:
        return [m for m in self.messages if m.expected_reason is not None]


def _ts(offset_s: float) -> str:
    t = BASE_TS + timedelta(seconds=offset_s)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def _store_visits(
    rng: random.Random, store: str, count: int, devices: int
) -> list[list[tuple[float, str, float]]]:
    """``count`` visits to one store: each a list of (enter_s, zone, dwell_s), back to back."""
    visits = []
    t = rng.uniform(0, 60)
    for _ in range(count):
        device_t = t
        stays = []
        for _ in range(rng.randrange(1, 4)):
            dwell = rng.uniform(5, 400)
            stays.append((device_t, rng.choice(ZONES), dwell))
            device_t += dwell
        visits.append(stays)
        t += rng.uniform(0.5, 3.0)
    return visits


def _agent_events(
    rng: random.Random,
    agent_id: str,
    count: int,
    visits: Sequence[list[tuple[float, str, float]]],
    devices: Sequence[tuple[str, str]],
) -> list[dict[str, Any]]:
    """What one agent reports of its store's visits: it sees ~60 %, with its own clock jitter."""
    out: list[dict[str, Any]] = []
    for (device, id_class), stays in zip(devices, visits, strict=True):
        if len(out) >= count:
            break
        if rng.random() > 0.6:
            continue
        jitter = rng.uniform(-3, 3)
        start = stays[0][0] + jitter
        evs: list[dict[str, Any]] = [
            {"kind": "visit_start", "ts": start, "zone": None, "dwell_s": None, "zones": None}
        ]
        end = start
        for enter, zone, dwell in stays:
            evs.append(
                {
                    "kind": "zone_enter",
                    "ts": enter + jitter,
                    "zone": zone,
                    "dwell_s": None,
                    "zones": None,
                }
            )
            end = enter + jitter + dwell
            evs.append(
                {"kind": "zone_exit", "ts": end, "zone": zone, "dwell_s": dwell, "zones": None}
            )
        evs.append(
            {
                "kind": "visit_end",
                "ts": end,
                "zone": None,
                "dwell_s": end - start,
                "zones": [z for _, z, _ in stays],
            }
        )
        for ev in evs:
            ev.update(
                device_key=device, id_class=id_class, rssi_dbm=round(rng.uniform(-95, -40), 1)
            )
            ev["reason"] = "threshold"
        out.extend(evs)
    if len(out) < count:
        raise ValueError(
            f"agent {agent_id} saw only {len(out)} events, wanted {count}: more visits"
        )
    del out[count:]
    out.sort(key=lambda e: e["ts"])
    for seq, ev in enumerate(out, start=1):
        ev["seq"] = seq
        ev["event_id"] = f"{agent_id}:{seq:012d}"
        ev["ts"] = _ts(ev["ts"])
        if ev["dwell_s"] is not None:
            ev["dwell_s"] = round(ev["dwell_s"], 3)
    return out


def _payload(store: str, agent: str, events: Sequence[dict[str, Any]], sent: float) -> bytes:
    body = {
        "schema": 1,
        "store_id": store,
        "agent_id": agent,
        "sent_at": _ts(sent),
        "events": list(events),
    }
    return json.dumps(body, separators=(",", ":")).encode()


def agent_names(agents: int, stores: int) -> list[tuple[str, str]]:
    return [(f"store-{i % stores:02d}", f"agent-{i:02d}") for i in range(agents)]


def build_stream(
    *,
    events: int = 100_000,
    agents: int = 20,
    stores: int = 4,
    per_message: int = 50,
    malformed_fraction: float = 0.01,
    devices_per_store: int = 20_000,
    seed: int = 7,
) -> Stream:
    """The whole stream, agents interleaved, malformed payloads sprinkled in (seeded)."""
    rng = random.Random(seed)
    stream = Stream()
    per_agent = events // agents
    names = agent_names(agents, stores)
    agents_per_store = max(1, agents // stores)
    n_visits = int(per_agent / 6 / 0.6 * 1.3) + 10  # ~6 events a visit, each agent sees 60 %
    store_visits = {}
    store_devices = {}
    for store in sorted({s for s, _ in names}):
        store_visits[store] = _store_visits(rng, store, n_visits, devices_per_store)
        store_devices[store] = [
            (
                f"dk1_{store[-2:]}{rng.randrange(devices_per_store):08x}",
                "personal_beacon" if rng.random() < 0.5 else "wifi_global",
            )
            for _ in range(n_visits)
        ]
    del agents_per_store
    queues: list[list[Message]] = []
    for store, agent in names:
        evs = _agent_events(rng, agent, per_agent, store_visits[store], store_devices[store])
        stream.event_ids.update(e["event_id"] for e in evs)
        msgs = []
        for i in range(0, len(evs), per_message):
            chunk = evs[i : i + per_message]
            msgs.append(
                Message(f"{ROOT}/{store}/{agent}/events", _payload(store, agent, chunk, 7200.0 + i))
            )
        queues.append(msgs)
    valid = [m for q in queues for m in q]
    # Interleave agents the way a broker would see them.
    order: list[Message] = []
    while any(queues):
        for q in queues:
            if q:
                order.append(q.pop(0))
    n_bad = max(1, round(len(valid) * malformed_fraction)) if malformed_fraction > 0 else 0
    bad = [_malformed(rng, i, agent_names(agents, stores)) for i in range(n_bad)]
    for m in bad:
        order.insert(rng.randrange(len(order) + 1), m)
    stream.messages = order
    return stream


def _malformed(rng: random.Random, i: int, names: Sequence[tuple[str, str]]) -> Message:
    """The ``i``-th malformed payload: kinds in rotation, each one unique (its index inside)."""
    store, agent = names[i % len(names)]
    topic = f"{ROOT}/{store}/{agent}/events"
    seq = 10_000_000 + i
    good = {
        "event_id": f"{agent}:{seq:012d}",
        "seq": seq,
        "kind": "zone_exit",
        "ts": _ts(100.0 + i),
        "device_key": f"dk1_bad{i:06d}",
        "id_class": "wifi_global",
        "zone": "shoes",
        "dwell_s": 12.5,
        "zones": None,
        "rssi_dbm": -70.0,
        "reason": "x",
    }

    def with_event(**changes: Any) -> bytes:
        ev = {**good, **changes}
        ev = {k: v for k, v in ev.items() if v is not ...}
        return _payload(store, agent, [ev], 200.0 + i)

    kind = i % 10
    if kind == 0:
        return Message(topic, f"not json {i} {{".encode(), "not_json")
    if kind == 1:
        body = json.loads(with_event())
        body["schema"] = 2
        return Message(topic, json.dumps(body).encode(), "schema_version")
    if kind == 2:
        return Message(topic, with_event(seq=str(seq)), "invalid")
    if kind == 3:
        return Message(topic, with_event(dwell_s=-5.0), "invalid")
    if kind == 4:
        return Message(f"{ROOT}/{store}/other-agent/events", with_event(), "topic_mismatch")
    if kind == 5:
        return Message(
            topic,
            with_event(device_key=f"aa:bb:cc:dd:{i // 256 % 256:02x}:{i % 256:02x}"),
            "raw_identifier",
        )
    if kind == 6:
        return Message(topic, with_event(event_id=f"{agent}:{seq}"), "event_id_mismatch")
    if kind == 7:
        return Message(topic, with_event(dwell_s=...), "invalid")
    if kind == 8:
        return Message(topic, with_event(reason="x" * (300 * 1024)), "oversized")
    return Message(topic, json.dumps([i, "array"]).encode(), "not_object")


def publish(
    host: str,
    port: int,
    messages: Sequence[Message],
    *,
    client_id: str = "footfall-load",
    inflight: int = 500,
    timeout_s: float = 120.0,
) -> float:
    """Publish at QoS 1 and wait for every PUBACK; returns the seconds it took."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    client = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5
    )
    client.max_inflight_messages_set(inflight)
    client.max_queued_messages_set(0)
    done = threading.Event()
    acked = 0
    lock = threading.Lock()

    def on_publish(*_a: Any) -> None:
        nonlocal acked
        with lock:
            acked += 1
            if acked == len(messages):
                done.set()

    client.on_publish = on_publish
    client.connect(host, port)
    client.loop_start()
    started = time.monotonic()
    try:
        for m in messages:
            client.publish(m.topic, m.payload, qos=1)
        if not done.wait(timeout_s):
            raise TimeoutError(
                f"only {acked}/{len(messages)} publishes acknowledged in {timeout_s} s"
            )
        return time.monotonic() - started
    finally:
        client.disconnect()
        client.loop_stop()


def publish_status(host: str, port: int, store: str, agent: str) -> None:
    """A retained ``online`` status: once it is in the agents table, a gateway is subscribed."""
    import paho.mqtt.publish as single

    payload = json.dumps({"schema": 1, "state": "online", "version": "test", "at": _ts(0)})
    single.single(
        f"{ROOT}/{store}/{agent}/status", payload, qos=1, retain=True, hostname=host, port=port
    )
