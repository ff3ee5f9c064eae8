"""The wire to the outbound relay: ``connect`` opens an SMTP session over TLS, logged in, as the ``Relay``
(``tellusonce/outbound_relay.py``) says.

A failure that only an operator can mend (the certificate is not trusted, the TLS handshake fails,
STARTTLS or AUTH is not offered, the login is refused) is ``RelayRefused``; anything else (the
relay cannot be reached, a 4xx answer, a connection dropped) is an ordinary ``OSError`` or
``smtplib.SMTPException``, to be retried.
"""

from __future__ import annotations

import smtplib
import ssl

from tellusonce.outbound_relay import SETTING, Relay


class RelayRefused(Exception):
    """The relay cannot be used as configured (its certificate, TLS, STARTTLS or the login): the same for every
    email, mended only by an operator."""


def connect(relay: Relay, *, timeout: float) -> smtplib.SMTP:
    """An SMTP session with the relay, over TLS and logged in as the relay asks, ready for ``MAIL FROM``.

    ``RelayRefused`` when the relay cannot be used as configured; ``OSError`` or ``smtplib.SMTPException``
    for what may pass (it cannot be reached, a 4xx answer, a dropped connection)."""
    context = relay.ssl_context() if relay.tls != "none" else None
    try:
        if relay.tls == "implicit":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(relay.host, relay.port, timeout=timeout, context=context)
        else:
            smtp = smtplib.SMTP(relay.host, relay.port, timeout=timeout)
    except _DROPPED:
        raise
    except ssl.SSLError as e:
        raise _refused_tls(relay, e) from e
    try:
        smtp.ehlo_or_helo_if_needed()
        if relay.tls == "starttls":
            if not smtp.has_extn("starttls"):
                raise RelayRefused(f"{relay.url} does not offer STARTTLS, which the setting requires: nothing was "
                                   "sent in clear")
            smtp.starttls(context=context)
            smtp.ehlo()
        if relay.username:
            _log_in(smtp, relay)
    except BaseException as e:
        smtp.close()
        if isinstance(e, ssl.SSLError) and not isinstance(e, _DROPPED):
            raise _refused_tls(relay, e) from e
        raise
    return smtp


def _log_in(smtp: smtplib.SMTP, relay: Relay) -> None:
    """One login, by PLAIN or else LOGIN (over TLS both are safe): with a wrong password, smtplib's ``login``
    would try each mechanism the relay offers, and a relay that locks an account after a few failures counts
    every one."""
    if not smtp.has_extn("auth"):
        raise RelayRefused(f"{relay.url} offers no login (AUTH), but {SETTING}_USERNAME is set")
    offered = smtp.esmtp_features["auth"].upper().split()
    if "PLAIN" in offered:
        mechanism, answer = "PLAIN", smtp.auth_plain
    elif "LOGIN" in offered:
        mechanism, answer = "LOGIN", smtp.auth_login
    else:
        raise RelayRefused(f"{relay.url} offers only the logins {', '.join(offered)}; this service uses PLAIN or LOGIN")
    smtp.user, smtp.password = relay.username, relay.password  # what auth_plain and auth_login answer with
    try:
        smtp.auth(mechanism, answer)
    except smtplib.SMTPAuthenticationError as e:
        if e.smtp_code < 500:  # 454: a temporary authentication failure
            raise
        raise RelayRefused(f"{relay.url} refused the login of {SETTING}_USERNAME: {e.smtp_code} "
                           f"{_text(e.smtp_error)}") from e


# The connection ended mid-handshake: the network's doing as often as the relay's, so retried as usual.
_DROPPED = (ssl.SSLEOFError, ssl.SSLZeroReturnError)


def _refused_tls(relay: Relay, e: ssl.SSLError) -> RelayRefused:
    """A certificate the relay's name is not trusted for, or a handshake that cannot succeed."""
    if isinstance(e, ssl.SSLCertVerificationError):
        where = f"the authorities in {SETTING}_CA_FILE" if relay.ca_file else \
            f"the system's authorities (set {SETTING}_CA_FILE for a private CA)"
        return RelayRefused(f"{relay.url} has a certificate that is not trusted for {relay.host} by {where}: "
                            f"{e.verify_message or e.reason}")
    return RelayRefused(f"the TLS handshake with {relay.url} failed: {e.reason or e}")


def _text(reply: bytes | str) -> str:
    return reply.decode(errors="replace") if isinstance(reply, bytes) else reply
