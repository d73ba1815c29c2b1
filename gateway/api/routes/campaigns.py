"""Campaigns, exposure and identity-link imports, attribution and lift reports.

Imports and reports call ``gateway.campaign_store`` and ``gateway.reports`` (the same
code as ``footfall campaigns ...`` and ``footfall report ...``), with the same
parameters as the CLI.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, HTTPException, Path, Query, Request, UploadFile
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from gateway.api import queries
from gateway.api.auth import Role, require
from gateway.api.deps import ClockDep, EngineDep, SessionDep
from gateway.api.routes.common import (
    CONFLICT,
    CSV_OK,
    ERRORS,
    NOT_FOUND,
    KDep,
    RowsRefusedError,
)
from gateway.api.schemas import (
    CAMPAIGN_ID_PATTERN,
    DAY_S,
    CampaignIn,
    CampaignOut,
    ImportOut,
    ImportRefusedOut,
    ReportOut,
    RevokedOut,
    RevokeLinksIn,
    StreamOut,
)

router = APIRouter(tags=["campaigns"], responses={**ERRORS, **NOT_FOUND})

CampaignId = Annotated[str, Path(pattern=CAMPAIGN_ID_PATTERN, description="Campaign id.")]
READ = require(Role.MARKETER)
INGEST = require(Role.INGEST)
Format = Annotated[Literal["json", "csv"], Query(description="json or csv.")]
FileFormatQ = Annotated[
    Literal["csv", "jsonl"] | None, Form(description="csv or jsonl (default: from the file name).")
]
CountryForm = Annotated[
    str | None,
    Form(pattern=r"^[0-9]{1,4}$", description="Calling code for phones written without one."),
]
MAX_STREAM_EVENTS = 100_000
MAX_ROW_ERRORS = 1000  # a file of a million bad rows answers with the first thousand
REFUSED: dict[int | str, dict[str, Any]] = {
    422: {"model": ImportRefusedOut, "description": "Bad rows; nothing was imported."}
}


@router.get("/campaigns", dependencies=[READ])
def list_campaigns(session: SessionDep) -> list[CampaignOut]:
    return [CampaignOut.model_validate(c, from_attributes=True) for c in queries.campaigns(session)]


@router.get("/campaigns/{campaign_id}", dependencies=[READ])
def get_campaign(campaign_id: CampaignId, session: SessionDep) -> CampaignOut:
    info = queries.get_campaign_info(session, campaign_id)
    return CampaignOut.model_validate(info, from_attributes=True)


@router.post("/campaigns", status_code=201, dependencies=[require()], responses=CONFLICT)
def create_campaign(
    body: CampaignIn, engine: EngineDep, session: SessionDep, clock: ClockDep
) -> CampaignOut:
    """Create a campaign with its attribution windows and control design (admin)."""
    from campaigns.model import AttributionWindows, Campaign, ControlDesign
    from gateway.campaign_store import create_campaign as store_campaign

    campaign = Campaign(
        id=body.id,
        name=body.name,
        channels=tuple(body.channels),
        starts_at=body.starts_at,
        ends_at=body.ends_at,
        windows=AttributionWindows(
            body.window_click_days * DAY_S,
            body.window_impression_days * DAY_S,
            body.window_engaged_view_days * DAY_S,
        ),
        control_design=ControlDesign(body.control_design),
    )
    store_campaign(engine, campaign, clock())
    return get_campaign(body.id, session)


async def _text(upload: UploadFile) -> str:
    raw = await upload.read()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise HTTPException(422, detail="'file' must be UTF-8 text") from None


def _format(name: str | None, given: str | None) -> Any:
    from campaigns.imports import FileFormat

    if given is not None:
        return FileFormat(given)
    return FileFormat.from_filename(name or "")


def _refuse_rows(errors: Any, what: str) -> RowsRefusedError:
    rows = [{"line": e.line, "field": e.field, "reason": e.reason} for e in errors[:MAX_ROW_ERRORS]]
    return RowsRefusedError(f"{len(errors)} bad {what} row(s); nothing imported", rows)


@router.post("/campaigns/{campaign_id}/exposures", dependencies=[INGEST], responses=REFUSED)
async def import_exposures(
    campaign_id: CampaignId,
    file: Annotated[UploadFile, File(description="CSV or JSON lines (docs/attribution.md).")],
    engine: EngineDep,
    file_format: FileFormatQ = None,
    default_country_code: CountryForm = None,
) -> ImportOut:
    """Import an exposure file all-or-nothing; raw e-mails and phones are hashed on read."""
    from campaigns.imports import parse_exposures
    from gateway.campaign_store import import_exposures as store_exposures

    text = await _text(file)
    fmt = _format(file.filename, file_format)
    parsed = parse_exposures(text, fmt, campaign_id, default_country_code)
    if parsed.errors:
        raise _refuse_rows(parsed.errors, "exposure")
    import_id = (file.filename or "upload")[:64]
    outcome = await run_in_threadpool(store_exposures, engine, campaign_id, parsed.rows, import_id)
    return ImportOut(
        rows=len(parsed.rows) + parsed.duplicates,
        inserted=outcome.inserted,
        already_present=outcome.already_present,
        duplicates_in_file=parsed.duplicates,
    )


@router.post(
    "/campaigns/{campaign_id}/exposures/stream",
    dependencies=[INGEST],
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/x-ndjson": {"schema": {"type": "string"}},
                "application/json": {"schema": {"type": "array", "items": {"type": "object"}}},
            },
        }
    },
)
async def stream_exposures(
    campaign_id: CampaignId, request: Request, engine: EngineDep
) -> StreamOut:
    """Server-to-server impressions as JSON lines (or one JSON array): bad events are dropped
    and counted by the failing field, the rest inserted."""
    from gateway.campaign_store import ingest_exposure_events

    body = await request.body()
    events: list[dict[str, Any]] = []
    dropped: dict[str, int] = {}
    text = body.decode("utf-8", errors="replace").strip()
    items: list[Any]
    if text.startswith("["):
        try:
            items = json.loads(text)
        except ValueError:
            raise HTTPException(422, detail="body: not a JSON array nor JSON lines") from None
    else:
        items = []
        for line in text.splitlines():
            if not line.strip():
                continue
            try:
                items.append(json.loads(line))
            except ValueError:
                dropped["json"] = dropped.get("json", 0) + 1
    if len(items) > MAX_STREAM_EVENTS:
        raise HTTPException(422, detail=f"body: at most {MAX_STREAM_EVENTS} events per request")
    for item in items:
        if isinstance(item, dict):
            events.append(item)
        else:
            dropped["json"] = dropped.get("json", 0) + 1
    with request.app.state.session_factory() as session:
        queries.get_campaign_info(session, campaign_id)
    outcome = await run_in_threadpool(ingest_exposure_events, engine, campaign_id, events)
    for reason, n in outcome.dropped.items():
        dropped[reason] = dropped.get(reason, 0) + n
    return StreamOut(inserted=outcome.inserted, dropped=dropped)


@router.post("/links", dependencies=[INGEST], tags=["identity links"], responses=REFUSED)
async def import_links(
    file: Annotated[UploadFile, File(description="CSV or JSON lines of consented links.")],
    engine: EngineDep,
    file_format: FileFormatQ = None,
    default_country_code: CountryForm = None,
) -> ImportOut:
    """Import consented device_key <-> person_key links, all-or-nothing."""
    from campaigns.imports import parse_links
    from gateway.campaign_store import import_links as store_links

    text = await _text(file)
    parsed = parse_links(text, _format(file.filename, file_format), default_country_code)
    if parsed.errors:
        raise _refuse_rows(parsed.errors, "link")
    outcome = await run_in_threadpool(store_links, engine, parsed.rows)
    return ImportOut(
        rows=len(parsed.rows),
        inserted=outcome.inserted,
        already_present=outcome.already_present,
        duplicates_in_file=parsed.duplicates,
    )


@router.post("/links/revoke", dependencies=[INGEST], tags=["identity links"])
def revoke_links(body: RevokeLinksIn, engine: EngineDep, clock: ClockDep) -> RevokedOut:
    """Revoke links by device_key and/or person_key: every later report ignores them."""
    from gateway.campaign_store import revoke_links as store_revoke

    count = store_revoke(
        engine,
        clock(),
        device_key=body.device_key,
        person_key=body.person_key,
        source=body.source,
    )
    return RevokedOut(revoked=count)


def _report_response(report: Any, format: str, name: str) -> ReportOut | Response:
    from campaigns.reports import render_csv

    if format == "csv":
        return Response(
            render_csv(report),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
        )
    return ReportOut.model_validate(report.as_dict())


Model = Annotated[
    Literal["last_touch", "first_touch", "linear", "time_decay", "position_based", "markov"],
    Query(description="Credit model."),
]


@router.get(
    "/campaigns/{campaign_id}/attribution",
    dependencies=[READ],
    responses=CSV_OK,
    response_model=ReportOut,
)
def attribution(
    campaign_id: CampaignId,
    engine: EngineDep,
    k: KDep,
    model: Model = "last_touch",
    half_life_days: Annotated[float, Query(gt=0, le=365, description="Time decay.")] = 7.0,
    format: Format = "json",
) -> ReportOut | Response:
    """Attributed visits by campaign, channel, creative, store, zone and day; time to visit."""
    from gateway.reports import ReportOptions, attribution_report

    options = ReportOptions(model=model, half_life_s=half_life_days * DAY_S, k=k)
    result = attribution_report(engine, campaign_id, options)
    return _report_response(result.report, format, f"attribution-{campaign_id}")


@router.get(
    "/campaigns/{campaign_id}/lift", dependencies=[READ], responses=CSV_OK, response_model=ReportOut
)
def lift(
    campaign_id: CampaignId,
    engine: EngineDep,
    k: KDep,
    format: Format = "json",
) -> ReportOut | Response:
    """Exposed vs control visit rate, CIs at 90/95 %, p-value, incremental visitors, lift by
    window; difference-in-differences for campaigns without a holdout."""
    from gateway.reports import ReportOptions, lift_report

    report = lift_report(engine, campaign_id, ReportOptions(k=k))
    return _report_response(report, format, f"lift-{campaign_id}")
