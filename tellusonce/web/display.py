"""How answers, dates and delivery states read on the citizen's pages.

Dates follow the GOV.UK style ("15 November 2026", "12:05pm") in UK time, in
the reader's language through Flask-Babel.
"""

from __future__ import annotations

from datetime import date, datetime

from babel.dates import format_date as babel_date
from flask import Flask
from flask_babel import get_locale
from flask_babel import gettext as _

from tellusonce.clock import UK
from tellusonce.domain.changetypes import ChangeType
from tellusonce.i18n import N_
from tellusonce.models import ChangeReport, ChannelKind, Notification, NotificationState
from tellusonce.web.department_names import marked_name, named
from tellusonce.web.report_pages import field_labels

# Each notification state in plain words, and the colour of its tag.
STATES: dict[str, tuple[str, str]] = {
    NotificationState.PENDING: (N_("Waiting to send"), "govuk-tag--grey"),
    NotificationState.DELIVERING: (N_("Sending"), "govuk-tag--blue"),
    NotificationState.RETRYING: (N_("Trying again"), "govuk-tag--yellow"),
    NotificationState.DELIVERED: (N_("Sent"), "govuk-tag--light-blue"),
    NotificationState.ACKNOWLEDGED: (N_("Received by the organisation"), "govuk-tag--green"),
    NotificationState.DEAD: (N_("Could not be sent"), "govuk-tag--red"),
    NotificationState.CANCELLED: (N_("Cancelled"), "govuk-tag--grey"),
}
FINAL_STATES = frozenset({NotificationState.ACKNOWLEDGED, NotificationState.DEAD, NotificationState.CANCELLED})


# A notification waiting for the date its change happens on (planned: ``domain.planning``).
PLANNED = (N_("Will be sent later"), "govuk-tag--purple")


def planned_tag() -> dict[str, str]:
    return {"text": _(PLANNED[0]), "classes": PLANNED[1]}


def state_words(state: str) -> str:
    return _(STATES.get(state, (state, ""))[0])


def state_tag(state: str) -> dict[str, str]:
    words, classes = STATES.get(state, (state, "govuk-tag--grey"))
    return {"text": _(words), "classes": classes}


# The language the citizen wants to be written to in, sent where the registry grants it: not an
# answer to a question of the change, so it is named here (``domain.consent.minimise``).
LANGUAGE_DETAIL = N_("The language to write to you in")


def told_fields(n: Notification) -> list[str]:
    """What a notification tells its organisation, as the labels of its details ("Postcode", "Date you moved").
    Whether an address is protected is how it is sent, not a detail of its own."""
    labels = field_labels(n.change_type, [k for k in n.payload if k != "protected_address"])
    return [*labels, _(LANGUAGE_DETAIL)] if "language" in n.payload else labels


def detail_label(change_type: ChangeType, name: str) -> str:
    """The words for one detail a notification carries (its key in the payload), in the reader's language."""
    if name in change_type.field_names:
        return _(change_type.field(name).label)
    return _(LANGUAGE_DETAIL) if name == "language" else name


def details_label(n: Notification) -> str:
    """What the details a notification carries are, as of now: sent, still to be sent (or for a
    feed organisation, still to be fetched), or never sent (cancelled, or could not be sent)."""
    if n.state in (NotificationState.DELIVERED, NotificationState.ACKNOWLEDGED):
        return _("Details sent")
    if n.state in (NotificationState.CANCELLED, NotificationState.DEAD):
        return _("Details that were not sent")
    if n.department.channel == ChannelKind.FEED:
        return named(_("Details that will be available to %(organisation)s"), organisation=marked_name(n.department))
    return _("Details that will be sent")


# Whose details a report about someone else gave: (their names' answers, with a name, without).
_SOMEONE_ELSE = {
    "death": ("deceased_", N_("%(name)s, who died"), N_("The person who died")),
    "birth": ("child_", N_("%(name)s, the child whose birth you reported"), N_("The child whose birth you reported")),
}


def whose_details(report: ChangeReport) -> str:
    """Whom a report's details are about: "You", or "Grace Okafor, who died"."""
    if report.change_type not in _SOMEONE_ELSE:
        return _("You")
    prefix, named, unnamed = _SOMEONE_ELSE[report.change_type]
    answers = report.answers or {}
    name = " ".join(str(answers[k]) for k in (f"{prefix}given_names", f"{prefix}family_name") if answers.get(k))
    return _(named, name=name) if name else _(unnamed)


def govuk_date(value: date | datetime | str | None) -> str:
    if value in (None, ""):
        return ""
    if isinstance(value, str):
        value = date.fromisoformat(value)
    if isinstance(value, datetime):
        value = value.astimezone(UK).date()
    return babel_date(value, "d MMMM yyyy", locale=get_locale())


def govuk_time(value: datetime | None) -> str:
    """'22 November 2026 at 1:05pm', in UK time."""
    if value is None:
        return ""
    local = value.astimezone(UK)
    hour = local.hour % 12 or 12
    clock = f"{hour}:{local.minute:02d}" + (_("am") if local.hour < 12 else _("pm"))
    return _("%(date)s at %(time)s", date=govuk_date(local.date()), time=clock)


def init_app(app: Flask) -> None:
    """Give every template the date, time and delivery-state helpers (once, in ``create_app``)."""
    app.add_template_filter(govuk_date, "govuk_date")
    app.add_template_filter(govuk_time, "govuk_time")
    app.add_template_filter(state_words, "state_words")
    app.add_template_global(state_tag, "state_tag")
    app.add_template_global(whose_details, "whose_details")
