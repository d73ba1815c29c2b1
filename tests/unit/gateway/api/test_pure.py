"""Pure parts of the API: keys and sessions, SSE framing and pacing, config payloads,
Home Assistant discovery, SVG charts."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from xml.etree import ElementTree

import anyio
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.api.auth import KEY_PREFIX, generate_key, hash_key, key_hint, session_token
from gateway.api.config_push import ZoneConfig, config_payload, config_topic, push_zones
from gateway.api.homeassistant import ZoneSensor, discovery_messages, object_id, state_messages
from gateway.api.mqtt import Message, PublishError
from gateway.api.sse import occupancy_events, sse_message
from gateway.dashboard import charts


def test_keys_are_random_prefixed_and_stored_as_sha256() -> None:
    """Keys start with ff_, carry 256 random bits, differ every time; the hash is SHA-256 hex."""
    keys = {generate_key() for _ in range(50)}
    assert len(keys) == 50
    for key in keys:
        assert key.startswith(KEY_PREFIX)
        assert len(key) == len(KEY_PREFIX) + 43
        assert re.fullmatch(r"[0-9a-f]{64}", hash_key(key))


def test_key_hint_shows_at_most_four_characters() -> None:
    """A log line may carry the first four characters of a key and never more."""
    assert key_hint("ff_abcdefgh") == "ff_a..."
    assert key_hint(None) == "-"
    assert key_hint("ab") == "ab..."


def test_session_token_is_bound_to_the_key_hash_and_expiry() -> None:
    """Changing the key's hash, the expiry or the secret changes the token's signature."""
    base = session_token(b"s" * 32, 7, "a" * 64, 1000)
    assert base.startswith("7.1000.")
    assert session_token(b"s" * 32, 7, "b" * 64, 1000) != base
    assert session_token(b"s" * 32, 7, "a" * 64, 1001).split(".")[2] != base.split(".")[2]
    assert session_token(b"t" * 32, 7, "a" * 64, 1000) != base


def test_sse_message_frames_multiline_data() -> None:
    """Each data line gets its own 'data:' prefix and the message ends with a blank line."""
    assert sse_message("occupancy", "a\nb", 3) == "event: occupancy\nid: 3\ndata: a\ndata: b\n\n"


def _collect(limit: int | None, disconnect_after: int) -> list[str]:
    reads = iter(range(100))
    checks = iter(range(100))
    sleeps: list[float] = []

    async def read() -> str:
        return json.dumps({"n": next(reads)})

    async def disconnected() -> bool:
        return next(checks) >= disconnect_after

    async def sleep(s: float) -> None:
        sleeps.append(s)

    async def run() -> list[str]:
        return [m async for m in occupancy_events(read, disconnected, 2.0, limit, sleep)]

    out = anyio.run(run)
    assert all(s == 2.0 for s in sleeps)
    return out


def test_occupancy_stream_stops_at_the_limit_or_when_the_client_leaves() -> None:
    """The stream sends retry first, then one event per interval until limit or disconnect."""
    limited = _collect(limit=3, disconnect_after=100)
    assert limited[0].startswith("retry: ")
    assert len(limited) == 4
    left = _collect(limit=None, disconnect_after=2)
    assert len(left) == 3


def test_config_payload_is_the_agents_schema_and_its_version_tracks_the_zones() -> None:
    """Same zones give the same version; any change gives another; order is kept."""
    zones = [ZoneConfig("entrance", -60.0), ZoneConfig("dairy", -70.0)]
    version, payload = config_payload(zones)
    body = json.loads(payload)
    assert body["schema"] == 1
    assert body["version"] == version
    assert body["zones"] == [
        {"name": "entrance", "min_rssi_dbm": -60.0},
        {"name": "dairy", "min_rssi_dbm": -70.0},
    ]
    assert config_payload(list(zones))[0] == version
    assert config_payload([zones[1], zones[0]])[0] != version
    assert config_payload([ZoneConfig("entrance", -61.0), zones[1]])[0] != version
    assert config_topic("footfall/v1", "s", "a") == "footfall/v1/s/a/config"


class _Recorder:
    """A test double of the Publisher protocol that records or fails."""

    def __init__(self, fail: bool = False) -> None:
        self.sent: list[Message] = []
        self.fail = fail

    def publish(self, messages: Sequence[Message]) -> None:
        if self.fail:
            raise PublishError("broker 127.0.0.1:1 unreachable: refused")
        self.sent += messages


def test_push_zones_says_why_nothing_was_pushed() -> None:
    """Off, no zones, no agents and broker errors each give pushed=False with the reason."""
    zones = [ZoneConfig("a", -60.0)]
    assert push_zones(None, "r", "s", ["x"], zones).error == "config push is off"
    assert "no zones" in (push_zones(_Recorder(), "r", "s", ["x"], []).error or "")
    assert "no agent" in (push_zones(_Recorder(), "r", "s", [], zones).error or "")
    assert "unreachable" in (push_zones(_Recorder(fail=True), "r", "s", ["x"], zones).error or "")
    rec = _Recorder()
    result = push_zones(rec, "r", "s", ["x", "y"], zones)
    assert result.pushed
    assert [m.topic for m in rec.sent] == ["r/s/x/config", "r/s/y/config"]
    assert all(m.retain and m.qos == 1 for m in rec.sent)


@given(st.text(min_size=1, max_size=30), st.text(min_size=1, max_size=30))
def test_discovery_object_ids_are_safe_for_home_assistant(store: str, zone: str) -> None:
    """Object ids only ever hold [A-Za-z0-9_-], whatever the names."""
    assert re.fullmatch(r"[A-Za-z0-9_-]+", object_id(store, zone))


def test_discovery_and_states_describe_each_zone() -> None:
    """A retained config per zone with unit, state topic and device; state 0 when unseen."""
    sensors = [ZoneSensor("krakow.01", "dairy", "Dairy"), ZoneSensor("krakow.01", "bakery")]
    configs = discovery_messages("homeassistant", sensors)
    assert [m.topic for m in configs] == [
        "homeassistant/sensor/footfall_krakow_01_dairy/config",
        "homeassistant/sensor/footfall_krakow_01_bakery/config",
    ]
    first = json.loads(configs[0].payload)
    assert first["name"] == "Dairy occupancy"
    assert first["device"]["identifiers"] == ["footfall_krakow_01"]
    states = state_messages({("krakow.01", "dairy"): 4}, sensors)
    assert [m.payload for m in states] == [b"4", b"0"]


def _parse(svg: str) -> ElementTree.Element:
    return ElementTree.fromstring(svg)  # noqa: S314 - our own chart markup, not untrusted


def test_bar_chart_is_well_formed_and_hatches_suppressed_cells() -> None:
    """The SVG parses; suppressed values are hatched placeholders, not zero-height bars."""
    series = [
        charts.Series("visits", [10.0, None, 30.0]),
        charts.Series("passers", [1.0, 2.0, None], "s2"),
    ]
    svg = charts.bar_chart("Footfall <by> day", ["a", "b", "c"], series)
    root = _parse(svg)
    ns = "{http://www.w3.org/2000/svg}"
    rects = root.findall(f"{ns}rect")
    hatched = [r for r in rects if r.get("class") == "suppressed"]
    assert len(hatched) == 2
    assert root.find(f"{ns}title").text == "Footfall <by> day"  # escaped in the markup
    assert "&lt;by&gt;" in svg


def test_interval_chart_draws_both_levels_and_a_zero_line() -> None:
    """Each estimate has a point and one line per CI level; not computed rows say so."""
    rows = [
        charts.Interval("rate", 0.3, [(0.9, 0.1, 0.5), (0.95, 0.05, 0.6)]),
        charts.Interval("none", None, []),
    ]
    svg = charts.interval_chart("Lift", rows)
    root = _parse(svg)
    ns = "{http://www.w3.org/2000/svg}"
    lines = root.findall(f"{ns}line")
    assert {ln.get("data-level") for ln in lines if ln.get("data-level")} == {"0.9", "0.95"}
    assert any(ln.get("class") == "zero" for ln in lines)
    assert "not computed" in svg


@pytest.mark.parametrize("peak", [0, 1, 1000])
def test_heatmap_has_a_cell_per_weekday_hour(peak: int) -> None:
    """168 cells, suppressed ones hatched, any peak value (including an empty grid)."""
    cells = [(d, h, None if (d, h) == (0, 0) else peak) for d in range(7) for h in range(24)]
    root = _parse(charts.heatmap("Heat", cells))
    rects = root.findall("{http://www.w3.org/2000/svg}rect")
    assert len(rects) == 168
    assert sum(1 for r in rects if r.get("class") == "suppressed") == 1
