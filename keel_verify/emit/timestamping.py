"""RFC 3161 witnesses for the project chain head the artifact covers (docs/format.md §8).

A :class:`Timestamper` turns a SHA-256 digest into a TimeStampToken. Three kinds:

* :class:`LocalTestTimestamper` -- the deterministic test TSA
  (:class:`keel_verify.emit.tsa_authority.TestTimestampAuthority`) called in-process;
* :class:`HttpTimestamper` -- any RFC 3161 TSA over HTTP (``application/timestamp-query``);
* :class:`NoTimestamper` -- none: the artifact then says ``tsa_status: degraded_no_receipt``.

Each goes through the real protocol: a DER TimeStampReq out, a TimeStampResp back, and
the token taken out of the response (the artifact stores the token, i.e. the CMS
ContentInfo). The token's imprint and nonce are checked against the request, so a TSA
answering for another request is caught here rather than by every verifier later.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from keel_verify.crypto.rfc3161 import TokenError, build_request, parse_token

if TYPE_CHECKING:
    from keel_verify.emit.tsa_authority import TestTimestampAuthority

LOCAL_TSA_LABEL = "local:keel-emit-test-tsa"
LOCAL_TSA_PROVIDER = "keel_emit_test_tsa"
HTTP_TSA_PROVIDER = "rfc3161_http"
WITNESS_TYPE = "external timestamp witness"


class TimestampError(Exception):
    """No token was obtained. ``attempted`` is False when no TSA is configured at all
    (nothing to report as a failed attempt)."""

    def __init__(self, message: str, *, tsa: str | None, provider: str | None,
                 attempted: bool = True) -> None:
        super().__init__(message)
        self.tsa = tsa
        self.provider = provider
        self.attempted = attempted


class Timestamper(Protocol):
    def timestamp(self, digest: bytes, at: datetime) -> tuple[bytes, str, str]:
        """``(token_der, tsa_label, provider)`` for the SHA-256 ``digest``.

        ``at`` is the emitter's clock reading: a local TSA uses it as genTime (so that a
        scenario is reproducible); a remote TSA uses its own clock. Raises
        :class:`TimestampError` when no token can be had.
        """
        ...


def request_nonce(digest: bytes) -> int:
    """A nonce derived from the digest: reproducible, and distinct per chain head."""
    return int.from_bytes(hashlib.sha256(b"keel-emit nonce\x00" + digest).digest()[:8], "big") >> 1


def token_from_response(response_der: bytes, digest: bytes, nonce: int | None) -> bytes:
    """The TimeStampToken DER inside a TimeStampResp (or a bare token), after checking
    that it answers this request. Raises TokenError otherwise."""
    token = parse_token(response_der)
    if token.imprint_algorithm != "sha256" or token.imprint != digest:
        raise TokenError("the TSA's token witnesses another digest than the one requested")
    token_nonce = token.tst_info["nonce"].native
    if nonce is not None and token_nonce is not None and token_nonce != nonce:
        raise TokenError("the TSA's token carries another nonce than the one requested")
    return token.token_der


class NoTimestamper:
    def timestamp(self, digest: bytes, at: datetime) -> tuple[bytes, str, str]:
        raise TimestampError("no TSA configured", tsa=None, provider=None, attempted=False)


class LocalTestTimestamper:
    """The in-process test TSA. Deterministic: genTime is the emitter's ``at``."""

    def __init__(self, authority: TestTimestampAuthority, *, label: str = LOCAL_TSA_LABEL,
                 provider: str = LOCAL_TSA_PROVIDER) -> None:
        self.authority = authority
        self.label = label
        self.provider = provider

    @classmethod
    def from_seed(cls, seed: bytes) -> LocalTestTimestamper:
        from keel_verify.emit.tsa_authority import TestTimestampAuthority

        return cls(TestTimestampAuthority.from_seed(seed))

    def timestamp(self, digest: bytes, at: datetime) -> tuple[bytes, str, str]:
        nonce = request_nonce(digest)
        response = self.authority.respond(build_request(digest, nonce=nonce), gen_time=at)
        try:
            token = token_from_response(response, digest, nonce)
        except TokenError as error:
            raise TimestampError(f"test TSA refused: {error}", tsa=self.label,
                                 provider=self.provider) from None
        return token, self.label, self.provider


class HttpTimestamper:
    """An RFC 3161 TSA reached over HTTP(S) by URL. ``timeout`` bounds the whole exchange
    (seconds); any failure, a malformed answer included, is a :class:`TimestampError`,
    so the artifact is still issued, marked ``degraded_no_receipt`` with the attempt."""

    def __init__(self, url: str, *, timeout: float = 10.0,
                 provider: str = HTTP_TSA_PROVIDER) -> None:
        self.url = url
        self.timeout = timeout
        self.provider = provider

    def timestamp(self, digest: bytes, at: datetime) -> tuple[bytes, str, str]:
        from keel_verify.emit import tsa_http

        try:
            response = tsa_http.request_timestamp(self.url, digest, timeout=self.timeout)
            token = token_from_response(response, digest, None)
        except Exception as error:  # whatever a remote TSA does, the end goes on
            raise TimestampError(f"TSA {self.url}: {error}", tsa=self.url,
                                 provider=self.provider) from None
        return token, self.url, self.provider
