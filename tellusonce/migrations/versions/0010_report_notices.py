"""report_notice: what each citizen has been emailed about their report's outcomes;
citizen.report_emails: whether they want those emails (on unless turned off)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 17:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from tellusonce.models.base import UTCDateTime

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PENDING = "changed_at IS NOT NULL"


def upgrade() -> None:
    # A plain ADD COLUMN (not a batch rebuild: other tables' foreign keys point at citizen).
    op.add_column('citizen', sa.Column('report_emails', sa.Boolean(), server_default=sa.true(), nullable=False))
    op.create_table(
        'report_notice',
        sa.Column('report_id', sa.Uuid(), nullable=False),
        sa.Column('changed_at', UTCDateTime(timezone=True), nullable=True),
        sa.Column('first_changed_at', UTCDateTime(timezone=True), nullable=True),
        sa.Column('told', sa.JSON(), server_default=sa.text("'{}'"), nullable=False),
        sa.Column('emailed_at', UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['report_id'], ['change_report.id'],
                                name=op.f('fk_report_notice_report_id_change_report')),
        sa.PrimaryKeyConstraint('report_id', name=op.f('pk_report_notice')),
    )
    op.create_index('ix_report_notice_pending', 'report_notice', ['changed_at'], unique=False,
                    sqlite_where=sa.text(PENDING), postgresql_where=sa.text(PENDING))


def downgrade() -> None:
    op.drop_index('ix_report_notice_pending', table_name='report_notice')
    op.drop_table('report_notice')
    op.drop_column('citizen', 'report_emails')
