"""``keel-emit serve``: the engine behind the Keel realtime-voice HTTP API (stdlib).

Routes (JSON bodies; ``Authorization: Bearer <api key>`` except where noted)::

    POST /v1/sessions                                 start a session
    POST /v1/voice/sessions/{id}/events               a batch of at most 100 voice atoms
    POST /v1/sessions/{id}/turns                      evaluate a turn (optional tool call)
    POST /v1/sessions/{id}/action-permits             request an action permit
    POST /v1/sessions/{id}/interruption-events        record interruption evidence
    POST /v1/sessions/{id}/end                        end; the answer carries the artifact
    GET  /v1/sessions/{id}                            the session's state and counters
    GET  /v1/sessions/{id}/attestation                the ended session's artifact
    GET  /openapi.json, /healthz                      (no authentication)

Every error, including those the HTTP layer raises itself (400, 414, 431, 501), is the
documented JSON ``{"error": {"message": ..., "status": N}}``. What keeps it standing
(each has a test): a listen backlog of 128; a cap on connection threads (past it, 503);
a socket timeout on every connection and an overall deadline on reading a body; one
write per small answer with TCP_NODELAY (no Nagle stall on kept-alive connections);
strict ``Content-Length`` (digits only, never two different values, never with
``Transfer-Encoding``); ``100 Continue`` only after the route and the key were accepted;
and a ``Server`` header without the Python version.
"""

from __future__ import annotations

import hmac
import json
import re
import socket
import sys
import threading
import time
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import msgspec

from keel_verify.emit.bodies import parse
from keel_verify.emit.engine import Engine
from keel_verify.emit.errors import (
    BAD_REQUEST,
    NOT_FOUND,
    PAYLOAD_TOO_LARGE,
    UNAUTHORIZED,
    EmitError,
)
from keel_verify.emit.openapi import document_bytes

DEFAULT_MAX_BODY_BYTES = 8 * 1024 * 1024  # 100 atoms with long transcript spans fit
MAX_BODY_DEPTH = 32
DEFAULT_MAX_CONNECTIONS = 64  # connection threads; past it a new connection gets 503
DEFAULT_SOCKET_TIMEOUT = 30.0  # seconds a connection may stay silent (also idle keep-alive)
DEFAULT_BODY_DEADLINE = 60.0  # seconds to receive a whole body, however it trickles
LISTEN_BACKLOG = 128
SERVER_NAME = "keel-emit"
_ID = r"([A-Za-z0-9_.:-]{1,200})"
_CONTENT_LENGTH = re.compile(r"[0-9]{1,15}")
ROUTES: tuple[tuple[str, re.Pattern[str], str], ...] = (
    ("POST", re.compile(r"/v1/sessions"), "start"),
    ("POST", re.compile(rf"/v1/voice/sessions/{_ID}/events"), "events"),
    ("POST", re.compile(rf"/v1/sessions/{_ID}/turns"), "turns"),
    ("POST", re.compile(rf"/v1/sessions/{_ID}/action-permits"), "action_permits"),
    ("POST", re.compile(rf"/v1/sessions/{_ID}/interruption-events"), "interruption_events"),
    ("POST", re.compile(rf"/v1/sessions/{_ID}/end"), "end"),
    ("GET", re.compile(rf"/v1/sessions/{_ID}"), "get_session"),
    ("GET", re.compile(rf"/v1/sessions/{_ID}/attestation"), "get_attestation"),
    ("GET", re.compile(r"/openapi\.json"), "openapi"),
    ("GET", re.compile(r"/healthz"), "health"),
)
PUBLIC = ("openapi", "health")  # no API key needed


def _clean_path(path: str) -> str:
    return path.split("?", 1)[0].rstrip("/") or "/"


def route(method: str, path: str) -> tuple[str, str | None] | None:
    """(operation name, session id) for a request, or None when the path is unknown.
    A known path with another method raises EmitError 405."""
    path = _clean_path(path)
    allowed = []
    for route_method, pattern, name in ROUTES:
        match = pattern.fullmatch(path)
        if match:
            if route_method == method:
                return name, match.group(1) if match.groups() else None
            allowed.append(route_method)
    if allowed:
        raise EmitError(HTTPStatus.METHOD_NOT_ALLOWED, f"use {', '.join(allowed)}")
    return None


def check_api_key(api_key: str) -> str:
    """The key, if it can be sent as a Bearer token: printable ASCII, no spaces."""
    if not api_key or not all("!" <= ch <= "~" for ch in api_key):
        raise ValueError("the API key must be non-empty printable ASCII without spaces")
    return api_key


class EmitHTTPServer(HTTPServer):
    request_queue_size = LISTEN_BACKLOG
    allow_reuse_address = True

    def __init__(self, engine: Engine, *, api_key: str, host: str = "127.0.0.1",
                 port: int = 0, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
                 max_connections: int = DEFAULT_MAX_CONNECTIONS,
                 socket_timeout: float = DEFAULT_SOCKET_TIMEOUT,
                 body_deadline: float = DEFAULT_BODY_DEADLINE, quiet: bool = True) -> None:
        self.engine = engine
        self.api_key = check_api_key(api_key)
        self.max_body_bytes = max_body_bytes
        self.socket_timeout = socket_timeout
        self.body_deadline = body_deadline
        self.quiet = quiet
        self._slots = threading.BoundedSemaphore(max_connections)
        self._openapi = document_bytes()
        super().__init__((host, port), _Handler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def process_request(self, request: Any, client_address: Any) -> None:
        """One thread per connection, at most ``max_connections`` at once."""
        if not self._slots.acquire(blocking=False):
            _refuse_busy(request)
            self.shutdown_request(request)
            return
        thread = threading.Thread(target=self._serve_connection, args=(request, client_address),
                                  daemon=True)
        thread.start()

    def _serve_connection(self, request: Any, client_address: Any) -> None:
        try:
            self.finish_request(request, client_address)
        except Exception:
            self.handle_error(request, client_address)
        finally:
            self.shutdown_request(request)
            self._slots.release()

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not self.quiet:
            exc = sys.exc_info()[1]
            sys.stderr.write(f"keel-emit serve: connection error: {type(exc).__name__}: {exc}\n")

    def start_background(self) -> threading.Thread:
        """Serve on a daemon thread (tests); stop with ``shutdown()`` then ``server_close()``."""
        thread = threading.Thread(target=self.serve_forever, name="keel-emit-serve",
                                  daemon=True)
        thread.start()
        return thread


_json_bytes = msgspec.json.Encoder().encode  # compact UTF-8 JSON (answers hold no floats)


def _pretty_asked(path: str) -> bool:
    query = parse_qs(urlsplit(path).query)
    return query.get("pretty", [""])[-1].lower() in ("1", "true", "yes")


def _pretty(data: bytes) -> bytes:
    """Indented JSON (2 spaces, members in their order, non-ASCII as itself)."""
    return (json.dumps(json.loads(data), ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def _refuse_busy(connection: socket.socket) -> None:
    body = _json_bytes(EmitError(HTTPStatus.SERVICE_UNAVAILABLE,
                                 "too many connections; retry shortly").as_json())
    head = (f"HTTP/1.1 503 Service Unavailable\r\nServer: {SERVER_NAME}\r\n"
            "Content-Type: application/json; charset=utf-8\r\nRetry-After: 1\r\n"
            f"Connection: close\r\nContent-Length: {len(body)}\r\n\r\n").encode("ascii")
    try:
        connection.settimeout(1.0)
        connection.sendall(head + body)
    except OSError:
        pass


class _Handler(BaseHTTPRequestHandler):
    server: EmitHTTPServer
    protocol_version = "HTTP/1.1"
    server_version = SERVER_NAME

    # -- plumbing ------------------------------------------------------------------------

    def setup(self) -> None:
        self.timeout = self.server.socket_timeout  # type: ignore[misc]  # per connection
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def version_string(self) -> str:
        return SERVER_NAME  # never the Python version

    def log_message(self, format: str, *args: Any) -> None:
        if not self.server.quiet:
            sys.stderr.write(f"keel-emit serve: {self.address_string()} {format % args}\n")

    def _send_parts(self, status: int, parts: list[bytes],
                    extra: dict[str, str] | None = None) -> None:
        """Status line, headers and body: the headers and the first part in one write."""
        self.log_request(status)
        length = sum(len(part) for part in parts)
        lines = [f"{self.protocol_version} {status} {HTTPStatus(status).phrase}",
                 f"Server: {SERVER_NAME}", f"Date: {self.date_time_string()}",
                 "Content-Type: application/json; charset=utf-8",
                 f"Content-Length: {length}", "Cache-Control: no-store"]
        lines.extend(f"{name}: {value}" for name, value in (extra or {}).items())
        if self.close_connection:
            lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        first, *rest = parts or [b""]
        self.wfile.write(head + first)
        for part in rest:
            self.wfile.write(part)

    def _send_json(self, status: int, value: Any) -> None:
        self._send_parts(status, [_json_bytes(value)])

    def _error(self, error: EmitError, extra: dict[str, str] | None = None) -> None:
        self.close_connection = True  # an unread body would poison a kept-alive stream
        self._send_parts(error.status, [_json_bytes(error.as_json())], extra)

    def send_error(self, code: int, message: str | None = None,
                   explain: str | None = None) -> None:
        """The HTTP layer's own errors (400, 414, 431, 501, ...) as the documented JSON."""
        try:
            phrase = HTTPStatus(code).phrase
        except ValueError:
            phrase = "error"
        if not hasattr(self, "request_version"):
            self.request_version = "HTTP/0.9"
        self._error(EmitError(code, message or phrase))

    def _authorised(self) -> bool:
        header = self.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(
            token.strip().encode("utf-8"), self.server.api_key.encode("utf-8"))

    def _content_length(self) -> int:
        """The body's length, from exactly one well-formed Content-Length (RFC 9112 6.3)."""
        if self.headers.get("Transfer-Encoding") is not None:
            raise EmitError(BAD_REQUEST, "Transfer-Encoding is not supported; send the body "
                                         "with a Content-Length")
        values = {value.strip() for value in self.headers.get_all("Content-Length") or []}
        if len(values) > 1:
            raise EmitError(BAD_REQUEST, "conflicting Content-Length headers")
        if not values:
            raise EmitError(BAD_REQUEST, "a JSON body with a Content-Length header is required")
        text = values.pop()
        if not _CONTENT_LENGTH.fullmatch(text):
            raise EmitError(BAD_REQUEST, f"malformed Content-Length {text!r:.40}")
        length = int(text)
        if length > self.server.max_body_bytes:
            raise EmitError(PAYLOAD_TOO_LARGE, f"body of {length} bytes is over the limit of "
                                               f"{self.server.max_body_bytes}")
        return length

    def _read_body(self) -> Any:
        length = self._content_length()
        deadline = time.monotonic() + self.server.body_deadline
        chunks: list[bytes] = []
        remaining = length
        while remaining:
            if time.monotonic() > deadline:
                raise EmitError(HTTPStatus.REQUEST_TIMEOUT, "the body took too long to arrive")
            chunk = self.rfile.read1(min(remaining, 1 << 20))
            if not chunk:
                raise EmitError(BAD_REQUEST, "the body ended before Content-Length bytes")
            chunks.append(chunk)
            remaining -= len(chunk)
        data = b"".join(chunks)
        if not data.strip():
            return {}
        return parse(data, max_depth=MAX_BODY_DEPTH)

    def _admit(self) -> tuple[str, str | None]:
        """Route and key: an unknown route 404, a wrong method 405, no key 401."""
        found = route(self.command, self.path)
        if found is None:
            raise EmitError(NOT_FOUND, f"no route {_clean_path(self.path)!r:.100}")
        if found[0] not in PUBLIC and not self._authorised():
            raise EmitError(UNAUTHORIZED, "missing or wrong API key (send 'Authorization: "
                                          "Bearer <key>')")
        return found

    def handle_expect_100(self) -> bool:
        """``100 Continue`` only once the route and the API key are accepted."""
        try:
            self._admit()
            self._content_length()
        except EmitError as error:
            self._fail(error)
            return False
        return super().handle_expect_100()

    def _fail(self, error: EmitError) -> None:
        extra: dict[str, str] = {}
        if error.status == UNAUTHORIZED:
            extra["WWW-Authenticate"] = 'Bearer realm="keel-emit"'
        elif error.status == HTTPStatus.METHOD_NOT_ALLOWED:
            extra["Allow"] = error.message.removeprefix("use ")
        self._error(error, extra)

    # -- methods -------------------------------------------------------------------------

    def _handle(self) -> None:
        try:
            name, session_id = self._admit()
            parts = self._operation(name, session_id)
            if _pretty_asked(self.path):  # compact on the wire unless asked
                parts = [_pretty(b"".join(parts))]
        except EmitError as error:
            self._fail(error)
            return
        except Exception as error:  # a bug: answer 500, never a traceback to the client
            sys.stderr.write(f"keel-emit serve: internal error: {type(error).__name__}: "
                             f"{error}\n")
            self._error(EmitError(HTTPStatus.INTERNAL_SERVER_ERROR, "internal error"))
            return
        self._send_parts(HTTPStatus.OK, parts)

    def _operation(self, name: str, session_id: str | None) -> list[bytes]:
        engine = self.server.engine
        readers: dict[str, Callable[[], list[bytes]]] = {
            "health": lambda: [b'{"status":"ok"}'],
            "openapi": lambda: [self.server._openapi],
            "get_session": lambda: [_json_bytes(engine.session_view(str(session_id)))],
            "get_attestation": lambda: engine.attestation_parts(str(session_id)),
        }
        if name in readers:
            return readers[name]()
        body = self._read_body()
        if name == "end":
            return engine.end_parts(str(session_id), body)
        return [_json_bytes(engine.call(name, session_id, body))]

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle
