"""Pure report shaping: k-anonymity suppression, the parameter set, JSON and CSV rendering.

Every report carries the parameters that produced it (visit definition, windows, model,
k), so a number can always be traced back to how it was computed. A cell built from
fewer than ``k`` distinct people shows no numbers at all, only ``suppressed: true``.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, is_dataclass, replace
from datetime import datetime
from enum import Enum
from typing import Any

DEFAULT_K = 10  # the smallest number of distinct people a shown cell may be built from

#: Time-to-visit histogram buckets: (label, upper bound in seconds, exclusive).
TIME_TO_VISIT_BUCKETS: tuple[tuple[str, float], ...] = (
    ("<1h", 3_600.0),
    ("1-6h", 6 * 3_600.0),
    ("6-24h", 86_400.0),
    ("1-3d", 3 * 86_400.0),
    ("3-7d", 7 * 86_400.0),
    ("7-14d", 14 * 86_400.0),
    ("14-30d", 30 * 86_400.0),
    (">=30d", math.inf),
)

#: Windows for "lift as a function of the window", in seconds.
LIFT_CURVE_WINDOWS_S: tuple[float, ...] = (
    3_600.0,
    6 * 3_600.0,
    86_400.0,
    3 * 86_400.0,
    7 * 86_400.0,
    14 * 86_400.0,
    30 * 86_400.0,
)


@dataclass(frozen=True, slots=True)
class Cell:
    """One row of a breakdown: a dimension value with its counts.

    ``people`` is the number of distinct person_keys behind the cell (the k-anonymity
    count), ``visits`` the attributed visits (one per person, store and day) and
    ``credited_visits`` the visits' credit under the chosen model.
    """

    dimension: str
    value: str
    people: int
    visits: int | None
    credited_visits: float | None
    suppressed: bool = False


def suppress(cells: Iterable[Cell], k: int = DEFAULT_K) -> list[Cell]:
    """Blank every cell with fewer than ``k`` people (k >= 1)."""
    if k < 1:
        raise ValueError(f"'k' must be >= 1 (got {k})")
    return [
        replace(c, people=0, visits=None, credited_visits=None, suppressed=True)
        if c.people < k
        else c
        for c in cells
    ]


def time_to_visit_bucket(age_s: float) -> str:
    """Histogram bucket of a time from exposure to visit (negative skew counts as < 1 h)."""
    for label, upper in TIME_TO_VISIT_BUCKETS:
        if age_s < upper:
            return label
    return TIME_TO_VISIT_BUCKETS[-1][0]


@dataclass(frozen=True, slots=True)
class ParameterSet:
    """Everything that determines a report's numbers."""

    campaign_id: str
    visit_definition: Mapping[str, Any]
    windows_s: Mapping[str, float]
    clock_skew_tolerance_s: float
    model: str
    half_life_s: float
    k: int
    levels: tuple[float, ...]
    extra: Mapping[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = _jsonable(asdict(self))
        return out


@dataclass(frozen=True, slots=True)
class Report:
    """A named report: its parameters and named sections of rows."""

    name: str
    parameters: ParameterSet
    sections: Mapping[str, Sequence[Mapping[str, Any]]]

    def as_dict(self) -> dict[str, Any]:
        return {
            "report": self.name,
            "parameters": self.parameters.as_dict(),
            "sections": {k: [_jsonable(dict(r)) for r in v] for k, v in self.sections.items()},
        }


def _jsonable(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return _jsonable(asdict(value))
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def render_json(report: Report) -> str:
    """The report as pretty JSON (stable key order)."""
    return json.dumps(report.as_dict(), indent=2, sort_keys=True)


def render_csv(report: Report) -> str:
    """The report as CSV: a ``# parameters: {...}`` comment line, then one table.

    Rows of every section share one header (the union of their keys, first seen first)
    with a leading ``section`` column. Read it with ``pandas.read_csv(..., comment="#")``.
    """
    params = json.dumps(report.parameters.as_dict(), sort_keys=True)
    rows = [
        {"section": name, **_jsonable(dict(row))}
        for name, section in report.sections.items()
        for row in section
    ]
    header: list[str] = ["section"]
    for row in rows:
        for key in row:
            if key not in header:
                header.append(key)
    out = io.StringIO()
    out.write(f"# parameters: {params}\n")
    writer = csv.DictWriter(out, fieldnames=header, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if v is None else v) for k, v in row.items()})
    return out.getvalue()
