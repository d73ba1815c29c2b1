"""Attribution report time on SQLite and PostgreSQL against one DuckDB query, and scaling.

At ``--scale 1``: 1,000,000 exposures, 200,000 people, 300,000 store visits (80 % of
people linked to a device). The same seeded data is loaded into SQLite (a file),
PostgreSQL (a throw-away database on 127.0.0.1:5432) and DuckDB (in memory); loading is
not timed. Timed, medians of ``--repeats`` runs:

- ``report``: :func:`gateway.reports.attribution_report` (last touch; every breakdown:
  campaign, channel, creative, store, zone, day, time-to-visit), as the CLI runs it;
- ``duckdb``: the same report (same definitions, same numbers) as *one* DuckDB query,
  over the same columns the report reads (``person_id`` of exposures and links, the
  exposures' epoch seconds ``ts_s``), so the ratio compares engines, not schemas.

Then the ratio ``report / duckdb`` per database, and the scaling check: the same at
``--scale / 10`` and the ratio of times (10x data should take <= 12x time).

    python benchmarks/bench_attribution.py [--scale 1.0] [--repeats 3] [--no-postgres] [--json]

DuckDB is a test-only dependency; this script is not part of the package.
"""

# Every SQL string here is built from this script's own constants and temp paths.
# ruff: noqa: S608

from __future__ import annotations

import argparse
import csv
import json
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

START = datetime(2026, 9, 1, tzinfo=UTC)
FLIGHT_DAYS = 28
CHANNELS = ("social", "search", "display", "video", "email")
CREATIVES = tuple(f"cr{i:02d}" for i in range(12))
STORES = tuple(f"store-{i:03d}" for i in range(40))
ZONES = ("entrance", "dairy", "bakery", "produce", "checkout")
KINDS = ("click", "impression", "engaged_view")
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


def _ts(seconds: np.ndarray) -> list[str]:
    base = np.datetime64(START.replace(tzinfo=None), "us")
    values = base + (seconds * 1e6).astype("timedelta64[us]")
    return [str(v).replace("T", " ") for v in values.astype("datetime64[us]")]


def generate(scale: float, seed: int, out: Path) -> dict[str, int]:
    """Write people.csv, exposures.csv, links.csv, visits.csv (naive UTC) under ``out``.

    ``people.id`` is the person's index + 1; exposures and links carry it as ``person_id``
    (what :mod:`gateway.campaign_store` fills on import).
    """
    rng = np.random.default_rng(seed)
    people = int(200_000 * scale)
    n_exp = int(1_000_000 * scale)
    n_visits = int(300_000 * scale)
    keys = np.array([f"{i:064x}" for i in rng.permutation(people * 7)[:people]])
    group = np.where(rng.random(people) < 0.3, "control", "exposed")
    person = rng.integers(0, people, size=n_exp)
    exp_s = rng.random(n_exp) * FLIGHT_DAYS * 86_400
    kind = rng.choice(len(KINDS), size=n_exp, p=[0.1, 0.8, 0.1])
    channel = rng.integers(0, len(CHANNELS), size=n_exp)
    creative = rng.integers(0, len(CREATIVES), size=n_exp)
    exp_ts = _ts(exp_s)
    with (out / "people.csv").open("w", newline="") as f:
        csv.writer(f).writerows([p + 1, keys[p]] for p in range(people))
    with (out / "exposures.csv").open("w", newline="") as f:
        w = csv.writer(f)
        for i in range(n_exp):
            p = person[i]
            w.writerow(
                [
                    i + 1,
                    "bench",
                    keys[p],
                    p + 1,
                    exp_ts[i],
                    KINDS[kind[i]],
                    CHANNELS[channel[i]],
                    CREATIVES[creative[i]],
                    group[p],
                ]
            )
    linked = np.flatnonzero(rng.random(people) < 0.8)
    with (out / "links.csv").open("w", newline="") as f:
        w = csv.writer(f)
        consent = _ts(np.array([-60 * 86_400.0]))[0]
        for j, p in enumerate(linked):
            w.writerow([j + 1, f"dk1_{p:08d}", keys[p], p + 1, "app", consent, consent])
    # visits: linked people; 60 % shortly after one of the person's exposures, 40 % anywhere
    who = linked[rng.integers(0, len(linked), size=n_visits)]
    exp_of_person: dict[int, float] = {}
    for i in range(n_exp):
        exp_of_person.setdefault(int(person[i]), float(exp_s[i]))
    anchor = np.array([exp_of_person.get(int(p), rng.random() * FLIGHT_DAYS * 86_400) for p in who])
    near = rng.random(n_visits) < 0.6
    visit_s = np.where(
        near,
        anchor + rng.exponential(2 * 86_400, size=n_visits),
        rng.random(n_visits) * (FLIGHT_DAYS + 30) * 86_400,
    )
    visit_ts = _ts(visit_s)
    end_ts = _ts(visit_s + 1_200)
    store = rng.integers(0, len(STORES), size=n_visits)
    with (out / "visits.csv").open("w", newline="") as f:
        w = csv.writer(f)
        for i in range(n_visits):
            zones = [ZONES[z] for z in sorted(rng.choice(len(ZONES), 2, replace=False))]
            w.writerow(
                [
                    i + 1,
                    STORES[store[i]],
                    f"dk1_{who[i]:08d}",
                    "personal_beacon",
                    visit_ts[i],
                    end_ts[i],
                    1200.0,
                    json.dumps(zones),
                    "visitor",
                    1,
                    0,
                    visit_ts[i],
                ]
            )
    return {"exposures": n_exp, "people": people, "visits": n_visits}


def _campaign() -> Any:
    from campaigns.model import Campaign

    return Campaign("bench", "Benchmark", CHANNELS, START, START + timedelta(days=FLIGHT_DAYS))


PEOPLE_COLS = "id,person_key"
EXPOSURE_COLS = "id,campaign_id,person_key,person_id,ts,kind,channel,creative,grp"
LINK_COLS = "id,device_key,person_key,person_id,source,consented_at,valid_from"
VISIT_COLS = (
    "id,store_id,device_key,id_class,started_at,ended_at,dwell_s,zones,visit_class,"
    "agent_count,open,updated_at"
)


def load_sqlite(url: str, data: Path) -> None:
    import sqlite3

    from gateway.campaign_store import create_campaign
    from gateway.db import make_engine
    from gateway.migrate import upgrade

    upgrade(url)
    engine = make_engine(url)
    create_campaign(engine, _campaign(), datetime.now(UTC))
    engine.dispose()
    conn = sqlite3.connect(url.removeprefix("sqlite:///"))
    for table, cols, name in (
        ("people", PEOPLE_COLS, "people.csv"),
        ("exposures", EXPOSURE_COLS, "exposures.csv"),
        ("identity_links", LINK_COLS, "links.csv"),
        ("store_visits", VISIT_COLS, "visits.csv"),
    ):
        n = cols.count(",") + 1
        with (data / name).open() as f:
            conn.executemany(
                f"INSERT INTO {table} ({cols}) VALUES ({','.join('?' * n)})",
                csv.reader(f),
            )
    conn.commit()
    conn.execute("ANALYZE")
    conn.close()


def load_postgres(url: str, data: Path) -> None:
    import psycopg

    from gateway.campaign_store import create_campaign
    from gateway.db import make_engine
    from gateway.migrate import upgrade

    upgrade(url)
    engine = make_engine(url)
    create_campaign(engine, _campaign(), datetime.now(UTC))
    engine.dispose()
    with psycopg.connect(url.replace("postgresql+psycopg", "postgresql")) as conn:
        conn.execute("SET TIME ZONE 'UTC'")
        for table, cols, name in (
            ("people", PEOPLE_COLS, "people.csv"),
            ("exposures", EXPOSURE_COLS, "exposures.csv"),
            ("identity_links", LINK_COLS, "links.csv"),
            ("store_visits", VISIT_COLS, "visits.csv"),
        ):
            with (
                conn.cursor().copy(f"COPY {table} ({cols}) FROM STDIN WITH (FORMAT csv)") as cp,
                (data / name).open("rb") as f,
            ):
                while chunk := f.read(1 << 20):
                    cp.write(chunk)
        conn.execute("ANALYZE")


@contextmanager
def postgres_database() -> Any:
    import psycopg

    name = f"footfall_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def duckdb_connection(data: Path) -> Any:
    import duckdb

    con = duckdb.connect()
    con.execute(f"""
CREATE TABLE exposures AS SELECT *, epoch(ts) AS ts_s
  FROM read_csv('{data / "exposures.csv"}', header=false,
  columns={{'id':'BIGINT','campaign_id':'VARCHAR','person_key':'VARCHAR','person_id':'BIGINT',
  'ts':'TIMESTAMP','kind':'VARCHAR','channel':'VARCHAR','creative':'VARCHAR','grp':'VARCHAR'}});
CREATE TABLE identity_links AS SELECT *, NULL::TIMESTAMP AS valid_to, NULL::TIMESTAMP AS revoked_at
  FROM read_csv('{data / "links.csv"}', header=false,
  columns={{'id':'BIGINT','device_key':'VARCHAR','person_key':'VARCHAR','person_id':'BIGINT',
  'source':'VARCHAR','consented_at':'TIMESTAMP','valid_from':'TIMESTAMP'}});
CREATE TABLE store_visits AS SELECT * FROM read_csv('{data / "visits.csv"}', header=false,
  quote='"', columns={{'id':'BIGINT','store_id':'VARCHAR','device_key':'VARCHAR',
  'id_class':'VARCHAR','started_at':'TIMESTAMP','ended_at':'TIMESTAMP','dwell_s':'DOUBLE',
  'zones':'VARCHAR','visit_class':'VARCHAR','agent_count':'INTEGER','open':'INTEGER',
  'updated_at':'TIMESTAMP'}});
""")
    return con


def duckdb_report_sql() -> str:
    """The attribution report (last touch) as one DuckDB query, every breakdown at once."""
    c = _campaign()
    w = c.windows
    visit_to = (c.ends_at + timedelta(seconds=w.longest_s)).replace(tzinfo=None)
    return f"""
WITH lv AS (
  SELECT DISTINCT l.person_id, sv.store_id, CAST(sv.started_at AS DATE)::VARCHAR AS day,
         sv.started_at, sv.zones
  FROM store_visits sv JOIN identity_links l ON l.device_key = sv.device_key
  WHERE l.revoked_at IS NULL AND sv.started_at >= l.valid_from
    AND (l.valid_to IS NULL OR sv.started_at < l.valid_to)
    AND sv.visit_class IN ('visitor', 'engaged')
    AND sv.started_at >= TIMESTAMP '{c.starts_at.replace(tzinfo=None)}'
    AND sv.started_at < TIMESTAMP '{visit_to}'
),
touches AS (
  SELECT lv.person_id, lv.store_id, lv.day, lv.started_at AS visit_at, lv.zones, e.id AS eid,
         e.ts, e.channel, e.creative,
         epoch(lv.started_at) - e.ts_s AS age_s
  FROM lv JOIN exposures e ON e.person_id = lv.person_id AND e.campaign_id = 'bench'
  WHERE e.grp = 'exposed'
    AND epoch(lv.started_at) - e.ts_s >= -10
    AND epoch(lv.started_at) - e.ts_s <= CASE e.kind WHEN 'click' THEN {w.click_s}
        WHEN 'impression' THEN {w.impression_s} ELSE {w.engaged_view_s} END
),
firsts AS (
  SELECT *, MIN(visit_at) OVER (PARTITION BY person_id, store_id, day) AS first_at FROM touches
),
ranked AS (
  SELECT *, CASE WHEN ROW_NUMBER() OVER (PARTITION BY person_id, store_id, day
                   ORDER BY ts DESC, channel DESC, creative DESC, eid DESC) = 1
            THEN 1.0 ELSE 0.0 END AS credit,
         person_id || '|' || store_id || '|' || day AS unit
  FROM firsts WHERE visit_at = first_at
)
SELECT dim, value, COUNT(DISTINCT person_id) AS people, COUNT(DISTINCT unit) AS visits,
       SUM(credit) AS credited
FROM (
  SELECT 'campaign' AS dim, 'bench' AS value, person_id, unit, credit FROM ranked
  UNION ALL SELECT 'channel', channel, person_id, unit, credit FROM ranked
  UNION ALL SELECT 'creative', creative, person_id, unit, credit FROM ranked
  UNION ALL SELECT 'store', store_id, person_id, unit, credit FROM ranked
  UNION ALL SELECT 'day', day, person_id, unit, credit FROM ranked
  UNION ALL SELECT 'zone', z.zone, person_id, unit, credit
    FROM ranked, unnest(CAST(json(zones) AS VARCHAR[])) AS z(zone)
  UNION ALL SELECT 'time_to_visit', CASE WHEN min_age < 3600 THEN '<1h'
      WHEN min_age < 21600 THEN '1-6h' WHEN min_age < 86400 THEN '6-24h'
      WHEN min_age < 259200 THEN '1-3d' WHEN min_age < 604800 THEN '3-7d'
      WHEN min_age < 1209600 THEN '7-14d' WHEN min_age < 2592000 THEN '14-30d'
      ELSE '>=30d' END, person_id, unit, 1.0
    FROM (SELECT unit, person_id, MIN(age_s) AS min_age FROM ranked GROUP BY unit, person_id)
)
GROUP BY dim, value
"""


def median_time(fn: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def run_scale(scale: float, repeats: int, postgres: bool, seed: int) -> dict[str, Any]:
    from gateway.db import make_engine
    from gateway.reports import ReportOptions, attribution_report

    out: dict[str, Any] = {"scale": scale}
    options = ReportOptions(model="last_touch", k=10)
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        _say(f"scale {scale}: generating")
        out["sizes"] = generate(scale, seed, data)
        _say(f"scale {scale}: duckdb")
        con = duckdb_connection(data)
        sql = duckdb_report_sql()
        out["duckdb_s"], rows = median_time(lambda: con.execute(sql).fetchall(), repeats)
        duck = {(r[0], r[1]): (r[2], r[3], float(r[4])) for r in rows}
        con.close()
        targets = [("sqlite", f"sqlite:///{data / 'bench.db'}", load_sqlite, None)]
        if postgres:
            targets.append(("postgres", "", load_postgres, postgres_database))
        for name, url, load, ctx in targets:
            manager = ctx() if ctx else _nullcontext(url)
            with manager as real_url:
                _say(f"scale {scale}: loading {name}")
                load(real_url, data)
                _say(f"scale {scale}: timing {name}")
                engine = make_engine(real_url)
                try:
                    t, result = median_time(
                        lambda e=engine: attribution_report(e, "bench", options), repeats
                    )
                finally:
                    engine.dispose()
            ours = {
                (d, c.value): (c.people, c.visits, c.credited_visits)
                for d, cells in result.cells.items()
                for c in cells
                if not c.suppressed
            }
            mismatches = sum(
                1
                for key, (p, v, cr) in ours.items()
                if key in duck and (duck[key][0] != p or abs(duck[key][2] - (cr or 0)) > 1e-6)
            )
            out[f"{name}_s"] = t
            out[f"{name}_vs_duckdb"] = t / out["duckdb_s"]
            out[f"{name}_cells_differing_from_duckdb"] = mismatches
    return out


def _say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


@contextmanager
def _nullcontext(value: str) -> Any:
    yield value


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=20261123)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    small = run_scale(args.scale / 10, args.repeats, not args.no_postgres, args.seed)
    big = run_scale(args.scale, args.repeats, not args.no_postgres, args.seed)
    result: dict[str, Any] = {"small": small, "big": big, "growth": {}}
    for name in ("sqlite", "postgres", "duckdb"):
        if f"{name}_s" in big:
            result["growth"][name] = big[f"{name}_s"] / small[f"{name}_s"]
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    for label, r in (("scale/10", small), ("scale", big)):
        print(f"{label}: {r['sizes']}")
        print(f"  duckdb one query   {r['duckdb_s']:8.3f} s")
        for name in ("sqlite", "postgres"):
            if f"{name}_s" in r:
                print(
                    f"  {name:<8} report     {r[f'{name}_s']:8.3f} s   "
                    f"x{r[f'{name}_vs_duckdb']:.2f} of duckdb   "
                    f"cells differing: {r[f'{name}_cells_differing_from_duckdb']}"
                )
    for name, g in result["growth"].items():
        print(f"10x data -> {g:.2f}x time ({name}; target <= 12)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
