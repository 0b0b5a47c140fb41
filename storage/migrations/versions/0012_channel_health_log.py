"""channel health log: each channel's measured and manual state changes (a manager's "Telegram is down")

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 22:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('channel_health_log',
    sa.Column('id', BigId, autoincrement=True, nullable=False),
    sa.Column('channel', sa.String(length=32), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=False),
    sa.Column('changed_by', sa.String(length=120), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('manual', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_channel_health_log'))
    )
    op.create_index(op.f('ix_channel_health_log_manual_channel_id'), 'channel_health_log',
                    ['manual', 'channel', 'id'], unique=False)
    op.create_index(op.f('ix_channel_health_log_channel_id'), 'channel_health_log', ['channel', 'id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_channel_health_log_channel_id'), table_name='channel_health_log')
    op.drop_index(op.f('ix_channel_health_log_manual_channel_id'), table_name='channel_health_log')
    op.drop_table('channel_health_log')
