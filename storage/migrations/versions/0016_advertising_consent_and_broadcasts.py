"""consents: the advertising consent beside the personal-data one (kind 'advertising'), given or withdrawn
(``given``) per channel, with its source (``/news``, ``/stop``, the button under a broadcast); broadcasts: whether
one is advertising (it goes only where the person gave that consent)

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 07:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('consents', schema=None) as batch_op:
        # every consent kept before was given (personal data, at registration)
        batch_op.add_column(sa.Column('given', sa.Boolean(), nullable=False, server_default=sa.true()))
        batch_op.add_column(sa.Column('source', sa.String(length=32), nullable=True))
        batch_op.create_index(batch_op.f('ix_consents_kind_person_id'), ['kind', 'person_id'], unique=False)
    with op.batch_alter_table('broadcasts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('advertising', sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table('broadcasts', schema=None) as batch_op:
        batch_op.drop_column('advertising')
    with op.batch_alter_table('consents', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_consents_kind_person_id'))
        batch_op.drop_column('source')
        batch_op.drop_column('given')
