"""merge the three feature branches (campaigns and draws, routing, support) into one head

Revision ID: 0008
Revises: 0005, 0006, 0007
Create Date: 2026-11-24 08:10:00.000000
"""

from __future__ import annotations

revision = '0008'
down_revision = ('0005', '0006', '0007')
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass  # the branches touch separate tables; merging them needs no change


def downgrade() -> None:
    pass
