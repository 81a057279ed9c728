"""``keel-emit serve``: the engine behind a small HTTP API (stdlib ``http.server``).

Routes (all ``POST``, JSON bodies, ``Authorization: Bearer <api key>``)::

    /v1/sessions                                 start a session
    /v1/voice/sessions/{id}/events               a batch of at most 100 voice atoms
    /v1/sessions/{id}/turns                      evaluate a turn (optional tool call)
    /v1/sessions/{id}/action-permits             request an action permit
    /v1/sessions/{id}/interruption-events        record an interruption
    /v1/sessions/{id}/end                        end; the answer is the signed artifact

plus ``GET /healthz`` (no authentication). Errors are ``{"error": {"message": ...}}``
with 400 (not JSON), 401 (no or wrong key), 404 (unknown route or session), 405, 409
(ended session, exhausted budget, reused idempotency key), 413 (body or batch too
large), 422 (a rule broken). Bodies are parsed strictly (duplicate keys, NaN, invalid
UTF-8 and absurd nesting are refused) by the verifier's own loader.
"""

from __future__ import annotations

import hmac
import json
import re
import sys
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from keel_verify.emit.artifact import dump_artifact
from keel_verify.emit.engine import Engine
from keel_verify.emit.errors import (
    BAD_REQUEST,
    NOT_FOUND,
    PAYLOAD_TOO_LARGE,
    UNAUTHORIZED,
    EmitError,
)
from keel_verify.errors import LoadError
from keel_verify.load.loader import parse_json

DEFAULT_MAX_BODY_BYTES = 8 * 1024 * 1024  # 100 atoms with long transcript spans fit
MAX_BODY_DEPTH = 32
_ID = r"([A-Za-z0-9_.:-]{1,200})"
ROUTES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"/v1/sessions"), "start"),
    (re.compile(rf"/v1/voice/sessions/{_ID}/events"), "events"),
    (re.compile(rf"/v1/sessions/{_ID}/turns"), "turns"),
    (re.compile(rf"/v1/sessions/{_ID}/action-permits"), "action_permits"),
    (re.compile(rf"/v1/sessions/{_ID}/interruption-events"), "interruption_events"),
    (re.compile(rf"/v1/sessions/{_ID}/end"), "end"),
)


def route(path: str) -> tuple[str, str | None] | None:
    """(call name, session id) for a request path, or None for an unknown path."""
    path = path.split("?", 1)[0].rstrip("/") or "/"
    for pattern, name in ROUTES:
        match = pattern.fullmatch(path)
        if match:
            return name, match.group(1) if match.groups() else None
    return None


class EmitHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, engine: Engine, *, api_key: str, host: str = "127.0.0.1",
                 port: int = 0, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
                 quiet: bool = True) -> None:
        if not api_key:
            raise ValueError("an API key is required")
        self.engine = engine
        self.api_key = api_key
        self.max_body_bytes = max_body_bytes
        self.quiet = quiet
        super().__init__((host, port), _Handler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def start_background(self) -> threading.Thread:
        """Serve on a daemon thread (tests); stop with ``shutdown()`` then ``server_close()``."""
        thread = threading.Thread(target=self.serve_forever, name="keel-emit-serve",
                                  daemon=True)
        thread.start()
        return thread


class _Handler(BaseHTTPRequestHandler):
    server: EmitHTTPServer
    protocol_version = "HTTP/1.1"
    server_version = "keel-emit"

    # -- plumbing ------------------------------------------------------------------------

    def log_message(self, format: str, *args: Any) -> None:
        if not self.server.quiet:
            sys.stderr.write(f"keel-emit serve: {self.address_string()} {format % args}\n")

    def _send(self, status: int, body: bytes, extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _send_json(self, status: int, value: Any) -> None:
        self._send(status, json.dumps(value, ensure_ascii=False).encode("utf-8"))

    def _error(self, error: EmitError, extra: dict[str, str] | None = None) -> None:
        self.close_connection = True  # an unread body would poison a kept-alive stream
        body = json.dumps(error.as_json(), ensure_ascii=False).encode("utf-8")
        self._send(error.status, body, extra)

    def _authorised(self) -> bool:
        header = self.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(
            token.strip().encode("utf-8"), self.server.api_key.encode("utf-8"))

    def _read_body(self) -> Any:
        if self.headers.get("Transfer-Encoding"):
            raise EmitError(BAD_REQUEST, "chunked bodies are not supported; send Content-Length")
        length_text = self.headers.get("Content-Length")
        if length_text is None or not length_text.isdigit():
            raise EmitError(BAD_REQUEST, "a JSON body with a Content-Length header is required")
        length = int(length_text)
        if length > self.server.max_body_bytes:
            raise EmitError(PAYLOAD_TOO_LARGE, f"body of {length} bytes is over the limit of "
                                               f"{self.server.max_body_bytes}")
        data = self.rfile.read(length)
        if not data.strip():
            return {}
        try:
            return parse_json(data, max_depth=MAX_BODY_DEPTH)
        except LoadError as error:
            raise EmitError(BAD_REQUEST, f"body is not acceptable JSON: {error}") from None

    # -- methods -------------------------------------------------------------------------

    def do_GET(self) -> None:
        if self.path.split("?", 1)[0] == "/healthz":
            self._send_json(HTTPStatus.OK, {"status": "ok"})
        else:
            self._not_allowed()

    def do_POST(self) -> None:
        try:
            found = route(self.path)
            if found is None:
                raise EmitError(NOT_FOUND, f"no route {self.path.split('?', 1)[0]!r:.100}")
            if not self._authorised():
                self._error(EmitError(UNAUTHORIZED, "missing or wrong API key (send "
                                                    "'Authorization: Bearer <key>')"),
                            {"WWW-Authenticate": 'Bearer realm="keel-emit"'})
                return
            name, session_id = found
            body = self._read_body()
            result = self.server.engine.call(name, session_id, body)
        except EmitError as error:
            self._error(error)
            return
        except Exception as error:  # a bug: answer 500, never a traceback to the client
            sys.stderr.write(f"keel-emit serve: internal error: {type(error).__name__}: "
                             f"{error}\n")
            self._error(EmitError(HTTPStatus.INTERNAL_SERVER_ERROR, "internal error"))
            return
        if name == "end":
            self._send(HTTPStatus.OK, dump_artifact(result))
        else:
            self._send_json(HTTPStatus.OK, result)

    def _not_allowed(self) -> None:
        if route(self.path) is not None:
            self._error(EmitError(HTTPStatus.METHOD_NOT_ALLOWED, "use POST"), {"Allow": "POST"})
        else:
            self._error(EmitError(NOT_FOUND, f"no route {self.path.split('?', 1)[0]!r:.100}"))

    do_PUT = do_DELETE = do_PATCH = _not_allowed
