"""department.revision counts a row's updates, for the cached registry's version

The registry cached in each process was known to be current when the table's count and
newest ``updated_at`` were unchanged. An update stamped by a clock behind the newest
stamp (another host's, or a clock set back) left both unchanged, and the stale registry
was kept. Every update now adds one to the row's ``revision``; the version is the count
and the sum of revisions. Existing rows start at 0.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 23:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('department', schema=None) as batch_op:
        batch_op.add_column(sa.Column('revision', sa.Integer(), server_default='0', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('department', schema=None) as batch_op:
        batch_op.drop_column('revision')
