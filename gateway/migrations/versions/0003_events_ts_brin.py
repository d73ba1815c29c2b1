"""presence_events (ts): a BRIN index on PostgreSQL instead of a B-tree

Events arrive in roughly ``ts`` order, so a block-range index serves the
retention purge's ``ts < cutoff`` as well, at a fraction of the size and of the
per-row upkeep on every ingest COPY. ``autosummarize`` has autovacuum summarise
each filled block range, so the purge skips the ranges it does not need (an
unsummarised range always matches). SQLite keeps its B-tree (no BRIN there).

Revision ID: 0003_events_ts_brin
Revises: 0002
Create Date: 2026-11-23 12:45:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0003_events_ts_brin"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_index("ix_presence_events_ts", table_name="presence_events")
    # autosummarize: each filled block range is summarised by autovacuum soon after, so
    # the purge skips old ranges instead of reading every unsummarised one.
    op.create_index(
        "ix_presence_events_ts",
        "presence_events",
        ["ts"],
        postgresql_using="brin",
        postgresql_with={"autosummarize": "on"},
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_index("ix_presence_events_ts", table_name="presence_events")
    op.create_index("ix_presence_events_ts", "presence_events", ["ts"])
