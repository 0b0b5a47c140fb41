"""support tickets, staff console: users, sessions, logins, audit, undone merges; dashboard indexes

Revision ID: 0007
Revises: 0004
Create Date: 2026-11-24 08:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0004'
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('staff_users',
    sa.Column('id', BIG_ID, autoincrement=True, nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('display_name', sa.String(length=128), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('password_hash', sa.String(length=256), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('locale', sa.String(length=8), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_staff_users')),
    sa.UniqueConstraint('username', name=op.f('uq_staff_users_username'))
    )
    op.create_table('staff_logins',
    sa.Column('id', BIG_ID, autoincrement=True, nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('address', sa.String(length=64), nullable=False),
    sa.Column('ok', sa.Boolean(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_staff_logins'))
    )
    with op.batch_alter_table('staff_logins', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_staff_logins_address_at'), ['address', 'at'], unique=False)
        batch_op.create_index(batch_op.f('ix_staff_logins_username_at'), ['username', 'at'], unique=False)

    op.create_table('staff_sessions',
    sa.Column('id', BIG_ID, autoincrement=True, nullable=False),
    sa.Column('staff_id', BIG_ID, nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('csrf_token', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['staff_id'], ['staff_users.id'], name=op.f('fk_staff_sessions_staff_id_staff_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_staff_sessions')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_staff_sessions_token_hash'))
    )
    with op.batch_alter_table('staff_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_staff_sessions_staff_id'), ['staff_id'], unique=False)

    op.create_table('staff_audit',
    sa.Column('id', BIG_ID, autoincrement=True, nullable=False),
    sa.Column('staff_id', BIG_ID, nullable=True),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('target', sa.String(length=64), nullable=False),
    sa.Column('detail', sa.JSON(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['staff_id'], ['staff_users.id'], name=op.f('fk_staff_audit_staff_id_staff_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_staff_audit'))
    )
    with op.batch_alter_table('staff_audit', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_staff_audit_target_id'), ['target', 'id'], unique=False)

    op.create_table('merge_undos',
    sa.Column('id', BIG_ID, autoincrement=True, nullable=False),
    sa.Column('merge_id', BIG_ID, nullable=False),
    sa.Column('staff_id', BIG_ID, nullable=True),
    sa.Column('undone_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['merge_id'], ['person_merges.id'], name=op.f('fk_merge_undos_merge_id_person_merges')),
    sa.ForeignKeyConstraint(['staff_id'], ['staff_users.id'], name=op.f('fk_merge_undos_staff_id_staff_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_merge_undos')),
    sa.UniqueConstraint('merge_id', name=op.f('uq_merge_undos_merge_id'))
    )
    op.create_table('tickets',
    sa.Column('id', BIG_ID, autoincrement=True, nullable=False),
    sa.Column('person_id', BIG_ID, nullable=False),
    sa.Column('campaign', sa.String(length=32), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('external_id', sa.String(length=128), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('subject', sa.String(length=200), nullable=False),
    sa.Column('assigned_to', BIG_ID, nullable=True),
    sa.Column('rating', sa.SmallInteger(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_person_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_staff_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['assigned_to'], ['staff_users.id'], name=op.f('fk_tickets_assigned_to_staff_users')),
    sa.ForeignKeyConstraint(['person_id'], ['persons.id'], name=op.f('fk_tickets_person_id_persons')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tickets'))
    )
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_tickets_assigned_to_status'), ['assigned_to', 'status'], unique=False)
        batch_op.create_index(batch_op.f('ix_tickets_person_id'), ['person_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_tickets_status_last_person_at'), ['status', 'last_person_at'],
                              unique=False)

    op.create_table('ticket_events',
    sa.Column('id', BIG_ID, autoincrement=True, nullable=False),
    sa.Column('ticket_id', BIG_ID, nullable=False),
    sa.Column('person_id', BIG_ID, nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('staff_id', BIG_ID, nullable=True),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('photo_sha256', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['person_id'], ['persons.id'], name=op.f('fk_ticket_events_person_id_persons')),
    sa.ForeignKeyConstraint(['staff_id'], ['staff_users.id'], name=op.f('fk_ticket_events_staff_id_staff_users')),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name=op.f('fk_ticket_events_ticket_id_tickets')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ticket_events'))
    )
    with op.batch_alter_table('ticket_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ticket_events_person_id'), ['person_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_ticket_events_ticket_id_id'), ['ticket_id', 'id'], unique=False)

    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_outbox_created_at_template'), ['created_at', 'template'], unique=False)
        batch_op.create_index(batch_op.f('ix_outbox_created_at_channel_status'), ['created_at', 'channel', 'status'],
                              unique=False)

    with op.batch_alter_table('receipts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_receipts_created_at'), ['created_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('receipts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_receipts_created_at'))

    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outbox_created_at_channel_status'))
        batch_op.drop_index(batch_op.f('ix_outbox_created_at_template'))

    op.drop_table('ticket_events')
    op.drop_table('tickets')
    op.drop_table('merge_undos')
    op.drop_table('staff_audit')
    op.drop_table('staff_sessions')
    op.drop_table('staff_logins')
    op.drop_table('staff_users')
