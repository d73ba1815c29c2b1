"""covering index for the attribution join on exposures

The attribution report looks up a campaign's exposures of one person_key and one group
for every linked visit; this index answers that look-up without touching the table
(SQLite: ``SEARCH e USING COVERING INDEX``; ``id`` is the rowid there).

Revision ID: 0004_exposure_cover
Revises: 0003_events_ts_brin
Create Date: 2026-11-23 12:40:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0004_exposure_cover"
down_revision: str | None = "0003_events_ts_brin"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ["campaign_id", "person_key", "grp", "ts", "kind", "channel", "creative"]


def upgrade() -> None:
    with op.batch_alter_table("exposures", schema=None) as batch_op:
        batch_op.create_index("ix_exposures_attribution_cover", COLUMNS, unique=False)


def downgrade() -> None:
    with op.batch_alter_table("exposures", schema=None) as batch_op:
        batch_op.drop_index("ix_exposures_attribution_cover")
