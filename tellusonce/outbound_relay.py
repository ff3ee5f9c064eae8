"""``TELLUSONCE_OUTBOUND_MAIL`` read once into a ``Relay`` (``Settings.outbound_relay``):

- ``capture`` (demo and test): no relay; email is kept for ``/dev/mail``;
- ``smtps://host:port`` (port 465 if left out): TLS from the first byte;
- ``smtp://host:port?starttls=required`` (port 25 if left out): plain SMTP upgraded with STARTTLS,
  and nothing sent if the relay does not offer it (it could have been stripped on the way);
- ``smtp://host:port``: no TLS at all, for a relay on the same machine in demo or test use.
  Production refuses it (``tellusonce/settings.py``).

With TLS, the relay's certificate and name are always verified (``ssl.create_default_context``),
against the system's certificate authorities or, with ``TELLUSONCE_OUTBOUND_MAIL_CA_FILE``, only
against the authorities in that PEM file (a private CA). A login
(``TELLUSONCE_OUTBOUND_MAIL_USERNAME`` and ``_PASSWORD``) is sent only over TLS, so it is refused
beside a plain ``smtp://``. ``tellusonce/mailout/relay.py`` connects to the relay.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from urllib.parse import parse_qsl, urlsplit

Tls = Literal["none", "starttls", "implicit"]

SETTING = "TELLUSONCE_OUTBOUND_MAIL"
FORMS = "capture, notify, smtps://host:port or smtp://host:port?starttls=required"


class OutboundConfigError(ValueError):
    """TELLUSONCE_OUTBOUND_MAIL (or a setting beside it) does not describe a relay; one line saying what to set."""


@dataclass(frozen=True)
class Relay:
    host: str
    port: int
    tls: Tls = "none"
    username: str = ""
    password: str = field(default="", repr=False)
    ca_file: Path | None = None

    @property
    def url(self) -> str:
        """The relay as the setting says it (never with the login), for messages to an operator."""
        if self.tls == "implicit":
            return f"smtps://{self.host}:{self.port}"
        return f"smtp://{self.host}:{self.port}" + ("?starttls=required" if self.tls == "starttls" else "")

    def ssl_context(self) -> ssl.SSLContext:
        """A context that verifies the relay's certificate and name; ``ssl.SSLError`` or ``OSError`` if the
        CA file cannot be read."""
        return ssl.create_default_context(cafile=str(self.ca_file) if self.ca_file else None)


def parse_outbound(value: str, *, username: str = "", password: str = "",
                   ca_file: Path | None = None) -> Relay | None:
    """``capture`` -> None; an ``smtp://`` or ``smtps://`` address (with the login and CA file beside it) -> the
    relay; ``notify`` (GOV.UK Notify, ``tellusonce.mailout.notify``) -> None, no relay. ``OutboundConfigError``
    in one line for anything else."""
    if value == "notify":
        return None
    if value == "capture":
        if username or password or ca_file:
            raise OutboundConfigError(f"{SETTING} is 'capture', which sends nothing: unset {SETTING}_USERNAME, "
                                      f"_PASSWORD and _CA_FILE, or set {SETTING} to the relay.")
        return None
    if "@" in value:  # not echoed: it may hold a password
        raise OutboundConfigError(f"{SETTING} must not carry a login (user:password@): set {SETTING}_USERNAME and "
                                  f"{SETTING}_PASSWORD instead, which are never printed.")
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError as e:
        raise OutboundConfigError(f"{SETTING} must be {FORMS}, and {value!r} is not an address ({e}).") from e
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname or parts.path not in ("", "/") or parts.fragment:
        raise OutboundConfigError(f"{SETTING} must be {FORMS}, not {value!r}.")
    if port == 0:
        raise OutboundConfigError(f"{SETTING} is {value!r}: the port must be from 1 to 65535.")
    tls = _tls(value, parts.scheme, parts.query)
    _check_beside(value, tls, username=username, password=password, ca_file=ca_file)
    default_port = 465 if tls == "implicit" else 25
    return Relay(parts.hostname, port or default_port, tls, username, password, ca_file)


def _tls(value: str, scheme: str, query: str) -> Tls:
    """What the scheme and the one known option (``starttls=required``) say of TLS."""
    tls: Tls = "implicit" if scheme == "smtps" else "none"
    try:
        options = parse_qsl(query, keep_blank_values=True, strict_parsing=True) if query else []
    except ValueError as e:
        raise OutboundConfigError(f"{SETTING} is {value!r}, whose options cannot be read: use ?starttls=required.") \
            from e
    for name, option in options:
        if name != "starttls":
            raise OutboundConfigError(f"{SETTING} has the option {name!r}, which is not known: the only option is "
                                      "starttls=required (on smtp://).")
        if option != "required":
            raise OutboundConfigError(f"{SETTING} has starttls={option!r}: the only value is starttls=required (a "
                                      "relay that may not offer STARTTLS would be sent personal data in clear).")
        if scheme == "smtps":
            raise OutboundConfigError(f"{SETTING} is {value!r}: smtps:// is TLS already; use starttls=required "
                                      "only with smtp://.")
        tls = "starttls"
    return tls


def _check_beside(value: str, tls: Tls, *, username: str, password: str, ca_file: Path | None) -> None:
    """The login and the CA file make sense only together and only over TLS."""
    if bool(username) != bool(password):
        raise OutboundConfigError(f"Set both {SETTING}_USERNAME and {SETTING}_PASSWORD for a relay that asks for a "
                                  "login, or neither.")
    if tls == "none" and username:
        raise OutboundConfigError(f"{SETTING} is {value!r}, without TLS, and a password is never sent in clear: use "
                                  "smtps://host:465 or smtp://host:587?starttls=required.")
    if tls == "none" and ca_file:
        raise OutboundConfigError(f"{SETTING}_CA_FILE is set, but {SETTING} is {value!r}, without TLS: use "
                                  "smtps:// or ?starttls=required, or unset it.")
