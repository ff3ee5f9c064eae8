"""The message catalogues: every message the code extracts has its Welsh, and the Welsh keeps
each message's placeholders and HTML, so no page or email shows English to a Welsh reader."""

from __future__ import annotations

import gettext

import pytest
from babel.messages.catalog import Catalog
from babel.support import Translations

from tests.catalogues import (
    ENGLISH,
    TRANSLATIONS,
    WELSH,
    WHAT_TO_DO,
    extract_template,
    mismatched,
    obsolete,
    read_catalogue,
    untranslated,
)


@pytest.fixture(scope="module")
def template() -> Catalog:
    return extract_template()


def test_every_extracted_message_has_its_welsh_translation(template: Catalog) -> None:
    missing = untranslated(template, read_catalogue(WELSH))
    assert not missing, f"{len(missing)} messages have no Welsh translation: {missing}. {WHAT_TO_DO}"


def test_welsh_translations_keep_their_placeholders_and_html() -> None:
    wrong = mismatched(read_catalogue(WELSH))
    assert not wrong, (
        "These Welsh translations do not have the same %(name)s placeholders and HTML tags as their "
        f"English message: {wrong}. Keep each placeholder and tag exactly; only their order may change."
    )


@pytest.mark.parametrize("path", [ENGLISH, WELSH], ids=["en", "cy"])
def test_catalogues_match_the_extracted_messages(template: Catalog, path) -> None:
    catalogue = read_catalogue(path)
    absent = [m.id for m in template if m.id and catalogue.get(m.id) is None]
    unused = obsolete(template, catalogue)
    assert not absent and not unused, (
        f"{path.name} ({path.parent.parent.name}) is out of date: missing {absent}, no longer used {unused}. "
        f"{WHAT_TO_DO}"
    )


def test_welsh_catalogue_has_the_six_plural_forms_of_welsh() -> None:
    catalogue = read_catalogue(WELSH)
    assert catalogue.num_plurals == 6
    plural = gettext.c2py(catalogue.plural_expr)
    assert [plural(n) for n in (0, 1, 2, 3, 6, 4, 11)] == [0, 1, 2, 3, 4, 5, 5]


def test_compiled_welsh_catalogue_is_the_one_in_the_po_file() -> None:
    """`make setup` compiles the .po files; a stale .mo would show a page the old Welsh."""
    compiled = Translations.load(str(TRANSLATIONS), ["cy"], domain="messages")
    stale = [m.id for m in read_catalogue(WELSH)
             if m.id and not isinstance(m.id, tuple) and compiled.gettext(m.id) != m.string]
    assert not stale, f"The compiled Welsh catalogue is older than its .po file: run `make setup`. {stale[:5]}"


def test_a_translation_that_drops_or_renames_a_placeholder_is_reported() -> None:
    catalogue = Catalog(locale="cy")
    catalogue.add("Contact %(name)s", "Cysylltu â %(enw)s")
    catalogue.add("Hello %(name)s", "Helo")
    catalogue.add("See <a href=\"/x\">this</a>", "Gweler hwn")
    catalogue.add("%(num)s change", "%(num)s newid")
    catalogue.add(("%(num)s line", "%(num)s lines"), ("%(num)s llinell",) * 6)
    assert mismatched(catalogue) == [
        "'Contact %(name)s' -> 'Cysylltu â %(enw)s'",
        "'Hello %(name)s' -> 'Helo'",
        "'See <a href=\"/x\">this</a>' -> 'Gweler hwn'",
    ]


def test_a_message_with_no_welsh_or_only_a_fuzzy_guess_is_reported() -> None:
    template = Catalog()
    for text in ("Back", "Next", "Menu", "Day"):
        template.add(text)
    catalogue = Catalog(locale="cy")
    catalogue.add("Back", "Yn ôl")
    catalogue.add("Next", "")
    catalogue.add("Menu", "Dewislen", flags=["fuzzy"])
    assert untranslated(template, catalogue) == ["Next", "Menu", "Day"]
