"""zone settings pushed to agents: RSSI threshold and order

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 12:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('zones', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('min_rssi_dbm', sa.Float(), nullable=False, server_default='-75')
        )
        batch_op.add_column(
            sa.Column('position', sa.Integer(), nullable=False, server_default='0')
        )


def downgrade() -> None:
    with op.batch_alter_table('zones', schema=None) as batch_op:
        batch_op.drop_column('position')
        batch_op.drop_column('min_rssi_dbm')
