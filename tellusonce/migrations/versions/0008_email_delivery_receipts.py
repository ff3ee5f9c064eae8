"""outgoing_email: the provider's id for an email and what its delivery receipts said

An email sent through GOV.UK Notify records Notify's notification id (``provider_id``, indexed: a
receipt or an operator may look a row up by it), and the delivery receipts Notify calls back with:
the last status (``delivered``, ``permanent-failure``, ``temporary-failure``,
``technical-failure``), when Notify said so, and when it was delivered. Rows sent by SMTP, or
before this revision, have none of them.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 17:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from tellusonce.models.base import UTCDateTime

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMNs (nullable, no default): no table rebuild on SQLite.
    op.add_column('outgoing_email', sa.Column('provider_id', sa.String(length=64), nullable=True))
    op.add_column('outgoing_email', sa.Column('delivery_status', sa.String(length=20), nullable=True))
    op.add_column('outgoing_email', sa.Column('delivery_status_at', UTCDateTime(timezone=True), nullable=True))
    op.add_column('outgoing_email', sa.Column('delivered_at', UTCDateTime(timezone=True), nullable=True))
    op.create_index(op.f('ix_outgoing_email_provider_id'), 'outgoing_email', ['provider_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_outgoing_email_provider_id'), table_name='outgoing_email')
    with op.batch_alter_table('outgoing_email') as batch:
        batch.drop_column('delivered_at')
        batch.drop_column('delivery_status_at')
        batch.drop_column('delivery_status')
        batch.drop_column('provider_id')
