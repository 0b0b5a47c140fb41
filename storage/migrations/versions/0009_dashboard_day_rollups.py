"""dashboard: daily roll-ups of settled days' outbox figures, covering indexes for receipts and the funnel

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-24 08:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('report_days',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('zone', sa.String(length=64), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('figure', sa.String(length=16), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('fallback', sa.Boolean(), nullable=False),
    sa.Column('count', sa.BigInteger(), nullable=False),
    sa.Column('rolled_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_report_days')),
    sa.UniqueConstraint('zone', 'day', 'figure', 'channel', 'key', 'fallback',
                        name=op.f('uq_report_days_zone_day_figure_channel_key_fallback'))
    )
    with op.batch_alter_table('receipts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_receipts_created_at_status'), ['created_at', 'status'], unique=False)
        batch_op.create_index(batch_op.f('ix_receipts_person_id_status'), ['person_id', 'status'], unique=False)

    with op.batch_alter_table('persons', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_persons_merged_into_id_registered_at'),
                              ['merged_into_id', 'registered_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('persons', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_persons_merged_into_id_registered_at'))

    with op.batch_alter_table('receipts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_receipts_person_id_status'))
        batch_op.drop_index(batch_op.f('ix_receipts_created_at_status'))

    op.drop_table('report_days')
