"""domain events (stored with their effect), consumers' positions, and the scenario machines' timers

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 12:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    # PostgreSQL: the writing transaction's id, so that consumers never pass an event a running transaction holds
    tx_default = ("(pg_current_xact_id()::text)::bigint" if op.get_bind().dialect.name == "postgresql" else "0")
    op.create_table('domain_events',
    sa.Column('id', BigId, autoincrement=True, nullable=False),
    sa.Column('tx', sa.BigInteger(), server_default=sa.text(tx_default), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.BigInteger(), nullable=True),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_domain_events'))
    )
    op.create_index(op.f('ix_domain_events_person_id'), 'domain_events', ['person_id'], unique=False)
    op.create_index(op.f('ix_domain_events_tx_id'), 'domain_events', ['tx', 'id'], unique=False)
    op.create_table('event_cursors',
    sa.Column('consumer', sa.String(length=64), nullable=False),
    sa.Column('tx', sa.BigInteger(), nullable=False),
    sa.Column('event_id', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('consumer', name=op.f('pk_event_cursors'))
    )
    op.create_table('timers',
    sa.Column('id', BigId, autoincrement=True, nullable=False),
    sa.Column('person_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('scenario', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('fired_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('lease_owner', sa.String(length=40), nullable=True),
    sa.Column('leased_until', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['person_id'], ['persons.id'], name=op.f('fk_timers_person_id_persons')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_timers'))
    )
    op.create_index(op.f('ix_timers_person_id'), 'timers', ['person_id'], unique=False)
    op.create_index(op.f('ix_timers_fired_at_due_at'), 'timers', ['fired_at', 'due_at'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_timers_fired_at_due_at'), table_name='timers')
    op.drop_index(op.f('ix_timers_person_id'), table_name='timers')
    op.drop_table('timers')
    op.drop_table('event_cursors')
    op.drop_index(op.f('ix_domain_events_tx_id'), table_name='domain_events')
    op.drop_index(op.f('ix_domain_events_person_id'), table_name='domain_events')
    op.drop_table('domain_events')
