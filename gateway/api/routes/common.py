"""Parameters and answers shared by the routes: the period, k, documented error responses."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Query

from gateway.api.deps import ClockDep, SettingsDep
from gateway.api.schemas import ErrorOut

MIN_YEAR, MAX_YEAR = 2000, 2100  # outside: a typo, and far-off years overflow UTC conversion
MAX_PERIOD_DAYS = 400
DEFAULT_PERIOD_DAYS = 30

ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorOut, "description": "The body cannot be parsed (not JSON, bad form)."},
    401: {"model": ErrorOut, "description": "No valid API key (missing, unknown or revoked)."},
    403: {"model": ErrorOut, "description": "The key's role may not do this."},
    413: {"model": ErrorOut, "description": "Request body too large."},
    422: {"model": ErrorOut, "description": "A parameter or the body is invalid."},
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorOut, "description": "The store, zone or campaign does not exist."}
}
CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorOut, "description": "It exists already."}
}
CSV_OK: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {"schema": {"type": "string"}}}}
}


class RowsRefusedError(Exception):
    """A file with bad rows: answered 422 with every row's line, field and reason."""

    def __init__(self, detail: str, errors: list[dict[str, Any]]) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors


@dataclass(frozen=True, slots=True)
class Period:
    start: datetime
    end: datetime


def _aware_in_range(name: str, value: datetime) -> datetime:
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        raise HTTPException(
            422, detail=f"'{name}' must be between {MIN_YEAR} and {MAX_YEAR} (got {value.year})"
        )
    return value.astimezone(UTC)


def period(
    clock: ClockDep,
    start: Annotated[
        datetime | None,
        Query(alias="from", description="Start, ISO 8601 with zone (default: 30 days ago)."),
    ] = None,
    end: Annotated[
        datetime | None, Query(alias="to", description="End (exclusive), ISO 8601 with zone.")
    ] = None,
) -> Period:
    """The requested period, checked: aware, ordered, at most 400 days."""
    for name, value in (("from", start), ("to", end)):
        if value is not None and (value.tzinfo is None or value.utcoffset() is None):
            raise HTTPException(
                422, detail=f"'{name}' must carry a zone such as Z or +01:00 (got {value})"
            )
    now = clock()
    end_ = _aware_in_range("to", end) if end is not None else now
    start_ = (
        _aware_in_range("from", start)
        if start is not None
        else end_ - timedelta(days=DEFAULT_PERIOD_DAYS)
    )
    if start_ >= end_:
        raise HTTPException(422, detail=f"'from' must be before 'to' (got {start_} >= {end_})")
    if end_ - start_ > timedelta(days=MAX_PERIOD_DAYS):
        raise HTTPException(
            422, detail=f"the period from 'from' to 'to' must be at most {MAX_PERIOD_DAYS} days"
        )
    return Period(start_, end_)


PeriodDep = Annotated[Period, Depends(period)]


def k_value(
    settings: SettingsDep,
    k: Annotated[
        int | None,
        Query(
            ge=1,
            le=100_000,
            description="Suppress cells of fewer than k people/devices; "
            "never below the server's minimum (the answer states the k used).",
        ),
    ] = None,
) -> int:
    return max(k or settings.k_min, settings.k_min)


KDep = Annotated[int, Depends(k_value)]
