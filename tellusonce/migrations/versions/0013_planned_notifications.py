"""notification.planned_for: a notification held back until the day its change happens;
department.notice_days: how many days before that day each organisation wants to hear

A change reported ahead of its date can be sent "on the date": its notification is queued
as usual, due (``next_attempt_at``) at ``planned_for``, the moment the citizen's choice and
the registry's ``notice_days`` make it due. ``planned_for`` stays as it was planned, so that
a retry (which moves ``next_attempt_at``) is still told apart from a notification waiting
for its day. ``notice_days`` is {change type: days} from the registry (empty until the
registry is synced again: 0 days, told on the date).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import tellusonce.models.base

revision: str = '0013'
down_revision: str | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMNs (not a batch rebuild: other tables' foreign keys point at both tables).
    op.add_column('notification', sa.Column('planned_for', tellusonce.models.base.UTCDateTime(timezone=True),
                                            nullable=True))
    op.add_column('department', sa.Column('notice_days', sa.JSON(), server_default='{}', nullable=False))


def downgrade() -> None:
    op.drop_column('department', 'notice_days')
    op.drop_column('notification', 'planned_for')
