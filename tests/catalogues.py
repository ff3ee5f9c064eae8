"""What the message catalogues still need: messages without Welsh, and Welsh that breaks a message.

Used by the test suite (``tests/unit/test_translations.py``) and by ``make translations``,
which prints the same list after merging newly extracted messages into the catalogues.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

from tellusonce.settings import PROJECT_ROOT

TRANSLATIONS = PROJECT_ROOT / "tellusonce" / "translations"
WELSH = TRANSLATIONS / "cy" / "LC_MESSAGES" / "messages.po"
ENGLISH = TRANSLATIONS / "en" / "LC_MESSAGES" / "messages.po"
# The same keywords as the Makefile's `translations` target (and babel.cfg's comment).
EXTRACT = ["extract", "-F", "babel.cfg", "-k", "N_", "-k", "lazy_gettext", "--sort-output"]
WHAT_TO_DO = (
    "Run `make translations` (it extracts every message and merges the new ones into both catalogues), "
    f"then write the Welsh msgstr of each entry listed in {WELSH.relative_to(PROJECT_ROOT)} and delete "
    "its `#, fuzzy` line once checked. Every new or changed string gets its Welsh in the same commit "
    "(docs/translations.md)."
)
# %(name)s and %% as Python formats them; HTML tags with their attributes.
_PLACEHOLDER = re.compile(r"%\([^)]+\)[-#0 +]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa]|%%")
_TAG = re.compile(r"</?[a-zA-Z][^>]*>")


def extract_template() -> Catalog:
    """Every message the code and templates mark for translation, extracted now."""
    pybabel = Path(sys.executable).with_name("pybabel")
    with tempfile.TemporaryDirectory() as tmp:
        pot = Path(tmp) / "messages.pot"
        subprocess.run([str(pybabel), *EXTRACT, "-o", str(pot), "."], cwd=PROJECT_ROOT, check=True,
                       capture_output=True)
        with pot.open("rb") as f:
            return read_po(f)


def read_catalogue(path: Path) -> Catalog:
    with path.open("rb") as f:
        return read_po(f)


def _forms(value: str | tuple[str, ...] | None) -> tuple[str, ...]:
    if value is None:
        return ("",)
    return value if isinstance(value, tuple) else (value,)


def _marks(text: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The placeholders and HTML tags in ``text``, in any order: a translation may reorder them."""
    return tuple(sorted(_PLACEHOLDER.findall(text))), tuple(sorted(_TAG.findall(text)))


def untranslated(template: Catalog, catalogue: Catalog) -> list[str]:
    """The template's msgids that ``catalogue`` lacks, or has fuzzy or with an empty form."""
    missing = []
    for message in template:
        if not message.id:
            continue
        entry = catalogue.get(message.id)
        if entry is None or entry.fuzzy or not all(_forms(entry.string)):
            missing.append(_forms(message.id)[0])
    return missing


def mismatched(catalogue: Catalog) -> list[str]:
    """Translations whose placeholders or HTML tags differ from their msgid's (or plural msgid's)."""
    wrong = []
    for message in catalogue:
        if not message.id:
            continue
        allowed = {_marks(text) for text in _forms(message.id)}
        wrong += [f"{_forms(message.id)[0]!r} -> {form!r}" for form in _forms(message.string)
                  if form and _marks(form) not in allowed]
    return wrong


def obsolete(template: Catalog, catalogue: Catalog) -> list[str]:
    """Entries of ``catalogue`` that no code uses any more."""
    return [_forms(m.id)[0] for m in catalogue if m.id and template.get(m.id) is None]


def report() -> str:
    """What ``make translations`` prints: what is left to translate, or that nothing is."""
    template = extract_template()
    welsh = read_catalogue(WELSH)
    missing = untranslated(template, welsh)
    wrong = mismatched(welsh)
    if not missing and not wrong:
        return f"Welsh catalogue complete: {len(template)} messages."
    lines = [f"{len(missing)} messages need their Welsh in {WELSH.relative_to(PROJECT_ROOT)}"
             " (empty msgstr or marked fuzzy):"]
    lines += [f"  {m!r}" for m in missing]
    if wrong:
        lines.append("These Welsh translations do not keep their message's placeholders or HTML:")
        lines += [f"  {w}" for w in wrong]
    return "\n".join(lines)


if __name__ == "__main__":
    print(report())
