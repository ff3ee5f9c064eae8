"""outgoing_email keeps what to render (template, context, language); the sender renders it

An email is rendered when the outbound sender sends or captures it rather than in the
request that queued it, and the sender then stores the bodies it sent. A queued row
therefore has no body yet: ``body_text`` becomes nullable, and a check makes sure every
row has either its bodies or a template to render them from. Rows written before this
revision keep their bodies (they were rendered when queued) and have no template.

Downgrading needs every row rendered (``tellusonce mail send --once`` renders and sends
or captures what is due): it refuses while one has no body, rather than lose its text.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 06:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RENDERABLE = "body_text IS NOT NULL OR template IS NOT NULL"


def upgrade() -> None:
    with op.batch_alter_table('outgoing_email', schema=None) as batch_op:
        batch_op.add_column(sa.Column('template', sa.String(length=60), nullable=True))
        batch_op.add_column(sa.Column('context', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('language', sa.String(length=8), nullable=True))
        batch_op.alter_column('body_text', existing_type=sa.Text(), nullable=True)
        batch_op.create_check_constraint(op.f('ck_outgoing_email_renderable'), sa.text(RENDERABLE))


def downgrade() -> None:
    unrendered = op.get_bind().execute(sa.text("SELECT count(*) FROM outgoing_email WHERE body_text IS NULL")).scalar()
    if unrendered:
        raise RuntimeError(f"{unrendered} emails have no body yet (queued, or failed before they were sent); "
                           "downgrading below 0003 would lose them: send what is due first (tellusonce mail send --once)")
    with op.batch_alter_table('outgoing_email', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_outgoing_email_renderable'), type_='check')
        batch_op.alter_column('body_text', existing_type=sa.Text(), nullable=False)
        batch_op.drop_column('language')
        batch_op.drop_column('context')
        batch_op.drop_column('template')
