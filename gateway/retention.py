"""Retention: raw presence events older than the configured period are deleted in batches.

Store visits, occupancy, agents and dead letters are kept (they carry no raw
evidence beyond the device key). Batches keep each transaction short, so
ingest on the same database is never blocked for long. Events still waiting in
the ``visit_dirty`` queue are merged first (the caller runs
:func:`gateway.visits.update_visits` before purging).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import Engine, delete, select

from gateway.models import PresenceEventRow

_LOGGER = logging.getLogger(__name__)

__all__ = ["purge_events", "retention_cutoff"]


def retention_cutoff(now: datetime, retention_days: float) -> datetime:
    """Events with ``ts`` before this instant are past retention."""
    return now - timedelta(days=retention_days)


def purge_events(engine: Engine, cutoff: datetime, *, batch_rows: int = 10_000) -> int:
    """Delete events with ``ts < cutoff``, ``batch_rows`` per transaction; returns how many."""
    e = PresenceEventRow
    total = 0
    while True:
        with engine.begin() as conn:
            ids = select(e.id).where(e.ts < cutoff).order_by(e.ts).limit(batch_rows)
            deleted = conn.execute(delete(e).where(e.id.in_(ids.scalar_subquery()))).rowcount
        total += deleted
        if deleted < batch_rows:
            break
    if total:
        _LOGGER.info("retention: purged %d events older than %s", total, cutoff.isoformat())
    return total
