"""What an install holds, beyond pyproject.toml's [project]: the checkout's folders under the project's own names.

- ``services/`` and ``mail/`` install as the packages ``tellusonce_services`` and ``tellusonce_mail``: names of
  their own, which no other software's ``services`` or ``mail`` can shadow or be shadowed by.
- ``templates/``, ``static/`` (the GOV.UK Frontend assets ``make setup`` builds) and ``config/`` (the registries,
  gunicorn's settings) go inside the ``tellusonce`` package of a wheel, as ``tellusonce/templates/`` and so on;
  ``tellusonce/resources.py`` finds each there, or at the top of a checkout.
- The migrations and the compiled translations are inside ``tellusonce/`` already.

A wheel without the assets or the compiled Welsh is refused, naming what to run (``make wheel`` builds both
first); an editable install (``make setup``) reads every folder where it is, and is built before them.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import find_namespace_packages, find_packages, setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
# Installed name: the checkout's folder.
RENAMED = {"tellusonce_services": "services", "tellusonce_mail": "mail"}
# The folders a wheel carries inside the tellusonce package.
DATA_FOLDERS = ("templates", "static", "config")
# What `make setup` builds into static/: without them every page is unstyled and its scripts are missing.
ASSETS = ("govuk-frontend.min.css", "govuk-frontend.min.js", "app.css", "init.js", "fonts", "images")


def packages() -> list[str]:
    # The namespace finder, as the migrations' and translations' folders have no __init__.py.
    found = find_namespace_packages(include=["tellusonce", "tellusonce.*"], exclude=["*.__pycache__"])
    for name, folder in RENAMED.items():
        found += [name + package[len(folder):] for package in find_packages(include=[folder, f"{folder}.*"])]
    return found


def missing_for_a_wheel() -> list[str]:
    missing = [f"static/{asset}" for asset in ASSETS if not (ROOT / "static" / asset).exists()]
    missing += [str(po.with_suffix(".mo").relative_to(ROOT))
                for po in sorted(ROOT.glob("tellusonce/translations/*/LC_MESSAGES/messages.po"))
                if not po.with_suffix(".mo").is_file()]
    return missing


class BuildWithFolders(build_py):
    """build_py, which copies the data folders into the package of a wheel (not of an editable install)."""

    def run(self) -> None:
        if not self.editable_mode:
            missing = missing_for_a_wheel()
            if missing:
                raise SystemExit(f"error: the wheel would lack {', '.join(missing)}: run `make setup` (which builds "
                                 f"them) first, or build the wheel with `make wheel`.")
        super().run()
        if not self.editable_mode:
            for folder in DATA_FOLDERS:
                copy = Path(self.build_lib) / "tellusonce" / folder
                shutil.rmtree(copy, ignore_errors=True)  # nothing left from an earlier build
                shutil.copytree(ROOT / folder, copy, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".built"))


setup(
    packages=packages(),
    package_dir=RENAMED,
    package_data={"tellusonce": ["migrations/script.py.mako", "translations/*/LC_MESSAGES/*.mo"]},
    exclude_package_data={"": ["*.pyc"]},
    cmdclass={"build_py": BuildWithFolders},
)
