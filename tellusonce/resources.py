"""Where the service's own files are, in an install and in a checkout.

A wheel (``make wheel``, setup.py) holds the checkout's ``templates/``, ``static/`` and ``config/`` inside the
package, as ``tellusonce/templates/`` and so on; a checkout, and its editable install (``make setup``), keeps
them at its top, beside ``tellusonce/``. The migrations and the translations are in the package in both.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
# The top folder of a checkout (README.md, templates/, tests/ ...); in an install, only the folder the package is in.
CHECKOUT = PACKAGE.parent
# An install carries its templates inside the package; a checkout does not.
INSTALLED = (PACKAGE / "templates").is_dir()
_TOP = PACKAGE if INSTALLED else CHECKOUT

TEMPLATES = _TOP / "templates"
STATIC = _TOP / "static"  # built by `make setup` from GOV.UK Frontend and tellusonce/web/assets/
CONFIG = _TOP / "config"
MIGRATIONS = PACKAGE / "migrations"
TRANSLATIONS = PACKAGE / "translations"
# The instance folder when TELLUSONCE_INSTANCE_PATH is unset: the checkout's instance/, or, installed, ./instance
# in the folder the command started in.
DEFAULT_INSTANCE = (Path.cwd() if INSTALLED else CHECKOUT) / "instance"
# The stylesheet and script every page links to; without them pages are unstyled and their scripts missing.
PAGE_ASSETS = ("govuk-frontend.min.css", "govuk-frontend.min.js", "app.css", "init.js")


class FilesMissing(RuntimeError):
    """The service's own files are not where this copy of it keeps them: a checkout not set up, or a broken install."""


def check_page_assets() -> None:
    """Refuse to serve pages without their assets, saying how to build them."""
    missing = [name for name in PAGE_ASSETS if not (STATIC / name).is_file()]
    if missing:
        raise FilesMissing(
            f"The page assets {', '.join(missing)} are not in {STATIC}: in a checkout, run `make setup`, which builds "
            f"them; installed, reinstall from a wheel built by `make wheel`."
        )
