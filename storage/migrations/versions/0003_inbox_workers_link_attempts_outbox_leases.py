"""inbox, workers, link attempts, outbox leases

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 04:50:49.127440
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('inbox',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('bot', sa.String(length=64), nullable=False),
    sa.Column('update_id', sa.String(length=64), nullable=False),
    sa.Column('account_id', sa.String(length=128), nullable=True),
    sa.Column('raw', sa.JSON(), nullable=True),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('processed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('lease_owner', sa.String(length=40), nullable=True),
    sa.Column('leased_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inbox')),
    sa.UniqueConstraint('bot', 'update_id', name=op.f('uq_inbox_bot_update_id'))
    )
    with op.batch_alter_table('inbox', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_inbox_processed_at_leased_until'), ['processed_at', 'leased_until'], unique=False)
        batch_op.create_index(batch_op.f('ix_inbox_received_at'), ['received_at'], unique=False)

    op.create_table('inbox_cursors',
    sa.Column('bot', sa.String(length=64), nullable=False),
    sa.Column('value', sa.String(length=64), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('bot', name=op.f('pk_inbox_cursors'))
    )
    op.create_table('workers',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_workers'))
    )
    op.create_table('link_attempts',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('external_id', sa.String(length=128), nullable=False),
    sa.Column('code_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['code_id'], ['link_codes.id'], name=op.f('fk_link_attempts_code_id_link_codes')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_link_attempts'))
    )
    with op.batch_alter_table('link_attempts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_link_attempts_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_link_attempts_channel_external_id_at'), ['channel', 'external_id', 'at'], unique=False)
        batch_op.create_index(batch_op.f('ix_link_attempts_code_id_at'), ['code_id', 'at'], unique=False)

    # what was recorded before keeps its meaning: applied updates stay applied, wrong codes stay counted
    op.execute("INSERT INTO inbox (bot, update_id, received_at, processed_at, attempts) "
               "SELECT channel, update_id, processed_at, processed_at, 0 FROM processed_updates")
    op.execute("INSERT INTO link_attempts (channel, external_id, code_id, outcome, at) "
               "SELECT channel, external_id, NULL, 'wrong', failed_at FROM link_failures")
    with op.batch_alter_table('link_failures', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_link_failures_channel_external_id_failed_at'))

    op.drop_table('link_failures')
    op.drop_table('processed_updates')
    with op.batch_alter_table('link_codes', schema=None) as batch_op:
        batch_op.alter_column('code',
               existing_type=sa.VARCHAR(length=6),
               type_=sa.String(length=16),
               existing_nullable=False)

    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('bulk', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('lease_owner', sa.String(length=40), nullable=True))

    with op.batch_alter_table('person_merges', schema=None) as batch_op:
        batch_op.add_column(sa.Column('moved_rows', sa.JSON(), nullable=True))

    with op.batch_alter_table('persons', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_persons_merged_into_id'), ['merged_into_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('persons', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_persons_merged_into_id'))

    with op.batch_alter_table('person_merges', schema=None) as batch_op:
        batch_op.drop_column('moved_rows')

    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_column('lease_owner')
        batch_op.drop_column('bulk')

    with op.batch_alter_table('link_codes', schema=None) as batch_op:
        batch_op.alter_column('code',
               existing_type=sa.String(length=16),
               type_=sa.VARCHAR(length=6),
               existing_nullable=False)

    op.create_table('processed_updates',
    sa.Column('channel', sa.VARCHAR(length=16), nullable=False),
    sa.Column('update_id', sa.VARCHAR(length=64), nullable=False),
    sa.Column('processed_at', sa.DATETIME(), nullable=False),
    sa.PrimaryKeyConstraint('channel', 'update_id', name=op.f('pk_processed_updates'))
    )
    op.create_table('link_failures',
    sa.Column('id', sa.INTEGER(), nullable=False),
    sa.Column('channel', sa.VARCHAR(length=16), nullable=False),
    sa.Column('external_id', sa.VARCHAR(length=128), nullable=False),
    sa.Column('failed_at', sa.DATETIME(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_link_failures'))
    )
    with op.batch_alter_table('link_failures', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_link_failures_channel_external_id_failed_at'), ['channel', 'external_id', 'failed_at'], unique=False)

    with op.batch_alter_table('link_attempts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_link_attempts_code_id_at'))
        batch_op.drop_index(batch_op.f('ix_link_attempts_channel_external_id_at'))
        batch_op.drop_index(batch_op.f('ix_link_attempts_at'))

    op.drop_table('link_attempts')
    op.drop_table('workers')
    op.drop_table('inbox_cursors')
    with op.batch_alter_table('inbox', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_inbox_received_at'))
        batch_op.drop_index(batch_op.f('ix_inbox_processed_at_leased_until'))

    op.drop_table('inbox')
