"""Choose who to tell: every organisation that deals with this change, and the consent given now.

Organisations the citizen has already said may always be told about this kind of
change start ticked. For any other organisation ticked, the citizen says whether
it may be told this time only or always about this kind of change.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask_babel import gettext as _
from govuk_frontend_wtf.wtforms_widgets import GovRadioInput
from sqlalchemy.orm import Session
from wtforms import RadioField, SelectChoice, SelectMultipleField

from tellusonce.application.consent import grant_views
from tellusonce.data.departments import departments_for_change_type
from tellusonce.domain.changetypes import get_change_type
from tellusonce.domain.consent import decide
from tellusonce.models import Citizen, Department
from tellusonce.web.department_names import marked_name, named, organisation_name
from tellusonce.web.forms import StripWhitespaceForm
from tellusonce.web.journey import Journey
from tellusonce.web.report_pages import field_labels

CONSENT_CHOICES = ("once", "always")


@dataclass(frozen=True)
class Candidate:
    department: Department
    standing: bool  # already may always be told about this change type
    reason: str  # why it needs this change, from the registry
    fields: list[str]  # labels of what it would receive

    @property
    def consent_field(self) -> str:
        return f"consent-{self.department.id}"


@dataclass(frozen=True)
class RecipientsView:
    change_type: str
    candidates: list[Candidate]

    def by_id(self) -> dict[str, Candidate]:
        return {c.department.id: c for c in self.candidates}


def recipients_view(session: Session, citizen: Citizen, journey: Journey, *, now: datetime) -> RecipientsView:
    grants = grant_views(session, citizen.id, now=now)
    candidates = []
    for department in departments_for_change_type(session, journey.change_type):
        decision = decide(grants, department, journey.change_type, now=now)
        candidates.append(
            Candidate(
                department=department,
                standing=decision.allowed and decision.reason == "standing",
                reason=department.reasons.get(journey.change_type, ""),
                fields=field_labels(journey.change_type, department.fields_for(journey.change_type)),
            )
        )
    return RecipientsView(journey.change_type, candidates)


def recipients_form(view: RecipientsView, journey: Journey, *, formdata: Any = None) -> StripWhitespaceForm:
    change_label = _(get_change_type(view.change_type).label).lower()

    class RecipientsForm(StripWhitespaceForm):
        recipients = SelectMultipleField(_("Which organisations do you want to tell?"), validate_choice=False)

    for candidate in view.candidates:
        if candidate.standing:
            continue
        setattr(RecipientsForm, candidate.consent_field, RadioField(
            named(_("May %(name)s be told about this change only, or always?"), name=marked_name(candidate.department)),
            choices=[SelectChoice("once", _("Tell them this time")),
                     SelectChoice("always", _("Always tell them about %(change)s", change=change_label))],
            widget=GovRadioInput(), validate_choice=False,
        ))
    if journey.chose_recipients:
        data: dict[str, Any] = {"recipients": list(journey.recipients)}
        data.update({f"consent-{k}": v for k, v in journey.consent.items()})
    else:
        data = {"recipients": [c.department.id for c in view.candidates if c.standing]}
    form = RecipientsForm(formdata=formdata, data=data)
    form.recipients.choices = [SelectChoice(c.department.id, organisation_name(c.department)) for c in view.candidates]
    return form


def save_recipients(form: StripWhitespaceForm, view: RecipientsView, journey: Journey) -> bool:
    """Check the choice and keep it in the journey; False (with errors on the form) if it cannot be kept."""
    if not form.validate():
        return False
    candidates = view.by_id()
    chosen = [d for d in (form.recipients.data or []) if d in candidates]
    if len(chosen) != len(form.recipients.data or []) or not chosen:
        form.recipients.errors = [_("Select at least one organisation to tell")]
        return False
    consent: dict[str, str] = {}
    for department_id in chosen:
        candidate = candidates[department_id]
        if candidate.standing:
            continue
        answer = form[candidate.consent_field].data
        if answer not in CONSENT_CHOICES:
            form[candidate.consent_field].errors = [
                named(_("Select whether %(name)s may be told this time only or always"),
                      name=marked_name(candidate.department))
            ]
            continue
        consent[department_id] = answer
    if form.errors:
        return False
    journey.recipients = chosen
    journey.consent = consent
    journey.chose_recipients = True
    return True
