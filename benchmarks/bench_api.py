"""API latency over a large store: footfall, dwell, heat, occupancy through the whole stack.

Seeds ``--visits`` store visits (default 200,000 over 90 days, 20,000 devices) into SQLite
and, when reachable, PostgreSQL; then calls the endpoints through httpx's ASGI transport
(routing, auth, query, JSON) and prints the median of ``--repeats`` calls beside a baseline
measured in the same run: a bare ``COUNT(*)`` of the period's visits.

    python benchmarks/bench_api.py
    python benchmarks/bench_api.py --visits 50000 --repeats 5 --json
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import httpx
import numpy as np
from sqlalchemy import Engine, func, insert, select

from gateway import models
from gateway.api import ApiSettings, create_app
from gateway.api.auth import Role, create_key
from gateway.db import make_engine, make_session_factory
from gateway.migrate import upgrade

NOW = datetime(2026, 11, 1, tzinfo=UTC)


def seed(engine: Engine, visits: int, devices: int, seed_: int = 1) -> None:
    rng = np.random.default_rng(seed_)
    starts = rng.uniform(0, 90 * 86_400, visits)
    dwell = rng.choice([60.0, 400.0, 1500.0, 5000.0], size=visits, p=[0.25, 0.4, 0.25, 0.1])
    dev = rng.integers(0, devices, visits)
    rows = []
    for i in range(visits):
        start = NOW - timedelta(days=90) + timedelta(seconds=float(starts[i]))
        d = float(dwell[i])
        rows.append(
            {
                "store_id": "s1",
                "device_key": f"dk1_{int(dev[i]):08d}",
                "id_class": "wifi_randomized" if i % 9 == 0 else "personal_beacon",
                "started_at": start,
                "ended_at": start + timedelta(seconds=d),
                "dwell_s": d,
                "zones": ["a"],
                "visit_class": "passer_by" if d < 120 else ("engaged" if d >= 900 else "visitor"),
                "agent_count": 1,
                "open": False,
                "updated_at": start,
            }
        )
    with engine.begin() as conn:
        for k in range(0, len(rows), 20_000):
            conn.execute(insert(models.StoreVisit), rows[k : k + 20_000])


def median_s(fn: Callable[[], Any], repeats: int) -> float:
    fn()  # warm caches and plans
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def bench(url: str, visits: int, devices: int, repeats: int) -> dict[str, float]:
    upgrade(url)
    engine = make_engine(url)
    seed(engine, visits, devices)
    factory = make_session_factory(engine)
    with factory() as session:
        key = create_key(session, "bench", Role.ADMIN, NOW)[1]
    app = create_app(ApiSettings(), factory, clock=lambda: NOW)
    start, end = NOW - timedelta(days=30), NOW
    period = f"from={start.isoformat()}&to={end.isoformat()}".replace("+", "%2B")

    def call(path: str) -> Callable[[], Any]:
        async def go() -> None:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://b") as c:
                r = await c.get(path, headers={"X-API-Key": key})
                r.raise_for_status()

        return lambda: anyio.run(go)

    def baseline() -> None:
        with engine.connect() as conn:
            conn.execute(
                select(func.count()).where(
                    models.StoreVisit.started_at >= start, models.StoreVisit.started_at < end
                )
            ).scalar_one()

    out = {"baseline_count_s": median_s(baseline, repeats)}
    for name, path in (
        ("footfall_30d", f"/api/v1/footfall?store_id=s1&{period}"),
        ("dwell_30d", f"/api/v1/footfall/dwell?store_id=s1&{period}"),
        ("heat_30d", f"/api/v1/footfall/hours?store_id=s1&{period}"),
        ("stores", "/api/v1/stores"),
    ):
        out[f"{name}_s"] = median_s(call(path), repeats)
    engine.dispose()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--visits", type=int, default=200_000)
    parser.add_argument("--devices", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        results["sqlite"] = bench(
            f"sqlite:///{Path(tmp) / 'b.db'}", args.visits, args.devices, args.repeats
        )
    try:
        from tests.support.postgres import postgres_reachable, temporary_database

        if postgres_reachable():
            with temporary_database("footfall_bench") as url:
                results["postgresql"] = bench(url, args.visits, args.devices, args.repeats)
    except ImportError:
        pass
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(f"{args.visits} visits, {args.devices} devices, median of {args.repeats}")
    for backend, r in results.items():
        base = r["baseline_count_s"]
        print(f"{backend}: baseline COUNT(*) of the 30-day period {base * 1000:.1f} ms")
        for name, value in r.items():
            if name != "baseline_count_s":
                print(f"  {name:<16} {value * 1000:8.1f} ms  ({value / base:6.1f}x baseline)")


if __name__ == "__main__":
    main()
