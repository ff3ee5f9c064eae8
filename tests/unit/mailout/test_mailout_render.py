"""Rendering an email's bodies from its template, in its language."""

from __future__ import annotations

import pytest

from tellusonce.mailout.render import EmailTemplateMissing, render_email


def test_render_email_names_a_missing_template_and_a_missing_variable() -> None:
    with pytest.raises(EmailTemplateMissing, match="no_such_template"):
        render_email("no_such_template", {})
    with pytest.raises(Exception, match="link"):
        render_email("verify_email", {"hours": 1})


def test_an_unknown_language_falls_back_to_english() -> None:
    text, _ = render_email("verify_email", {"link": "https://x.test/v", "hours": 1}, language="xx")
    assert text.startswith("Confirm your email address")
