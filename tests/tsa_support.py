"""Shared by the witness, time and trust-root tests: the test TSA, and the public v3
sample re-made with a real signed token as its receipt.

Every key here is a TEST key derived from a fixed seed; none protects anything.
"""

from __future__ import annotations

import base64
import copy
import hashlib
from datetime import UTC, datetime
from functools import cache
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from keel_verify.emit.signing import raw_public_key
from keel_verify.emit.tsa_authority import TestTimestampAuthority, TokenOptions
from keel_verify.results import Report
from keel_verify.trust import TrustedKey, TrustPolicy
from keel_verify.verifier import verify_bytes
from tests.helpers import TEST_ISSUER_KEY, public_v3, resign, to_bytes

#: A genTime one second after the v3 sample's issued_at (2026-05-21T14:35:00Z).
GEN_TIME = datetime(2026, 5, 21, 14, 35, 1, tzinfo=UTC)
SERIAL = 0x5EED


@cache
def authority() -> TestTimestampAuthority:
    return TestTimestampAuthority.from_seed()


@cache
def other_authority() -> TestTimestampAuthority:
    """An unrelated TSA: its root is not the trusted one."""
    return TestTimestampAuthority.from_seed(b"keel-verify TEST ONLY another TSA")


def head_digest(document: dict[str, Any]) -> bytes:
    return bytes.fromhex(document["project_chain_head"]["content_hash"].removeprefix("sha256:"))


def token_for(
    document: dict[str, Any],
    *,
    gen_time: datetime = GEN_TIME,
    tsa: TestTimestampAuthority | None = None,
    options: TokenOptions | None = None,
    digest: bytes | None = None,
) -> bytes:
    return (tsa or authority()).timestamp(
        digest if digest is not None else head_digest(document),
        gen_time=gen_time,
        serial=SERIAL,
        options=options,
    )


def with_token(
    document: dict[str, Any],
    token_der: bytes,
    *,
    received_at: str = "2026-05-21T14:35:01Z",
) -> dict[str, Any]:
    """A copy of ``document`` whose only receipt carries ``token_der`` (receipt_hash
    updated, docs/format.md §8), not yet re-signed."""
    changed = copy.deepcopy(document)
    receipt = dict(changed["timestamp_receipts"][0])
    receipt["tsa_response_base64"] = base64.b64encode(token_der).decode("ascii")
    receipt["receipt_hash"] = "sha256:" + hashlib.sha256(token_der).hexdigest()
    receipt["received_at"] = received_at
    receipt["provider"] = "keel_verify_test_tsa"
    receipt["tsa"] = "local:keel-verify-test-tsa"
    changed["timestamp_receipts"] = [receipt]
    changed["rfc3161_timestamp_receipt"] = dict(receipt)
    return changed


def witnessed_v3(
    token_der: bytes | None = None,
    *,
    key: Ed25519PrivateKey = TEST_ISSUER_KEY,
    signed_at: str | None = None,
    received_at: str = "2026-05-21T14:35:01Z",
    document: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The public v3 sample (or ``document``) with a real token as its receipt,
    re-signed with ``key``."""
    base = document if document is not None else public_v3()
    token = token_der if token_der is not None else token_for(base)
    extra = {"signed_at": signed_at} if signed_at else {}
    return resign(with_token(base, token, received_at=received_at), key, **extra)


def trusted_issuer(key: Ed25519PrivateKey = TEST_ISSUER_KEY, **conditions: Any) -> TrustedKey:
    return TrustedKey(public_key=raw_public_key(key), source="test key", **conditions)


def policy(
    *keys: TrustedKey,
    roots: tuple[x509.Certificate, ...] | None = None,
    strict: bool = False,
) -> TrustPolicy:
    """Trust ``keys`` (default: the test issuer) and ``roots`` (default: the test TSA root)."""
    return TrustPolicy(
        issuer_keys=keys or (trusted_issuer(),),
        tsa_roots=(authority().root_certificate,) if roots is None else roots,
        tsa_roots_source="test TSA root" if roots != () else None,
        strict=strict,
    )


def verify(document: dict[str, Any], trust: TrustPolicy) -> Report:
    return verify_bytes(to_bytes(document), trust)
