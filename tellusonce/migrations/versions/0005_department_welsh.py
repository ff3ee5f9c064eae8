"""department.name_cy and purpose_cy: each organisation's name and purpose in Welsh

Welsh pages and emails name an organisation as it names itself in Welsh, from the
registry's ``name_cy`` and ``purpose_cy``. Both are optional: a department without them
is shown in English. Existing rows have none until the registry is synced again.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 07:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('department', schema=None) as batch_op:
        batch_op.add_column(sa.Column('name_cy', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('purpose_cy', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('department', schema=None) as batch_op:
        batch_op.drop_column('purpose_cy')
        batch_op.drop_column('name_cy')
