"""draw_exclusions: a moderator's decision to leave a person out of a campaign's draws, with the reason; draws: the
people left out of a frozen list as they stood at its close (their pseudonyms and reasons go in the protocol);
persons: withdrawn_at, consent withdrawn by erasure (no later draw, no broadcast)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-08 14:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('draw_exclusions',
    sa.Column('id', BigId, autoincrement=True, nullable=False),
    sa.Column('campaign', sa.String(length=32), nullable=False),
    sa.Column('person_id', BigId, nullable=False),
    sa.Column('reason', sa.String(length=32), nullable=False),
    sa.Column('note', sa.String(length=300), nullable=False),
    sa.Column('staff_id', sa.BigInteger(), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['person_id'], ['persons.id'], name=op.f('fk_draw_exclusions_person_id_persons')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_draw_exclusions'))
    )
    op.create_index(op.f('ix_draw_exclusions_campaign_person_id'), 'draw_exclusions', ['campaign', 'person_id'],
                    unique=False)
    with op.batch_alter_table('draws', schema=None) as batch_op:
        batch_op.add_column(sa.Column('exclusions', sa.JSON(), nullable=True))
    with op.batch_alter_table('persons', schema=None) as batch_op:
        batch_op.add_column(sa.Column('withdrawn_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('persons', schema=None) as batch_op:
        batch_op.drop_column('withdrawn_at')
    with op.batch_alter_table('draws', schema=None) as batch_op:
        batch_op.drop_column('exclusions')
    op.drop_index(op.f('ix_draw_exclusions_campaign_person_id'), table_name='draw_exclusions')
    op.drop_table('draw_exclusions')
