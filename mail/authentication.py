"""What can be said about who really sent a message, recorded for operators.

The service does not trust a From header (a report is only submitted after the
citizen confirms it from their own mailbox), but operators investigating abuse
want to know: the DKIM result checked here with dkimpy, and the SPF and DMARC
verdicts that the receiving MTA in front of this listener wrote into
``Authentication-Results`` and ``Received-SPF`` headers.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

import dkim

from tellusonce_mail.mime import ReadMessage

log = logging.getLogger(__name__)

DNSFunc = Callable[..., bytes | None]
_VERDICT = re.compile(r"\b(spf|dkim|dmarc|arc)=([a-z]+)", re.IGNORECASE)


def check_authentication(raw: bytes, read: ReadMessage, *, dnsfunc: DNSFunc | None = None,
                         timeout: int = 5) -> dict[str, Any]:
    """DKIM checked now, plus the verdicts upstream servers recorded; never raises."""
    return {
        "dkim": _dkim(raw, dnsfunc=dnsfunc, timeout=timeout),
        "upstream": _upstream(read),
        "authentication_results": list(read.authentication_results)[:10],
        "received_spf": list(read.received_spf)[:10],
    }


def _dkim(raw: bytes, *, dnsfunc: DNSFunc | None, timeout: int) -> dict[str, Any]:
    head = raw.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0].lower()
    if b"dkim-signature:" not in head:
        return {"result": "none"}
    try:
        checker = dkim.DKIM(raw, timeout=timeout)
        passed = checker.verify(dnsfunc=dnsfunc) if dnsfunc else checker.verify()
    except dkim.ValidationError as e:  # the signature does not match the message (RFC 8601: fail)
        return {"result": "fail", "error": " ".join(str(e).split())[:200]}
    except dkim.DnsTimeoutError as e:
        return {"result": "temperror", "error": type(e).__name__}
    except dkim.DKIMException as e:
        return {"result": "permerror", "error": type(e).__name__}
    except Exception as e:  # DNS trouble and anything else: temporary, and never fatal
        log.info("DKIM check failed: %s", type(e).__name__)
        return {"result": "temperror", "error": type(e).__name__}
    return {
        "result": "pass" if passed else "fail",
        "domain": _text(getattr(checker, "domain", None)),
        "selector": _text(getattr(checker, "selector", None)),
    }


def _upstream(read: ReadMessage) -> dict[str, str]:
    """The first verdict of each kind in Authentication-Results (the nearest server's), and Received-SPF."""
    verdicts: dict[str, str] = {}
    for header in read.authentication_results:
        for method, result in _VERDICT.findall(header):
            verdicts.setdefault(method.lower(), result.lower())
    if "spf" not in verdicts and read.received_spf:
        verdicts["spf"] = read.received_spf[0].split()[0].lower() if read.received_spf[0].split() else ""
    return verdicts


def _text(value: object) -> str | None:
    if isinstance(value, bytes):
        return value.decode("ascii", errors="replace")
    return None if value is None else str(value)
