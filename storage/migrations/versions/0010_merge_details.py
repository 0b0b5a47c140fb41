"""merge details: both people's fields around a merge, so undoing it gives each their own phone, e-mail and name

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-25 09:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('person_merges', schema=None) as batch_op:
        batch_op.add_column(sa.Column('details', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('person_merges', schema=None) as batch_op:
        batch_op.drop_column('details')
