"""email_token.new_email: a change of the account's address, confirmed from the new one;
sign_in_event: the sign-ins a citizen can see (the last 30 days)

A change of email address is a single-use token like the others, sent to the new address,
which it carries (``new_email``) until the link is followed. Each sign-in, and each wrong
password for an account, is a ``sign_in_event`` row: when, how, whether it worked, and the
browser's and system's families; nothing else, and no client address.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 17:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import tellusonce.models.base

revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain ADD COLUMN (not a batch rebuild: nothing to copy, and SQLite can add a nullable column).
    op.add_column('email_token', sa.Column('new_email', sa.String(length=320), nullable=True))
    op.create_table('sign_in_event',
    sa.Column('citizen_id', sa.Uuid(), nullable=False),
    sa.Column('at', tellusonce.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('method', sa.String(length=20), nullable=False),
    sa.Column('succeeded', sa.Boolean(), nullable=False),
    sa.Column('browser', sa.String(length=60), nullable=True),
    sa.Column('system', sa.String(length=60), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['citizen_id'], ['citizen.id'], name=op.f('fk_sign_in_event_citizen_id_citizen'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sign_in_event'))
    )
    op.create_index('ix_sign_in_event_citizen_id_at', 'sign_in_event', ['citizen_id', 'at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_sign_in_event_citizen_id_at', table_name='sign_in_event')
    op.drop_table('sign_in_event')
    with op.batch_alter_table('email_token', schema=None) as batch_op:
        batch_op.drop_column('new_email')
