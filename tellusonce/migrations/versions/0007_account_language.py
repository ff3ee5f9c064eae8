"""citizen.language: the account's recorded language preference, English or Welsh only;
department.receives_language: which organisations are told it

The column has been there since 0001, always "en" from the web. It becomes the language a
person chose when they made their account (Welsh Language Standard 2): it gets a server
default of "en" and a check that it is one of the languages the service writes in (triggers
on SQLite). Rows holding anything else (none should) become "en".

``department.receives_language`` (false until the registry is synced again) says whether an
organisation's notifications carry the citizen's language, as the registry grants.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 14:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


CHECK = "language IN ('en', 'cy')"
# SQLite cannot add a check to a table without rebuilding it, and citizen cannot be rebuilt while
# other tables' foreign keys point at it: there, two triggers refuse what the check refuses.
TRIGGERS = {
    "ck_citizen_language_insert": "BEFORE INSERT ON citizen",
    "ck_citizen_language_update": "BEFORE UPDATE OF language ON citizen",
}


def upgrade() -> None:
    # A plain ADD COLUMN (not a batch rebuild: other tables' foreign keys point at department).
    op.add_column('department', sa.Column('receives_language', sa.Boolean(), server_default=sa.false(), nullable=False))
    op.execute(f"UPDATE citizen SET language = 'en' WHERE language IS NULL OR NOT ({CHECK})")
    if op.get_bind().dialect.name == "sqlite":
        for name, when in TRIGGERS.items():
            op.execute(f"CREATE TRIGGER {name} {when} FOR EACH ROW WHEN NOT (NEW.{CHECK}) "
                       "BEGIN SELECT RAISE(ABORT, 'CHECK constraint failed: ck_citizen_language'); END")
        return
    op.alter_column('citizen', 'language', existing_type=sa.String(length=5), existing_nullable=False,
                    server_default='en')
    op.create_check_constraint(op.f('ck_citizen_language'), 'citizen', CHECK)


def downgrade() -> None:
    op.drop_column('department', 'receives_language')
    if op.get_bind().dialect.name == "sqlite":
        for name in TRIGGERS:
            op.execute(f"DROP TRIGGER {name}")
        return
    op.drop_constraint(op.f('ck_citizen_language'), 'citizen', type_='check')
    op.alter_column('citizen', 'language', existing_type=sa.String(length=5), existing_nullable=False,
                    server_default=None)
