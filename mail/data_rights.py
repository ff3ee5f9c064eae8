"""An email that asks for a data right: kept for a person, and its sender told when to expect an answer.

The robot that reads changes does not answer a subject access request, a request for erasure or
any email naming data protection with "how to register". When the subject asks for a right, or
the body does and no change was recognised in it (a change email whose footer mentions data
protection is still a change), the request is kept (``tellusonce requests list``), the privacy
contact is emailed when it is an address, and the sender is told it was received and by when
it will be answered: one calendar month (UK GDPR Art. 12(3)).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from tellusonce.clock import uk_date
from tellusonce.data.audit import record_event
from tellusonce.data.citizens import get_citizen_by_email
from tellusonce.data.requests import keep_request
from tellusonce.domain.data_rights import Right, answer_due, rights_asked
from tellusonce.domain.fields import canonical_email
from tellusonce.i18n import BILINGUAL, N_
from tellusonce.mailout.queue import queue_email
from tellusonce.models import InboundMessage, InboundStatus
from tellusonce.settings import Settings
from tellusonce_mail import replies
from tellusonce_mail.mime import ReadMessage
from tellusonce_mail.reading import Reading
from tellusonce_mail.written_language import written_language

# For the operator who answers it: in English, as the operator's commands are.
OPERATOR_SUBJECT = "Data rights request from %(address)s: answer by %(due)s"
# The reply may be in both languages from one context: its template names the month through gettext.
MONTHS = (N_("January"), N_("February"), N_("March"), N_("April"), N_("May"), N_("June"), N_("July"),
          N_("August"), N_("September"), N_("October"), N_("November"), N_("December"))


def rights_in(reading: Reading) -> list[Right]:
    """The rights an email asks for, by the rule above; empty for every other email."""
    read = reading.read
    asked = rights_asked(read.subject)
    if not asked and (reading.parsed is None or reading.parsed.change_type is None):
        asked = rights_asked(read.text)
    return asked


def handle_data_rights(session: Session, message: InboundMessage, read: ReadMessage, rights: list[Right], *,
                       settings: Settings, now: datetime) -> tuple[str, str, None]:
    address = read.from_address or message.mail_from
    if not address:
        return InboundStatus.PROCESSED, "not answered: no sender address", None
    citizen = get_citizen_by_email(session, canonical_email(address))
    language = (citizen.language if citizen is not None and citizen.is_verified else None) or written_language(
        read.text, read.subject, read.headers.get("content-language", "")) or BILINGUAL
    due = answer_due(uk_date(message.received_at))
    request = keep_request(session, inbound_id=message.id, received_at=message.received_at, from_address=address,
                           citizen_id=citizen.id if citizen is not None else None, rights=[r.value for r in rights],
                           language=language, due_on=due)
    record_event(session, actor="mail", action="data_rights.received", subject_type="data_rights_request",
                 subject_id=request.id, details={"rights": request.rights, "due_on": due.isoformat()}, at=now)
    contact = settings.data_protection_contact
    if "@" in contact and not settings.privacy_contact_is_web_page:
        queue_email(session, to=contact, subject=OPERATOR_SUBJECT, template="data_rights_operator",
                    context={"address": address, "due": due.isoformat(), "rights": request.rights,
                             "subject": read.subject, "text": read.text[:20_000], "request_id": str(request.id),
                             "account": "yes" if citizen is not None else "no"},
                    purpose="data_rights_operator", language="en", related_id=request.id, created_at=now)
    if not replies.may_reply(session, address, now=now):
        return InboundStatus.PROCESSED, "kept as a data-rights request; not answered: reply limit reached", None
    replies.queue_reply(
        session, settings=settings, read=read, now=now, to=address, purpose=replies.DATA_RIGHTS,
        template="mail_data_rights_received", language=language, related_id=request.id,
        context={"due_day": due.day, "due_month": MONTHS[due.month - 1], "due_year": due.year, "contact": contact},
    )
    return InboundStatus.PROCESSED, "kept as a data-rights request and answered", None
