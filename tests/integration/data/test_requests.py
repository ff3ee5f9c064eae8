"""Finding a data-rights request by the start of its id, as an operator types it from `requests list`."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy.orm import Session

from tellusonce.data.requests import find_request, keep_request
from tellusonce.models import DataRightsRequest, InboundMessage
from tests.factories import NOW


def _request(session: Session, request_id: str) -> DataRightsRequest:
    message = InboundMessage(received_at=NOW, peer="127.0.0.1", mail_from="ada@example.org",
                             rcpt_tos=["changes@tellusonce.test"], raw=b"Subject: subject access\r\n\r\n", size=28)
    session.add(message)
    session.flush()
    request = keep_request(session, inbound_id=message.id, received_at=NOW, from_address="ada@example.org",
                           citizen_id=None, rights=["access"], language="en", due_on=(NOW + timedelta(days=30)).date())
    request.id = uuid.UUID(request_id)
    session.flush()
    return request


def test_a_request_is_found_by_any_start_of_its_id_that_no_other_request_shares(db_session: Session) -> None:
    first = _request(db_session, "abcdef01-0000-4000-8000-000000000001")
    second = _request(db_session, "abcdef02-0000-4000-8000-000000000002")
    assert find_request(db_session, "abcdef01") == first
    assert find_request(db_session, "ABCDEF02-0000") == second
    assert find_request(db_session, str(first.id)) == first
    assert find_request(db_session, "abcdef0") is None  # both start so: not one request
    assert find_request(db_session, "abcdef03") is None
    for typed in ("", "  ", "not-an-id", "abcdef01" * 5):
        assert find_request(db_session, typed) is None
