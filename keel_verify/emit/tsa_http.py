"""RFC 3161 over HTTP (RFC 3161 section 3.4): a client for any TSA, and a tiny server
that puts a :class:`~keel_verify.emit.tsa_authority.TestTimestampAuthority` on 127.0.0.1.

The client posts a DER TimeStampReq as ``application/timestamp-query`` and expects a DER
TimeStampResp as ``application/timestamp-reply``; it checks that the reply is granted
and answers this request (imprint, nonce) before returning it. The server is for tests
and demos (``keel-emit tsa serve``): it binds to loopback by default and signs with a
TEST ONLY key.
"""

from __future__ import annotations

import contextlib
import http.client
import secrets
import socket
import threading
import time
from collections.abc import Callable
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from urllib.parse import SplitResult, urlsplit

from keel_verify.crypto.rfc3161 import (
    GRANTED_STATUSES,
    TokenError,
    build_request,
    parse_token,
    response_status,
)
from keel_verify.emit.tsa_authority import TestTimestampAuthority, utc_now_seconds

TIMESTAMP_QUERY = "application/timestamp-query"
TIMESTAMP_REPLY = "application/timestamp-reply"
MAX_REQUEST_BYTES = 64 * 1024  # a TimeStampReq is ~100 bytes
MAX_RESPONSE_BYTES = 1024 * 1024  # a TimeStampResp with a certificate chain is a few KiB


class TsaHttpError(Exception):
    """No usable time-stamp response was obtained; str() is a one-line reason."""


def _media_type(header: str | None) -> str:
    return (header or "").split(";", 1)[0].strip().lower()


def request_timestamp(
    url: str,
    digest: bytes,
    *,
    timeout: float = 10.0,
    hash_algorithm: str = "sha256",
    nonce: int | None = None,
) -> bytes:
    """Ask the TSA at ``url`` to time-stamp ``digest``; return the DER TimeStampResp.

    ``timeout`` is an overall deadline in seconds, for connecting, sending and receiving
    the whole answer: a TSA that trickles its answer is cut off when it passes. The
    request asks for the TSA certificate (certReq) and carries a nonce (random unless
    given). The reply must be granted, and its token must carry this digest and nonce;
    :func:`keel_verify.crypto.rfc3161.parse_token` then yields ``token_der``, which is what
    an artifact stores. Raises :class:`TsaHttpError` for every failure, a malformed HTTP
    answer (bad status line, broken chunked body) included.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise TsaHttpError(f"TSA URL must be http:// or https://, got {url!r:.80}")
    if nonce is None:
        nonce = secrets.randbits(63)
    query = build_request(digest, hash_algorithm=hash_algorithm, nonce=nonce, cert_req=True)
    status, media_type, body = _post_with_deadline(parts, query, timeout)
    if status != 200:
        raise TsaHttpError(f"TSA answered HTTP {status}")
    if media_type != TIMESTAMP_REPLY:
        raise TsaHttpError(f"TSA replied with {media_type or 'no content type'}, not {TIMESTAMP_REPLY}")
    if len(body) > MAX_RESPONSE_BYTES:
        raise TsaHttpError(f"TSA reply larger than {MAX_RESPONSE_BYTES} bytes")
    try:
        status_text, text = response_status(body)
        if status_text not in GRANTED_STATUSES:
            raise TsaHttpError(f"TSA refused: status {status_text}" + (f" ({text})" if text else ""))
        token = parse_token(body)
    except TokenError as error:
        raise TsaHttpError(f"TSA reply unusable: {error}") from None
    if token.imprint_algorithm != hash_algorithm or token.imprint != digest:
        raise TsaHttpError("TSA reply time-stamps another digest than the one requested")
    if token.nonce != nonce:
        raise TsaHttpError("TSA reply carries another nonce than the one requested")
    return body


def _post_with_deadline(parts: SplitResult, query: bytes, timeout: float
                        ) -> tuple[int, str, bytes]:
    """(status, media type, body) of one POST, all of it within ``timeout`` seconds: a
    watchdog shuts the socket down at the deadline, which ends any blocked read."""
    connection_type = (http.client.HTTPSConnection if parts.scheme == "https"
                       else http.client.HTTPConnection)
    connection = connection_type(parts.hostname or "", parts.port, timeout=timeout)
    deadline = time.monotonic() + timeout
    watchdog = threading.Timer(timeout, _abort, args=(connection,))
    watchdog.daemon = True
    watchdog.start()
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        connection.request("POST", path, body=query, headers={
            "Content-Type": TIMESTAMP_QUERY, "Accept": TIMESTAMP_REPLY, "Connection": "close"})
        reply = connection.getresponse()
        body = reply.read(MAX_RESPONSE_BYTES + 1)
        return reply.status, _media_type(reply.headers.get("Content-Type")), body
    except (http.client.HTTPException, OSError, ValueError) as error:
        if time.monotonic() >= deadline:
            raise TsaHttpError(f"no complete answer from the TSA within {timeout:g} s") from None
        if isinstance(error, OSError) and not isinstance(error, TimeoutError):
            raise TsaHttpError(f"cannot reach the TSA: {error.strerror or error}") from None
        detail = str(error).splitlines()[0][:120] if str(error) else ""
        raise TsaHttpError(f"malformed answer from the TSA ({type(error).__name__}"
                           f"{': ' + detail if detail else ''})") from None
    finally:
        watchdog.cancel()
        connection.close()


def _abort(connection: http.client.HTTPConnection) -> None:
    sock = connection.sock
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


class _TsaHandler(BaseHTTPRequestHandler):
    server: TsaServer
    server_version = "keel-verify-test-tsa"

    def _send(self, code: int, media_type: str, body: bytes) -> None:
        self.send_response(code)
        self.send_header("Content-Type", media_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        if _media_type(self.headers.get("Content-Type")) != TIMESTAMP_QUERY:
            self._send(415, "text/plain", f"expected {TIMESTAMP_QUERY}\n".encode())
            return
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            self._send(411, "text/plain", b"Content-Length required\n")
            return
        if not 0 < length <= MAX_REQUEST_BYTES:
            self._send(413, "text/plain", b"request size out of range\n")
            return
        query = self.rfile.read(length)
        reply = self.server.authority.respond(query, gen_time=self.server.clock())
        self._send(200, TIMESTAMP_REPLY, reply)

    def do_GET(self) -> None:
        # The root certificate, so a client can configure it as a TSA root (TEST ONLY).
        if self.path in ("/", "/root.pem"):
            self._send(200, "application/x-pem-file", self.server.authority.root_pem().encode())
        else:
            self._send(404, "text/plain", b"not found\n")

    def log_message(self, format: str, *args: object) -> None:
        if not self.server.quiet:
            super().log_message(format, *args)


class TsaServer(ThreadingHTTPServer):
    """An HTTP server answering RFC 3161 requests with ``authority``.

    Use ``serve_forever()`` in the foreground, or ``start()`` / ``stop()`` (or ``with``)
    to run it on a daemon thread.
    """

    daemon_threads = True

    def __init__(
        self,
        authority: TestTimestampAuthority,
        address: tuple[str, int],
        *,
        clock: Callable[[], datetime] = utc_now_seconds,
        quiet: bool = True,
    ) -> None:
        super().__init__(address, _TsaHandler)
        self.authority = authority
        self.clock = clock
        self.quiet = quiet
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        shown = host.decode() if isinstance(host, bytes) else host
        return f"http://{shown}:{port}/"

    def start(self) -> TsaServer:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self.serve_forever, name="keel-test-tsa", daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self.shutdown()
            self._thread.join()
            self._thread = None
        self.server_close()

    def __enter__(self) -> TsaServer:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def serve_tsa(
    authority: TestTimestampAuthority,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    clock: Callable[[], datetime] = utc_now_seconds,
    quiet: bool = True,
) -> TsaServer:
    """A bound (not yet serving) :class:`TsaServer`; ``port=0`` picks a free port, see
    ``.url``. ``clock`` supplies genTime (a fixed clock makes replies reproducible)."""
    return TsaServer(authority, (host, port), clock=clock, quiet=quiet)
