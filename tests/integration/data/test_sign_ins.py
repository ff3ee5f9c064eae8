"""Sign-in queries: one row per sign-in, read back per citizen, newest first, within a window."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session

from tellusonce.data.citizens import create_citizen
from tellusonce.data.sign_ins import recent_sign_ins, record_sign_in
from tellusonce.models import SignInMethod
from tests.factories import NOW


def test_a_citizens_recent_sign_ins_are_theirs_newest_first_and_within_the_window(db_session: Session) -> None:
    ada = create_citizen(db_session, email="ada@example.com", password_hash="h")
    grace = create_citizen(db_session, email="grace@example.com", password_hash="h")
    record_sign_in(db_session, ada.id, method=SignInMethod.PASSWORD, succeeded=True, at=NOW - timedelta(days=31))
    record_sign_in(db_session, ada.id, method=SignInMethod.PASSWORD, succeeded=False, at=NOW - timedelta(days=2))
    record_sign_in(db_session, ada.id, method=SignInMethod.EMAIL_LINK, succeeded=True, at=NOW - timedelta(days=1),
                   browser="Firefox", system="x" * 100)
    record_sign_in(db_session, grace.id, method=SignInMethod.PASSWORD, succeeded=True, at=NOW)
    events = recent_sign_ins(db_session, ada.id, since=NOW - timedelta(days=30))
    assert [(e.method, e.succeeded) for e in events] == [("email_link", True), ("password", False)]
    assert events[0].browser == "Firefox" and events[0].system == "x" * 60
    assert len(recent_sign_ins(db_session, ada.id, since=NOW - timedelta(days=30), limit=1)) == 1
