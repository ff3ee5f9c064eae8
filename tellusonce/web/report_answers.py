"""The rows of "check your answers", as the GOV.UK check answers pattern shows them.

One row per question: a name is one row, an address is one row with a line per
answer, and each row has one Change link to the page that asked it. Each
organisation's preview uses the same rows for what it receives, so a department
given a whole address sees it as one row, and one given only the postcode sees
"Postcode".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from flask import url_for
from flask_babel import gettext as _
from markupsafe import Markup, escape

from tellusonce.domain.changetypes import ChangeType
from tellusonce.mailout.render import answer_text
from tellusonce.web.language import page_language
from tellusonce.web.report_pages import Answer, pages_for

# "from" is a Python keyword, so it cannot be written as url_for's keyword argument.
_FROM_CHECK: dict[str, Any] = {"from": "check"}


def _bdi(text: str) -> Markup:
    """Keep an answer's own text direction from spilling into the page (right-to-left marks)."""
    return Markup("<bdi>%s</bdi>") % escape(text)


def _given(data: Mapping[str, Any], name: str) -> bool:
    return data.get(name) not in (None, "")


def answer_value(change_type: ChangeType, answer: Answer, data: Mapping[str, Any],
                 names: Sequence[str] | None = None) -> Markup:
    """One row's value: a single answer as the citizen would say it, a name's parts joined,
    an address a line per answer ("Not given" when none of them was)."""
    names = answer.fields if names is None else names
    if len(answer.fields) == 1:
        return _bdi(answer_text(change_type, names[0], data.get(names[0]), page_language()))
    parts = [answer_text(change_type, n, data[n], page_language()) for n in names if _given(data, n)]
    if not parts:
        return _bdi(_("Not given"))
    if answer.lines:
        return Markup("<br>").join(_bdi(p) for p in parts)
    return _bdi(" ".join(parts))


def answer_rows(change_type: ChangeType, data: Mapping[str, Any], *,
                change_url: Callable[[str], str] | None = None) -> list[dict[str, Any]]:
    """govukSummaryList rows for every question of this change, in the order they were asked; each
    Change link goes to ``change_url(page slug)`` (the report journey's question page, unless given)."""
    rows = []
    for page in pages_for(change_type.id):
        for answer in page.answers(change_type):
            label = _(answer.label)
            rows.append({
                "key": {"text": label},
                "value": {"html": answer_value(change_type, answer, data)},
                "actions": {"items": [{
                    "href": change_url(page.slug) if change_url else url_for("report.question", slug=page.slug,
                                                                             **_FROM_CHECK),
                    "text": _("Change"), "visuallyHiddenText": label.lower(),
                }]},
            })
    return rows


def preview_rows(change_type: ChangeType, data: Mapping[str, Any], fields: Sequence[str]) -> list[tuple[str, Markup]]:
    """(label, value) for what one organisation receives: a question's row when it receives all of
    that question's answers, otherwise a row per answer it receives (only those given)."""
    receives = set(fields)
    rows: list[tuple[str, Markup]] = []
    asked = {n for page in pages_for(change_type.id) for n in page.fields}
    for page in pages_for(change_type.id):
        for answer in page.answers(change_type):
            given = [n for n in answer.fields if n in receives and _given(data, n)]
            if not given:
                continue
            if len(answer.fields) > 1 and receives.issuperset(answer.fields):
                rows.append((_(answer.label), answer_value(change_type, answer, data, given)))
            else:
                rows.extend(_single(change_type, data, n) for n in given)
    # Anything received that no question page asks (such as the declaration) comes last.
    rows.extend(_single(change_type, data, n) for n in fields if n not in asked and _given(data, n))
    return rows


def _single(change_type: ChangeType, data: Mapping[str, Any], name: str) -> tuple[str, Markup]:
    return _(change_type.field(name).label), _bdi(answer_text(change_type, name, data[name], page_language()))
