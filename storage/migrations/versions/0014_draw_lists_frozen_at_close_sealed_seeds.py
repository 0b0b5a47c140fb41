"""draws: the list frozen at the entries' close (frozen_at, who each row is), the seed sealed with DRAW_SEED_KEY;
receipts: when each became accepted (counted_at), so a list takes only what was counted before its close

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-08 12:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('draws', schema=None) as batch_op:
        batch_op.add_column(sa.Column('entrants', sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column('sealed_seed', sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column('frozen_at', sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table('receipts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('counted_at', sa.DateTime(timezone=True), nullable=True))
    # receipts accepted before this was recorded count from when they were stored (their best known moment);
    # draws drawn before it keep their list as drawn: it was frozen at their draw
    op.execute("UPDATE receipts SET counted_at = created_at WHERE status = 'accepted'")
    op.execute("UPDATE draws SET frozen_at = drawn_at WHERE status = 'drawn'")


def downgrade() -> None:
    with op.batch_alter_table('receipts', schema=None) as batch_op:
        batch_op.drop_column('counted_at')
    with op.batch_alter_table('draws', schema=None) as batch_op:
        batch_op.drop_column('frozen_at')
        batch_op.drop_column('sealed_seed')
        batch_op.drop_column('entrants')
