"""citizen.closed_at, citizen.erased_at: closing an account

Closing an account (``tellusonce.application.closing``) sets ``closed_at`` in one short
transaction: from then on the account cannot be signed in to and its address is free for a new
account. The retention run (kind ``closed_accounts``) then blanks what the account held, batch by
batch, and sets ``erased_at`` once nothing of it is left, so a run stopped half-way is finished by
the next one.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import tellusonce.models.base

revision: str = '0014'
down_revision: str | None = '0013'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMNs (nullable: SQLite adds them without rebuilding the table).
    op.add_column('citizen', sa.Column('closed_at', tellusonce.models.base.UTCDateTime(timezone=True), nullable=True))
    op.add_column('citizen', sa.Column('erased_at', tellusonce.models.base.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    # Plain DROP COLUMNs too: a batch would rebuild citizen on SQLite, losing the language triggers (0007).
    op.drop_column('citizen', 'erased_at')
    op.drop_column('citizen', 'closed_at')
