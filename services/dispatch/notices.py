"""The dispatcher's notice sweep: email each citizen what became of their report.

``send_due_notices`` runs in one transaction: the application takes the reports that have been
quiet for ``TELLUSONCE_REPORT_NOTICE_QUIET_MINUTES`` and decides what each citizen is due
(``tellusonce.application.report_notices``, over the rule in ``tellusonce.domain.notices``);
this writes the emails to the outbound queue in the same transaction. Two dispatchers sweeping at
once take different reports, so a report gets one email, never two.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from tellusonce.application.report_notices import DueNotice, take_due_notices
from tellusonce.domain.changetypes import get_change_type
from tellusonce.domain.notices import Copy, NoticeKind
from tellusonce.i18n import N_
from tellusonce.mailout.queue import queue_email
from tellusonce.settings import Settings

log = logging.getLogger(__name__)

# What each kind of email is called, and the template that writes it (templates/email/).
SUBJECTS = {
    NoticeKind.COULD_NOT_TELL: N_("We could not tell every organisation about your change %(reference)s"),
    NoticeKind.ALL_RECEIVED: N_("Every organisation has your change %(reference)s"),
    NoticeKind.OTHERS_RECEIVED: N_("The other organisations have your change %(reference)s"),
}
TEMPLATES = {
    NoticeKind.COULD_NOT_TELL: "report_not_sent",
    NoticeKind.ALL_RECEIVED: "report_received",
    NoticeKind.OTHERS_RECEIVED: "report_received",
}
PURPOSE = "report_notice"


def send_due_notices(session: Session, *, settings: Settings, now: datetime, limit: int = 100) -> int:
    """Queue the emails due now (one per report at most); how many."""
    quiet = timedelta(minutes=settings.report_notice_quiet_minutes)
    due = take_due_notices(session, now=now, quiet=quiet, limit=limit)
    for item in due:
        queue_email(session, to=item.to, subject=SUBJECTS[item.notice.kind], template=TEMPLATES[item.notice.kind],
                    context=notice_context(item, base_url=settings.base_url), purpose=PURPOSE,
                    language=item.language, related_id=item.report_id, created_at=now, flush=False)
    if due:
        session.flush()
        log.info("queued %d report notices", len(due), extra={"event": "report_notices_queued"})
    return len(due)


def notice_context(item: DueNotice, *, base_url: str) -> dict[str, Any]:
    """What the email template is rendered with: JSON, names already in the citizen's language."""
    notice = item.notice
    base = base_url.rstrip("/")

    def named(copies: tuple[Copy, ...]) -> list[dict[str, Any]]:
        result = []
        for c in copies:
            organisation = item.organisations.get(c.department_id)
            result.append({"name": organisation.name if organisation else c.department_id,
                           "contact_url": organisation.contact_url if organisation else None})
        return result

    return {
        "kind": str(notice.kind),
        "reference": item.reference,
        "change_label": get_change_type(item.change_type).label,
        "failed": named(notice.failed_now),
        "failed_before": named(notice.failed_before),
        "received": named(notice.received),
        "waiting": named(notice.waiting),
        "link": f"{base}/changes/{item.reference}",
        "details_link": f"{base}/account/details",
    }
