"""Emails asking for a data right, sent to the real listener: kept for a person, never answered with
"how to register", and their sender told by when they will be answered."""

from __future__ import annotations

from click.testing import CliRunner
from flask.cli import ScriptInfo
from sqlalchemy import select

from tellusonce.cli import main
from tellusonce.db import transaction
from tellusonce.mailout.render import rendered_bodies
from tellusonce.models import ChangeReport, DataRightsRequest, RequestState
from tests.english_left import english_in_email
from tests.integration.mail.messages import MOVE, add_citizen, outgoing, process_all, typed


def _requests(engine) -> list[DataRightsRequest]:
    with transaction(engine, writer=False) as session:
        return list(session.scalars(select(DataRightsRequest)))


def test_a_stranger_asking_for_their_data_is_kept_for_a_person_and_told_when(listener, deliver, engine, mail_settings):
    deliver(typed("Please send me a copy of all the personal data you hold about me.",
                  sender="stranger@example.net", subject="Subject access request"))
    [outcome] = process_all(engine, mail_settings)
    assert outcome.reason == "kept as a data-rights request and answered"
    [request] = _requests(engine)
    assert request.state == RequestState.OPEN and request.rights == ["access"] and request.citizen_id is None
    assert request.due_on.isoformat() == "2026-12-22"  # a calendar month after 22 November 2026
    replies = {m.purpose: m for m in outgoing(engine)}
    assert "mail_unknown_sender" not in replies
    reply = replies["mail_data_rights_received"]
    assert reply.to_address == "stranger@example.net"
    assert "22 December 2026" in rendered_bodies(reply)[0]
    operator = replies["data_rights_operator"]
    assert operator.to_address == mail_settings.data_protection_contact
    assert "stranger@example.net" in operator.subject and "copy of all the personal data" in rendered_bodies(operator)[0]


def test_a_citizen_asking_in_welsh_to_be_deleted_is_answered_in_welsh(listener, deliver, engine, mail_settings):
    add_citizen(engine, language="cy")
    deliver(typed("Bore da,\n\nHoffwn i chi ddileu fy nata i gyd.\n\nDiolch,\nSiân", subject="Cais"))
    process_all(engine, mail_settings)
    [request] = _requests(engine)
    assert request.rights == ["erasure"] and request.citizen_id is not None and request.language == "cy"
    [reply] = [m for m in outgoing(engine) if m.purpose == "mail_data_rights_received"]
    text, _ = rendered_bodies(reply)
    assert "22 Rhagfyr 2026" in text
    assert not english_in_email(text) and not english_in_email(reply.subject)


def test_a_change_whose_footer_names_data_protection_is_still_a_change(listener, deliver, engine, mail_settings):
    add_citizen(engine)
    deliver(typed(MOVE + "\nThis email may contain personal data; see our data protection notice.\n"))
    process_all(engine, mail_settings)
    assert _requests(engine) == []
    with transaction(engine, writer=False) as session:
        assert session.scalars(select(ChangeReport)).one().change_type == "address"


def test_an_operator_lists_and_closes_a_request(listener, deliver, engine, mail_settings, app):
    deliver(typed("I want my data erased under UK GDPR.", sender="stranger@example.net", subject="Erasure"))
    process_all(engine, mail_settings)
    [request] = _requests(engine)

    def run(*args: str):
        return CliRunner().invoke(main, list(args), obj=ScriptInfo(create_app=lambda: app))

    listed = run("requests", "list")
    assert listed.exit_code == 0 and request.id.hex[:12] in listed.output and "stranger@example.net" in listed.output
    closed = run("requests", "close", request.id.hex[:12], "--note", "answered by post")
    assert closed.exit_code == 0, closed.output
    assert _requests(engine)[0].state == RequestState.CLOSED
    again = run("requests", "close", request.id.hex[:12])
    assert again.exit_code == 1 and "closed already" in again.output
    assert "No open data-rights requests." in run("requests", "list").output
