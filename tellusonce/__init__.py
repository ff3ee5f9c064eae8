"""TellUsOnce: report a change of circumstances once; every public service you choose is told."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask

    from tellusonce.settings import Settings


def create_app(settings: Settings | None = None) -> Flask:
    """The web application. Production: ``gunicorn "tellusonce:create_app()"``."""
    from tellusonce.web.app import build_app

    return build_app(settings)
