"""Organisations named and described in the page's language.

The registry gives each department's name and purpose in English and, where it can, in Welsh
(``name_cy``, ``purpose_cy``). A Welsh page shows the Welsh; where there is none it shows the
English marked ``lang="en"``, so that a screen reader says it in English. Plain text (a CSV, a
JSON file, an email's context) takes ``organisation_name``; a page takes the marked forms, and a
sentence Python words for a page (a form's label or error, a flash message) puts one in with ``named``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask, g
from markupsafe import Markup, escape

from tellusonce.data.departments import registry
from tellusonce.web.database import get_session
from tellusonce.web.language import page_language


def _value(department: Any, key: str) -> Any:
    return department.get(key) if isinstance(department, Mapping) else getattr(department, key, None)


def _in(department: Any, key: str, language: str | None) -> tuple[str, bool]:
    """The text of ``key`` in ``language`` (the page's by default), and whether it is the English
    standing in for missing Welsh."""
    language = language or page_language()
    welsh = _value(department, f"{key}_cy") if language == "cy" else None
    if welsh:
        return str(welsh), False
    return str(_value(department, key) or ""), language == "cy"


def organisation_name(department: Any, language: str | None = None) -> str:
    """A department's (or a register entry's) name in ``language``, the page's by default."""
    return _in(department, "name", language)[0]


def in_english(text: str) -> Markup:
    """``text``, marked as English when the page is Welsh (registry text nobody has translated)."""
    if page_language() == "cy" and text:
        return Markup('<span lang="en">%s</span>') % text
    return escape(text)


def marked_name(department: Any) -> Markup:
    """For a page: the department's name, marked ``lang="en"`` where a Welsh page shows the English."""
    text, english = _in(department, "name", None)
    return in_english(text) if english else escape(text)


def named(message: str, **values: Any) -> Markup:
    """A translated ``message`` as HTML with ``values`` put in, each escaped unless it is HTML already:
    give a department as ``marked_name(department)`` so that a Welsh page marks its English name.
    For what Python words and a page shows as HTML: a form's label and error, a flash message."""
    return Markup(escape(message)) % values


def marked_purpose(department: Any) -> Markup:
    return marked_text(department, "purpose")


def marked_text(department: Any, key: str) -> Markup:
    """For a page: the department's ``key`` (``lawful_basis``, ``retention`` …) in the page's language,
    the English marked where Welsh is missing; empty where the registry gives neither."""
    text, english = _in(department, key, None)
    return in_english(text) if english else escape(text)


def _department(department_id: str) -> Any:
    if "departments_by_id" not in g:
        g.departments_by_id = {d.id: d for d in registry(get_session())}
    return g.departments_by_id.get(department_id)


def marked_name_of(department_id: str, fallback: str = "") -> Markup:
    """The marked name of the department with ``department_id``, for a page given only its id."""
    department = _department(department_id)
    return marked_name(department) if department is not None else escape(fallback)


def name_of(department_id: str, fallback: str = "") -> str:
    """The plain name of the department with ``department_id`` (for an attribute or a title)."""
    department = _department(department_id)
    return organisation_name(department) if department is not None else fallback


def init_app(app: Flask) -> None:
    """Give every template the organisation names and purposes in the page's language (once, in ``create_app``)."""
    app.add_template_global(marked_name, "org_name")
    app.add_template_global(marked_purpose, "org_purpose")
    app.add_template_global(marked_text, "org_text")
    app.add_template_global(marked_name_of, "org_name_of")
    app.add_template_global(organisation_name, "org_name_text")
    app.add_template_global(name_of, "org_name_text_of")
    app.add_template_global(in_english, "in_english")
