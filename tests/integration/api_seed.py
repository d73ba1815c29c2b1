"""Seed data for the API, dashboard and browser tests, written through the real tables.

Campaign data comes from :mod:`tests.integration.campaigns_data` through the real import
functions (``gateway.campaign_store``); footfall comes as store visits, zone events,
occupancy samples and agent statuses in the gateway's own tables. Seeded randomness.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
from sqlalchemy import Engine, insert

from gateway import models
from gateway.api.auth import Role, create_key
from gateway.campaign_store import create_campaign, import_exposures, import_links
from gateway.db import make_engine, make_session_factory
from gateway.migrate import upgrade
from tests.integration.campaigns_data import insert_visits, make_dataset

NOW = datetime(2026, 10, 20, 12, 0, tzinfo=UTC)
STORE = "krakow-01"
ZONES = ("entrance", "dairy", "bakery", "checkout")


def fixed_clock(now: datetime = NOW) -> Callable[[], datetime]:
    return lambda: now


@dataclass
class Seeded:
    engine: Engine
    keys: dict[str, str]
    """Plain keys by role name, plus ``revoked``."""


def migrated_engine(url: str) -> Engine:
    upgrade(url)
    return make_engine(url)


def seed_keys(engine: Engine) -> dict[str, str]:
    factory = make_session_factory(engine)
    keys: dict[str, str] = {}
    with factory() as session:
        for role in Role:
            keys[role.value] = create_key(session, f"test-{role.value}", role, NOW)[1]
        info, keys["revoked"] = create_key(session, "test-revoked", Role.ADMIN, NOW)
        from gateway.api.auth import revoke_key

        revoke_key(session, info.id, NOW)
    return keys


def seed_fleet(engine: Engine, seed: int = 7) -> None:
    """Stores, zones, two agents, footfall visits over 14 days, zone events, occupancy."""
    rng = np.random.default_rng(seed)
    with engine.begin() as conn:
        for store in (STORE, "krakow-02"):
            conn.execute(
                insert(models.Store),
                {
                    "id": store,
                    "name": store.title(),
                    "timezone": "Europe/Warsaw",
                    "created_at": NOW,
                },
            )
        for i, zone in enumerate(ZONES):
            conn.execute(
                insert(models.Zone),
                {
                    "store_id": STORE,
                    "name": zone,
                    "label": zone.title(),
                    "min_rssi_dbm": -70.0 - i,
                    "position": i,
                },
            )
        for agent, online, seen in (
            ("entrance-a", True, NOW),
            ("back-b", True, NOW - timedelta(hours=3)),
        ):
            conn.execute(
                insert(models.Agent),
                {
                    "store_id": STORE,
                    "agent_id": agent,
                    "online": online,
                    "health": "ok",
                    "version": "0.1.0",
                    "uptime_s": 3600.0,
                    "counters": {
                        "adverts_per_s": 41.5,
                        "probes_per_s": 3.2,
                        "events": 1200,
                        "tracked_devices": 77,
                        "outbox_depth": 12,
                        "outbox_age_s": 1.5,
                        "drops": {"bad_frame": 3},
                    },
                    "last_seq": 1200,
                    "status_at": seen,
                    "last_seen_at": seen,
                },
            )
        visits, events, seq = [], [], 0
        for day in range(14):
            base = NOW.replace(hour=0) - timedelta(days=14 - day)
            for j in range(int(rng.integers(40, 60))):
                device = f"dk1_ff{int(rng.integers(0, 150)):06d}"
                start = base + timedelta(
                    hours=int(rng.integers(8, 21)), minutes=int(rng.integers(0, 60))
                )
                dwell = float(
                    rng.choice(
                        [60.0, 400.0, 1500.0, 5000.0, 30000.0], p=[0.25, 0.35, 0.25, 0.1, 0.05]
                    )
                )
                klass = "passer_by" if dwell < 120 else ("engaged" if dwell >= 900 else "visitor")
                id_class = "wifi_randomized" if j % 7 == 0 else "personal_beacon"
                zones = [
                    ZONES[z]
                    for z in sorted(rng.choice(4, size=int(rng.integers(1, 4)), replace=False))
                ]
                visits.append(
                    {
                        "store_id": STORE,
                        "device_key": device,
                        "id_class": id_class,
                        "started_at": start,
                        "ended_at": start + timedelta(seconds=dwell),
                        "dwell_s": dwell,
                        "zones": zones,
                        "visit_class": klass,
                        "agent_count": 1,
                        "open": False,
                        "updated_at": start,
                    }
                )
                for z in zones:
                    seq += 1
                    for kind, ts, zd in (
                        ("zone_enter", start, None),
                        ("zone_exit", start + timedelta(seconds=dwell / 2), dwell / 2),
                    ):
                        seq += 1
                        events.append(
                            {
                                "event_id": f"entrance-a:{seq:012d}",
                                "store_id": STORE,
                                "agent_id": "entrance-a",
                                "seq": seq,
                                "kind": kind,
                                "ts": ts,
                                "device_key": device,
                                "id_class": id_class,
                                "zone": z,
                                "dwell_s": zd,
                                "zones": None,
                                "rssi_dbm": -65.0,
                                "reason": None,
                                "received_at": ts,
                            }
                        )
        conn.execute(insert(models.StoreVisit), visits)
        conn.execute(insert(models.PresenceEventRow), events)
        samples = []
        for agent, counts in (
            ("entrance-a", {"entrance": 7, "dairy": 3}),
            ("back-b", {"dairy": 5, "bakery": 2}),
        ):
            for zone, n in counts.items():
                samples.append(
                    {
                        "store_id": STORE,
                        "agent_id": agent,
                        "zone": zone,
                        "ts": NOW - timedelta(seconds=20),
                        "device_count": n,
                    }
                )
                samples.append(
                    {
                        "store_id": STORE,
                        "agent_id": agent,
                        "zone": zone,
                        "ts": NOW - timedelta(seconds=3600),
                        "device_count": 99,
                    }
                )
        conn.execute(insert(models.OccupancySample), samples)


def seed_campaign(engine: Engine, seed: int = 3) -> str:
    """The campaigns helper's seeded campaign ``spring-1``, through the real import functions."""
    data = make_dataset(seed, people=400)
    create_campaign(engine, data.campaign, NOW)
    import_exposures(engine, data.campaign.id, data.exposures)
    import_links(engine, data.links)
    insert_visits(engine, data.visits)
    return data.campaign.id


def seed_all(url: str) -> Seeded:
    engine = migrated_engine(url)
    keys = seed_keys(engine)
    seed_fleet(engine)
    seed_campaign(engine)
    return Seeded(engine, keys)
