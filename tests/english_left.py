"""English left on a Welsh page or in a Welsh email.

    from english_left import english_on_page, english_in_text
    assert not english_on_page(welsh_html)             # English messages of the catalogue
    assert not english_in_both(welsh_html, english_html)  # text the same in both languages

A Welsh page shows English where a message of the catalogue has no Welsh (an empty or fuzzy
msgstr), or where code shows a message without translating it (a domain message shown as its
``N_`` English, a string translated at import time, in English). Both leave the English msgid
on the page: ``english_on_page`` finds every msgid of the catalogue whose Welsh differs from it.
A string that was never marked for translation is in no catalogue: ``english_in_both`` finds text
that reads the same on the Welsh and the English rendering of the same page, less what the person
typed (their names, addresses, references) and what is marked ``lang="en"`` on purpose.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

from bs4 import BeautifulSoup, NavigableString, Tag

from tests.catalogues import WELSH, read_catalogue

# Text no person reads, and the link to the other language (in that language, on purpose).
HIDDEN = ("script", "style", "template", "noscript")
SWITCH = ".app-language-switch"
ATTRIBUTES = ("aria-label", "alt", "title", "placeholder")
_PLACEHOLDER = re.compile(r"%\([^)]+\)[-#0 +]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa]|%%")
_TAG = re.compile(r"<[^>]+>")
# An address, a link, a cookie's or a template's name, an id (a consent receipt's UUID): code, not words.
_CODE = re.compile(r"@|://|\w_\w|\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b")
_WORD = re.compile(r"[^\W\d_]{2,}")
# Words a message of this length or more is looked for anywhere in the text; a shorter one
# ("Yes", "Day", "Change") only as a text of its own, a label or a button.
PHRASE_WORDS = 3


def _normal(text: str) -> str:
    return " ".join(text.split())


@lru_cache(maxsize=1)
def english_messages() -> tuple[tuple[str, re.Pattern[str], bool], ...]:
    """Each English message whose Welsh reads otherwise (or is missing), as a pattern for its
    text once rendered: placeholders match anything, HTML tags nothing."""
    messages = []
    for message in read_catalogue(WELSH):
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        for msgid in ids:
            text = _normal(_TAG.sub(" ", msgid))
            if not message.fuzzy and all(strings) and msgid in strings:
                continue  # the Welsh is the English ("Beta", "GOV.UK")
            parts = [re.escape(p) for p in _PLACEHOLDER.split(text)]
            body = r"(?:.+?)".join(p.replace(r"\ ", r"\s+") for p in parts)
            literal = len(_WORD.findall(_PLACEHOLDER.sub(" ", text)))
            if literal == 0 or (literal == 1 and _PLACEHOLDER.search(text)):
                # Only placeholders and punctuation, or one word between them ("%(date)s at %(time)s"):
                # that reads as well in Welsh ("at" is a Welsh word too), so it tells nothing.
                continue
            phrase = len(_WORD.findall(_PLACEHOLDER.sub(" ", text))) >= PHRASE_WORDS
            messages.append((msgid, re.compile(rf"(?<!\w){body}(?!\w)"), phrase))
    return tuple(messages)


def _language(page: BeautifulSoup) -> str:
    return str(page.html.get("lang", "en")) if page.html else "en"


def texts(html: str, *, skip_english: bool = False) -> list[str]:
    """The texts a person reads on ``html`` (or hears: aria-label, alt, title), each normalised;
    without the language link, and without what is marked ``lang="en"`` if ``skip_english``."""
    page = BeautifulSoup(html, "html.parser")
    for hidden in page.find_all(HIDDEN):
        hidden.decompose()
    for switch in page.select(SWITCH):
        switch.decompose()
    if skip_english:  # and any other part that says its own language: the language switch's
        for english in page.select("[lang]"):
            if english.name != "html" and (english.get("lang") == "en" or english.get("lang") != _language(page)):
                english.decompose()
    found: list[str] = []
    if page.title is not None:
        found.append(_normal(page.title.get_text()))
        page.title.decompose()
    for node in page.descendants:
        if isinstance(node, NavigableString) and not isinstance(node, Tag) and type(node) is NavigableString:
            if text := _normal(str(node)):
                found.append(text)
        elif isinstance(node, Tag):
            found += [_normal(str(node[a])) for a in ATTRIBUTES if node.has_attr(a) and _normal(str(node[a]))]
            if node.name == "input" and node.get("type") in ("submit", "button") and node.get("value"):
                found.append(_normal(str(node["value"])))
    return found


def _blocks(html: str) -> list[str]:
    """The text of each element that holds text directly, whole (so a sentence split by a link or
    <strong> is read as one)."""
    page = BeautifulSoup(html, "html.parser")
    for hidden in page.find_all(HIDDEN):
        hidden.decompose()
    for switch in page.select(SWITCH):
        switch.decompose()
    for english in page.select('[lang="en"]'):
        if english.name != "html":
            english.decompose()
    blocks = [_normal(page.title.get_text())] if page.title else []
    for element in page.find_all(["p", "li", "h1", "h2", "h3", "h4", "label", "legend", "dt", "dd", "th", "td",
                                  "summary", "span", "div", "a", "button", "strong", "caption", "pre"]):
        if any(isinstance(c, NavigableString) and c.strip() for c in element.children):
            blocks.append(_normal(element.get_text(" ")))
    return blocks


def english_in_text(text_blocks: Iterable[str]) -> list[str]:
    """The English messages found in these texts: a long one anywhere, a short one as a whole text."""
    blocks = list(text_blocks)
    whole = "\n".join(blocks)
    found = []
    for msgid, pattern, phrase in english_messages():
        if phrase:
            if pattern.search(whole):
                found.append(msgid)
        elif any(pattern.fullmatch(block) for block in blocks):
            found.append(msgid)
    return found


def english_on_page(html: str) -> list[str]:
    """Messages of the catalogue shown in English on ``html``, a page or email meant to be Welsh
    (less what it marks ``lang="en"``: English on purpose, like a registry's reasons)."""
    return english_in_text([*texts(html, skip_english=True), *_blocks(html)])


def english_in_email(text: str) -> list[str]:
    """The same for an email's plain text, read line by line and paragraph by paragraph."""
    paragraphs = [_normal(p) for p in re.split(r"\n\s*\n", text)]
    lines = [_normal(line) for line in text.splitlines()]
    return english_in_text([b for b in (*paragraphs, *lines) if b])


def english_in_both(welsh: str, english: str, *, allowed: Iterable[str] = ()) -> list[str]:
    """Texts that read the same on the Welsh and the English rendering of a page: never marked for
    translation. ``allowed``: what the person typed or the service made up (names, references);
    a text made only of those, of figures and punctuation, or of one short word, is not English."""
    known = {_normal(a).casefold() for a in allowed if a}
    english_texts = set(texts(english, skip_english=True))
    same = []
    for text in texts(welsh, skip_english=True):
        if text not in english_texts or _CODE.search(text):
            continue
        words = _WORD.findall(text)
        rest = text.casefold()
        for value in sorted(known, key=len, reverse=True):
            rest = rest.replace(value, " ")
        if not _WORD.search(rest) or sum(len(w) > 3 for w in _WORD.findall(rest)) == 0 or not words:
            continue
        same.append(text)
    return sorted(set(same))
