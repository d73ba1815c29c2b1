"""integer person ids and exposure epoch seconds for the attribution report

``people`` numbers every person_key (a SHA-256 hex); ``exposures.person_id`` and
``identity_links.person_id`` reference it, so the report joins and groups on integers
instead of 64-character strings. ``exposures.ts_s`` is ``ts`` in epoch seconds, a
generated column (the database computes it; the report compares it with the visit's
epoch without parsing a timestamp per candidate pair). The covering index of the
attribution join becomes (campaign, person id, group, ts_s, ...). Existing rows are
backfilled.

Revision ID: 0005_person_ids_epoch
Revises: 0004_exposure_cover
Create Date: 2026-11-23 16:10:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_person_ids_epoch"
down_revision: str | None = "0004_exposure_cover"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TABLES = ("exposures", "identity_links")
# the same expressions as gateway.db.epoch_seconds, frozen here
EPOCH_S = {
    "sqlite": "((julianday(ts) - 2440587.5) * 86400.0)",
    "postgresql": "EXTRACT(EPOCH FROM (ts AT TIME ZONE 'UTC'))",
}
OLD_COVER = ["campaign_id", "person_key", "grp", "ts", "kind", "channel", "creative"]
NEW_COVER = ["campaign_id", "person_id", "grp", "ts_s", "ts", "kind", "channel", "creative"]
COVER = "ix_exposures_attribution_cover"


def _backfill(dialect: str, table: str) -> None:
    if dialect == "postgresql":
        op.execute(
            f"UPDATE {table} SET person_id = p.id FROM people p "
            f"WHERE p.person_key = {table}.person_key"
        )
    else:
        op.execute(
            f"UPDATE {table} SET person_id = "
            f"(SELECT p.id FROM people p WHERE p.person_key = {table}.person_key)"
        )


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.create_table(
        "people",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("person_key", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_people")),
        sa.UniqueConstraint("person_key", name=op.f("uq_people_person_key")),
    )
    op.execute(
        "INSERT INTO people (person_key) SELECT person_key FROM exposures "
        "UNION SELECT person_key FROM identity_links"
    )
    for table in TABLES:
        op.add_column(table, sa.Column("person_id", BIG_ID, nullable=True))
        _backfill(dialect, table)
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column("person_id", existing_type=BIG_ID, nullable=False)
            batch_op.create_foreign_key(
                op.f(f"fk_{table}_person_id_people"), "people", ["person_id"], ["id"]
            )
            if table == "exposures":
                batch_op.add_column(
                    sa.Column(
                        "ts_s",
                        sa.Float(),
                        sa.Computed(sa.text(EPOCH_S[dialect]), persisted=True),
                        nullable=False,
                    )
                )
                batch_op.drop_index(COVER)
                batch_op.create_index(COVER, NEW_COVER, unique=False)
            else:
                batch_op.create_index(op.f(f"ix_{table}_person_id"), ["person_id"], unique=False)


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            if table == "exposures":
                batch_op.drop_index(COVER)
                batch_op.create_index(COVER, OLD_COVER, unique=False)
                batch_op.drop_column("ts_s")
            else:
                batch_op.drop_index(op.f(f"ix_{table}_person_id"))
            batch_op.drop_constraint(op.f(f"fk_{table}_person_id_people"), type_="foreignkey")
            batch_op.drop_column("person_id")
    op.drop_table("people")
