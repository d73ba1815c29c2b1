"""Prometheus metrics of the API (and of the in-process ingest, when it runs here)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse

from gateway.api import queries
from gateway.api.auth import Role, require
from gateway.api.deps import SessionDep
from gateway.api.routes.common import ERRORS

router = APIRouter(tags=["metrics"], responses=ERRORS)


@router.get(
    "/metrics",
    dependencies=[require(Role.TECHNICIAN)],
    response_model=None,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
def metrics(request: Request, session: SessionDep) -> PlainTextResponse:
    """Requests by route and status, refused authentications by reason, table sizes."""
    state = request.app.state
    lines = state.api_metrics.render()
    lines.append("# HELP footfall_table_rows Rows per table.")
    lines.append("# TYPE footfall_table_rows gauge")
    for table, n in queries.table_counts(session).items():
        lines.append(f'footfall_table_rows{{table="{table}"}} {n}')
    text = "\n".join(lines) + "\n"
    if state.ingest_metrics is not None:
        text += state.ingest_metrics()
    return PlainTextResponse(text, media_type="text/plain; version=0.0.4")
