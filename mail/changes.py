"""An emailed change: who sent it, what it says, and what we answer.

A verified citizen's change becomes a *held* report (the domain's
``hold_change``) and the citizen's own address is sent a single-use link to
confirm it: a From header can be forged, the citizen's mailbox cannot. An
unknown sender is told how to register (once a day, and the same words whether
or not an account exists). A change with problems gets the list of problems
and a blank template; the same change reported again is recognised.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from gettext import NullTranslations

from sqlalchemy.orm import Session

from tellusonce.application.intake import ChangeRequest, IntakeError, Plan, RecipientStatus, hold_change, plan_change
from tellusonce.clock import uk_date
from tellusonce.data.citizens import get_citizen_by_email
from tellusonce.data.departments import list_departments
from tellusonce.data.inbound import CONFIRMATION_LIFETIME, issue_confirmation
from tellusonce.domain.changetypes import CHANGE_TYPES, ChangeType
from tellusonce.domain.fields import canonical_email
from tellusonce.domain.planning import When
from tellusonce.domain.reporter import account_updates, detail_names, in_words
from tellusonce.domain.validation import ChangeInvalid, FieldError
from tellusonce.i18n import BILINGUAL, translations_for
from tellusonce.mailout.render import format_day
from tellusonce.models import Citizen, Department, InboundMessage, InboundStatus
from tellusonce.settings import Settings
from tellusonce_mail import replies
from tellusonce_mail.handler import confirmation_address
from tellusonce_mail.mime import MAX_DEPTH, ReadMessage
from tellusonce_mail.parser import MAX_LINE_CHARS, MAX_LINES, ParsedChange
from tellusonce_mail.written_language import written_language

Result = tuple[str, str, uuid.UUID | None]


def handle_change(session: Session, message: InboundMessage, read: ReadMessage, parsed: ParsedChange, *,
                  settings: Settings, now: datetime) -> Result:
    """Act on the change ``parsed`` from ``read`` (parsed before this transaction, ``tellusonce_mail.reading``)."""
    address = read.from_address or message.mail_from
    if not address:
        return InboundStatus.PROCESSED, "not answered: no sender address", None
    citizen = get_citizen_by_email(session, canonical_email(address))
    if citizen is None or not citizen.is_verified:
        return _unknown_sender(session, read, address, settings=settings, now=now)
    if not replies.may_reply(session, citizen.email, now=now):
        return InboundStatus.PROCESSED, "not answered: reply limit for this address reached", None
    departments = list(list_departments(session))
    translations = translations_for(citizen.language)
    gettext = translations.gettext
    notes = not_read(read, parsed, translations)
    if parsed.change_type is None:
        problems = [_which_change(parsed, gettext)]
        _problems(session, read, citizen, None, departments, problems, notes, settings=settings, now=now)
        return InboundStatus.PROCESSED, "answered: no change recognised", None
    change_type = CHANGE_TYPES[parsed.change_type]
    request, problems = _request(session, citizen, parsed, change_type, departments, message.id, now=now,
                                 gettext=gettext, details_link=_details_link(settings))
    if problems:
        _problems(session, read, citizen, change_type, departments, problems, notes, settings=settings, now=now)
        return InboundStatus.PROCESSED, f"answered: {len(problems)} problems with a {change_type.id} change", None
    result = hold_change(session, citizen, request, now=now)
    report = result.report
    if result.duplicate_of is not None:
        replies.queue_reply(
            session, settings=settings, read=read, now=now, to=citizen.email, purpose=replies.DUPLICATE,
            template="mail_duplicate", language=citizen.language, related_id=report.id,
            context={"reference": report.reference, "link": f"{settings.base_url}/changes/{report.reference}",
                     "reported_on": format_day(uk_date(report.created_at), citizen.language)},
        )
        return InboundStatus.PROCESSED, f"answered: duplicate of {report.reference}", report.id
    if not result.created:  # this very message was processed before (an operator reprocessed it)
        return InboundStatus.PROCESSED, f"already held as {report.reference}", report.id
    token = issue_confirmation(session, citizen, report.id, now=now)
    told, not_told = replies.recipient_rows(change_type, report.answers, result.outcomes, citizen.language)
    replies.queue_reply(
        session, settings=settings, read=read, now=now, to=citizen.email, purpose=replies.CONFIRM,
        template="mail_confirm_change", language=citizen.language, related_id=report.id,
        reply_to=confirmation_address(token, settings.mail_domain),
        context={
            "reference": report.reference, "change_label": change_type.label, "recipients": told,
            "not_told": not_told, "link": f"{settings.base_url}/confirm-email-change/{token}",
            "hours": int(CONFIRMATION_LIFETIME.total_seconds() // 3600), "not_read": notes,
            "account_details": _account_details(citizen, change_type, report.answers, gettext),
        },
    )
    return InboundStatus.PROCESSED, f"held as {report.reference}; confirmation sent", report.id


def _account_details(citizen: Citizen, change_type: ChangeType, answers: dict[str, object],
                     gettext: Callable[[str], str]) -> str | None:
    """The account details confirming would change ("name and address"), or None."""
    names = [gettext(name) for name in detail_names(account_updates(citizen, change_type.id, answers))]
    return in_words(names, citizen.language) if names else None


def _details_link(settings: Settings) -> str:
    return f"{settings.base_url}/account/details"


def own_details_known(citizen: Citizen) -> bool:
    """Whether the account has the reporter's own details an email may leave out (its name and date of birth)."""
    return all(getattr(citizen, name) not in (None, "") for name in ("given_names", "family_name", "date_of_birth"))


def _unknown_sender(session: Session, read: ReadMessage, address: str, *, settings: Settings,
                    now: datetime) -> Result:
    if not replies.may_explain_registration(session, address, now=now) or not replies.may_reply(
            session, address, now=now):
        return InboundStatus.PROCESSED, "not answered: unknown sender already told how to register", None
    # No account, so no recorded language: the language they wrote in, or both (Welsh first).
    language = written_language(read.text, read.subject, read.headers.get("content-language", "")) or BILINGUAL
    replies.queue_reply(
        session, settings=settings, read=read, now=now, to=address, purpose=replies.UNKNOWN_SENDER,
        template="mail_unknown_sender", language=language,
        context={"register_link": f"{settings.base_url}/account/create"},
    )
    return InboundStatus.PROCESSED, "answered: unknown sender told how to register", None


def _request(session: Session, citizen: Citizen, parsed: ParsedChange, change_type: ChangeType,
             departments: Sequence[Department], message_id: uuid.UUID, *, now: datetime,
             gettext: Callable[[str], str], details_link: str) -> tuple[ChangeRequest, list[str]]:
    """The change request the email makes, and every problem with it in the citizen's words."""
    problems: list[str] = []
    accepting = [d.id for d in departments if d.accepts(change_type.id)]
    chosen = list(parsed.recipients) if parsed.tell_given and not parsed.tell_all else accepting
    if parsed.tell_all:
        chosen = list(dict.fromkeys([*parsed.recipients, *accepting]))
    # Confirming updates the account with the change's details unless the citizen says no on the
    # confirmation page (a reply saying CONFIRM keeps this default, which the email states).
    # A change emailed ahead of its date is sent to each organisation on the date (or as many days
    # before it as the organisation asks), which the confirmation email says: an email has no
    # question to ask, and the date is what the citizen wrote.
    timing = dict.fromkeys(chosen, When.ON_DATE.value)
    request = ChangeRequest(change_type=change_type.id, answers=parsed.answers, recipients=chosen, consent={},
                            channel="email", submission_key=f"email-{message_id.hex}", update_details=True,
                            timing=timing)
    plan: Plan | None = None
    try:
        plan = plan_change(session, citizen, request, now=now)
    except ChangeInvalid as invalid:
        problems.extend(_field_problems(citizen, change_type, invalid.errors, gettext, details_link))
    except IntakeError:
        problems.append(gettext("We could not tell which organisations to tell. Name them on a line like \"Tell: DVLA, HMRC\"."))
    if parsed.unknown_recipients:
        names = ", ".join(f"\u201c{name}\u201d" for name in parsed.unknown_recipients)
        known = ", ".join(replies.short_name(d) for d in departments if d.accepts(change_type.id))
        problems.append(gettext("We could not tell which organisation you mean by %(names)s. You can tell: %(known)s.")
                        % {"names": names, "known": known})
    if plan is not None and parsed.tell_given:
        # Naming an organisation on the Tell line is the citizen's consent for this change, which they
        # see in full and confirm from the link before anything is sent.
        consent = {rp.department.id: "once" for rp in plan.recipients if rp.status == RecipientStatus.NEEDS_CONSENT}
        request = ChangeRequest(change_type=request.change_type, answers=request.answers, recipients=chosen,
                                consent=consent, channel="email", submission_key=request.submission_key,
                                update_details=True, timing=timing)
        plan = plan_change(session, citizen, request, now=now)
    if plan is not None and not problems and not plan.queued:
        known = ", ".join(replies.short_name(d) for d in departments if d.accepts(change_type.id))
        problems.append(gettext("Say which organisations to tell on a line like \"Tell: DVLA, HMRC\". You can tell: %(known)s.")
                        % {"known": known})
    if problems and parsed.unrecognised:
        lines = ", ".join(f"\u201c{label}\u201d" for label in parsed.unrecognised[:10])
        problems.append(gettext("We did not understand these lines: %(lines)s. Use the labels in the template below.")
                        % {"lines": lines})
    return request, problems


def _field_problems(citizen: Citizen, change_type: ChangeType, errors: Sequence[FieldError],
                    gettext: Callable[[str], str], details_link: str) -> list[str]:
    """Each problem with the answers; the reporter's own details that neither the email nor the
    account gives are one problem saying where to add them (the reply's template has the lines)."""
    unknown_own = [e.field for e in errors if change_type.field(e.field).profile
                   and getattr(citizen, change_type.field(e.field).profile or "", None) in (None, "")]
    problems = [error.render(gettext) for error in errors if error.field not in unknown_own]
    if unknown_own:
        labels = [gettext(change_type.field(name).label) for name in unknown_own]
        missing = in_words([_lower_first(label) for label in labels], citizen.language)
        lines = ", ".join(f"\u201c{label}: \u2026\u201d" for label in labels)
        problems.insert(0, gettext("Your account does not have your %(details)s yet. Add them in Your details at "
                                   "%(link)s and send your email again, or write them in your email on lines like "
                                   "%(lines)s.") % {"details": missing, "link": details_link, "lines": lines})
    return problems


def _lower_first(label: str) -> str:
    """'Given names' -> 'given names' for the middle of a sentence; 'National Insurance number' stays."""
    return label if label.startswith("National ") else label[:1].lower() + label[1:]


def _which_change(parsed: ParsedChange, gettext: Callable[[str], str]) -> str:
    names = ", ".join(gettext(ct.label).lower() for ct in CHANGE_TYPES.values())
    if parsed.unknown_change:
        return gettext("We do not know the change \u201c%(typed)s\u201d. You can report: %(names)s.") % {
            "typed": parsed.unknown_change, "names": names}
    return gettext("Say which change you are reporting on a line like \"Change: moving home\". You can report: %(names)s.") % {
        "names": names}


def not_read(read: ReadMessage, parsed: ParsedChange, translations: NullTranslations) -> list[str]:
    """What of the email was not read (docs/mail-security.md), in the citizen's words."""
    notes = []
    if read.parts_too_deep:
        notes.append(translations.gettext(
            "Parts of your email inside more than %(depth)s levels of attachments or forwarded emails.")
            % {"depth": MAX_DEPTH})
    if parsed.long_lines:
        notes.append(translations.ngettext(
            "%(num)s line longer than %(chars)s characters. Put each detail on a line of its own, like "
            "\"Postcode: LS2 9JT\".",
            "%(num)s lines longer than %(chars)s characters. Put each detail on a line of its own, like "
            "\"Postcode: LS2 9JT\".", parsed.long_lines) % {"num": parsed.long_lines, "chars": MAX_LINE_CHARS})
    if parsed.lines_not_read:
        notes.append(translations.ngettext(
            "%(num)s line after the first %(lines)s lines.", "%(num)s lines after the first %(lines)s lines.",
            parsed.lines_not_read) % {"num": parsed.lines_not_read, "lines": MAX_LINES})
    return notes


def _problems(session: Session, read: ReadMessage, citizen: Citizen, change_type: ChangeType | None,
              departments: Sequence[Department], problems: list[str], notes: list[str], *, settings: Settings,
              now: datetime) -> None:
    replies.queue_reply(
        session, settings=settings, read=read, now=now, to=citizen.email, purpose=replies.PROBLEMS, template="mail_problems",
        language=citizen.language, reply_to=settings.service_address,
        context={
            "change_label": change_type.label if change_type else None,
            "problems": problems,
            "own_details_known": own_details_known(citizen),
            "not_read": notes,
            "template": replies.blank_template(change_type, departments, language=citizen.language,
                                               own_details_known=own_details_known(citizen)),
        },
    )
