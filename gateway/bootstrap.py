"""Composition root of the gateway process: settings in, wired parts out."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import Engine

from gateway.db import make_engine
from gateway.metrics import IngestMetrics, MetricsServer
from gateway.migrate import current_revision, head_revision, upgrade
from gateway.retention import purge_events, retention_cutoff
from gateway.service import IngestService, Periodic
from gateway.settings import GatewaySettings
from gateway.visits import VisitRules, update_visits

__all__ = ["Ingest", "build_ingest", "check_schema", "visit_rules"]

RETENTION_EVERY_S = 3600.0  # purging is cheap when done often; hourly keeps batches small


def visit_rules(settings: GatewaySettings) -> VisitRules:
    return VisitRules(
        gap_s=settings.visit_gap_s,
        min_dwell_s=settings.min_visit_dwell_s,
        engaged_dwell_s=settings.engaged_dwell_s,
        engaged_zones=settings.engaged_zones,
    )


def check_schema(database_url: str, *, migrate: bool) -> None:
    """Refuse to start on a database that is not at the newest revision (or migrate it)."""
    from sqlalchemy.exc import SQLAlchemyError

    try:
        if migrate:
            upgrade(database_url)
            return
        current = current_revision(database_url)
    except SQLAlchemyError as exc:
        raise RuntimeError(f"database {database_url!r}: {str(exc).splitlines()[0]}") from None
    head = head_revision()
    if current != head:
        raise RuntimeError(
            f"database is at revision {current or 'empty'}, this gateway needs {head}: "
            "run 'footfall gateway migrate' (or pass --migrate)"
        )


@dataclass
class Ingest:
    engine: Engine
    service: IngestService
    metrics_server: MetricsServer | None = field(default=None)

    def close(self) -> None:
        if self.metrics_server is not None:
            self.metrics_server.close()
        self.engine.dispose()


def build_ingest(settings: GatewaySettings) -> Ingest:
    engine = make_engine(settings.database_url, pool_pre_ping=True)
    metrics = IngestMetrics()
    rules = visit_rules(settings)

    def _visits() -> object:
        return update_visits(engine, rules, datetime.now(UTC))

    def _purge() -> object:
        update_visits(engine, rules, datetime.now(UTC))  # merge before the evidence goes
        cutoff = retention_cutoff(datetime.now(UTC), settings.retention_days)
        return purge_events(engine, cutoff, batch_rows=settings.retention_batch_rows)

    service = IngestService(
        settings,
        engine,
        metrics,
        housekeeping=[
            Periodic("store visits", settings.visits_every_s, _visits),
            Periodic("retention", RETENTION_EVERY_S, _purge),
        ],
    )
    server = None
    if settings.metrics_port is not None:
        server = MetricsServer(
            lambda: metrics.render(time.monotonic()), settings.metrics_host, settings.metrics_port
        )
    return Ingest(engine, service, server)
