"""A local HTTP server on 127.0.0.1 that speaks GOV.UK Notify's v2 API for email, as documented.

``POST /v2/notifications/email`` with ``Authorization: Bearer <JWT>``: the token is checked as Notify
checks it (HS256, signed with the API key's secret, ``iss`` the service id, ``iat`` within 30
seconds), with PyJWT. A request it takes is kept in ``received`` and answered 201 with a new
notification id; ``answer_next`` makes it answer the next requests otherwise (400, 429, 500 …), and
``hang_next`` makes it keep the next request waiting (for a client's timeout). Errors are Notify's
shape: ``{"status_code": 400, "errors": [{"error": "BadRequestError", "message": "…"}]}``.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt

CLOCK_BOUND = 30  # seconds Notify allows between a token's iat and its own clock
EMAIL_PATH = "/v2/notifications/email"
ERROR_NAMES = {400: "BadRequestError", 403: "AuthError", 429: "RateLimitError", 500: "Exception"}


def api_key(service_id: str, secret: str, name: str = "tellusonce_test") -> str:
    """A Notify API key as the API integration page gives it: its name, the service id, the secret."""
    return f"{name}-{service_id}-{secret}"


class NotifyServer:
    def __init__(self, *, service_id: str | None = None, secret: str | None = None) -> None:
        self.service_id = service_id or str(uuid.uuid4())
        self.secret = secret or str(uuid.uuid4())
        self.received: list[dict[str, Any]] = []
        self.refused: list[tuple[int, str]] = []
        self._answers: list[tuple[int, str]] = []
        self._hangs = 0
        self._released = threading.Event()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def api_key(self) -> str:
        return api_key(self.service_id, self.secret)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def answer_next(self, status: int, message: str, *, times: int = 1) -> None:
        """Answer the next ``times`` requests with ``status`` and Notify's error body saying ``message``."""
        with self._lock:
            self._answers.extend([(status, message)] * times)

    def hang_next(self) -> None:
        """Keep the next request waiting, unanswered, until the server stops."""
        with self._lock:
            self._hangs += 1

    def __enter__(self) -> NotifyServer:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._released.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def _next(self) -> tuple[str, tuple[int, str] | None]:
        with self._lock:
            if self._hangs:
                self._hangs -= 1
                return "hang", None
            if self._answers:
                return "answer", self._answers.pop(0)
            return "take", None

    def _check_token(self, header: str) -> str | None:
        """None for a token Notify would take; else why not."""
        scheme, _, token = header.partition(" ")
        if scheme != "Bearer" or not token:
            return "Unauthorized: authentication token must be provided"
        try:
            claims = jwt.decode(token, self.secret, algorithms=["HS256"], options={"require": ["iss", "iat"]},
                                leeway=CLOCK_BOUND)
        except jwt.InvalidTokenError as e:
            return f"Invalid token: {type(e).__name__}"
        if claims["iss"] != self.service_id:
            return "Invalid token: service not found"
        if abs(time.time() - int(claims["iat"])) > CLOCK_BOUND:
            return "Error: Your system clock must be accurate to within 30 seconds"
        return None

    def _error(self, status: int, message: str) -> tuple[int, dict[str, Any]]:
        self.refused.append((status, message))
        return status, {"status_code": status, "errors": [
            {"error": ERROR_NAMES.get(status, "BadRequestError"), "message": message}]}

    def respond(self, path: str, authorization: str, content_type: str, body: bytes) -> tuple[int, dict[str, Any]] | None:
        """Notify's answer to one POST: its status and JSON body (None: keep it waiting, unanswered)."""
        if path != EMAIL_PATH:
            return self._error(404, "Not Found")
        problem = self._check_token(authorization)
        if problem is not None:
            return self._error(403, problem)
        if content_type != "application/json":
            return self._error(400, "Content-Type header is not application/json")
        try:
            request = json.loads(body)
        except ValueError:
            return self._error(400, "Invalid JSON supplied in POST data")
        for required in ("email_address", "template_id"):
            if not isinstance(request, dict) or not request.get(required):
                return self._error(400, f"{required} is a required property")
        what, answer = self._next()
        if what == "hang":
            self._released.wait(timeout=30)
            return None
        if answer is not None:
            return self._error(*answer)
        notification_id = str(uuid.uuid4())
        request["id"] = notification_id
        self.received.append(request)
        personalisation = request.get("personalisation") or {}
        return 201, {
            "id": notification_id,
            "reference": request.get("reference"),
            "content": {"subject": personalisation.get("subject", ""), "body": personalisation.get("body", ""),
                        "from_email": "tell.us.once@notifications.service.gov.uk"},
            "uri": f"{self.base_url}/v2/notifications/{notification_id}",
            "template": {"id": request["template_id"], "version": 1,
                         "uri": f"{self.base_url}/v2/template/{request['template_id']}/version/1"},
        }

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                answer = server.respond(self.path, self.headers.get("Authorization", ""),
                                        self.headers.get_content_type(), body)
                if answer is None:
                    return
                status, content = answer
                data = json.dumps(content).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler
