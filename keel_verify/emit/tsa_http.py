"""RFC 3161 over HTTP (RFC 3161 section 3.4): a client for any TSA, and a tiny server
that puts a :class:`~keel_verify.emit.tsa_authority.TestTimestampAuthority` on 127.0.0.1.

The client posts a DER TimeStampReq as ``application/timestamp-query`` and expects a DER
TimeStampResp as ``application/timestamp-reply``; it checks that the reply is granted
and answers this request (imprint, nonce) before returning it. The server is for tests
and demos (``keel-emit tsa serve``): it binds to loopback by default and signs with a
TEST ONLY key.
"""

from __future__ import annotations

import secrets
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from urllib.parse import urlsplit

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

    The request asks for the TSA certificate (certReq) and carries a nonce (random
    unless given). The reply must be granted, and its token must carry this digest and
    nonce; :func:`keel_verify.crypto.rfc3161.parse_token` then yields ``token_der``, which is
    what an artifact stores. Raises :class:`TsaHttpError`.
    """
    if urlsplit(url).scheme not in ("http", "https"):
        raise TsaHttpError(f"TSA URL must be http:// or https://, got {url!r:.80}")
    if nonce is None:
        nonce = secrets.randbits(63)
    query = build_request(digest, hash_algorithm=hash_algorithm, nonce=nonce, cert_req=True)
    request = urllib.request.Request(
        url,
        data=query,
        method="POST",
        headers={"Content-Type": TIMESTAMP_QUERY, "Accept": TIMESTAMP_REPLY},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as reply:
            media_type = _media_type(reply.headers.get("Content-Type"))
            body: bytes = reply.read(MAX_RESPONSE_BYTES + 1)
    except urllib.error.HTTPError as error:
        raise TsaHttpError(f"TSA answered HTTP {error.code} {error.reason}") from None
    except urllib.error.URLError as error:
        raise TsaHttpError(f"cannot reach the TSA: {error.reason}") from None
    except (TimeoutError, OSError) as error:
        raise TsaHttpError(f"cannot reach the TSA: {error}") from None
    if media_type != TIMESTAMP_REPLY:
        raise TsaHttpError(f"TSA replied with {media_type or 'no content type'}, not {TIMESTAMP_REPLY}")
    if len(body) > MAX_RESPONSE_BYTES:
        raise TsaHttpError(f"TSA reply larger than {MAX_RESPONSE_BYTES} bytes")
    try:
        status, text = response_status(body)
        if status not in GRANTED_STATUSES:
            raise TsaHttpError(f"TSA refused: status {status}" + (f" ({text})" if text else ""))
        token = parse_token(body)
    except TokenError as error:
        raise TsaHttpError(f"TSA reply unusable: {error}") from None
    if token.imprint_algorithm != hash_algorithm or token.imprint != digest:
        raise TsaHttpError("TSA reply time-stamps another digest than the one requested")
    if token.nonce != nonce:
        raise TsaHttpError("TSA reply carries another nonce than the one requested")
    return body


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
