"""department.lawful_basis, retention (and in Welsh): what each organisation states on the open
register; report_notice removed with its report

The open register is the service's record of recipients: for each organisation, beside what it
receives and why, the lawful basis it states for receiving it and how long it keeps it, both
optional in the registry (``tellusonce departments list`` names the departments without them).
A report's notice row is now deleted with the report (ON DELETE CASCADE), so removing a report
never fails on it.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03 08:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0015'
down_revision: str | None = '0014'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FK = 'fk_report_notice_report_id_change_report'
PENDING = "changed_at IS NOT NULL"


def _report_notice_fk(ondelete: str | None) -> None:
    # SQLite rebuilds the table to change a foreign key; its partial index is made again after.
    op.drop_index('ix_report_notice_pending', table_name='report_notice')
    with op.batch_alter_table('report_notice', schema=None) as batch_op:
        batch_op.drop_constraint(FK, type_='foreignkey')
        batch_op.create_foreign_key(FK, 'change_report', ['report_id'], ['id'], ondelete=ondelete)
    op.create_index('ix_report_notice_pending', 'report_notice', ['changed_at'], unique=False,
                    sqlite_where=sa.text(PENDING), postgresql_where=sa.text(PENDING))


def upgrade() -> None:
    # Plain ADD COLUMNs (not a batch rebuild: other tables' foreign keys point at department).
    op.add_column('department', sa.Column('lawful_basis', sa.Text(), nullable=True))
    op.add_column('department', sa.Column('lawful_basis_cy', sa.Text(), nullable=True))
    op.add_column('department', sa.Column('retention', sa.Text(), nullable=True))
    op.add_column('department', sa.Column('retention_cy', sa.Text(), nullable=True))
    _report_notice_fk('CASCADE')


def downgrade() -> None:
    _report_notice_fk(None)
    with op.batch_alter_table('department', schema=None) as batch_op:
        batch_op.drop_column('retention_cy')
        batch_op.drop_column('retention')
        batch_op.drop_column('lawful_basis_cy')
        batch_op.drop_column('lawful_basis')
