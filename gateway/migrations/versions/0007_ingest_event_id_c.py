"""cheaper ingest: presence_events.event_id compared bytewise, visit_dirty's unused index gone

Every event ingested inserts into the unique index on ``event_id``. On PostgreSQL its
comparisons went through the database's collation (``strcoll``), though the key is only
ever tested for equality: with ``COLLATE "C"`` they are plain byte comparisons, the
same equality (a deterministic collation only calls bytewise-equal strings equal).
Nothing orders by ``event_id`` or joins on it. ``visit_dirty`` is a work queue read in
``id`` order; its ``(store_id, device_key)`` index served no query and cost an insert
per queued device.

Revision ID: 0007_ingest_event_id_c
Revises: 0006_visits_device_cover
Create Date: 2026-11-23 19:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_ingest_event_id_c"
down_revision: str | None = "0006_visits_device_cover"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DIRTY_INDEX = ("ix_visit_dirty_store_id_device_key", ["store_id", "device_key"])


def upgrade() -> None:
    op.drop_index(DIRTY_INDEX[0], table_name="visit_dirty")
    if op.get_bind().dialect.name != "postgresql":
        return
    # Same type, another collation: no table rewrite, the unique index is rebuilt.
    op.alter_column(
        "presence_events",
        "event_id",
        type_=sa.String(96, collation="C"),
        existing_type=sa.String(96),
        existing_nullable=False,
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column(
            "presence_events",
            "event_id",
            type_=sa.String(96),
            existing_type=sa.String(96, collation="C"),
            existing_nullable=False,
        )
    op.create_index(DIRTY_INDEX[0], "visit_dirty", DIRTY_INDEX[1], unique=False)
