"""Form building blocks in the GOV.UK voice, shared by every journey.

- ``StripWhitespaceForm``: the base of every form (CSRF from Flask-WTF; spaces
  stripped from every text answer except passwords, as Notify admin does, and
  control characters taken out).
- ``GovDateField``: the GOV.UK day/month/year date input, read leniently
  ("3", "march", "2024") and checked with messages that say what to do.
- ``DomainFormat``: a validator that applies the same check as the change
  types (``tellusonce.domain.fields``), so a profile and a report agree.
"""

from __future__ import annotations

import unicodedata
import weakref
from datetime import date
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext
from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import GovDateInput, GovPasswordInput
from wtforms import Field, FieldList, PasswordField
from wtforms.validators import StopValidation, ValidationError

from tellusonce.domain.fields import FORMAT_CHECKER, KINDS
from tellusonce.domain.months import MONTHS

# Control characters no one can type into a form (tab and new lines aside): PostgreSQL cannot store
# NUL, and no organisation should be sent the others.
_UNTYPABLE = dict.fromkeys(c for c in range(0x100) if unicodedata.category(chr(c)) == "Cc" and chr(c) not in "\t\n\r")


def tidy_text(value: Any) -> Any:
    return value.translate(_UNTYPABLE).strip() if isinstance(value, str) else value


class StripWhitespaceForm(FlaskForm):
    """The base form: CSRF-protected, with surrounding whitespace and control characters taken out
    of text answers."""

    class Meta:
        def bind_field(self, form: Any, unbound_field: Any, options: dict[str, Any]) -> Any:
            keep_as_typed = issubclass(unbound_field.field_class, (PasswordField, FieldList))
            filters = [] if keep_as_typed else [tidy_text]
            filters += list(unbound_field.kwargs.get("filters", []))
            bound = unbound_field.bind(form=form, filters=filters, **options)
            bound.get_form = weakref.ref(form)
            return bound


class GovukDateInput(GovDateInput):
    """govuk-frontend-wtf's date input with the Day, Month and Year labels translated."""

    def map_gov_params(self, field: Any, **kwargs: Any) -> dict[str, Any]:
        params = super().map_gov_params(field, **kwargs)
        for item, label in zip(params["items"], (_("Day"), _("Month"), _("Year")), strict=True):
            item["label"] = label
            item["id"] = f"{field.id}-{item['id'].rsplit('-', 1)[1]}"
            item.setdefault("attributes", {})["inputmode"] = "numeric"
            # Only the box at fault is highlighted when the problem is one box (GOV.UK date input).
            part = getattr(field, "wrong_part", None)
            if part and not item["id"].endswith(f"-{part}"):
                item["classes"] = item["classes"].replace("govuk-input--error", "").strip()
        if field.description:
            params["hint"] = {"text": field.description}
        return params


class GovukPasswordInput(GovPasswordInput):
    """govuk-frontend-wtf's password input, with the field's ``autocomplete`` given to the GOV.UK
    macro's own parameter: as a plain attribute it came second, after the macro's default
    ``current-password``, and browsers read the first (so no password manager offered a new one).
    Its show and hide button says what it does in the page's language (GOV.UK's are English)."""

    def map_gov_params(self, field: Any, **kwargs: Any) -> dict[str, Any]:
        params = super().map_gov_params(field, **kwargs)
        params.update({
            "showPasswordText": _("Show"), "hidePasswordText": _("Hide"),
            "showPasswordAriaLabelText": _("Show password"), "hidePasswordAriaLabelText": _("Hide password"),
            "passwordShownAnnouncementText": _("Your password is visible"),
            "passwordHiddenAnnouncementText": _("Your password is hidden"),
        })
        autocomplete = params.get("attributes", {}).pop("autocomplete", None)
        if autocomplete:
            params["autocomplete"] = autocomplete
        return params


class GovDateField(Field):
    """A date given as day, month and year boxes; ``data`` is a ``date`` or None when left empty.

    ``required`` is the message shown when nothing is entered (None: the date is optional).
    """

    widget = GovukDateInput()

    def __init__(self, label: Any = None, validators: Any = None, *, required: Any = None, **kwargs: Any) -> None:
        super().__init__(label, validators, **kwargs)
        self.required_message = required
        self.incomplete: str | None = None
        self.wrong_part: str | None = None  # "day", "month" or "year" when one box is the problem

    def _value(self) -> str:
        return self.data.isoformat() if isinstance(self.data, date) else ""

    def process_formdata(self, valuelist: list[str]) -> None:
        self.data = None
        self.incomplete = None
        self.wrong_part = None
        parts = [(v or "").strip() for v in valuelist[:3]] + [""] * (3 - len(valuelist[:3]))
        # The widget shows raw_data as day, month and year: a post that left the boxes out
        # (or sent more) must still render as three boxes, not fail.
        self.raw_data = parts
        if not any(parts):
            return
        names = {"day": _("day"), "month": _("month"), "year": _("year")}
        missing = [key for key, part in zip(names, parts, strict=True) if not part]
        if missing:
            self.wrong_part = missing[0]
            self.incomplete = _("%(label)s must include a %(part)s", label=self.label.text, part=names[missing[0]])
            raise ValueError(self.incomplete)
        day, month, year = parts
        if year.isascii() and year.isdigit() and len(year) != 4:
            self.wrong_part = "year"
            raise ValueError(_("Year must include 4 numbers"))
        try:
            month_number = int(month) if month.isascii() and month.isdigit() else MONTHS[month.lower()]
            if not (year.isascii() and year.isdigit() and day.isascii() and day.isdigit()):
                raise ValueError
            self.data = date(int(year), month_number, int(day))
        except (KeyError, ValueError, OverflowError):  # OverflowError: a part past what a C long holds
            raise ValueError(_("%(label)s must be a real date", label=self.label.text)) from None

    def pre_validate(self, form: Any) -> None:
        if self.data is None and not self.process_errors and self.required_message:
            raise StopValidation(str(self.required_message))


class DateBetween:
    """The date must fall within ``earliest``..``latest`` (callables so "today" is today)."""

    def __init__(self, *, earliest: Any = None, latest: Any = None, too_early: Any = None, too_late: Any = None) -> None:
        self.earliest, self.latest = earliest, latest
        self.too_early, self.too_late = too_early, too_late

    def __call__(self, form: Any, field: Any) -> None:
        value = field.data
        if value is None:
            return
        if self.latest is not None and value > self.latest():
            raise ValidationError(str(self.too_late))
        if self.earliest is not None and value < self.earliest():
            raise ValidationError(str(self.too_early))


class DomainFormat:
    """Check an answer the way a change type checks it: ``DomainFormat("postcode")``.

    Empty answers pass (pair with ``InputRequired`` when the answer is needed).
    """

    def __init__(self, kind: str) -> None:
        self.kind = KINDS[kind]
        self.format = self.kind.schema.get("format")
        self.max_length = self.kind.schema.get("maxLength")

    def __call__(self, form: Any, field: Any) -> None:
        value = field.data
        if not value:
            return
        label = field.label.text
        if isinstance(self.max_length, int) and len(value) > self.max_length:
            raise ValidationError(
                _("%(label)s must be %(limit)s characters or less", label=label, limit=self.max_length)
            )
        if self.format and not FORMAT_CHECKER.conforms(value, str(self.format)):
            raise ValidationError(_(self.kind.invalid, label=label))


# Labels used by more than one form.
EMAIL_LABEL = lazy_gettext("Email address")
PASSWORD_LABEL = lazy_gettext("Password")
