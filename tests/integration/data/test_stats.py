"""What the operator's figures count (tellusonce/data/stats.py): a planned notification is not waiting
until it is due."""

from __future__ import annotations

from datetime import timedelta

from tellusonce.application.intake import submit_change
from tellusonce.data.stats import oldest_waiting
from tests.factories import NOW, PLANNED_DAY, make_citizen, planned_request


def test_a_planned_notification_is_not_counted_as_waiting_until_it_is_due(db_session):
    submit_change(db_session, make_citizen(db_session), planned_request({"dvla": "on_date"}, recipients=["dvla", "hmrc"]), now=NOW)
    db_session.flush()
    assert dict(oldest_waiting(db_session, now=NOW + timedelta(days=1))) == {"hmrc": NOW}
    assert dict(oldest_waiting(db_session, now=PLANNED_DAY + timedelta(hours=1))) == {"hmrc": NOW, "dvla": PLANNED_DAY}
