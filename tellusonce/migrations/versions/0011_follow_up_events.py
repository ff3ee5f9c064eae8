"""notification.kind, original_id, after_id: events that follow a report's first notification
(a cancellation now, a correction later), and the order they are delivered in;
change_report.cancelled_at

``kind`` is what a notification is: the change itself ("change", every row so far), or a
"cancellation" (later, a "correction") of the change an organisation was sent first.
``original_id`` names that first notification (the event's data names it too) and
``after_id`` the notification it waits for: per report and department, one is claimed only
once the one before it is delivered, dead or cancelled. Neither is a foreign key: SQLite
cannot add one to a table without rebuilding it, and other tables' keys point at this one.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 17:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import tellusonce.models.base

revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMNs (not a batch rebuild: other tables' foreign keys point at both tables).
    op.add_column('notification', sa.Column('kind', sa.String(length=20), server_default='change', nullable=False))
    op.add_column('notification', sa.Column('original_id', sa.Uuid(), nullable=True))
    op.add_column('notification', sa.Column('after_id', sa.Uuid(), nullable=True))
    op.add_column('change_report', sa.Column('cancelled_at', tellusonce.models.base.UTCDateTime(timezone=True),
                                             nullable=True))


def downgrade() -> None:
    op.drop_column('change_report', 'cancelled_at')
    op.drop_column('notification', 'after_id')
    op.drop_column('notification', 'original_id')
    op.drop_column('notification', 'kind')
