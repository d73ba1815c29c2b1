"""Footfall, dwell, heat by hour, zone statistics and live occupancy (JSON and SSE)."""

from __future__ import annotations

import asyncio
import csv
import io
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from gateway.api import queries
from gateway.api.auth import Role, require
from gateway.api.deps import ClockDep, SessionDep, SettingsDep
from gateway.api.routes.common import CSV_OK, ERRORS, KDep, PeriodDep
from gateway.api.schemas import (
    DwellBucketOut,
    DwellOut,
    FootfallOut,
    FootfallRowOut,
    HeatCellOut,
    HeatOut,
    OccupancyOut,
    OccupancyZoneOut,
    ZoneStatsOut,
)
from gateway.api.sse import occupancy_events
from gateway.schemas import NAME_PATTERN

router = APIRouter(tags=["footfall and occupancy"], responses=ERRORS)

READ = require(Role.MARKETER)
LIVE = require(Role.MARKETER, Role.TECHNICIAN)
StoreQuery = Annotated[str | None, Query(pattern=NAME_PATTERN, description="One store (all).")]
ZoneQuery = Annotated[str | None, Query(pattern=NAME_PATTERN, description="One zone.")]
Format = Annotated[Literal["json", "csv"], Query(description="json or csv.")]


def csv_response(rows: list[dict[str, object]], filename: str) -> Response:
    out = io.StringIO()
    if rows:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: "" if v is None else v for k, v in row.items()})
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get("/footfall", dependencies=[READ], responses=CSV_OK, response_model=FootfallOut)
def footfall(
    session: SessionDep,
    settings: SettingsDep,
    period: PeriodDep,
    k: KDep,
    store_id: StoreQuery = None,
    format: Format = "json",
) -> FootfallOut | Response:
    """Visits, passers-by, capture rate and new vs repeat visits per UTC day."""
    horizon_s = settings.privacy_horizon_days * 86_400.0
    days, total = queries.footfall(session, store_id, period.start, period.end, horizon_s, k)
    rows = [FootfallRowOut.model_validate(d, from_attributes=True) for d in days]
    if format == "csv":
        return csv_response([r.model_dump() for r in rows], "footfall.csv")
    return FootfallOut(
        store_id=store_id,
        period_from=period.start,
        period_to=period.end,
        k=k,
        privacy_horizon_days=settings.privacy_horizon_days,
        days=rows,
        total=FootfallRowOut.model_validate(total, from_attributes=True),
    )


@router.get("/footfall/dwell", dependencies=[READ])
def dwell(
    session: SessionDep,
    period: PeriodDep,
    k: KDep,
    store_id: StoreQuery = None,
    zone: ZoneQuery = None,
) -> DwellOut:
    """Visits (or stays in ``zone``) by dwell: <5 min, 5-20 min, 20-60 min, 1-6 h, 6 h+."""
    rows = queries.dwell_buckets(session, store_id, zone, period.start, period.end, k)
    return DwellOut(
        store_id=store_id,
        zone=zone,
        k=k,
        buckets=[DwellBucketOut.model_validate(b, from_attributes=True) for b in rows],
    )


@router.get("/footfall/hours", dependencies=[READ])
def heat(
    session: SessionDep,
    period: PeriodDep,
    k: KDep,
    store_id: StoreQuery = None,
    zone: ZoneQuery = None,
) -> HeatOut:
    """Visits (or zone entries) by weekday and hour of day, UTC."""
    cells = queries.heat_by_hour(session, store_id, zone, period.start, period.end, k)
    return HeatOut(
        store_id=store_id,
        zone=zone,
        k=k,
        cells=[HeatCellOut.model_validate(c, from_attributes=True) for c in cells],
    )


@router.get("/stores/{store_id}/zone-stats", dependencies=[READ], tags=["stores and zones"])
def zone_stats(
    store_id: Annotated[str, Path(pattern=NAME_PATTERN)],
    session: SessionDep,
    period: PeriodDep,
    k: KDep,
) -> list[ZoneStatsOut]:
    """Per zone: stays and their mean dwell over the period."""
    rows = queries.zone_stats(session, store_id, period.start, period.end, k)
    return [ZoneStatsOut.model_validate(r, from_attributes=True) for r in rows]


@router.get("/occupancy", dependencies=[LIVE])
def occupancy(
    session: SessionDep, clock: ClockDep, settings: SettingsDep, store_id: StoreQuery = None
) -> OccupancyOut:
    """Devices in each zone now (max over agents of their latest count)."""
    now = clock()
    rows = queries.occupancy_now(session, store_id, now, settings.occupancy_max_age_s)
    return OccupancyOut(
        at=now,
        max_age_s=settings.occupancy_max_age_s,
        zones=[OccupancyZoneOut.model_validate(r, from_attributes=True) for r in rows],
    )


@router.get(
    "/occupancy/stream",
    dependencies=[LIVE],
    response_model=None,
    responses={200: {"content": {"text/event-stream": {"schema": {"type": "string"}}}}},
)
async def occupancy_stream(
    request: Request,
    store_id: StoreQuery = None,
    limit: Annotated[
        int | None, Query(ge=1, le=1_000_000, description="Stop after this many updates.")
    ] = None,
) -> StreamingResponse:
    """Server-sent events: an ``occupancy`` event (the /occupancy JSON) every few seconds."""
    state = request.app.state

    def _snapshot() -> str:
        with state.session_factory() as session:
            now = state.clock()
            rows = queries.occupancy_now(session, store_id, now, state.settings.occupancy_max_age_s)
            return OccupancyOut(
                at=now,
                max_age_s=state.settings.occupancy_max_age_s,
                zones=[OccupancyZoneOut.model_validate(r, from_attributes=True) for r in rows],
            ).model_dump_json()

    async def _read() -> str:
        return await run_in_threadpool(_snapshot)

    return StreamingResponse(
        occupancy_events(
            _read, request.is_disconnected, state.settings.sse_interval_s, limit, asyncio.sleep
        ),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
