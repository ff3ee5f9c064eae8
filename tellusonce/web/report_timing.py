"""When each organisation is told of a change reported ahead of its date: now, or on the date.

The check page asks it, once per organisation that could be told later (``domain.planning``),
with GOV.UK radios that need no JavaScript: "Tell them now" or "Tell them on 3 March 2027",
the second chosen already. The moment "on the date" means is the intake's own
(``RecipientPlan.on_date_at``): the registry's ``notice_days`` before the date, at the start
of that day in the UK.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

from flask_babel import gettext as _
from flask_babel import ngettext
from govuk_frontend_wtf.wtforms_widgets import GovRadioInput
from wtforms import RadioField, SelectChoice

from tellusonce.application.intake import Plan
from tellusonce.domain.changetypes import ChangeType
from tellusonce.domain.planning import When, planned_time
from tellusonce.models import Department
from tellusonce.web.department_names import marked_name, named
from tellusonce.web.display import govuk_date
from tellusonce.web.forms import StripWhitespaceForm

PREFIX = "when-"


def field_name(department_id: str) -> str:
    return f"{PREFIX}{department_id}"


def offers(change_type: ChangeType, answers: Mapping[str, Any], departments: Sequence[Department],
           recipients: Sequence[str], *, now: datetime) -> dict[str, tuple[Department, datetime]]:
    """The organisations chosen that could be told on the date, and when that would be: what the
    form asks about (read from the answers, without planning the whole change again)."""
    value = answers.get(change_type.effective_date or "")
    try:
        effective = date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        effective = None
    found: dict[str, tuple[Department, datetime]] = {}
    for department in departments:
        if department.id in recipients and department.accepts(change_type.id):
            at = planned_time(effective, notice_days=department.notice_for(change_type.id),
                              channel=department.channel, now=now)
            if at is not None:
                found[department.id] = (department, at)
    return found


def with_timing(form_class: type[StripWhitespaceForm], change_type: ChangeType,
                asked: Mapping[str, tuple[Department, datetime]]) -> type[StripWhitespaceForm]:
    """``form_class`` with a when-to-tell question for each organisation in ``asked``."""
    if not asked:
        return form_class

    class TimedCheckForm(form_class):  # type: ignore[valid-type,misc]
        def validate(self, extra_validators: Any = None) -> bool:
            valid = bool(super().validate(extra_validators))
            for department_id, (department, _at) in asked.items():
                field = self[field_name(department_id)]
                if field.data not in tuple(When):
                    field.errors = [named(_("Select when %(name)s should be told"), name=marked_name(department))]
                    valid = False
            return valid

    for department_id, (department, at) in asked.items():
        notice = department.notice_for(change_type.id)
        setattr(TimedCheckForm, field_name(department_id), RadioField(
            named(_("When should %(name)s be told?"), name=marked_name(department)),
            choices=[SelectChoice(When.NOW.value, _("Tell them now")),
                     SelectChoice(When.ON_DATE.value, _("Tell them on %(date)s", date=govuk_date(at)))],
            description=ngettext("They ask to be told %(num)s day before the date.",
                                 "They ask to be told %(num)s days before the date.", notice) if notice else "",
            default=When.ON_DATE.value, widget=GovRadioInput(), validate_choice=False,
        ))
    return TimedCheckForm


def chosen(form: StripWhitespaceForm) -> dict[str, str]:
    """The answers given on ``form``: department id -> ``When``."""
    return {f.name.removeprefix(PREFIX): str(f.data) for f in form if f.name.startswith(PREFIX)}


def shown(form: StripWhitespaceForm, plan: Plan) -> list[Any]:
    """The questions to draw: one per organisation that will be told and could be told on the date."""
    return [form[field_name(rp.department.id)] for rp in plan.queued
            if rp.on_date_at is not None and field_name(rp.department.id) in form]
