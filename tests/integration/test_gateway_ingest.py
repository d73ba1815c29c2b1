"""The ingest process on a real Mosquitto and real databases: exactly-once storage under load,
SIGKILL, a shared subscription, and garbage on the wire."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from gateway.migrate import upgrade
from tests.integration.gateway_load import (
    ROOT,
    Message,
    Stream,
    build_stream,
    publish,
)
from tests.support.mosquitto import Mosquitto

FOOTFALL = str(Path(sys.executable).parent / "footfall")


@pytest.fixture(scope="module")
def stream() -> Stream:
    """100k events from 20 agents in 4 stores, 1 % malformed payloads mixed in (seeded)."""
    return build_stream(
        events=100_000, agents=20, stores=4, per_message=50, malformed_fraction=0.01
    )


class Gateway:
    """``footfall gateway ingest`` as a child process, its log in a file."""

    def __init__(self, url: str, broker: Mosquitto, log: Path, *args: str) -> None:
        self.log = log
        with log.open("wb") as sink:  # the child keeps its own descriptor
            self.proc = self._start(url, broker, sink, args)

    @staticmethod
    def _start(
        url: str, broker: Mosquitto, sink: Any, args: tuple[str, ...]
    ) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [
                FOOTFALL,
                "--log-level",
                "INFO",
                "gateway",
                "ingest",
                "--database-url",
                url,
                "--port",
                str(broker.port),
                *args,
            ],
            stdout=subprocess.DEVNULL,
            stderr=sink,
            env={**os.environ, "FOOTFALL_GATEWAY_VISITS_EVERY_S": "1"},
        )

    def wait_subscribed(self, timeout_s: float = 30.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if "subscribed to" in self.log.read_text(errors="replace"):
                return
            if self.proc.poll() is not None:
                raise AssertionError(f"gateway exited: {self.log.read_text()}")
            time.sleep(0.05)
        raise AssertionError(f"gateway did not subscribe: {self.log.read_text()}")

    def wait(self, timeout_s: float = 240.0) -> int:
        rc = self.proc.wait(timeout_s)
        assert rc == 0, self.log.read_text()
        line = [x for x in self.log.read_text().splitlines() if x.startswith("stored ")][-1]
        return int(line.split()[1])

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)


@pytest.fixture
def migrated(request: pytest.FixtureRequest) -> str:
    url: str = request.getfixturevalue(request.param)
    upgrade(url)
    return url


def count(url: str, sql: str, **params: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text(sql), params).scalar_one())
    finally:
        engine.dispose()


def assert_stored_exactly(url: str, stream: Stream) -> None:
    """Every valid event once, every malformed payload dead-lettered with its reason."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            ids = [r[0] for r in conn.execute(text("SELECT event_id FROM presence_events"))]
            reasons = Counter(
                r[0]
                for r in conn.execute(
                    text("SELECT reason FROM dead_letters WHERE topic LIKE 'footfall/v1/store-%'")
                )
            )
            dirty = conn.execute(text("SELECT COUNT(*) FROM visit_dirty")).scalar_one()
            visits = conn.execute(text("SELECT COUNT(*), SUM(agent_count) FROM store_visits")).one()
    finally:
        engine.dispose()
    assert len(ids) == len(set(ids))
    assert set(ids) == stream.event_ids
    assert reasons == Counter(m.expected_reason for m in stream.malformed)
    assert dirty == 0
    assert visits[0] > 1000
    assert visits[1] > visits[0]  # several agents saw most visits: they were merged


BACKENDS = [
    pytest.param("sqlite_url", id="sqlite"),
    pytest.param("postgres_url", id="postgres", marks=pytest.mark.postgres),
]


@pytest.mark.slow
@pytest.mark.mosquitto
@pytest.mark.parametrize("migrated", BACKENDS, indirect=True)
def test_100k_events_with_malformed_stored_exactly_once(
    migrated: str, mosquitto: Mosquitto, stream: Stream, tmp_path: Path
) -> None:
    """100k events, 20 agents, 1 % malformed: valid ones stored once, bad ones dead-lettered."""
    gw = Gateway(
        migrated,
        mosquitto,
        tmp_path / "gw.log",
        "--client-id",
        f"gw-{tmp_path.name}",
        "--exit-when-idle",
        "2",
    )
    gw.wait_subscribed()
    publish("127.0.0.1", mosquitto.port, stream.messages)
    assert gw.wait() == len(stream.event_ids)
    assert_stored_exactly(migrated, stream)


@pytest.mark.slow
@pytest.mark.mosquitto
@pytest.mark.parametrize("migrated", BACKENDS, indirect=True)
def test_sigkill_mid_stream_then_restart_loses_and_duplicates_nothing(
    migrated: str, mosquitto: Mosquitto, stream: Stream, tmp_path: Path
) -> None:
    """A gateway SIGKILLed mid-stream and restarted stores exactly what an undisturbed one does."""
    client_id = f"gw-kill-{tmp_path.name}"
    first = Gateway(migrated, mosquitto, tmp_path / "gw1.log", "--client-id", client_id)
    first.wait_subscribed()
    publisher = threading.Thread(
        target=publish, args=("127.0.0.1", mosquitto.port, stream.messages)
    )
    publisher.start()
    deadline = time.monotonic() + 120
    stored = 0
    while time.monotonic() < deadline:
        stored = count(migrated, "SELECT COUNT(*) FROM presence_events")
        if stored >= 20_000:
            break
        time.sleep(0.02)
    first.kill()
    killed_at = count(migrated, "SELECT COUNT(*) FROM presence_events")
    assert 0 < killed_at < len(stream.event_ids), "the kill must land mid-stream"
    publisher.join(120)
    second = Gateway(
        migrated, mosquitto, tmp_path / "gw2.log", "--client-id", client_id, "--exit-when-idle", "2"
    )
    second.wait()
    assert_stored_exactly(migrated, stream)


@pytest.mark.slow
@pytest.mark.mosquitto
@pytest.mark.postgres
@pytest.mark.parametrize("migrated", ["postgres_url"], indirect=True)
def test_two_gateways_on_a_shared_subscription_split_the_stream(
    migrated: str, mosquitto: Mosquitto, stream: Stream, tmp_path: Path
) -> None:
    """Two gateways in one $share group each take part of the stream and together store it once."""
    group = f"grp-{tmp_path.name}"
    gws = [
        Gateway(
            migrated,
            mosquitto,
            tmp_path / f"gw{i}.log",
            "--client-id",
            f"{group}-{i}",
            "--shared-group",
            group,
            "--exit-when-idle",
            "3",
        )
        for i in range(2)
    ]
    for gw in gws:
        gw.wait_subscribed()
    assert "$share/" in gws[0].log.read_text()
    publish("127.0.0.1", mosquitto.port, stream.messages)
    shares = [gw.wait() for gw in gws]
    assert all(n > 0 for n in shares), shares
    assert sum(shares) == len(stream.event_ids)
    assert_stored_exactly(migrated, stream)


@pytest.mark.mosquitto
@pytest.mark.parametrize("migrated", ["sqlite_url"], indirect=True)
def test_garbage_on_the_wire_never_stops_the_stream(
    migrated: str, mosquitto: Mosquitto, tmp_path: Path
) -> None:
    """Random bytes, deep nesting and huge strings are dead-lettered; what follows is stored."""
    rng = random.Random(1234)
    store, agent = f"fuzz-{rng.randrange(10**6)}", "agent-x"
    topic = f"{ROOT}/{store}/{agent}/events"
    garbage = [rng.randbytes(rng.randrange(1, 2000)) for _ in range(40)]
    garbage += [
        b"[" * 100_000,
        b'{"schema":1,"events":"' + "é".encode() * 100_000 + b'"}',
        b"\x00" * 10,
    ]
    garbage += [
        json.dumps(
            {"schema": 1, "store_id": store, "agent_id": agent, "sent_at": 5, "events": [1]}
        ).encode()
    ]
    valid = json.dumps(
        {
            "schema": 1,
            "store_id": store,
            "agent_id": agent,
            "sent_at": "2026-11-23T10:00:00.000Z",
            "events": [
                {
                    "event_id": f"{agent}:000000000001",
                    "seq": 1,
                    "kind": "visit_start",
                    "ts": "2026-11-23T09:59:59.000Z",
                    "device_key": "dk1_fuzzfuzz",
                    "id_class": "wifi_randomized",
                }
            ],
        }
    ).encode()
    status = json.dumps(
        {
            "schema": 1,
            "state": "online",
            "version": "9.9",
            "uptime_s": 5.0,
            "counters": {"outbox_depth": 3},
        }
    ).encode()
    occupancy = json.dumps(
        {
            "schema": 1,
            "store_id": store,
            "agent_id": agent,
            "at": "2026-11-23T10:00:00.000Z",
            "zones": {"shoes": 4},
        }
    ).encode()
    gw = Gateway(
        migrated,
        mosquitto,
        tmp_path / "gw.log",
        "--client-id",
        f"gw-{store}",
        "--exit-when-idle",
        "1.5",
    )
    gw.wait_subscribed()
    messages = [Message(topic, g) for g in garbage]
    messages += [
        Message(topic, valid),
        Message(f"{ROOT}/{store}/{agent}/status", status),
        Message(f"{ROOT}/{store}/{agent}/occupancy", occupancy),
    ]
    publish("127.0.0.1", mosquitto.port, messages, client_id=f"pub-{store}")
    assert gw.wait() == 1
    where = {"store": store}
    assert count(migrated, "SELECT COUNT(*) FROM dead_letters WHERE topic = :t", t=topic) == len(
        set(garbage)
    )
    assert (
        count(migrated, "SELECT COUNT(*) FROM presence_events WHERE store_id = :store", **where)
        == 1
    )
    assert (
        count(
            migrated,
            "SELECT COUNT(*) FROM agents WHERE store_id = :store AND online AND version = '9.9'",
            **where,
        )
        == 1
    )
    assert (
        count(migrated, "SELECT SUM(device_count) FROM occupancy WHERE store_id = :store", **where)
        == 4
    )
    assert (
        count(migrated, "SELECT COUNT(*) FROM store_visits WHERE store_id = :store", **where) == 1
    )
