"""Typed settings read from ``TELLUSONCE_*`` environment variables.

Every default here is safe to publish and safe in production. Secrets have no
default: outside demo and test mode, start-up refuses to run without them.
"""

from __future__ import annotations

import ipaddress
import os
import re
import secrets
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from functools import cached_property
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from tellusonce.outbound_relay import OutboundConfigError, Relay, parse_outbound
from tellusonce.resources import CHECKOUT, CONFIG, DEFAULT_INSTANCE

PREFIX = "TELLUSONCE_"
# The top of a checkout, for the tests and benchmarks that run in one (tellusonce/resources.py finds the
# service's own files, installed or not).
PROJECT_ROOT = CHECKOUT

Mode = Literal["production", "demo", "test"]
MODES: tuple[Mode, ...] = ("production", "demo", "test")


class SettingsError(RuntimeError):
    """The environment does not describe a service that can safely start."""


@dataclass(frozen=True, kw_only=True)
class Settings:
    mode: Mode = "production"
    secret_key: str = ""
    database_url: str = ""
    instance_path: Path = DEFAULT_INSTANCE
    web_listen: str = "127.0.0.1:5000"
    smtp_listen: str = "127.0.0.1:8025"
    receiver_listen: str = "127.0.0.1:5001"
    public_url: str = ""
    mail_domain: str = "tellusonce.localhost"
    # capture (demo and test), notify (GOV.UK Notify), smtps://host:port or smtp://host:port?starttls=required
    # (tellusonce/mailout/relay.py);
    # plain smtp://host:port only outside production. The login, sent only over TLS, and a private CA's PEM file:
    outbound_mail: str = "capture"
    outbound_mail_username: str = ""
    outbound_mail_password: str = field(default="", repr=False)
    outbound_mail_ca_file: Path | None = None
    mail_from: str = ""
    departments: Path = CONFIG / "departments.toml"
    # How long each kind of data is kept and what happens then (tellusonce/domain/retention.py).
    retention: Path = CONFIG / "retention.toml"
    max_message_bytes: int = 10 * 1024 * 1024
    # Inbound SMTP: STARTTLS is offered when both files are set (PEM certificate chain and key).
    smtp_tls_cert: Path | None = None
    smtp_tls_key: Path | None = None
    smtp_max_recipients: int = 10
    smtp_idle_timeout: int = 120  # seconds without a command before the listener hangs up
    # Seconds one inbound message may take to be read and parsed before it is quarantined (docs/mail-security.md).
    mail_parse_seconds: float = 5.0
    # Where Flask-Limiter counts: redis://host:6379/0, shared by every web process on every host.
    # memory:// counts in each process apart; production takes it only with TELLUSONCE_WEB_PROCESSES=1.
    ratelimit_storage_url: str = "memory://"
    # Put before every key in the shared store, so that two services (or two tests) can share one Redis.
    ratelimit_key_prefix: str = "tellusonce"
    # How many web processes serve this service in all, when the operator says so; 1 lets production
    # count rate limits in memory (and runs `tellusonce serve` with one worker). 0: not said.
    web_processes: int = 0
    # The reverse proxies whose X-Forwarded-For and X-Forwarded-Proto are believed: addresses or
    # networks, comma-separated (gunicorn reads the same variable). From any other peer those headers
    # are ignored. TELLUSONCE_PROXY_HOPS: how many trusted proxies each append to X-Forwarded-For.
    forwarded_allow_ips: str = "127.0.0.1"
    proxy_hops: int = 1
    # Flask-Limiter limits on the account forms (sign in, create an account, reset a
    # password), each counted on its own. Per client address, and per email address typed.
    account_rate_limit: str = "20 per minute;200 per hour"
    account_rate_limit_per_address: str = "10 per 15 minutes"
    # Dispatch: webhook requests in flight at once per worker process, and to any one department.
    dispatch_concurrency: int = 50
    dispatch_department_concurrency: int = 10
    # A report's outcomes (every organisation has it; one could not be told) are emailed to the
    # citizen once none has come for this many minutes, so that several make one email.
    report_notice_quiet_minutes: float = 5.0
    # When set, /metrics answers only to "Authorization: Bearer <token>" (it shows counts, no personal data).
    metrics_token: str = ""
    # Test mode only: the service's clock runs this many seconds from the machine's, so that a
    # process a test starts shares the test's calendar (tellusonce/clock.py).
    clock_offset: int = 0
    # Who answers data protection requests (subject access, corrections, complaints): an email
    # address or a web page (https://…) a person reads, shown on the privacy notice. Required in
    # production; demo and test mode show data-protection@<mail domain>.
    privacy_contact: str = ""
    # GOV.UK Notify, when TELLUSONCE_OUTBOUND_MAIL=notify (docs/operations.md, "Sending email through GOV.UK
    # Notify"): the API key; the Notify email template every email goes through (subject ((subject)), body
    # ((body))), and the one for an email with a file ((link_to_file)); a reply-to address id; the API's
    # address (Notify's own unless set); the bearer token Notify sends with delivery receipts.
    notify_api_key: str = ""
    notify_template_id: str = ""
    notify_file_template_id: str = ""
    notify_reply_to_id: str = ""
    notify_base_url: str = ""
    notify_callback_token: str = ""
    extra: Mapping[str, str] = field(default_factory=dict)

    @property
    def is_demo(self) -> bool:
        return self.mode == "demo"

    @property
    def is_test(self) -> bool:
        return self.mode == "test"

    @property
    def is_production(self) -> bool:
        return self.mode == "production"

    @property
    def service_address(self) -> str:
        """Where citizens email their changes."""
        return f"changes@{self.mail_domain}"

    @property
    def sender_address(self) -> str:
        return self.mail_from or f"no-reply@{self.mail_domain}"

    @property
    def privacy_contact_is_web_page(self) -> bool:
        return self.data_protection_contact.startswith(("https://", "http://"))

    @property
    def data_protection_contact(self) -> str:
        """The privacy notice's contact: the configured one, or in demo and test mode a demo address."""
        if self.privacy_contact or self.is_production:
            return self.privacy_contact
        return f"data-protection@{self.mail_domain}"

    @cached_property
    def outbound_relay(self) -> Relay | None:
        """The relay outbound email goes through (None: captured for /dev/mail), read from
        TELLUSONCE_OUTBOUND_MAIL and the settings beside it; SettingsError in one line if it is not one."""
        try:
            return parse_outbound(self.outbound_mail, username=self.outbound_mail_username,
                                  password=self.outbound_mail_password, ca_file=self.outbound_mail_ca_file)
        except OutboundConfigError as e:
            raise SettingsError(str(e)) from e

    @property
    def base_url(self) -> str:
        """The public address of the web pages, used in links sent by email."""
        return (self.public_url or f"http://{self.web_listen}").rstrip("/")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        known = {f.name for f in fields(cls)} - {"extra"}
        for f in fields(cls):
            if f.name == "extra":
                continue
            raw = env.get(PREFIX + f.name.upper())
            if raw is None or raw == "":
                continue
            values[f.name] = _convert(f.name, f.type, raw)
        extra = {
            key[len(PREFIX):].lower(): value
            for key, value in env.items()
            if key.startswith(PREFIX) and key[len(PREFIX):].lower() not in known
        }
        values["extra"] = extra
        values.update(overrides)
        return cls(**values).checked()  # type: ignore[arg-type]  # each value was converted to its field's type by _convert

    def checked(self) -> Settings:
        """Fill safe defaults for the mode and refuse an unsafe production set-up.

        Every problem is said in one line naming the variable to set; in production, every
        missing setting at once, so that an operator does not meet them one start at a time.
        """
        if self.mode not in MODES:
            raise SettingsError(
                f"TELLUSONCE_MODE must be one of {', '.join(MODES)}, not {self.mode!r}."
            )
        if self.secret_key and self.is_production and len(self.secret_key) < 32:
            raise SettingsError("TELLUSONCE_SECRET_KEY must be at least 32 characters long.")
        missing = self._missing_in_production()
        if missing:
            raise SettingsError(" ".join(missing) + " Or set TELLUSONCE_MODE=demo to try the service.")
        updates = self._defaults_for_the_mode()
        self._check_values()
        return replace(self, **updates) if updates else self

    def _missing_in_production(self) -> list[str]:
        """What production needs that no safe default can stand in for."""
        if not self.is_production:
            return []
        missing: list[str] = []
        if not self.secret_key:
            missing.append(
                "TELLUSONCE_SECRET_KEY is not set (a long random secret, for example from "
                "python -c 'import secrets; print(secrets.token_urlsafe(48))')."
            )
        if self.outbound_mail == "capture":
            missing.append(
                "TELLUSONCE_OUTBOUND_MAIL is 'capture', which keeps email inside the service: "
                "production needs GOV.UK Notify, TELLUSONCE_OUTBOUND_MAIL=notify, or an SMTP relay over TLS, "
                "TELLUSONCE_OUTBOUND_MAIL=smtps://host:465 or smtp://host:587?starttls=required."
            )
        elif (relay := self._relay_if_readable()) is not None and relay.tls == "none":
            missing.append(
                f"TELLUSONCE_OUTBOUND_MAIL is {relay.url}, which sends email in clear, and the service's email "
                f"carries personal data: use TLS, smtps://{relay.host}:465 or "
                f"smtp://{relay.host}:587?starttls=required (the ports your relay listens on)."
            )
        if not self.privacy_contact:
            missing.append(
                "TELLUSONCE_PRIVACY_CONTACT is not set (the email address or https:// page where a person "
                "answers data protection requests; the privacy notice shows it)."
            )
        if not self.database_url:
            missing.append(
                "TELLUSONCE_DATABASE_URL is not set (postgresql://user@host/database, the one database every "
                "process on every host shares)."
            )
        if not self.public_url:
            missing.append(
                "TELLUSONCE_PUBLIC_URL is not set (the https:// address citizens reach the service at, used in "
                "links sent by email)."
            )
        if self.ratelimit_storage_url.startswith("memory://") and self.web_processes != 1:
            missing.append(
                "TELLUSONCE_RATELIMIT_STORAGE_URL is memory://, which counts in each web process apart: set it to "
                "a store every web process shares, like redis://host:6379/0 (or TELLUSONCE_WEB_PROCESSES=1 if "
                "exactly one web process runs)."
            )
        return missing

    def _relay_if_readable(self) -> Relay | None:
        """The relay, or None if the setting cannot be read (which ``_check_values`` says)."""
        try:
            return self.outbound_relay
        except SettingsError:
            return None

    def _defaults_for_the_mode(self) -> dict[str, Any]:
        """A secret key outside production (kept under the instance folder in demo mode) and the
        SQLite file under the instance folder, for whichever of them is unset."""
        updates: dict[str, Any] = {}
        if not self.secret_key:
            updates["secret_key"] = _demo_secret(self.instance_path) if self.is_demo else secrets.token_urlsafe(48)
        if not self.database_url:
            updates["database_url"] = f"sqlite:///{self.instance_path / 'tellusonce.sqlite3'}"
        return updates

    def _check_values(self) -> None:
        """Refuse a value that is set but cannot work, naming the variable."""
        if self.privacy_contact:
            _check_privacy_contact(self.privacy_contact, self.service_address)
        if self.database_url:
            _check_database_url(self.database_url)
        if self.public_url and self.is_production and not self.public_url.startswith("https://"):
            raise SettingsError(
                f"TELLUSONCE_PUBLIC_URL is {self.public_url!r}: production serves citizens over https only, "
                "so set it to the https:// address of the service."
            )
        _check_rate_limits(self)
        _check_relay(self.outbound_relay)
        if self.clock_offset and not self.is_test:
            raise SettingsError("TELLUSONCE_CLOCK_OFFSET is for tests only: unset it, or set TELLUSONCE_MODE=test.")
        if not self.mail_parse_seconds > 0:
            raise SettingsError("TELLUSONCE_MAIL_PARSE_SECONDS must be a number of seconds more than 0, like 5.")
        if not self.report_notice_quiet_minutes >= 0:
            raise SettingsError("TELLUSONCE_REPORT_NOTICE_QUIET_MINUTES must be a number of minutes, 0 or more, like 5.")
        if (self.smtp_tls_cert is None) != (self.smtp_tls_key is None):
            raise SettingsError(
                "Set both TELLUSONCE_SMTP_TLS_CERT and TELLUSONCE_SMTP_TLS_KEY to offer STARTTLS, or neither."
            )
        _check_notify(self)

    def secret(self, name: str) -> str | None:
        """A secret named by the registry (an environment variable), if set."""
        return os.environ.get(name) or None


def _demo_secret(instance_path: Path) -> str:
    """Demo mode keeps one secret under the instance folder, so that every demo process (web,
    dispatcher, receiver, one started by hand later) and every restart agree on it."""
    path = Path(instance_path) / "demo-secret-key"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            path.write_text(secrets.token_urlsafe(48))
            path.chmod(0o600)
        return path.read_text().strip()
    except OSError as e:
        raise SettingsError(
            f"TELLUSONCE_INSTANCE_PATH is {str(instance_path)!r}, where the demo cannot keep its files "
            f"({e.strerror or e}): set it to a folder this user can write."
        ) from e


def _check_relay(relay: Relay | None) -> None:
    """The CA file, if one is named, must hold certificates: found at start-up, not at the first email."""
    if relay is None or relay.ca_file is None:
        return
    try:
        relay.ssl_context()
    except (OSError, ssl.SSLError) as e:
        raise SettingsError(
            f"TELLUSONCE_OUTBOUND_MAIL_CA_FILE is {str(relay.ca_file)!r}, which cannot be read as PEM certificates "
            f"({getattr(e, 'strerror', None) or getattr(e, 'reason', None) or e}): set it to the relay's CA "
            f"certificate file, or unset it to trust the system's authorities."
        ) from e


def _check_database_url(url: str) -> None:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    example = "sqlite:////path/to/file.sqlite3 or postgresql://user@host/database"
    try:
        backend = make_url(url).get_backend_name()
    except ArgumentError as e:
        raise SettingsError(f"TELLUSONCE_DATABASE_URL is not a database address; use {example}.") from e
    if backend not in ("sqlite", "postgresql", "postgres"):
        raise SettingsError(f"TELLUSONCE_DATABASE_URL names {backend!r}, which this service does not use; "
                            f"use {example}.")


RATE_LIMIT_STORES = ("memory://", "redis://", "rediss://", "redis+unix://", "redis+sentinel://")


def _check_rate_limits(settings: Settings) -> None:
    if not settings.ratelimit_storage_url.startswith(RATE_LIMIT_STORES):
        raise SettingsError(
            f"TELLUSONCE_RATELIMIT_STORAGE_URL must be redis://host:6379/0 (a Redis every web process shares) "
            f"or memory://, not {settings.ratelimit_storage_url!r}."
        )
    if settings.web_processes < 0:
        raise SettingsError("TELLUSONCE_WEB_PROCESSES must be the number of web processes, like 1 (0: not said).")
    if settings.proxy_hops < 1:
        raise SettingsError("TELLUSONCE_PROXY_HOPS must be how many trusted proxies a request passes, 1 or more.")
    try:
        trusted_networks(settings.forwarded_allow_ips)
    except ValueError as e:
        raise SettingsError(
            f"TELLUSONCE_FORWARDED_ALLOW_IPS must list the proxies' addresses or networks, like "
            f"127.0.0.1,10.0.0.0/24, and {str(e)!r} is neither."
        ) from e


def trusted_networks(setting: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] | None:
    """The networks of a ``TELLUSONCE_FORWARDED_ALLOW_IPS`` value (``None`` for ``*``: every peer).

    Raises ``ValueError`` naming the first entry that is not an address or a network.
    """
    entries = [entry.strip() for entry in setting.split(",") if entry.strip()]
    if "*" in entries:
        return None
    networks = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError as e:
            raise ValueError(entry) from e
    return tuple(networks)


NOTIFY_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
# A GOV.UK Notify API key: its name, then the service id and the secret, each a UUID, joined by hyphens.
NOTIFY_API_KEY = re.compile(rf"\S+-{NOTIFY_UUID}-{NOTIFY_UUID}", re.IGNORECASE)
NOTIFY_CALLBACK_TOKEN_CHARS = 32  # in production; Notify itself takes 10 or more


def _check_notify(settings: Settings) -> None:
    """Refuse GOV.UK Notify settings that cannot work, one line each, never echoing a secret."""
    if settings.outbound_mail == "notify":
        if not settings.notify_api_key:
            raise SettingsError(
                "TELLUSONCE_OUTBOUND_MAIL is notify but TELLUSONCE_NOTIFY_API_KEY is not set (the API key from "
                "the API integration page of your service in GOV.UK Notify)."
            )
        if not NOTIFY_API_KEY.fullmatch(settings.notify_api_key):
            raise SettingsError(
                "TELLUSONCE_NOTIFY_API_KEY is not a GOV.UK Notify API key: one is its name, the service id and the "
                "secret, like name-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx."
            )
        if not settings.notify_template_id:
            raise SettingsError(
                "TELLUSONCE_OUTBOUND_MAIL is notify but TELLUSONCE_NOTIFY_TEMPLATE_ID is not set (the id of the "
                "Notify email template whose subject is ((subject)) and whose body is ((body)))."
            )
    for name in ("notify_template_id", "notify_file_template_id", "notify_reply_to_id"):
        value = getattr(settings, name)
        if value and not re.fullmatch(NOTIFY_UUID, value, re.IGNORECASE):
            raise SettingsError(f"{PREFIX}{name.upper()} must be the id GOV.UK Notify shows for it, like "
                                f"f33517ff-2a88-4f6e-b855-c550268ce08a, not {value!r}.")
    if settings.notify_base_url:
        schemes = ("https",) if settings.is_production else ("https", "http")
        try:
            parts = urlsplit(settings.notify_base_url)
            usable = parts.scheme in schemes and bool(parts.hostname) and not (parts.query or parts.fragment)
        except ValueError:
            usable = False
        if not usable:
            raise SettingsError(
                f"TELLUSONCE_NOTIFY_BASE_URL must be the {' or '.join(s + '://' for s in schemes)} address of the "
                f"Notify API, like https://api.notifications.service.gov.uk, not {settings.notify_base_url!r}."
            )
    token = settings.notify_callback_token
    if token and settings.is_production and len(token) < NOTIFY_CALLBACK_TOKEN_CHARS:
        raise SettingsError(
            f"TELLUSONCE_NOTIFY_CALLBACK_TOKEN must be at least {NOTIFY_CALLBACK_TOKEN_CHARS} characters long (a "
            "random secret, also typed into Notify's callbacks page)."
        )


def _check_privacy_contact(contact: str, service_address: str) -> None:
    is_page = contact.startswith(("https://", "http://")) and "." in contact.split("//", 1)[1]
    local, at, domain = contact.partition("@")
    is_address = bool(at and local and "." in domain and not any(c.isspace() for c in contact))
    if not (is_page or is_address):
        raise SettingsError(
            f"TELLUSONCE_PRIVACY_CONTACT must be an email address or an https:// page, not {contact!r}."
        )
    if contact.lower() == service_address.lower():
        raise SettingsError(
            f"TELLUSONCE_PRIVACY_CONTACT is {service_address}, the address that reads emailed changes, "
            f"which no person reads: give the address or page of whoever answers data protection requests."
        )


def _convert(name: str, kind: object, raw: str) -> object:
    kind = str(kind)
    if "Path" in kind:
        return Path(raw).expanduser()
    if kind == "int":
        try:
            return int(raw)
        except ValueError as e:
            raise SettingsError(f"{PREFIX}{name.upper()} must be a whole number, not {raw!r}.") from e
    if kind == "float":
        try:
            return float(raw)
        except ValueError as e:
            raise SettingsError(f"{PREFIX}{name.upper()} must be a number, not {raw!r}.") from e
    return raw
