"""Where the service finds its own files in a checkout, and its refusal to serve pages without their assets."""

from __future__ import annotations

from pathlib import Path

import pytest

from tellusonce import resources
from tellusonce.settings import PROJECT_ROOT, Settings


def test_a_checkout_reads_its_folders_where_they_are() -> None:
    assert not resources.INSTALLED
    assert resources.TEMPLATES == PROJECT_ROOT / "templates"
    assert resources.STATIC == PROJECT_ROOT / "static"
    assert resources.CONFIG == PROJECT_ROOT / "config"
    assert resources.MIGRATIONS == PROJECT_ROOT / "tellusonce" / "migrations"
    assert Settings(mode="test").departments == PROJECT_ROOT / "config" / "departments.toml"


def test_pages_are_not_served_without_their_assets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    resources.check_page_assets()  # the checkout's, built by make setup
    (tmp_path / "govuk-frontend.min.css").write_text("")
    monkeypatch.setattr(resources, "STATIC", tmp_path)
    with pytest.raises(resources.FilesMissing,
                       match=r"govuk-frontend\.min\.js, app\.css, init\.js are not in .*: in a checkout, run `make setup`"):
        resources.check_page_assets()
