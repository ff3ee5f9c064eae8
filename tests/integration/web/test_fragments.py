"""The page shell's parts kept once a process (tellusonce/web/fragments.py): each language gets
its own, a kept part is the HTML it renders, and nothing is kept while templates reload."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient

from tellusonce.web.fragments import EXTENSION

WELSH = {"Accept-Language": "cy"}


def _shell(html: str) -> tuple[str, str]:
    """The page's header (skip link, header) and its footer, as HTML."""
    header = html[html.index('<a href="#main-content"'):html.index('<div class="govuk-service-navigation')]
    return header, html[html.index("<footer"):html.index("</footer>")]


def test_each_language_has_its_own_header_and_footer(client: FlaskClient) -> None:
    english = client.get("/").get_data(as_text=True)
    welsh = client.get("/", headers=WELSH).get_data(as_text=True)
    assert "Skip to main content" in _shell(english)[0] and "© Crown copyright" in _shell(english)[1]
    assert "Neidio i’r prif gynnwys" in _shell(welsh)[0] and "© Hawlfraint y Goron" in _shell(welsh)[1]
    assert "Crown copyright" not in welsh and "Skip to main content" not in welsh
    assert "Hawlfraint" not in client.get("/").get_data(as_text=True)


def test_a_kept_shell_is_the_html_it_was_rendered_as(app: Flask, client: FlaskClient) -> None:
    first = client.get("/report").get_data(as_text=True)  # rendered, and kept
    assert len(app.extensions[EXTENSION]) > 0
    again = client.get("/report").get_data(as_text=True)
    assert _shell(again) == _shell(first)
    other = client.get("/organisations").get_data(as_text=True)  # another page, the same parts
    assert _shell(other)[1] == _shell(first)[1]


def test_nothing_is_kept_while_templates_reload(app: Flask, client: FlaskClient) -> None:
    app.jinja_env.auto_reload = True
    client.get("/")
    client.get("/", headers=WELSH)
    assert len(app.extensions[EXTENSION]) == 0


def test_a_kept_back_link_is_the_back_link_rendered_in_full(app: Flask) -> None:
    full = app.jinja_env.from_string(
        '{% from "govuk_frontend_jinja/components/back-link/macro.html" import govukBackLink %}'
        "{{ govukBackLink({'href': href, 'text': text or 'Back'}) }}")
    with app.test_request_context("/"):
        back_link = app.jinja_env.get_template("macros.html").module.back_link  # type: ignore[attr-defined]
        for href, text in [("/report/a?b=1&c=<2>", None), ("/track/AB-12", "Back to your report"), ("", None),
                           ("/report/a?b=1&c=<2>", None)]:
            assert str(back_link(href, text)) == full.render(href=href, text=text)
        assert len(app.extensions[EXTENSION]) == 2  # one a text and language, whatever the address
