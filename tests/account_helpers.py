"""Helpers for tests that need a citizen, a signed-in client, or the email the service wrote.

    from account_helpers import make_citizen, sign_in, latest_email, link_in

``make_citizen`` commits a verified citizen straight into the app's database
(the ``app`` fixture deletes it afterwards); ``sign_in`` signs a test client in
through the real sign-in form, CSRF token and all.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from bs4 import BeautifulSoup
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from tellusonce.clock import utcnow
from tellusonce.db import transaction
from tellusonce.domain.passwords import hash_password
from tellusonce.mailout.render import rendered_bodies
from tellusonce.models import Citizen, OutgoingEmail

PASSWORD = "correct horse battery staple"
LINK = re.compile(r"https?://[^\s<>\"']+")


def make_citizen(app: Flask, email: str = "ada@example.com", *, password: str = PASSWORD,
                 verified: bool = True, **profile: Any) -> Citizen:
    """A citizen committed to the app's database, verified unless told otherwise."""
    defaults: dict[str, Any] = {"given_names": "Ada", "family_name": "Lovelace", "date_of_birth": date(1985, 3, 27)}
    defaults.update(profile)
    with transaction(app.extensions["tellusonce.engine"]) as session:
        citizen = Citizen(
            email=email.lower(), password_hash=hash_password(password), session_version=0,
            email_verified_at=utcnow() if verified else None, **defaults,
        )
        session.add(citizen)
        session.flush()
        session.expunge(citizen)
    return citizen


def csrf_token(client: FlaskClient, path: str) -> str:
    """The CSRF token of the form on ``path``, as a browser would get it."""
    page = BeautifulSoup(client.get(path).get_data(as_text=True), "html.parser")
    field = page.find("input", attrs={"name": "csrf_token"})
    assert field is not None, f"no form with a CSRF token on {path}"
    return str(field["value"])


def post_form(client: FlaskClient, path: str, data: dict[str, Any], *, form_page: str | None = None) -> Any:
    """POST ``data`` to ``path`` with the CSRF token taken from ``form_page`` (default: ``path``)."""
    return client.post(path, data={"csrf_token": csrf_token(client, form_page or path), **data})


def sign_in(client: FlaskClient, email: str = "ada@example.com", password: str = PASSWORD, **extra: str) -> Any:
    response = post_form(client, "/account/sign-in", {"email": email, "password": password, **extra})
    assert response.status_code == 302, f"sign-in failed: {response.status_code}"
    return response


def emails_to(app: Flask, address: str) -> list[OutgoingEmail]:
    with transaction(app.extensions["tellusonce.engine"], writer=False) as session:
        emails = session.scalars(
            select(OutgoingEmail).where(OutgoingEmail.to_address == address).order_by(OutgoingEmail.created_at)
        ).all()
        session.expunge_all()
    return list(emails)


def latest_email(app: Flask, address: str) -> OutgoingEmail:
    emails = emails_to(app, address)
    assert emails, f"no email was written to {address}"
    return emails[-1]


def link_in(email: OutgoingEmail, containing: str = "") -> str:
    """The first link in an email's text whose address contains ``containing``, as a path."""
    text, _ = rendered_bodies(email)
    for link in LINK.findall(text):
        if containing in link:
            return re.sub(r"^https?://[^/]+", "", link)
    raise AssertionError(f"no link containing {containing!r} in: {text}")
