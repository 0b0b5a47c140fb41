"""draw_changes: a scheduled draw moved to a new date or cancelled before its list was frozen, with who, when and why

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 07:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('draw_changes',
    sa.Column('id', BigId, autoincrement=True, nullable=False),
    sa.Column('draw_id', BigId, nullable=False),
    sa.Column('draw_at_before', sa.DateTime(timezone=True), nullable=False),
    sa.Column('draw_at_after', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reason', sa.String(length=300), nullable=False),
    sa.Column('staff_id', sa.BigInteger(), nullable=True),
    sa.Column('changed_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['draw_id'], ['draws.id'], name=op.f('fk_draw_changes_draw_id_draws')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_draw_changes'))
    )
    op.create_index(op.f('ix_draw_changes_draw_id'), 'draw_changes', ['draw_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_draw_changes_draw_id'), table_name='draw_changes')
    op.drop_table('draw_changes')
