"""Walk-test parsing and scoring: the technician's route against the system's decisions."""

from __future__ import annotations

import pytest

from edge_agent.technician.walk import (
    NO_ZONE,
    WalkError,
    WalkSegment,
    observed_zones,
    parse_walk,
    score_walk,
)
from hardware.observations import IdClass, Sighting, SignalKind
from positioning.zones import StrongestSensorClassifier

WALK = "t,zone\n0,entrance\n10,shoes\n20,end\n"


def test_relative_times_are_added_to_the_start() -> None:
    """Seconds in the walk file become absolute segments from the given start."""
    segments = parse_walk(WALK, start_ts_s=1000.0)
    assert segments == (
        WalkSegment("entrance", 1000.0, 1010.0),
        WalkSegment("shoes", 1010.0, 1020.0),
    )


def test_rfc3339_times_are_absolute() -> None:
    """RFC 3339 times ignore the start and give POSIX seconds."""
    text = "t,zone\n2026-11-23T10:00:00Z,entrance\n2026-11-23T10:00:30Z,end\n"
    (segment,) = parse_walk(text, start_ts_s=5.0)
    assert segment.start_s == 1795428000.0
    assert segment.seconds == 30.0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("time,zone\n0,a\n1,end\n", "line 1: expected the header 't,zone'"),
        ("t,zone\n0,a\n0,b\n1,end\n", "line 3: 't' must increase"),
        ("t,zone\n0,a\n5,b\n", "last row '<t>,end'"),
        ("t,zone\n0,a\nsoon,end\n", "line 3: 't' must be seconds or an RFC 3339 time"),
        ("t,zone\n0,\n1,end\n", "line 2: 'zone' must not be empty"),
        ("t,zone\n0,a\n1,end\n2,b\n3,end\n", "line 3: 'end' must be the last row"),
    ],
)
def test_malformed_walks_name_the_line(text: str, message: str) -> None:
    """A malformed walk file fails with the line and the field at fault."""
    with pytest.raises(WalkError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_walk(text)


def test_score_counts_confusion_accuracy_and_latency() -> None:
    """Ticks are attributed to the segment they fall in; latency is the first agreeing tick."""
    segments = parse_walk(WALK)
    observed: list[tuple[float, str | None]] = [(float(t), "entrance") for t in range(1, 11)]
    observed += [(11.0, "entrance"), (12.0, None), (13.0, "shoes")]
    observed += [(float(t), "shoes") for t in range(14, 21)]
    observed += [(25.0, "home")]  # after the walk: ignored
    report = score_walk(segments, observed)
    assert report.zones == ("entrance", "shoes")
    assert report.columns == ("entrance", "shoes", NO_ZONE)
    assert report.confusion == ((10, 0, 0), (1, 8, 1))
    assert report.accuracy == pytest.approx(18 / 20)
    assert report.zone_accuracy == {"entrance": 1.0, "shoes": 0.8}
    assert report.latencies_s == (3.0,)
    assert report.missed == 0
    assert report.median_latency_s == 3.0


def test_a_zone_never_seen_is_missed_and_unknown_zones_get_a_column() -> None:
    """A segment the system never agreed with counts as missed; other zones said get columns."""
    segments = parse_walk(WALK)
    observed: list[tuple[float, str | None]] = [(float(t), "home") for t in range(1, 21)]
    report = score_walk(segments, observed)
    assert report.columns == ("entrance", "shoes", "home", NO_ZONE)
    assert report.accuracy == 0.0
    assert report.latencies_s == (None,)
    assert report.missed == 1
    assert report.median_latency_s is None
    assert report.to_json()["missed"] == 1


def _s(ts_s: float, sensor: str, rssi: float, key: str = "tech") -> Sighting:
    return Sighting(ts_s, sensor, key, IdClass.INFRASTRUCTURE_BEACON, SignalKind.BLE, rssi)


def test_observed_zones_follow_the_loudest_sensor_in_the_window() -> None:
    """Each tick classifies the window's mean RSSI per sensor; an empty window is no zone."""
    clf = StrongestSensorClassifier({"a": "A", "b": "B"}, margin_db=0.0)
    sightings = [_s(0.5, "a", -50), _s(0.6, "b", -70), _s(2.5, "b", -40), _s(2.6, "a", -80)]
    sightings.append(_s(2.7, "a", -10, key="someone-else"))
    seen = observed_zones(
        sightings, clf, device_key="tech", start_s=0.0, end_s=6.0, step_s=1.0, window_s=1.0
    )
    assert seen == [(1.0, "A"), (2.0, None), (3.0, "B"), (4.0, None), (5.0, None), (6.0, None)]
