"""The retention schedule as the privacy page shows it: each kind of data, how long it is kept, what
happens then and why, all from the schedule the service loaded and enforces (``config/retention.toml``)."""

from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext, ngettext

from tellusonce.domain.retention import Action, Kind, Period, Schedule

LABELS = {
    Kind.JOURNEYS: lazy_gettext("Reports you have started but not sent"),
    Kind.INBOUND_PROCESSED: lazy_gettext("Emails you sent us, once we have dealt with them"),
    Kind.INBOUND_QUARANTINED: lazy_gettext("Emails you sent us that we could not read"),
    Kind.OUTGOING_EMAIL: lazy_gettext("Emails we sent you"),
    Kind.EMAIL_TOKENS: lazy_gettext("Links we emailed you"),
    Kind.NOTIFICATION_PAYLOADS: lazy_gettext("Details sent to an organisation"),
    Kind.DEAD_LETTERS: lazy_gettext("Details we could not deliver"),
    Kind.DELIVERY_ATTEMPTS: lazy_gettext("Our record of each try at delivering a message"),
    Kind.SIGN_INS: lazy_gettext("Each time you signed in, or someone tried to"),
    Kind.DATA_RIGHTS_REQUESTS: lazy_gettext("Requests you emailed us about your information, once answered"),
    Kind.REPORT_NOTICES: lazy_gettext("Our record of what we emailed you about each report's delivery"),
    Kind.CLOSED_ACCOUNTS: lazy_gettext("Closed accounts"),
    Kind.AUDIT_EVENTS: lazy_gettext("Our audit record"),
}


def period_text(period: Period) -> str:
    if period.unit == "year":
        return ngettext("%(num)d year", "%(num)d years", period.count)
    if period.unit == "week":
        return ngettext("%(num)d week", "%(num)d weeks", period.count)
    return ngettext("%(num)d day", "%(num)d days", period.count)


def then_text(action: Action) -> str:
    if action == Action.BLANK:
        return _("Then the personal details are removed.")
    return _("Then it is deleted.")


def retention_rows(schedule: Schedule, language: str) -> list[dict[str, str]]:
    """One row per kind, in the reader's language."""
    return [{"kind": rule.kind.value, "label": str(LABELS[rule.kind]), "keep": period_text(rule.keep),
             "then": then_text(rule.then), "reason": rule.reason_in(language)}
            for rule in schedule.rules]
