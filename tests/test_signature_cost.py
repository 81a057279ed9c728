"""Cost stays bounded however many signature entries an artifact carries: at most
MAX_VERIFIED_ENTRIES reach the Ed25519 check (each hashes the whole signed message), and
entries by trusted keys go first, so junk entries cannot push a trusted signature out."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import pytest

from keel_verify import TrustPolicy, Verdict, verify_bytes
from keel_verify.crypto import ed25519, signatures, signed_message
from keel_verify.emit.signing import ed25519_key_from_seed, encoded_public_key
from tests.helpers import TEST_ISSUER_PUBLIC, public_v3, resign, to_bytes


def _junk_entries(count: int, content_hash: str) -> list[dict[str, Any]]:
    """Well-formed entries by real (untrusted) keys whose signatures do not verify."""
    junk = []
    for number in range(count):
        key = encoded_public_key(ed25519_key_from_seed(b"junk %d" % number))
        signature = hashlib.sha512(b"junk %d" % number).digest()[:32] + bytes(32)  # S = 0 < L
        junk.append({"algorithm": "ed25519", "public_key": key, "content_hash": content_hash,
                     "signature": "ed25519:" + base64.b64encode(signature).decode("ascii"),
                     "key_id": "junk", "key_purpose": "export_signing",
                     "signed_at": "2026-05-21T14:35:00Z"})
    return junk


@pytest.fixture
def counted_verifications(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    real = ed25519.verify

    def counting(public_key: bytes, signature: bytes, message: bytes | bytearray) -> bool:
        calls.append(len(message))
        return real(public_key, signature, message)

    monkeypatch.setattr(signatures, "verify", counting)
    monkeypatch.setattr(signed_message, "verify", counting)  # the held-message path
    return calls


def test_many_junk_entries_before_a_trusted_signature_cost_a_bounded_number_of_checks(
    counted_verifications: list[int],
) -> None:
    document = resign(public_v3())
    real = document["signatures"][0]
    extra = 3 * signatures.MAX_VERIFIED_ENTRIES
    document["signatures"] = [*_junk_entries(extra, real["content_hash"]), real]
    report = verify_bytes(to_bytes(document), TrustPolicy.pinned(TEST_ISSUER_PUBLIC))
    assert report.verdict is Verdict.VERIFIED, [c.reason for c in report.checks]
    # More than 16 distinct (R, A) pairs: the message is held, and each check hashes it.
    assert 1 <= len(counted_verifications) <= signatures.MAX_VERIFIED_ENTRIES


def test_entries_past_the_bound_are_reported_as_not_verified() -> None:
    document = resign(public_v3())
    real = document["signatures"][0]
    junk = _junk_entries(signatures.MAX_VERIFIED_ENTRIES + 4, real["content_hash"])
    entries = tuple(signatures.VerifiedEntries(junk, b"message", real["content_hash"]))
    assert len(entries) == len(junk)
    unchecked = [e for e in entries if e.problem and e.problem.startswith("not verified:")]
    assert len(unchecked) == 4
    assert all(not e.valid for e in entries)
