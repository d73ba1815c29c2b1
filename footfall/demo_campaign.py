"""The demo's seeded campaign: exposed and control groups with a known true effect.

The simulator decides who shops; this module decides, after the fact, which of
those shoppers were in a campaign audience, so that the audience's visit rates
have a known ratio. The audience is ``N`` people (person keys of made-up
e-mails), randomized to exposed/control; each visits with probability
``p_control`` or ``p_control * (1 + true_lift)``; the visitors are mapped onto
the simulated app shoppers (whose beacons the agents really key and track) and
linked to them by consented identity links (the other audience members are linked to
app beacons that never come near a store). The gateway then measures the lift
from what the agents reported, without knowing any of this.

Pure: randomness comes in as a seeded generator, device keys through a callable.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np

from campaigns.identity import person_key
from campaigns.model import (
    Campaign,
    Exposure,
    ExposureKind,
    Group,
    IdentityLink,
    LinkSource,
)

CHANNELS = ("social", "search", "display")
CREATIVES = ("spring-a", "spring-b")
# The demo's people click sometimes (30-day window) but are mostly shown impressions (1 day).
CLICK_SHARE = 0.2
# An audience visitor saw the ad this long before walking in: inside the 1-day impression window.
LEAD_TIME_RANGE_S = (1800.0, 18 * 3600.0)


@dataclass(frozen=True, slots=True)
class AppShopper:
    """A simulated shopper whose loyalty app advertises a beacon the agents key."""

    store_id: str
    beacon_id: str
    """Stays in this process: only its device key is stored."""
    visit_start_ts_s: float


@dataclass(frozen=True, slots=True)
class CampaignPlan:
    campaign: Campaign
    exposures: tuple[Exposure, ...]
    links: tuple[IdentityLink, ...]
    true_relative_lift: float
    p_control: float
    people_exposed: int
    people_control: int
    visitors_exposed: int
    visitors_control: int


def plan_campaign(
    shoppers: Sequence[AppShopper],
    *,
    device_key: Callable[[str], str],
    rng: np.random.Generator,
    campaign_id: str = "spring-sale",
    p_control: float = 0.05,
    true_lift: float = 0.5,
    exposed_share: float = 0.8,
    fill: float = 0.8,
) -> CampaignPlan:
    """An audience whose expected visitors fill ``fill`` of the simulated app shoppers."""
    if not shoppers:
        raise ValueError("'shoppers' must not be empty: the simulation produced no app shoppers")
    if not 0 < p_control * (1 + true_lift) < 1:
        raise ValueError(
            f"'p_control * (1 + true_lift)' must be in (0, 1) (got {p_control * (1 + true_lift)})"
        )
    p_exposed = p_control * (1 + true_lift)
    mean_rate = exposed_share * p_exposed + (1 - exposed_share) * p_control
    n_people = max(1, round(fill * len(shoppers) / mean_rate))
    exposed = rng.random(n_people) < exposed_share
    visits = rng.random(n_people) < np.where(exposed, p_exposed, p_control)
    visitors = np.flatnonzero(visits)
    if visitors.size > len(shoppers):  # more audience visitors than simulated app shoppers
        visitors = np.sort(rng.choice(visitors, size=len(shoppers), replace=False))
        visits[:] = False
        visits[visitors] = True
    order = rng.permutation(len(shoppers))
    shopper_of = {int(person): shoppers[int(order[i])] for i, person in enumerate(visitors)}

    first_ts = min(s.visit_start_ts_s for s in shoppers)
    last_ts = max(s.visit_start_ts_s for s in shoppers)
    starts_at = _utc(first_ts) - timedelta(days=2)
    ends_at = _utc(last_ts) + timedelta(days=1)
    campaign = Campaign(
        id=campaign_id,
        name="Spring sale (demo)",
        channels=CHANNELS,
        starts_at=starts_at,
        ends_at=ends_at,
    )
    exposures: list[Exposure] = []
    links: list[IdentityLink] = []
    for person in range(n_people):
        key = person_key(f"demo-person-{person}@example.com")
        group = Group.EXPOSED if exposed[person] else Group.CONTROL
        shopper = shopper_of.get(person)
        if shopper is not None:
            lead_s = float(rng.uniform(*LEAD_TIME_RANGE_S))
            ts = _utc(shopper.visit_start_ts_s - lead_s)
            beacon_id = shopper.beacon_id
        else:
            span_s = (ends_at - starts_at).total_seconds()
            ts = starts_at + timedelta(seconds=float(rng.uniform(0, span_s)))
            # Their app's beacon never came near a store: linked, measurable, did not visit.
            beacon_id = f"demo-app:{person}"
        # Every audience member uses the app, so every one is linked: the lift's
        # denominators are the linked people of each arm, visitors or not.
        links.append(
            IdentityLink(
                device_key=device_key(beacon_id),
                person_key=key,
                source=LinkSource.APP,
                consented_at=starts_at - timedelta(days=30),
                valid_from=starts_at - timedelta(days=30),
            )
        )
        exposures.append(
            Exposure(
                campaign_id=campaign_id,
                person_key=key,
                ts=ts.replace(microsecond=0),
                kind=ExposureKind.CLICK if rng.random() < CLICK_SHARE else ExposureKind.IMPRESSION,
                channel=CHANNELS[int(rng.integers(len(CHANNELS)))],
                creative=CREATIVES[int(rng.integers(len(CREATIVES)))],
                group=group,
                store_id=shopper.store_id if shopper is not None else None,
            )
        )
    return CampaignPlan(
        campaign=campaign,
        exposures=tuple(exposures),
        links=tuple(links),
        true_relative_lift=true_lift,
        p_control=p_control,
        people_exposed=int(exposed.sum()),
        people_control=int((~exposed).sum()),
        visitors_exposed=int((visits & exposed).sum()),
        visitors_control=int((visits & ~exposed).sum()),
    )


def _utc(ts_s: float) -> datetime:
    return datetime.fromtimestamp(ts_s, tz=UTC)
