"""ix_notification_claimable's condition as comparisons joined by OR instead of IN

SQLite tests a partial index's condition on the old and the new row of every row
written, and builds and clears an ephemeral table for an IN list each time: about a
quarter of the instructions of a claim's UPDATE. The claim repeats the condition
(``CLAIMABLE_SQL``), so the index and the statement change together.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 04:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BEFORE = "state IN ('pending', 'retrying', 'delivering')"
AFTER = "(state = 'pending' OR state = 'retrying' OR state = 'delivering')"


def _claimable(condition: str) -> None:
    op.drop_index('ix_notification_claimable', table_name='notification')
    op.create_index('ix_notification_claimable', 'notification', ['department_id', 'next_attempt_at'],
                    unique=False, sqlite_where=sa.text(condition), postgresql_where=sa.text(condition))


def upgrade() -> None:
    _claimable(AFTER)


def downgrade() -> None:
    _claimable(BEFORE)
