"""covering index of store visits by device for the attribution report (SQLite)

The report joins every identity link to its device's visits in the campaign's range
and reads the visit's start, class, store and zones. On SQLite the index on
``(device_key, started_at)`` found the visit and then read its table row;
``(device_key, started_at, visit_class, store_id, zones)`` answers the join from the
index alone (``SEARCH sv USING COVERING INDEX``) and serves every look-up the old one
served (its leading columns), so it replaces it. PostgreSQL hash-joins a sequential
scan of the visits there (and ``zones`` is JSON, which a b-tree cannot hold), so it
keeps ``(device_key, started_at)``.

Revision ID: 0006_visits_device_cover
Revises: 0005_person_ids_epoch
Create Date: 2026-11-23 18:55:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0006_visits_device_cover"
down_revision: str | None = "0005_person_ids_epoch"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD = ("ix_store_visits_device_key_started_at", ["device_key", "started_at"])
COVER = (
    "ix_store_visits_device_key_started_at_visit_class_store_id_zones",
    ["device_key", "started_at", "visit_class", "store_id", "zones"],
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.create_index(COVER[0], "store_visits", COVER[1], unique=False)
    op.drop_index(OLD[0], table_name="store_visits")


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.create_index(OLD[0], "store_visits", OLD[1], unique=False)
    op.drop_index(COVER[0], table_name="store_visits")
