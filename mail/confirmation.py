"""Confirming an emailed change by replying to the confirmation email.

The confirmation email's Reply-To is ``confirm+<token>@<mail domain>``. Only
the citizen's mailbox ever received that address, so a reply to it is as good
as opening the link — but only a reply that starts with the word CONFIRM (or
"yes"): "this was not me" must never send anything.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.orm import Session

from tellusonce.application.intake import RecipientStatus, confirm_held_change
from tellusonce.data.citizens import get_citizen, use_token
from tellusonce.data.inbound import confirmation_token
from tellusonce.domain.changetypes import get_change_type
from tellusonce.models import ChangeReport, InboundStatus, ReportState, TokenPurpose
from tellusonce.settings import Settings
from tellusonce_mail import replies
from tellusonce_mail.labels import norm
from tellusonce_mail.mime import ReadMessage

CONFIRM_WORDS = frozenset({"confirm", "confirmed", "yes", "ydw", "cadarnhau", "ie"})
Result = tuple[str, str, uuid.UUID | None]


def says_confirm(text: str) -> bool:
    """Whether the reply starts with CONFIRM or yes (and says nothing like "not me")."""
    words = norm(text).split()
    return bool(words) and words[0] in CONFIRM_WORDS and "not" not in words[:6] and "na" not in words[:3]


def handle_confirmation_reply(session: Session, read: ReadMessage, raw_token: str, *, settings: Settings,
                              now: datetime) -> Result:
    token = confirmation_token(session, raw_token)
    citizen = get_citizen(session, token.citizen_id) if token is not None else None
    if token is None or citizen is None:
        return InboundStatus.PROCESSED, "not answered: no such confirmation", None
    report = session.get(ChangeReport, token.report_id) if token.report_id else None
    if not replies.may_reply(session, citizen.email, now=now):
        return InboundStatus.PROCESSED, "not answered: reply limit for this address reached", token.report_id
    usable = token.used_at is None and token.expires_at > now and report is not None \
        and report.state == ReportState.PENDING_CONFIRMATION
    if not usable or not says_confirm(read.text):
        replies.queue_reply(
            session, settings=settings, read=read, now=now, to=citizen.email, purpose=replies.NOT_CONFIRMED,
            template="mail_not_confirmed", language=citizen.language, context={"expired": not usable},
            related_id=token.report_id,
        )
        reason = "confirmation used or expired" if not usable else "reply did not say CONFIRM"
        return InboundStatus.PROCESSED, f"answered: {reason}", token.report_id
    if use_token(session, raw_token, TokenPurpose.CONFIRM_EMAILED_CHANGE, now=now) is None:
        return InboundStatus.PROCESSED, "confirmation was used at the same moment", token.report_id
    assert report is not None
    result = confirm_held_change(session, report, now=now)
    told = [o.department.name_in(citizen.language) for o in result.outcomes if o.status == RecipientStatus.QUEUED]
    replies.queue_reply(
        session, settings=settings, read=read, now=now, to=citizen.email, purpose=replies.CONFIRMED,
        template="report_submitted", language=citizen.language, related_id=report.id,
        context={"reference": report.reference, "change_label": get_change_type(report.change_type).label,
                 "organisations": told, "link": f"{settings.base_url}/changes/{report.reference}"},
    )
    return InboundStatus.PROCESSED, f"confirmed {report.reference} by reply", report.id
