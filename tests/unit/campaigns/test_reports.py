"""Report shaping: k-anonymity, parameter sets, JSON and CSV rendering."""

from __future__ import annotations

import csv
import io
import json

import pytest

from campaigns.reports import (
    Cell,
    ParameterSet,
    Report,
    render_csv,
    render_json,
    suppress,
    time_to_visit_bucket,
)

PARAMS = ParameterSet(
    campaign_id="c-1",
    visit_definition={"classes": ["visitor", "engaged"]},
    windows_s={"click_s": 2_592_000.0},
    clock_skew_tolerance_s=10.0,
    model="linear",
    half_life_s=604_800.0,
    k=10,
    levels=(0.9, 0.95),
)


def test_cells_below_k_people_show_no_numbers() -> None:
    """A cell of 9 people is blanked at k=10; a cell of 10 is shown."""
    out = suppress([Cell("store", "a", 9, 12, 3.5), Cell("store", "b", 10, 11, 2.0)], k=10)
    assert out[0].suppressed
    assert out[0].visits is None
    assert out[0].credited_visits is None
    assert out[0].people == 0
    assert out[1] == Cell("store", "b", 10, 11, 2.0)
    with pytest.raises(ValueError, match="'k'"):
        suppress([], k=0)


def test_json_and_csv_carry_the_parameter_set() -> None:
    """Both renderings include the model, windows and k that produced the numbers."""
    report = Report("attribution", PARAMS, {"by_store": [{"value": "a", "people": 10}]})
    doc = json.loads(render_json(report))
    assert doc["parameters"]["model"] == "linear"
    assert doc["parameters"]["k"] == 10
    text = render_csv(report)
    first, rest = text.split("\n", 1)
    assert first.startswith("# parameters: ")
    assert json.loads(first.removeprefix("# parameters: "))["windows_s"] == {"click_s": 2_592_000.0}
    rows = list(csv.DictReader(io.StringIO(rest)))
    assert rows == [{"section": "by_store", "value": "a", "people": "10"}]


def test_time_to_visit_buckets() -> None:
    """Ages fall into the documented buckets; clock-skew negatives count as under an hour."""
    assert time_to_visit_bucket(-5.0) == "<1h"
    assert time_to_visit_bucket(3_600.0) == "1-6h"
    assert time_to_visit_bucket(40 * 86_400.0) == ">=30d"
