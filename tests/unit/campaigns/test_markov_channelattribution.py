"""Exact removal effects against ChannelAttribution's simulated ones, on its own 10,000 paths.

ChannelAttribution (GPL-3.0, test-only dependency) ships ``Data.csv``; it is read from the
installed package, not copied here. Its ``markov_model`` simulates walks, so its removal
effects carry sampling error: the mean of three seeded runs at ``nsim_start=1e6`` is
compared with a tolerance of 0.01 (their seed-to-seed sd is <= 0.005 per run here), and
our exact values are pinned to 1e-6 (``benchmarks/markov_channelattribution.py`` prints
the whole comparison).
"""

from __future__ import annotations

import csv
import statistics
from importlib.resources import files
from pathlib import Path

import pytest

from campaigns.markov import PathCount, markov_attribution

ca = pytest.importorskip("ChannelAttribution", reason="test extra: ChannelAttribution")
pd = pytest.importorskip("pandas")

DATA = Path(str(files("cypack") / "data" / "Data.csv"))

# Our exact removal effects on Data.csv (first-order chain, nulls from total_null).
EXACT = {
    "alpha": 0.558399,
    "iota": 0.405835,
    "eta": 0.349026,
    "beta": 0.264039,
    "theta": 0.206010,
    "lambda": 0.134022,
}


def _paths() -> list[PathCount]:
    with DATA.open(newline="") as f:
        return [
            PathCount(
                tuple(step.strip() for step in row["path"].split(">")),
                float(row["total_conversions"]),
                float(row["total_null"]),
            )
            for row in csv.DictReader(f, delimiter=";")
        ]


def _simulated(seed: int) -> tuple[dict[str, float], dict[str, float]]:
    out = ca.markov_model(
        pd.read_csv(DATA, sep=";"),
        "path",
        "total_conversions",
        var_null="total_null",
        out_more=True,
        verbose=False,
        nsim_start=1e6,
        seed=seed,
    )
    effects = out["removal_effects"]
    shares = out["result"]
    return (
        dict(zip(effects["channel_name"], effects["removal_effect"], strict=True)),
        dict(zip(shares["channel_name"], shares["total_conversions"], strict=True)),
    )


def test_exact_removal_effects_match_channelattribution_simulation() -> None:
    paths = _paths()
    assert len(paths) == 10_000
    ours = markov_attribution(paths)
    assert {ch: round(ours.removal_effects[ch], 6) for ch in EXACT} == pytest.approx(
        EXACT, abs=1e-6
    )

    runs = [_simulated(seed) for seed in range(3)]
    assert set(runs[0][0]) == set(ours.removal_effects)
    for ch, exact in ours.removal_effects.items():
        simulated = statistics.fmean(effects[ch] for effects, _ in runs)
        assert simulated == pytest.approx(exact, abs=0.01), ch

    total = sum(p.conversions for p in paths)
    assert sum(ours.attributed_conversions.values()) == pytest.approx(total)
    for ch, share in ours.attributed_conversions.items():
        if share > 0.02 * total:  # the big channels: within 3 % of the simulated share
            simulated = statistics.fmean(conversions[ch] for _, conversions in runs)
            assert share == pytest.approx(simulated, rel=0.03), ch
