"""The zones column's own JSON writer (COPY) and reader (visit merge) agree with ``json``."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from gateway.schemas import NAME_PATTERN
from gateway.store import _zones_json
from gateway.visits import _load_zones

NAMES = st.lists(st.from_regex(NAME_PATTERN, fullmatch=True), max_size=8)
ANY_TEXT = st.lists(st.text(max_size=12), max_size=6)


@given(NAMES)
def test_validated_names_round_trip(zones: list[str]) -> None:
    text = _zones_json(zones)
    assert json.loads(text) == zones
    assert list(_load_zones(text)) == zones


@given(ANY_TEXT)
def test_any_strings_are_valid_json(zones: list[str]) -> None:
    """Names that need escaping (never validated ones) go through ``json.dumps``."""
    text = _zones_json(zones)
    assert json.loads(text) == zones
    assert list(_load_zones(text)) == zones


@given(ANY_TEXT)
def test_reads_what_json_dumps_writes(zones: list[str]) -> None:
    """Rows written before (psycopg's ``json.dumps``, ``", "`` separators) read the same."""
    assert list(_load_zones(json.dumps(zones))) == zones


def test_not_a_list_of_strings_is_left_to_json() -> None:
    assert _load_zones("[1, 2]") == [1, 2]
    assert _load_zones('{"a": 1}') == {"a": 1}
    assert _load_zones("[]") == ()
