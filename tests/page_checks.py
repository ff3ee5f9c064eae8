"""Checks every rendered page must pass, whatever it shows (after Notify admin's page helper).

    from page_checks import check_page
    page = check_page(client.get("/organisations"))          # a BeautifulSoup
    page = check_page(response, status=400, errors=True)     # a form with errors

A page passes when it has a title (starting "Error: ", or "Gwall: " in Welsh, exactly when it shows an
error summary), one h1, unique ids, every form field labelled (a <label for>,
a wrapping label, or a fieldset legend for radios, checkboxes and date parts),
every error-summary link pointing at an element on the page, every POST form
carrying a CSRF token, no inline script without the nonce, and no inline style.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from bs4 import BeautifulSoup, Tag

UNLABELLED_TYPES = {"hidden", "submit", "button", "image", "reset"}
# What the title starts with when the page shows an error summary, by the page's language.
ERROR_PREFIX = {"en": "Error: ", "cy": "Gwall: "}


class PageProblem(AssertionError):
    pass


def check_page(response: Any, *, status: int = 200, errors: bool | None = None) -> BeautifulSoup:
    """Assert ``response`` is a well-formed page of the service; return it parsed."""
    body = response.get_data(as_text=True) if hasattr(response, "get_data") else str(response)
    if hasattr(response, "status_code") and response.status_code != status:
        raise PageProblem(f"expected status {status}, got {response.status_code}")
    if hasattr(response, "mimetype") and response.mimetype != "text/html":
        raise PageProblem(f"expected an HTML page, got {response.mimetype}")
    page = BeautifulSoup(body, "html.parser")
    problems = [*_title(page, errors), *_ids(page), *_labels(page), *_summary_links(page),
                *_forms(page), *_scripts(page, response)]
    if problems:
        raise PageProblem("; ".join(problems))
    return page


def page_title(page: BeautifulSoup) -> str:
    return " ".join(page.title.get_text().split()) if page.title else ""


def _title(page: BeautifulSoup, errors: bool | None) -> list[str]:
    problems = []
    title = page_title(page)
    if not title or title.startswith("–"):
        problems.append(f"page has no title of its own: {title!r}")
    h1s = page.find_all("h1")
    if len(h1s) != 1:
        problems.append(f"page has {len(h1s)} h1 headings, not one")
    summary = page.select_one(".govuk-error-summary")
    prefix = ERROR_PREFIX.get(page.html.get("lang", "en") if page.html else "en", "Error: ")
    if (summary is not None) != title.startswith(prefix):
        problems.append(f"title {title!r} and error summary ({'shown' if summary else 'none'}) disagree")
    if errors is not None and errors != (summary is not None):
        problems.append("expected an error summary" if errors else "unexpected error summary")
    return problems


def _ids(page: BeautifulSoup) -> list[str]:
    counts = Counter(tag["id"] for tag in page.find_all(id=True))
    return [f"id {i!r} is used {n} times" for i, n in counts.items() if n > 1]


def _has_label(page: BeautifulSoup, field: Tag) -> bool:
    field_id = field.get("id")
    if field_id and page.find("label", attrs={"for": field_id}):
        return True
    if field.find_parent("label") is not None or field.get("aria-label") or field.get("aria-labelledby"):
        return True
    return False


def _labels(page: BeautifulSoup) -> list[str]:
    problems = []
    for field in page.find_all(["input", "select", "textarea"]):
        if field.name == "input" and field.get("type", "text") in UNLABELLED_TYPES:
            continue
        if not _has_label(page, field):
            problems.append(f"field {field.get('name')!r} (id {field.get('id')!r}) has no label")
            continue
        if field.get("type") in ("radio", "checkbox") or (field.get("id") or "").endswith(("-day", "-month", "-year")):
            group = field.find_parent("fieldset")
            siblings = page.find_all("input", attrs={"name": field.get("name")})
            if len(siblings) > 1 and (group is None or group.find("legend") is None):
                problems.append(f"group {field.get('name')!r} has no fieldset legend")
    return problems


def _summary_links(page: BeautifulSoup) -> list[str]:
    problems = []
    for link in page.select(".govuk-error-summary a[href^='#']"):
        target = link["href"][1:]
        if not page.find(id=target):
            problems.append(f"error summary links to #{target}, which is not on the page")
    return problems


def _forms(page: BeautifulSoup) -> list[str]:
    problems = []
    for form in page.find_all("form"):
        if (form.get("method") or "get").lower() != "post":
            continue
        if form.find("input", attrs={"name": "csrf_token"}) is None:
            problems.append(f"POST form to {form.get('action')!r} has no CSRF token")
    return problems


def _scripts(page: BeautifulSoup, response: Any) -> list[str]:
    problems = []
    csp = response.headers.get("Content-Security-Policy", "") if hasattr(response, "headers") else ""
    for script in page.find_all("script"):
        if script.get("src"):
            continue
        nonce = script.get("nonce")
        if not nonce or f"'nonce-{nonce}'" not in csp:
            problems.append("an inline script without the page's nonce")
    if page.find(style=True) is not None:
        problems.append(f"an inline style attribute on <{page.find(style=True).name}>")
    if page.find(lambda t: any(a.startswith("on") for a in t.attrs)) is not None:
        problems.append("an inline event handler attribute")
    return problems
