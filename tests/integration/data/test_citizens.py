"""Citizen queries: one account per address, and emailed tokens that work once, in time."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tellusonce.clock import utcnow
from tellusonce.data.citizens import (
    EmailTaken,
    change_email,
    create_citizen,
    end_sessions,
    find_token,
    get_citizen,
    get_citizen_by_email,
    hash_token,
    issue_token,
    update_profile,
    use_token,
    write_profile,
)
from tellusonce.domain.fields import canonical_email
from tellusonce.models import Citizen, EmailToken, TokenPurpose


def test_an_address_has_one_account_whatever_its_case(db_session: Session) -> None:
    citizen = create_citizen(db_session, email=canonical_email("Ada@Example.COM"), password_hash="h")
    assert citizen.email == "ada@example.com"
    assert get_citizen_by_email(db_session, canonical_email(" ADA@example.com ")) is citizen
    with pytest.raises(EmailTaken):
        create_citizen(db_session, email=canonical_email("ada@EXAMPLE.com"), password_hash="h")
    # The transaction is still usable after the refusal.
    assert get_citizen_by_email(db_session, "ada@example.com") is citizen


def test_a_token_is_stored_only_as_a_hash_and_works_once(db_session: Session) -> None:
    citizen = create_citizen(db_session, email="ada@example.com", password_hash="h")
    now = utcnow()
    raw = issue_token(db_session, citizen, TokenPurpose.VERIFY_EMAIL, lifetime=timedelta(hours=1), now=now)
    stored = db_session.scalars(select(EmailToken)).one()
    assert stored.token_hash == hash_token(raw) and raw not in stored.token_hash
    assert use_token(db_session, raw, TokenPurpose.RESET_PASSWORD, now=now) is None
    assert use_token(db_session, raw, TokenPurpose.VERIFY_EMAIL, now=now) is not None
    assert use_token(db_session, raw, TokenPurpose.VERIFY_EMAIL, now=now) is None


def test_an_expired_token_does_not_work(db_session: Session) -> None:
    citizen = create_citizen(db_session, email="ada@example.com", password_hash="h")
    now = utcnow()
    raw = issue_token(db_session, citizen, TokenPurpose.RESET_PASSWORD, lifetime=timedelta(hours=1), now=now)
    assert use_token(db_session, raw, TokenPurpose.RESET_PASSWORD, now=now + timedelta(hours=1)) is None


def test_ending_sessions_moves_the_session_version_on(db_session: Session) -> None:
    citizen = create_citizen(db_session, email="ada@example.com", password_hash="h")
    before = citizen.session_version
    end_sessions(db_session, citizen)
    assert citizen.session_version == before + 1


def test_a_profile_update_sets_what_it_names_and_refuses_unknown_fields(db_session: Session) -> None:
    citizen = create_citizen(db_session, email="ada@example.com", password_hash="h")
    update_profile(db_session, citizen, {"given_names": "Ada", "town": "", "postcode": "LS1 1AA"})
    assert (citizen.given_names, citizen.postcode) == ("Ada", "LS1 1AA") and not citizen.town
    with pytest.raises(ValueError, match="password_hash"):
        update_profile(db_session, citizen, {"password_hash": "x"})


def test_a_profile_written_in_one_statement_is_in_the_database_and_on_the_loaded_citizen(db_session: Session) -> None:
    citizen = create_citizen(db_session, email="ada@example.com", password_hash="h")
    update_profile(db_session, citizen, {"town": "Leeds"})
    write_profile(db_session, citizen, {"given_names": "Ada", "town": "", "postcode": "LS1 1AA"})
    assert (citizen.given_names, citizen.town, citizen.postcode) == ("Ada", None, "LS1 1AA")
    assert not db_session.dirty  # written already: nothing left for a flush
    db_session.expire(citizen)
    assert (citizen.given_names, citizen.town, citizen.postcode) == ("Ada", None, "LS1 1AA")
    with pytest.raises(ValueError, match="password_hash"):
        write_profile(db_session, citizen, {"password_hash": "x"})


def test_a_citizen_read_by_id_is_the_sessions_own_and_changes_to_it_are_written(db_session: Session) -> None:
    created = create_citizen(db_session, email="ada@example.com", password_hash="h")
    db_session.commit()
    db_session.expunge_all()
    citizen = get_citizen(db_session, created.id)
    assert citizen is not None and citizen.email == "ada@example.com" and citizen.session_version == 0
    assert citizen.created_at.tzinfo is not None
    assert get_citizen(db_session, str(created.id)) is citizen  # one object per row in a session
    assert not db_session.dirty and not db_session.new
    citizen.town = "Leeds"
    db_session.commit()
    db_session.expunge_all()
    assert db_session.scalars(select(Citizen.town).where(Citizen.id == created.id)).one() == "Leeds"
    assert get_citizen(db_session, "not an id") is None
    assert get_citizen(db_session, uuid.uuid4()) is None


def test_a_change_of_address_token_carries_the_new_address(db_session: Session) -> None:
    citizen = create_citizen(db_session, email="ada@example.com", password_hash="h")
    raw = issue_token(db_session, citizen, TokenPurpose.CHANGE_EMAIL, lifetime=timedelta(hours=24), now=utcnow(),
                      new_email="ada.new@example.com")
    found = find_token(db_session, raw, TokenPurpose.CHANGE_EMAIL, now=utcnow())
    assert found is not None and found.new_email == "ada.new@example.com"
    assert find_token(db_session, raw, TokenPurpose.RESET_PASSWORD, now=utcnow()) is None


def test_changing_the_address_spends_every_link_sent_to_the_old_one(db_session: Session) -> None:
    citizen = create_citizen(db_session, email="ada@example.com", password_hash="h")
    raws = [issue_token(db_session, citizen, purpose, lifetime=timedelta(hours=1), now=utcnow())
            for purpose in TokenPurpose]
    change_email(db_session, citizen, "ada.new@example.com", now=utcnow())
    assert get_citizen_by_email(db_session, "ada.new@example.com") is citizen
    assert get_citizen_by_email(db_session, "ada@example.com") is None
    assert citizen.is_verified
    assert [find_token(db_session, raw, purpose, now=utcnow()) for raw, purpose in zip(raws, TokenPurpose,
                                                                                      strict=True)] == [None] * len(raws)


def test_an_address_another_account_has_is_refused_and_the_account_keeps_its_own(db_session: Session) -> None:
    citizen = create_citizen(db_session, email="ada@example.com", password_hash="h")
    create_citizen(db_session, email="grace@example.com", password_hash="h")
    with pytest.raises(EmailTaken):
        change_email(db_session, citizen, "grace@example.com", now=utcnow())
    assert citizen.email == "ada@example.com"
    assert get_citizen_by_email(db_session, "ada@example.com") is citizen
