"""The FastAPI application: ``create_app(settings, session_factory, ...)``.

Nothing happens at import time; the entrypoint (``footfall gateway serve``) or a test
builds the app with its own settings, session factory, publisher and clock.

Errors never surface as 500 for bad input: validation errors are 422 with the field,
unknown objects 404, duplicates 409, bodies over the limit 413, a database that is away
503. Only a bug is a 500 (and it is logged with its traceback).
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.api import security
from gateway.api.auth import ApiKeyError, ApiKeyNotFoundError
from gateway.api.config_push import Publisher
from gateway.api.queries import ConflictError, NotFoundError
from gateway.api.routes.common import RowsRefusedError
from gateway.api.settings import ApiSettings

_LOGGER = logging.getLogger(__name__)

API_PREFIX = "/api/v1"
_APP_LEVEL = (API_PREFIX, "/dashboard", "/login", "/logout", "/static")


class ApiMetrics:
    """Requests by method, route template and status; refused authentications by reason."""

    def __init__(self) -> None:
        self.requests: Counter[tuple[str, str, int]] = Counter()
        self.auth_refused: Counter[str] = Counter()
        self._lock = threading.Lock()

    def record(self, method: str, route: str, status: int) -> None:
        with self._lock:
            self.requests[(method, route, status)] += 1

    def refused(self, reason: str) -> None:
        with self._lock:
            self.auth_refused[reason.split(" ")[0].split(":")[0]] += 1

    def render(self) -> list[str]:
        with self._lock:
            lines = [
                "# HELP footfall_api_requests_total HTTP requests by route and status.",
                "# TYPE footfall_api_requests_total counter",
            ]
            for (method, route, status), n in sorted(self.requests.items()):
                lines.append(
                    f'footfall_api_requests_total{{method="{method}",route="{route}",'
                    f'status="{status}"}} {n}'
                )
            lines += [
                "# HELP footfall_api_auth_refused_total Refused authentications by reason.",
                "# TYPE footfall_api_auth_refused_total counter",
            ]
            for reason, n in sorted(self.auth_refused.items()):
                lines.append(f'footfall_api_auth_refused_total{{reason="{reason}"}} {n}')
            return lines


class _MetricsMiddleware:
    def __init__(self, app: ASGIApp, metrics: ApiMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500

        async def _send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, _send)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", None) or "unmatched"
            if path.startswith("/") and path != "/" and not path.startswith(_APP_LEVEL):
                path = API_PREFIX + path  # routes of included routers carry their local path
            self.metrics.record(scope.get("method", "-"), path, status)


def _error(status: int, detail: Any, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


def _install_error_handlers(app: FastAPI) -> None:
    from campaigns.model import CampaignError
    from gateway.campaign_store import CampaignStoreError
    from gateway.reports import ReportError

    async def not_found(_r: Request, exc: Exception) -> JSONResponse:
        return _error(404, str(exc).strip("'\""))

    async def conflict(_r: Request, exc: Exception) -> JSONResponse:
        return _error(409, str(exc))

    async def invalid(_r: Request, exc: Exception) -> JSONResponse:
        return _error(422, str(exc))

    async def campaign_store(_r: Request, exc: Exception) -> JSONResponse:
        message = str(exc)
        return _error(404 if "does not exist" in message else 409, message)

    async def refused_rows(_r: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RowsRefusedError)  # noqa: S101 - registered for this type only
        return JSONResponse({"detail": exc.detail, "errors": exc.errors}, status_code=422)

    async def validation(_r: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)  # noqa: S101
        errors = [
            {
                "loc": list(e.get("loc", ())),
                "msg": e.get("msg", ""),
                "type": e.get("type", ""),
            }
            for e in exc.errors()
        ]
        return _error(422, errors)

    async def database_refused(_r: Request, exc: Exception) -> JSONResponse:
        # a value the schema let through but the column cannot hold (length, range)
        first = str(getattr(exc, "orig", exc)).splitlines()[0][:200]
        return _error(422, f"the database refused a value: {first}")

    async def database_down(_r: Request, exc: Exception) -> JSONResponse:
        _LOGGER.warning("database unavailable: %s", str(exc).splitlines()[0][:200])
        return _error(503, "the database is unavailable; retry later", {"Retry-After": "5"})

    app.add_exception_handler(NotFoundError, not_found)
    app.add_exception_handler(ConflictError, conflict)
    app.add_exception_handler(ApiKeyNotFoundError, not_found)
    app.add_exception_handler(ApiKeyError, invalid)
    app.add_exception_handler(CampaignError, invalid)
    app.add_exception_handler(ReportError, invalid)
    app.add_exception_handler(CampaignStoreError, campaign_store)
    app.add_exception_handler(RowsRefusedError, refused_rows)
    app.add_exception_handler(RequestValidationError, validation)
    app.add_exception_handler(DataError, database_refused)
    app.add_exception_handler(IntegrityError, database_refused)
    app.add_exception_handler(OperationalError, database_down)


def _utc_now() -> datetime:
    return datetime.now(UTC)


def create_app(
    settings: ApiSettings,
    session_factory: sessionmaker[Session],
    *,
    publisher: Publisher | None = None,
    topic_root: str = "footfall/v1",
    clock: Callable[[], datetime] = _utc_now,
    ingest_metrics: Callable[[], str] | None = None,
    dashboard: bool = True,
) -> FastAPI:
    """The API (and dashboard) over the database behind ``session_factory``.

    ``publisher`` pushes zone configs (``None``: no push); ``clock`` is the only source of
    "now"; ``ingest_metrics`` appends the in-process ingest's Prometheus text to /metrics.
    """
    from gateway.api.routes import agents, campaigns, footfall, keys, metrics, stores

    app = FastAPI(
        title="Footfall gateway API",
        version="1",
        description="Footfall, occupancy, campaigns and lift. Every endpoint needs an API "
        "key ('Authorization: Bearer ff_...' or 'X-API-Key'); see docs/api.md.",
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=f"{API_PREFIX}/docs",
        redoc_url=f"{API_PREFIX}/redoc",
        swagger_ui_oauth2_redirect_url=f"{API_PREFIX}/docs/oauth2-redirect",
    )
    engine = session_factory.kw.get("bind")
    if engine is None:
        raise ValueError("'session_factory' must be bound to an engine (sessionmaker(engine))")
    secret = (
        settings.session_secret.get_secret_value().encode()
        if settings.session_secret is not None
        else secrets.token_bytes(32)
    )
    app.state.settings = settings
    app.state.session_factory = session_factory
    app.state.engine = engine
    app.state.publisher = publisher
    app.state.topic_root = topic_root
    app.state.clock = clock
    app.state.ingest_metrics = ingest_metrics
    app.state.session_secret = secret
    app.state.api_metrics = ApiMetrics()

    for module in (stores, agents, footfall, campaigns, keys, metrics):
        app.include_router(module.router, prefix=API_PREFIX)
    if dashboard:
        from gateway.dashboard.views import install as install_dashboard

        install_dashboard(app)
    _install_error_handlers(app)
    app.add_middleware(_MetricsMiddleware, metrics=app.state.api_metrics)
    security.install(
        app, max_body_bytes=settings.max_body_bytes, cors_origins=settings.cors_origins
    )
    return app
