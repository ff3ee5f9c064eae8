"""report_journey: a report's answers between pages, in the database instead of a host's disk

Each web process kept a journey as a JSON file under its own instance folder, so a
second host (or the same host after a crash) could not find the citizen's answers.
Journeys now live in this table, keyed by the random id in the session cookie and
bound to their citizen; a row is deleted when its report is sent and swept a day
after its last change. Journeys in progress as files are not carried over: those
citizens are asked to start again (the files can be deleted once this runs).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 14:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import tellusonce.models.base

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('report_journey',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('citizen_id', sa.Uuid(), nullable=False),
    sa.Column('state', sa.JSON(), nullable=False),
    sa.Column('started_at', tellusonce.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', tellusonce.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', tellusonce.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['citizen_id'], ['citizen.id'], name=op.f('fk_report_journey_citizen_id_citizen'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_report_journey'))
    )
    with op.batch_alter_table('report_journey', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_report_journey_citizen_id'), ['citizen_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_report_journey_expires_at'), ['expires_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('report_journey', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_report_journey_expires_at'))
        batch_op.drop_index(batch_op.f('ix_report_journey_citizen_id'))
    op.drop_table('report_journey')
