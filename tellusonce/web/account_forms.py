"""The forms of the account pages: create an account, sign in, reset a password, your details."""

from __future__ import annotations

from datetime import date
from typing import Any

from email_validator import EmailNotValidError, validate_email
from flask_babel import gettext as _
from flask_babel import lazy_gettext
from govuk_frontend_wtf.wtforms_widgets import GovRadioInput, GovSubmitInput, GovTextInput
from wtforms import HiddenField, PasswordField, RadioField, SelectChoice, StringField, SubmitField
from wtforms.validators import InputRequired, Length, ValidationError

from tellusonce.clock import today
from tellusonce.domain.changetypes import EARLIEST_BIRTH
from tellusonce.domain.passwords import password_problem
from tellusonce.i18n import LANGUAGES
from tellusonce.web.forms import (
    EMAIL_LABEL,
    PASSWORD_LABEL,
    DateBetween,
    DomainFormat,
    GovDateField,
    GovukPasswordInput,
    StripWhitespaceForm,
)

ENTER_EMAIL = lazy_gettext("Enter your email address")


class ValidEmail:
    """An address email-validator accepts (syntax only: no network look-ups in a request)."""

    def __call__(self, form: Any, field: Any) -> None:
        if not field.data:
            return
        if len(field.data) > 320:
            raise ValidationError(_("Email address must be 320 characters or less"))
        try:
            validate_email(field.data, check_deliverability=False)
        except EmailNotValidError:
            raise ValidationError(
                _("Enter an email address in the correct format, like name@example.com")
            ) from None


class NewPassword:
    """The NCSC-style password rules of ``tellusonce.domain.passwords``."""

    def __init__(self, email_field: str | None = None) -> None:
        self.email_field = email_field

    def __call__(self, form: Any, field: Any) -> None:
        email = getattr(form, self.email_field).data if self.email_field else getattr(form, "account_email", None)
        problem = password_problem(field.data or "", email=email)
        if problem:
            raise ValidationError(_(problem))


# Each language named in itself, as the language link names it.
LANGUAGE_CHOICES = [SelectChoice("en", "English"), SelectChoice("cy", "Cymraeg")]
LANGUAGE_QUESTION = lazy_gettext("Which language would you like us to use when we write to you?")


class KnownLanguage:
    """One of the languages the service writes in (a radio answer altered by hand is not)."""

    def __call__(self, form: Any, field: Any) -> None:
        if field.data not in LANGUAGES:
            raise ValidationError(_("Select the language you would like us to use when we write to you"))


def language_field() -> RadioField:
    """Welsh Language Standard 2's question: the language of every email to the account. The page
    chooses the answer already (the page's language when the account is made, the recorded one
    in Your details), so a form sent without it keeps what the page showed."""
    return RadioField(LANGUAGE_QUESTION, choices=LANGUAGE_CHOICES, validators=[KnownLanguage()],
                      validate_choice=False, widget=GovRadioInput())


def _email_field() -> StringField:
    return StringField(
        EMAIL_LABEL,
        validators=[InputRequired(message=ENTER_EMAIL), ValidEmail()],
        widget=GovTextInput(),
        render_kw={"autocomplete": "email", "spellcheck": "false", "type": "email"},
    )


class RegisterForm(StripWhitespaceForm):
    email = _email_field()
    password = PasswordField(
        lazy_gettext("Create a password"),
        description=lazy_gettext(
            "Use at least 12 characters. Three random words, like ‘coffee train fish’, make a good password."
        ),
        validators=[InputRequired(message=lazy_gettext("Enter a password")), NewPassword("email")],
        widget=GovukPasswordInput(),
        render_kw={"autocomplete": "new-password"},
    )
    language = language_field()
    submit = SubmitField(lazy_gettext("Create account"), widget=GovSubmitInput())


class SignInForm(StripWhitespaceForm):
    email = _email_field()
    password = PasswordField(
        PASSWORD_LABEL,
        validators=[InputRequired(message=lazy_gettext("Enter your password"))],
        widget=GovukPasswordInput(),
        render_kw={"autocomplete": "current-password"},
    )
    next = HiddenField()
    submit = SubmitField(lazy_gettext("Sign in"), widget=GovSubmitInput())


class ResetRequestForm(StripWhitespaceForm):
    email = _email_field()
    submit = SubmitField(lazy_gettext("Send reset link"), widget=GovSubmitInput())


def _new_password_field() -> PasswordField:
    """A new password, checked as at sign-up (``NewPassword``: length, common lists, not the address)."""
    return PasswordField(
        lazy_gettext("New password"),
        description=lazy_gettext(
            "Use at least 12 characters. Three random words, like ‘coffee train fish’, make a good password."
        ),
        validators=[InputRequired(message=lazy_gettext("Enter a new password")), NewPassword()],
        widget=GovukPasswordInput(),
        render_kw={"autocomplete": "new-password"},
    )


class NewPasswordForm(StripWhitespaceForm):
    """A new password for an account (after a reset link): ``NewPassword`` checks it is not the address."""

    password = _new_password_field()
    submit = SubmitField(lazy_gettext("Save new password"), widget=GovSubmitInput())

    def __init__(self, *args: Any, account_email: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.account_email = account_email


class ButtonForm(StripWhitespaceForm):
    """A form that is only a button (confirm an address, sign out, send the link again)."""

    submit = SubmitField(lazy_gettext("Continue"), widget=GovSubmitInput())


def _today() -> date:
    return today()


def _earliest_birth() -> date:
    return EARLIEST_BIRTH


class ProfileForm(StripWhitespaceForm):
    """Your details, used to fill in your reports; every answer is optional but checked."""

    given_names = StringField(
        lazy_gettext("Given names"), validators=[DomainFormat("name")], widget=GovTextInput(),
        render_kw={"autocomplete": "given-name", "spellcheck": "false"},
    )
    family_name = StringField(
        lazy_gettext("Family name"), validators=[DomainFormat("name")], widget=GovTextInput(),
        render_kw={"autocomplete": "family-name", "spellcheck": "false"},
    )
    date_of_birth = GovDateField(
        lazy_gettext("Date of birth"),
        description=lazy_gettext("For example, 27 3 1985"),
        validators=[
            DateBetween(
                earliest=_earliest_birth, latest=_today,
                too_early=lazy_gettext("Date of birth must be after 1 January 1900"),
                too_late=lazy_gettext("Date of birth must be today or in the past"),
            )
        ],
    )
    ni_number = StringField(
        lazy_gettext("National Insurance number"),
        description=lazy_gettext("It’s on your National Insurance card, benefit letter, payslip or P60. For example, QQ 12 34 56 C"),
        validators=[DomainFormat("ni_number")], widget=GovTextInput(),
        render_kw={"spellcheck": "false", "autocomplete": "off"},
    )
    address_line_1 = StringField(
        lazy_gettext("Address line 1"), validators=[Length(max=200, message=lazy_gettext("Address line 1 must be 200 characters or less"))],
        widget=GovTextInput(), render_kw={"autocomplete": "address-line1"},
    )
    address_line_2 = StringField(
        lazy_gettext("Address line 2 (optional)"), validators=[Length(max=200, message=lazy_gettext("Address line 2 must be 200 characters or less"))],
        widget=GovTextInput(), render_kw={"autocomplete": "address-line2"},
    )
    town = StringField(
        lazy_gettext("Town or city"), validators=[Length(max=100, message=lazy_gettext("Town or city must be 100 characters or less"))],
        widget=GovTextInput(), render_kw={"autocomplete": "address-level2"},
    )
    postcode = StringField(
        lazy_gettext("Postcode"), validators=[DomainFormat("postcode")], widget=GovTextInput(),
        render_kw={"autocomplete": "postal-code", "spellcheck": "false"},
    )
    phone = StringField(
        lazy_gettext("Phone number"),
        description=lazy_gettext("For international numbers include the country code"),
        validators=[DomainFormat("phone")], widget=GovTextInput(),
        render_kw={"autocomplete": "tel", "type": "tel"},
    )
    language = language_field()
    submit = SubmitField(lazy_gettext("Save your details"), widget=GovSubmitInput())


def _current_password_field() -> PasswordField:
    return PasswordField(
        lazy_gettext("Your current password"),
        validators=[InputRequired(message=lazy_gettext("Enter your current password"))],
        widget=GovukPasswordInput(),
        render_kw={"autocomplete": "current-password"},
    )


class ChangeEmailForm(StripWhitespaceForm):
    """Change your email address: the new one, and the password to show it is you asking."""

    email = StringField(
        lazy_gettext("New email address"),
        description=lazy_gettext("We will send a link to this address. Your address changes when you open it."),
        validators=[InputRequired(message=lazy_gettext("Enter your new email address")), ValidEmail()],
        widget=GovTextInput(),
        render_kw={"autocomplete": "email", "spellcheck": "false", "type": "email"},
    )
    password = _current_password_field()
    submit = SubmitField(lazy_gettext("Send confirmation link"), widget=GovSubmitInput())


class ChangePasswordForm(NewPasswordForm):
    """Change your password: the current one, and a new one checked as at sign-up."""

    current_password = _current_password_field()
