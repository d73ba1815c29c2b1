"""A seeded campaign dataset and a pure-Python reference attribution for the SQL tests."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import Engine, insert

from campaigns.attribution import CreditModel, credit_weights
from campaigns.model import (
    CLOCK_SKEW_TOLERANCE_S,
    AttributionWindows,
    Campaign,
    ControlDesign,
    Exposure,
    ExposureKind,
    Group,
    IdentityLink,
    LinkSource,
)
from gateway import models

START = datetime(2026, 10, 1, tzinfo=UTC)
END = datetime(2026, 10, 15, tzinfo=UTC)
CHANNELS = ("social", "search", "display")
CREATIVES = ("a", "b")
STORES = ("krakow-01", "krakow-02")
ZONES = ("entrance", "dairy", "bakery", "checkout")


def pkey(i: int) -> str:
    return hashlib.sha256(f"person-{i}@example.com".encode()).hexdigest()


@dataclass
class Dataset:
    campaign: Campaign
    exposures: list[Exposure]
    links: list[IdentityLink]
    visits: list[dict[str, Any]]


def make_dataset(
    seed: int, people: int = 400, control_design: ControlDesign = ControlDesign.RANDOMIZED_HOLDOUT
) -> Dataset:
    """Exposures at whole-second distinct times, links (some expiring), visits near exposures."""
    rng = np.random.default_rng(seed)
    campaign = Campaign(
        "spring-1", "Spring", CHANNELS, START, END, AttributionWindows(), control_design
    )
    exposures: list[Exposure] = []
    links: list[IdentityLink] = []
    visits: list[dict[str, Any]] = []
    kinds = list(ExposureKind)
    for i in range(people):
        key = pkey(i)
        group = Group.CONTROL if rng.random() < 0.3 else Group.EXPOSED
        n_exp = int(rng.integers(1, 5))
        times = sorted(
            START + timedelta(seconds=int(s))
            for s in rng.choice(14 * 86_400, size=n_exp, replace=False)
        )
        for t in times:
            exposures.append(
                Exposure(
                    campaign.id,
                    key,
                    t,
                    kinds[int(rng.integers(0, 3))],
                    CHANNELS[int(rng.integers(0, 3))],
                    CREATIVES[int(rng.integers(0, 2))],
                    group,
                )
            )
        if rng.random() < 0.85:
            valid_to = START + timedelta(days=10) if rng.random() < 0.1 else None
            links.append(
                IdentityLink(
                    f"dk1_{i:06d}",
                    key,
                    LinkSource.APP,
                    START - timedelta(days=30),
                    START - timedelta(days=30),
                    valid_to,
                )
            )
        visit_p = 0.5 if group is Group.EXPOSED else 0.35
        for _ in range(int(rng.integers(0, 4))):
            if rng.random() > visit_p:
                continue
            anchor = times[int(rng.integers(0, len(times)))]
            start = anchor + timedelta(seconds=int(rng.integers(-5, 4 * 86_400)))
            zones = [
                ZONES[j] for j in sorted(rng.choice(4, size=int(rng.integers(1, 4)), replace=False))
            ]
            visits.append(
                {
                    "store_id": STORES[int(rng.integers(0, 2))],
                    "device_key": f"dk1_{i:06d}",
                    "id_class": "personal_beacon",
                    "started_at": start,
                    "ended_at": start + timedelta(minutes=20),
                    "dwell_s": 1200.0,
                    "zones": zones,
                    "visit_class": "passer_by" if rng.random() < 0.1 else "visitor",
                    "agent_count": 1,
                    "open": False,
                    "updated_at": start,
                }
            )
    return Dataset(campaign, exposures, links, visits)


def insert_visits(engine: Engine, visits: list[dict[str, Any]]) -> None:
    with engine.begin() as conn:
        conn.execute(insert(models.StoreVisit), visits)


def reference_attribution(
    data: Dataset,
    model: CreditModel,
    revoked: set[str] = frozenset(),  # type: ignore[assignment]
) -> tuple[dict[str, float], int, dict[str, int]]:
    """Credited visits per channel, attributed units and visitors per arm, by plain loops."""
    w = data.campaign.windows
    by_device = {link.device_key: link for link in data.links if link.device_key not in revoked}
    exp_by_person: dict[str, list[Exposure]] = defaultdict(list)
    for e in data.exposures:
        exp_by_person[e.person_key].append(e)
    visit_to = END + timedelta(seconds=w.longest_s)
    units: dict[tuple[str, str, str], tuple[datetime, list[Exposure]]] = {}
    for v in data.visits:
        link = by_device.get(v["device_key"])
        if link is None or v["visit_class"] == "passer_by" or not link.active_at(v["started_at"]):
            continue
        if not START <= v["started_at"] < visit_to:
            continue
        touches = [
            e
            for e in exp_by_person[link.person_key]
            if -CLOCK_SKEW_TOLERANCE_S
            <= (v["started_at"] - e.ts).total_seconds()
            <= w.for_kind(e.kind)
        ]
        if not touches:
            continue
        unit = (link.person_key, v["store_id"], v["started_at"].date().isoformat())
        if unit not in units or v["started_at"] < units[unit][0]:
            units[unit] = (v["started_at"], touches)
    credited: dict[str, float] = defaultdict(float)
    arm_visitors: dict[str, set[str]] = defaultdict(set)
    exposed_units = 0
    for (person, _s, _d), (visit_at, touches) in units.items():
        arm_visitors[touches[0].group.value].add(person)
        if touches[0].group is not Group.EXPOSED:
            continue
        exposed_units += 1
        ordered = sorted(touches, key=lambda e: (e.ts, e.channel, e.creative))
        weights = credit_weights([(visit_at - e.ts).total_seconds() for e in ordered], model)
        for e, c in zip(ordered, weights, strict=True):
            credited[e.channel] += c
    return dict(credited), exposed_units, {k: len(v) for k, v in arm_visitors.items()}
