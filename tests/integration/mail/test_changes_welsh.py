"""Changes emailed in Welsh, sent over SMTP to the real listener and processed as any email is:
understood, held for confirmation, and answered in Welsh with the organisations' Welsh names."""

from __future__ import annotations

from sqlalchemy import select

from tellusonce.db import transaction
from tellusonce.i18n import translations_for
from tellusonce.mailout.render import render_email, rendered_bodies
from tellusonce.models import ChangeReport, InboundStatus, ReportState
from tests.english_left import english_in_email, english_on_page
from tests.integration.mail.messages import add_citizen, outgoing, process_all, typed

MOVE = """Bore da,

Newid: symud tŷ
Cyfeiriad newydd: 5 Heol y Parc, Caerdydd, CF10 1AA
Dyddiad symud: 1 Tachwedd 2026
Dweud wrth: DVLA, CThEF

Diolch,
Siân
"""

NAME = """Newid: newid enw
Enw newydd: Siân Morgan
Rheswm dros y newid: priodas
Dyddiad y newid: 1af o Fedi 2026
Dweud wrth: Swyddfa Pasbort EF, yr Adran Gwaith a Phensiynau
"""


def _held(engine) -> ChangeReport:
    with transaction(engine, writer=False) as session:
        return session.scalars(select(ChangeReport)).one()


def test_a_move_emailed_in_welsh_is_held_and_answered_in_welsh(listener, deliver, engine, mail_settings):
    add_citizen(engine, language="cy")
    deliver(typed(MOVE, subject="Symud tŷ"))
    [outcome] = process_all(engine, mail_settings)
    assert outcome.status == InboundStatus.PROCESSED
    report = _held(engine)
    assert report.state == ReportState.PENDING_CONFIRMATION and report.change_type == "address"
    assert {k: report.answers[k] for k in ("address_line_1", "town", "postcode", "move_date")} == {
        "address_line_1": "5 Heol y Parc", "town": "Caerdydd", "postcode": "CF10 1AA", "move_date": "2026-11-01"}
    assert report.pending_request["recipients"] == ["dvla", "hmrc"]
    [reply] = outgoing(engine)
    assert reply.language == "cy" and reply.subject.startswith("Cadarnhewch")
    text, _ = rendered_bodies(reply)
    assert "Cyllid a Thollau EF (CThEF)" in text and "Yr Asiantaeth Trwyddedu Gyrwyr a Cherbydau (DVLA)" in text
    assert "HM Revenue and Customs" not in text
    assert "1 Tachwedd 2026" in text


def test_a_change_of_name_emailed_in_welsh_reads_its_reason_and_a_mutated_month(
        listener, deliver, engine, mail_settings):
    add_citizen(engine, language="cy")
    deliver(typed(NAME, subject="Newid enw"))
    process_all(engine, mail_settings)
    report = _held(engine)
    assert report.change_type == "name"
    assert report.answers["new_given_names"] == "Siân" and report.answers["new_family_name"] == "Morgan"
    assert report.answers["reason"] == "marriage" and report.answers["change_date"] == "2026-09-01"
    assert report.pending_request["recipients"] == ["hmpo", "dwp"]


def test_a_welsh_email_missing_details_is_answered_with_the_layout_in_welsh(listener, deliver, engine, mail_settings):
    add_citizen(engine, language="cy")
    deliver(typed("Newid: symud tŷ\nDweud wrth: CThEF\n", subject="Symud"))
    process_all(engine, mail_settings)
    [reply] = outgoing(engine)
    assert reply.purpose == "mail_problems"
    text, _ = rendered_bodies(reply)
    assert "Newid: Symud tŷ" in text and "Dweud wrth: " in text
    assert "Llinell 1 y cyfeiriad: " in text and "Dyddiad symud: " in text
    assert "Tell:" not in text and "Change:" not in text


# Someone without an account is answered in the language they wrote in, or in both, Welsh first.

def _stranger_reply(engine, mail_settings, deliver, body: str, *, content_language: str | None = None, **headers: str):
    message = typed(body, sender="stranger@example.net", **headers)
    if content_language:  # after the body: setting the content drops every Content- header
        message["Content-Language"] = content_language
    deliver(message)
    process_all(engine, mail_settings)
    [reply] = outgoing(engine)
    assert reply.purpose == "mail_unknown_sender"
    return reply


def test_a_stranger_writing_in_welsh_is_answered_in_welsh(listener, deliver, engine, mail_settings):
    reply = _stranger_reply(engine, mail_settings, deliver, MOVE, subject="Symud tŷ")
    assert reply.language == "cy"
    assert "/account/create" in rendered_bodies(reply)[0]


def test_a_stranger_writing_in_english_is_answered_in_english(listener, deliver, engine, mail_settings):
    from tests.integration.mail.messages import MOVE as ENGLISH_MOVE

    reply = _stranger_reply(engine, mail_settings, deliver, ENGLISH_MOVE)
    assert reply.language == "en"


def test_a_stranger_whose_language_cannot_be_told_is_answered_in_welsh_then_english(
        listener, deliver, engine, mail_settings):
    reply = _stranger_reply(engine, mail_settings, deliver, "DVLA\nCF10 1AA\n", subject="DVLA")
    assert reply.language == "cy+en"
    welsh = translations_for("cy").gettext
    text, html = rendered_bodies(reply)
    welsh_text = render_email("mail_unknown_sender", reply.context, language="cy")[0]
    english_text = render_email("mail_unknown_sender", reply.context, language="en")[0]
    assert text.index(welsh_text.strip()) < text.index(english_text.strip())
    assert html is None
    assert reply.subject == f"{welsh('Report a change by email')} / Report a change by email"


def test_the_content_language_header_settles_it(listener, deliver, engine, mail_settings):
    reply = _stranger_reply(engine, mail_settings, deliver, "DVLA\nCF10 1AA\n", content_language="cy-GB")
    assert reply.language == "cy"


def test_every_reply_to_a_welsh_email_is_in_welsh(listener, deliver, engine, mail_settings):
    """Each email the mail channel sends, read by the English-left check of the pages' emails."""
    add_citizen(engine, language="cy")
    deliver(typed(MOVE, subject="Symud tŷ"))
    process_all(engine, mail_settings)
    deliver(typed(MOVE, subject="Symud tŷ"))  # the same change again: a duplicate
    deliver(typed("Newid: symud tŷ\nDweud wrth: CThEF\n", subject="Symud"))  # details missing
    process_all(engine, mail_settings)
    [confirm] = [m for m in outgoing(engine) if m.purpose == "mail_confirm_change"]
    confirm_at = confirm.headers["Reply-To"]
    deliver(typed("Na, nid fi oedd hwn\n", subject="Re: Cadarnhewch"), to=confirm_at)
    deliver(typed("CADARNHAU\n", subject="Re: Cadarnhewch"), to=confirm_at)
    deliver(typed(MOVE, sender="stranger@example.net", subject="Symud tŷ"))
    process_all(engine, mail_settings)

    replies = outgoing(engine)
    assert {"mail_confirm_change", "mail_duplicate", "mail_problems", "mail_not_confirmed",
            "mail_unknown_sender"} <= {r.template for r in replies}
    problems = []
    for reply in replies:
        assert reply.language == "cy", f"{reply.purpose} was sent in {reply.language}"
        text, html = rendered_bodies(reply)
        problems += [f"{reply.purpose} (subject): {m!r}" for m in english_in_email(reply.subject)]
        problems += [f"{reply.purpose} (text): {m!r}" for m in english_in_email(text)]
        if html:
            problems += [f"{reply.purpose} (HTML): {m!r}" for m in english_on_page(html)]
    assert not problems, f"{len(problems)} English texts in Welsh replies:\n" + "\n".join(problems)
