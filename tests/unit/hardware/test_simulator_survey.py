"""The simulated site survey: the store's own shadowing, in the technician's file format."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edge_agent.technician.zones import load_fingerprints
from hardware.simulator import SimConfig, SimulatedStore, write_run
from hardware.simulator.survey import SURVEY_FILE, SurveyConfig, site_survey


@pytest.fixture(scope="module")
def store() -> SimulatedStore:
    return SimulatedStore(config=SimConfig(duration_s=60.0), seed=4)


def test_every_zone_is_surveyed_on_the_grid_at_every_facing(store: SimulatedStore) -> None:
    rows = site_survey(store.plan, store.channel, np.random.default_rng(1), 0.0)
    per_zone: dict[str, int] = {}
    for row in rows:
        per_zone[row["zone"]] = per_zone.get(row["zone"], 0) + 1
    # default store: six 10 x 10 m zones, a 1 m grid, four facings
    assert per_zone == dict.fromkeys(store.plan.zone_names, 100 * 4)
    times = [row["ts_s"] for row in rows]
    assert times == sorted(times)
    assert len(set(times)) == len(times)


def test_every_row_carries_its_spot_inside_its_zone(store: SimulatedStore) -> None:
    """The technician stands on marked points: each row has the spot, inside the zone it
    names, and every spot is surveyed once per facing."""
    rows = site_survey(store.plan, store.channel, np.random.default_rng(1), 0.0)
    for zone in store.plan.zones:
        xy = np.array([(r["x_m"], r["y_m"]) for r in rows if r["zone"] == zone.name])
        assert zone.contains(xy[:, 0], xy[:, 1]).all()
        _, per_spot = np.unique(xy, axis=0, return_counts=True)
        assert per_spot.tolist() == [4] * 100


def test_the_zone_sensor_is_mostly_but_not_always_the_loudest(store: SimulatedStore) -> None:
    """The zone's own sensor always hears the surveyed beacon and is the loudest at most
    spots -- not at all of them: shadowing and the body make the strongest sensor wrong
    in places, which is what the survey teaches the fingerprint classifier."""
    rows = site_survey(store.plan, store.channel, np.random.default_rng(1), 0.0)
    own = [r["rssi_dbm"].get(f"s-{r['zone']}") for r in rows]
    assert all(v is not None for v in own)  # the zone's own sensor always hears the beacon
    loudest_own = sum(max(r["rssi_dbm"], key=r["rssi_dbm"].get) == f"s-{r['zone']}" for r in rows)
    assert 0.8 < loudest_own / len(rows) < 1.0


def test_the_survey_is_seeded(store: SimulatedStore) -> None:
    a = site_survey(store.plan, store.channel, np.random.default_rng(3), 0.0)
    b = site_survey(store.plan, store.channel, np.random.default_rng(3), 0.0)
    c = site_survey(store.plan, store.channel, np.random.default_rng(4), 0.0)
    assert a == b
    assert a != c


def test_coarser_surveys_have_fewer_rows_and_bad_settings_are_refused(
    store: SimulatedStore,
) -> None:
    rows = site_survey(
        store.plan, store.channel, np.random.default_rng(1), 0.0, SurveyConfig(2.0, 1)
    )
    assert len(rows) == 6 * 25
    with pytest.raises(ValueError, match="spacing_m"):
        SurveyConfig(spacing_m=0.0)
    with pytest.raises(ValueError, match="facings"):
        SurveyConfig(facings=0)


def test_write_run_writes_a_survey_the_technician_tools_read(
    store: SimulatedStore, tmp_path: Path
) -> None:
    write_run(store, tmp_path)
    fingerprints = load_fingerprints(tmp_path / SURVEY_FILE)
    assert fingerprints.counts() == dict.fromkeys(store.plan.zone_names, 400)
    assert fingerprints.sensors == tuple(sorted(s.sensor_id for s in store.plan.sensors))
    assert fingerprints.xy_m is not None
    assert fingerprints.xy_m.shape == (2400, 2)
