"""The demo's seeded campaign has the true effect it claims, and only plausible exposures."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from footfall.demo_campaign import LEAD_TIME_RANGE_S, AppShopper, CampaignPlan, plan_campaign


def _shoppers(n: int) -> list[AppShopper]:
    return [
        AppShopper(store_id=f"store-{i % 2}", beacon_id=f"b{i}", visit_start_ts_s=1.8e9 + 60 * i)
        for i in range(n)
    ]


def _key(beacon_id: str) -> str:
    return "dk1_" + hashlib.sha256(beacon_id.encode()).hexdigest()[:16]


def _plan(n: int, seed: int) -> CampaignPlan:
    return plan_campaign(_shoppers(n), device_key=_key, rng=np.random.default_rng(seed))


def test_visitors_are_linked_app_shoppers_exposed_before_their_visit() -> None:
    """Everyone is linked; visitors to a simulated shopper exposed inside the window before."""
    shoppers = _shoppers(300)
    plan = plan_campaign(shoppers, device_key=_key, rng=np.random.default_rng(1))
    start_of = {_key(s.beacon_id): s.visit_start_ts_s for s in shoppers}
    exposure_of = {e.person_key: e for e in plan.exposures}
    assert len(plan.links) == len(plan.exposures)
    assert len({link.device_key for link in plan.links}) == len(plan.links)
    visiting = [link for link in plan.links if link.device_key in start_of]
    assert len(visiting) == plan.visitors_exposed + plan.visitors_control
    for link in visiting:
        lead_s = start_of[link.device_key] - exposure_of[link.person_key].ts.timestamp()
        assert LEAD_TIME_RANGE_S[0] - 1 <= lead_s <= LEAD_TIME_RANGE_S[1] + 1


def test_audience_size_and_groups_add_up() -> None:
    """One exposure per audience member; exposed plus control is the audience."""
    plan = _plan(200, seed=2)
    assert len(plan.exposures) == plan.people_exposed + plan.people_control
    groups = {e.group.value for e in plan.exposures}
    assert groups == {"exposed", "control"}


def test_same_seed_same_plan() -> None:
    """The plan is a function of the seed."""
    assert _plan(120, seed=5) == _plan(120, seed=5)
    assert _plan(120, seed=5) != _plan(120, seed=6)


def test_realised_ratio_is_near_the_true_lift_on_a_large_audience() -> None:
    """With many shoppers the realised visit-rate ratio is close to 1 + true lift."""
    plan = _plan(6_000, seed=3)
    ratio = (plan.visitors_exposed / plan.people_exposed) / (
        plan.visitors_control / plan.people_control
    )
    assert ratio == pytest.approx(1 + plan.true_relative_lift, rel=0.15)


def test_no_shoppers_is_a_clear_error() -> None:
    """An empty simulation is refused with a message that says why."""
    with pytest.raises(ValueError, match="no app shoppers"):
        plan_campaign([], device_key=_key, rng=np.random.default_rng(0))
