"""Store visits, retention and metrics against real SQLite and PostgreSQL (no broker needed)."""

from __future__ import annotations

import json
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from gateway.db import make_engine
from gateway.ingest import Limits, classify
from gateway.metrics import IngestMetrics, MetricsServer
from gateway.migrate import upgrade
from gateway.models import OccupancySample, PresenceEventRow, StoreVisit
from gateway.retention import purge_events
from gateway.store import Received, write_batch
from gateway.visits import Evidence, VisitRules, merge_visits, update_visits, visits_of

BACKENDS = [
    pytest.param("sqlite_url", id="sqlite"),
    pytest.param("postgres_url", id="postgres", marks=pytest.mark.postgres),
]
T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
RULES = VisitRules(gap_s=600.0, min_dwell_s=120.0, engaged_dwell_s=1800.0, engaged_zones=3)
STORE = "krakow-01"
DEVICE = "dk1_latelate"


@pytest.fixture(params=BACKENDS)
def engine(request: pytest.FixtureRequest) -> Any:
    url: str = request.getfixturevalue(request.param)
    upgrade(url)
    eng = make_engine(url)
    yield eng
    eng.dispose()


class Agent:
    """Builds ``events`` payloads for one agent, with its own sequence."""

    def __init__(self, agent_id: str) -> None:
        self.agent_id = agent_id
        self.seq = 0

    def stay(self, start_s: float, end_s: float, zone: str) -> list[dict[str, Any]]:
        def ev(kind: str, at_s: float, **extra: Any) -> dict[str, Any]:
            self.seq += 1
            ts = T0 + timedelta(seconds=at_s)
            return {
                "event_id": f"{self.agent_id}:{self.seq:012d}",
                "seq": self.seq,
                "kind": kind,
                "ts": ts.isoformat().replace("+00:00", "Z"),
                "device_key": DEVICE,
                "id_class": "personal_beacon",
                **extra,
            }

        d = end_s - start_s
        return [
            ev("visit_start", start_s),
            ev("zone_enter", start_s, zone=zone),
            ev("zone_exit", end_s, zone=zone, dwell_s=d),
            ev("visit_end", end_s, dwell_s=d, zones=[zone]),
        ]

    def message(self, events: list[dict[str, Any]]) -> Received:
        body = json.dumps(
            {
                "schema": 1,
                "store_id": STORE,
                "agent_id": self.agent_id,
                "sent_at": "2026-11-23T12:00:00.000Z",
                "events": events,
            }
        ).encode()
        now = datetime(2026, 11, 23, 12, 0, 1, tzinfo=UTC)
        outcome = classify(f"footfall/v1/{STORE}/{self.agent_id}/events", body, now, Limits())
        return Received(outcome, now)


def store(engine: Engine, *items: Received) -> None:
    with engine.begin() as conn:
        write_batch(conn, list(items))


def visits(engine: Engine) -> list[tuple[float, float, tuple[str, ...], int, str]]:
    with engine.connect() as conn:
        rows = visits_of(conn, STORE, DEVICE)
    return [
        (
            (r.started_at - T0).total_seconds(),
            (r.ended_at - T0).total_seconds(),
            tuple(r.zones),
            r.agent_count,
            r.visit_class,
        )
        for r in rows
    ]


def test_late_replay_fixes_up_the_visits_it_touches(engine: Engine) -> None:
    """Two visits become one when an agent's outage replay, hours later, bridges the gap."""
    a, b = Agent("entrance"), Agent("back")
    store(engine, a.message(a.stay(0, 300, "shoes") + a.stay(1500, 1800, "tills")))
    update_visits(engine, RULES, T0 + timedelta(hours=1))
    assert visits(engine) == [
        (0, 300, ("shoes",), 1, "visitor"),
        (1500, 1800, ("tills",), 1, "visitor"),
    ]
    # Agent "back" was offline; its outbox arrives at noon and covers 250..1600 s.
    store(engine, b.message(b.stay(250, 1600, "coats")))
    update_visits(engine, RULES, T0 + timedelta(hours=3))
    assert visits(engine) == [(0, 1800, ("shoes", "coats", "tills"), 2, "engaged")]


def test_redelivery_changes_nothing(engine: Engine) -> None:
    """Storing the same payload twice leaves one copy of each event and the same visits."""
    a = Agent("entrance")
    msg = a.message(a.stay(0, 100, "shoes"))
    store(engine, msg)
    update_visits(engine, RULES, T0)
    first = visits(engine)
    store(engine, msg, msg)
    update_visits(engine, RULES, T0)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(PresenceEventRow)).scalar_one() == 4
    assert visits(engine) == first == [(0, 100, ("shoes",), 1, "passer_by")]


def test_other_devices_and_stores_are_untouched(engine: Engine) -> None:
    """Re-merging one device leaves another device's visits as they were."""
    a = Agent("entrance")
    store(engine, a.message(a.stay(0, 300, "shoes")))
    other = a.stay(0, 200, "kids")
    for ev in other:
        ev["device_key"] = "dk1_someoneelse"
    store(engine, a.message(other))
    update_visits(engine, RULES, T0)
    store(engine, a.message(a.stay(400, 500, "tills")))
    update_visits(engine, RULES, T0)
    with engine.connect() as conn:
        assert len(visits_of(conn, STORE, "dk1_someoneelse")) == 1
    assert visits(engine) == [(0, 500, ("shoes", "tills"), 1, "visitor")]


def test_retention_purges_old_events_and_keeps_visits(engine: Engine) -> None:
    """Events before the cutoff go, in batches; visits and occupancy stay."""
    a = Agent("entrance")
    store(engine, a.message(a.stay(0, 300, "shoes") + a.stay(10_000, 10_300, "tills")))
    update_visits(engine, RULES, T0)
    purged = purge_events(engine, T0 + timedelta(seconds=5000), batch_rows=3)
    assert purged == 4
    with engine.connect() as conn:
        left = conn.execute(select(func.count()).select_from(PresenceEventRow)).scalar_one()
        kept = conn.execute(select(func.count()).select_from(StoreVisit)).scalar_one()
        assert conn.execute(select(func.count()).select_from(OccupancySample)).scalar_one() == 0
    assert left == 4
    assert kept == 2


def test_metrics_endpoint_serves_prometheus_text() -> None:
    """GET /metrics returns the text format; other paths are 404."""
    metrics = IngestMetrics()
    metrics.record_batch(
        events=7, dead_letters={"invalid": 1}, latency_s=0.01, lag_s=0.2, now_s=1.0
    )
    server = MetricsServer(lambda: metrics.render(1.0), "127.0.0.1", 0)
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/metrics", timeout=5) as resp:
            body = resp.read().decode()
            assert resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        assert "footfall_gateway_events_stored_total 7" in body
        assert 'footfall_gateway_dead_letters_total{reason="invalid"} 1' in body
        with pytest.raises(urllib.error.HTTPError, match="404"):
            urllib.request.urlopen(f"http://127.0.0.1:{server.port}/other", timeout=5)
    finally:
        server.close()


def test_large_batches_with_redeliveries_store_each_event_once(engine: Engine) -> None:
    """Batches big enough for COPY stay idempotent when they repeat events already stored."""
    a = Agent("entrance")
    first = [a.message(a.stay(i * 100, i * 100 + 50, "shoes")) for i in range(60)]
    second = [a.message(a.stay(i * 100, i * 100 + 50, "tills")) for i in range(60, 120)]
    store(engine, *first)
    store(engine, *first[30:], *second, first[0])
    store(engine, *second)
    with engine.connect() as conn:
        stored = conn.execute(select(func.count()).select_from(PresenceEventRow)).scalar_one()
        distinct = conn.execute(
            select(func.count(func.distinct(PresenceEventRow.event_id)))
        ).scalar_one()
    assert stored == distinct == 120 * 4


def test_incremental_bulk_merges_equal_one_merge_of_all_evidence(engine: Engine) -> None:
    """Re-merging the dirty queue after every few batches ends with the visits that one pure
    merge of each device's whole evidence gives (the bulk path's loading and widening)."""
    from tests.integration.gateway_load import build_stream

    stream = build_stream(events=6000, malformed_fraction=0.0, devices_per_store=50)
    now = datetime(2026, 11, 23, 12, 0, 1, tzinfo=UTC)
    items = [Received(classify(m.topic, m.payload, now, Limits()), now) for m in stream.messages]
    for i in range(0, len(items), 7):
        store(engine, *items[i : i + 7])
        if i % 21 == 0:
            update_visits(engine, RULES, now)
    update_visits(engine, RULES, now)
    e, v = PresenceEventRow, StoreVisit
    with engine.connect() as conn:
        evidence: dict[tuple[str, str], list[Evidence]] = {}
        for r in conn.execute(
            select(e.store_id, e.device_key, e.agent_id, e.kind, e.ts, e.dwell_s, e.zone, e.zones)
        ):
            evidence.setdefault((r.store_id, r.device_key), []).append(
                Evidence(
                    r.agent_id,
                    r.kind,
                    (r.ts - EPOCH).total_seconds(),
                    r.dwell_s,
                    r.zone,
                    tuple(r.zones) if r.zones is not None else None,
                )
            )
        stored = {
            key: [
                (x.started_at, x.ended_at, tuple(x.zones), x.agent_count, x.visit_class, x.open)
                for x in conn.execute(
                    select(v)
                    .where(v.store_id == key[0], v.device_key == key[1])
                    .order_by(v.started_at)
                )
            ]
            for key in evidence
        }
    expected = {
        key: [
            (
                EPOCH + timedelta(seconds=m.started_s),
                EPOCH + timedelta(seconds=m.ended_s),
                m.zones,
                m.agent_count,
                m.visit_class,
                m.open,
            )
            for m in merge_visits(evs, RULES)
        ]
        for key, evs in evidence.items()
    }
    assert len(evidence) > 50
    assert stored == expected


@pytest.mark.parametrize("backend", BACKENDS)
def test_housekeeping_runs_beside_ingest_and_once_more_at_stop(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """On PostgreSQL the jobs run in a process of their own, on SQLite in a thread; both run
    the jobs every ``every_s`` and once more when ingest stops."""
    import os
    import threading

    from gateway.service import IngestService, Periodic
    from gateway.settings import GatewaySettings

    url: str = request.getfixturevalue(backend)
    upgrade(url)
    runs = tmp_path / "runs"

    def job() -> None:
        with runs.open("a") as f:
            f.write(f"{os.getpid()}\n")

    eng = make_engine(url)
    settings = GatewaySettings(database_url=url, mqtt_port=1, mqtt_client_id="gw-housekeeping")
    service = IngestService(settings, eng, housekeeping=[Periodic("job", 0.2, job)])
    try:
        service.run(threading.Event(), idle_exit_s=1.5)  # no broker: idles out
    finally:
        eng.dispose()
    pids = [int(p) for p in runs.read_text().split()]
    assert len(pids) >= 3  # while running, and once more at stop
    expected_in_process = backend == "postgres_url"
    assert all((p != os.getpid()) == expected_in_process for p in pids)
