"""data_rights_request: emails asking for a data right, kept for a person to answer

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 18:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import tellusonce.models.base

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'data_rights_request',
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('inbound_id', sa.Uuid(), nullable=False),
        sa.Column('received_at', tellusonce.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column('from_address', sa.String(length=320), nullable=False),
        sa.Column('citizen_id', sa.Uuid(), nullable=True),
        sa.Column('rights', sa.JSON(), nullable=False),
        sa.Column('language', sa.String(length=5), nullable=False),
        sa.Column('due_on', sa.Date(), nullable=False),
        sa.Column('state', sa.String(length=10), nullable=False),
        sa.Column('closed_at', tellusonce.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column('closed_by', sa.String(length=100), nullable=True),
        sa.Column('note', sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(['citizen_id'], ['citizen.id'], name=op.f('fk_data_rights_request_citizen_id_citizen')),
        sa.ForeignKeyConstraint(['inbound_id'], ['inbound_message.id'],
                                name=op.f('fk_data_rights_request_inbound_id_inbound_message')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_data_rights_request')),
        sa.UniqueConstraint('inbound_id', name=op.f('uq_data_rights_request_inbound_id')),
    )
    op.create_index(op.f('ix_data_rights_request_state'), 'data_rights_request', ['state'])


def downgrade() -> None:
    op.drop_index(op.f('ix_data_rights_request_state'), table_name='data_rights_request')
    op.drop_table('data_rights_request')
