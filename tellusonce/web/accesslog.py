"""gunicorn's access log, without the secrets some links carry.

Links emailed to citizens (verify an address, reset a password, confirm a new address or an emailed
change) carry a single-use token in the path. Whoever reads the access log must
not be able to use them, so the token is replaced before the line is written.
"""

from __future__ import annotations

import re
from typing import Any

from gunicorn.glogging import Logger

TOKEN_IN_PATH = re.compile(r"(/(?:verify|reset-password|confirm-email-change|confirm-new-email)/)[^/?\s\"]+")


def redact(text: str) -> str:
    return TOKEN_IN_PATH.sub(r"\1[redacted]", text)


class RedactingLogger(Logger):
    def atoms(self, resp: Any, req: Any, environ: Any, request_time: Any) -> dict[str, Any]:
        atoms = super().atoms(resp, req, environ, request_time)
        for key in ("r", "U", "q", "f"):
            if isinstance(atoms.get(key), str):
                atoms[key] = redact(atoms[key])
        return atoms
