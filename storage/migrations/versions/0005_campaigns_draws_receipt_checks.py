"""campaigns, draws, receipt checks

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24 06:35:26.094314
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('campaigns',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('starts_on', sa.Date(), nullable=False),
    sa.Column('ends_on', sa.Date(), nullable=False),
    sa.Column('rules', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_campaigns')),
    sa.UniqueConstraint('code', name=op.f('uq_campaigns_code'))
    )
    op.create_table('draws',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('campaign', sa.String(length=32), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('entries_from', sa.Date(), nullable=False),
    sa.Column('entries_to', sa.Date(), nullable=False),
    sa.Column('draw_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('tiers', sa.JSON(), nullable=False),
    sa.Column('commitment', sa.String(length=64), nullable=False),
    sa.Column('seed', sa.String(length=64), nullable=False),
    sa.Column('participant_key', sa.String(length=64), nullable=False),
    sa.Column('algorithm', sa.String(length=40), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('beacon_chain', sa.String(length=64), nullable=True),
    sa.Column('beacon_round', sa.BigInteger(), nullable=True),
    sa.Column('beacon_randomness', sa.String(length=64), nullable=True),
    sa.Column('beacon_signature', sa.String(length=192), nullable=True),
    sa.Column('beacon_previous', sa.String(length=192), nullable=True),
    sa.Column('entries_hash', sa.String(length=64), nullable=True),
    sa.Column('participants', sa.Integer(), nullable=False),
    sa.Column('entries', sa.BigInteger(), nullable=False),
    sa.Column('excluded', sa.Integer(), nullable=False),
    sa.Column('drawn_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('entry_list', sa.LargeBinary(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_draws')),
    sa.UniqueConstraint('campaign', 'code', name=op.f('uq_draws_campaign_code'))
    )
    with op.batch_alter_table('draws', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_draws_status_draw_at'), ['status', 'draw_at'], unique=False)

    op.create_table('campaign_members',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('person_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('campaign', sa.String(length=32), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('joined_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['person_id'], ['persons.id'], name=op.f('fk_campaign_members_person_id_persons')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_campaign_members'))
    )
    with op.batch_alter_table('campaign_members', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_campaign_members_person_id_joined_at'), ['person_id', 'joined_at'], unique=False)

    op.create_table('draw_winners',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('draw_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('person_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('participant', sa.String(length=24), nullable=False),
    sa.Column('tier', sa.String(length=32), nullable=False),
    sa.Column('tier_order', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('reserve', sa.Boolean(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('deadline', sa.DateTime(timezone=True), nullable=True),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['draw_id'], ['draws.id'], name=op.f('fk_draw_winners_draw_id_draws')),
    sa.ForeignKeyConstraint(['person_id'], ['persons.id'], name=op.f('fk_draw_winners_person_id_persons')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_draw_winners'))
    )
    with op.batch_alter_table('draw_winners', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_draw_winners_draw_id_tier_order_position'), ['draw_id', 'tier_order', 'position'], unique=False)
        batch_op.create_index(batch_op.f('ix_draw_winners_person_id'), ['person_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_draw_winners_status_deadline'), ['status', 'deadline'], unique=False)

    op.create_table('receipt_checks',
    sa.Column('receipt_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('shop_inn', sa.String(length=12), nullable=True),
    sa.Column('items', sa.JSON(), nullable=False),
    sa.Column('raw', sa.JSON(), nullable=False),
    sa.Column('checked_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['receipt_id'], ['receipts.id'], name=op.f('fk_receipt_checks_receipt_id_receipts')),
    sa.PrimaryKeyConstraint('receipt_id', name=op.f('pk_receipt_checks'))
    )
    with op.batch_alter_table('receipt_checks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_receipt_checks_shop_inn'), ['shop_inn'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('receipt_checks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_receipt_checks_shop_inn'))

    op.drop_table('receipt_checks')
    with op.batch_alter_table('draw_winners', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_draw_winners_status_deadline'))
        batch_op.drop_index(batch_op.f('ix_draw_winners_person_id'))
        batch_op.drop_index(batch_op.f('ix_draw_winners_draw_id_tier_order_position'))

    op.drop_table('draw_winners')
    with op.batch_alter_table('campaign_members', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_campaign_members_person_id_joined_at'))

    op.drop_table('campaign_members')
    with op.batch_alter_table('draws', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_draws_status_draw_at'))

    op.drop_table('draws')
    op.drop_table('campaigns')
