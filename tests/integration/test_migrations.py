"""A database made by the first migration, with rows in it, upgrades to head and keeps them.

Released migrations are never rewritten: a database created at any earlier revision must
reach the newest schema through ``tellusonce db upgrade`` without losing a row. The rows
below are written as 0001 defined its tables (its columns only), not through today's models.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import make_url

from tellusonce.clock import utcnow
from tellusonce.db import engine_for, make_engine, normalise_url, transaction
from tellusonce.migrate import current_revision, head_revision, upgrade
from tellusonce.models import Base, ChangeReport, Citizen, Department, Notification
from tellusonce.models.base import UTCDateTime

# The newest file in migrations/versions: numbered in order, so the last name is the head.
NEWEST_MIGRATION = sorted((Path(__file__).parents[2] / "tellusonce/migrations/versions").glob("0*.py"))[-1].name[:4]

# Only the columns 0001 created that these rows fill: the tables as they were then.
CITIZEN_0001 = sa.table(
    "citizen", sa.column("id", sa.Uuid()), sa.column("email", sa.String()), sa.column("given_names", sa.String()),
    sa.column("family_name", sa.String()), sa.column("postcode", sa.String()), sa.column("language", sa.String()),
    sa.column("email_verified_at", UTCDateTime()), sa.column("created_at", UTCDateTime()),
    sa.column("updated_at", UTCDateTime()),
)
DEPARTMENT_0001 = sa.table(
    "department", sa.column("id", sa.String()), sa.column("name", sa.String()), sa.column("controller", sa.String()),
    sa.column("purpose", sa.Text()), sa.column("channel", sa.String()), sa.column("webhook_url", sa.String()),
    sa.column("secret_env", sa.String()), sa.column("allow_private_network", sa.Boolean()),
    sa.column("needs_protected_address", sa.Boolean()), sa.column("receives", sa.JSON()),
    sa.column("reasons", sa.JSON()), sa.column("active", sa.Boolean()), sa.column("consecutive_failures", sa.Integer()),
    sa.column("created_at", UTCDateTime()), sa.column("updated_at", UTCDateTime()),
)
REPORT_0001 = sa.table(
    "change_report", sa.column("id", sa.Uuid()), sa.column("reference", sa.String()), sa.column("citizen_id", sa.Uuid()),
    sa.column("change_type", sa.String()), sa.column("subject", sa.String()), sa.column("channel", sa.String()),
    sa.column("submission_key", sa.String()), sa.column("fingerprint", sa.String()), sa.column("state", sa.String()),
    sa.column("answers", sa.JSON()), sa.column("submitted_at", UTCDateTime()), sa.column("created_at", UTCDateTime()),
    sa.column("updated_at", UTCDateTime()),
)
NOTIFICATION_0001 = sa.table(
    "notification", sa.column("id", sa.Uuid()), sa.column("report_id", sa.Uuid()), sa.column("citizen_id", sa.Uuid()),
    sa.column("department_id", sa.String()), sa.column("change_type", sa.String()), sa.column("state", sa.String()),
    sa.column("payload", sa.JSON()), sa.column("consent_receipt_id", sa.Uuid()), sa.column("attempt_count", sa.Integer()),
    sa.column("next_attempt_at", UTCDateTime()), sa.column("created_at", UTCDateTime()),
    sa.column("updated_at", UTCDateTime()),
)


@pytest.fixture
def empty_database_url(database_url: str, tmp_path: Path) -> Iterator[str]:
    """A database of its own, on the run's kind of database, with no schema in it yet."""
    parsed = make_url(normalise_url(database_url))
    if parsed.get_backend_name() == "sqlite":
        yield f"sqlite:///{tmp_path / 'at-0001.sqlite3'}"
        return
    name = f"{parsed.database}_upgrade"
    admin_url = parsed.render_as_string(hide_password=False)
    with engine_for(admin_url, isolation_level="AUTOCOMMIT") as admin, admin.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield parsed.set(database=name).render_as_string(hide_password=False)
    finally:
        with engine_for(admin_url, isolation_level="AUTOCOMMIT") as admin, admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))


def test_a_database_made_at_0001_upgrades_to_head_keeping_its_rows_and_matching_the_models(
    empty_database_url: str,
) -> None:
    now = utcnow()
    citizen_id, report_id, notification_id, receipt_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    upgrade(empty_database_url, "0001")
    engine = make_engine(empty_database_url)
    try:
        assert current_revision(engine) == "0001"
        # 0001 is the schema as it was released: what came later is in the later migrations.
        columns = {table: {c["name"] for c in sa.inspect(engine).get_columns(table)}
                   for table in ("department", "outgoing_email")}
        assert "revision" not in columns["department"] and "template" not in columns["outgoing_email"]
        with engine.begin() as connection:
            connection.execute(sa.insert(CITIZEN_0001).values(
                id=citizen_id, email="ada@example.com", given_names="Ada", family_name="Lovelace",
                postcode="LS2 9JT", language="en", email_verified_at=now, created_at=now, updated_at=now))
            connection.execute(sa.insert(DEPARTMENT_0001).values(
                id="old-dept", name="An organisation told before 0002", controller="Old Dept", purpose="Tests.",
                channel="webhook", webhook_url="https://old.example/hook", secret_env="TELLUSONCE_WEBHOOK_SECRET_OLD",
                allow_private_network=False, needs_protected_address=False,
                receives={"address": ["postcode"]}, reasons={"address": "To write to you."}, active=True,
                consecutive_failures=0, created_at=now, updated_at=now))
            connection.execute(sa.insert(REPORT_0001).values(
                id=report_id, reference="TUO-OLD0001", citizen_id=citizen_id, change_type="address", subject="self",
                channel="web", submission_key="k" * 64, fingerprint="f" * 64, state="submitted",
                answers={"postcode": "LS2 9JT"}, submitted_at=now, created_at=now, updated_at=now))
            connection.execute(sa.insert(NOTIFICATION_0001).values(
                id=notification_id, report_id=report_id, citizen_id=citizen_id, department_id="old-dept",
                change_type="address", state="pending", payload={"postcode": "LS2 9JT"},
                consent_receipt_id=receipt_id, attempt_count=0, next_attempt_at=now - timedelta(seconds=1),
                created_at=now, updated_at=now))

        upgrade(empty_database_url)

        assert current_revision(engine) == head_revision()
        with engine.connect() as connection:
            differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
        assert differences == []
        with transaction(engine, writer=False) as session:
            citizen = session.get(Citizen, citizen_id)
            department = session.get(Department, "old-dept")
            report = session.get(ChangeReport, report_id)
            notification = session.get(Notification, notification_id)
            assert citizen is not None and (citizen.email, citizen.family_name) == ("ada@example.com", "Lovelace")
            assert department is not None and department.receives == {"address": ["postcode"]}
            assert department.revision == 0
            assert report is not None and (report.reference, report.citizen_id) == ("TUO-OLD0001", citizen_id)
            assert notification is not None
            assert (notification.report_id, notification.state, notification.payload, notification.consent_receipt_id) \
                == (report_id, "pending", {"postcode": "LS2 9JT"}, receipt_id)
    finally:
        engine.dispose()



def test_migrations_and_models_agree(engine):
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection, opts={"compare_type": False}), Base.metadata)
    assert diff == []
    assert current_revision(engine) == head_revision()


def test_upgrade_is_safe_to_run_again(database_url):
    upgrade(database_url)
    engine = make_engine(database_url)
    try:
        assert current_revision(engine) == head_revision() == NEWEST_MIGRATION
    finally:
        engine.dispose()
