"""Test helpers: the public samples, a test issuer key, and tamper-and-re-sign.

Every key here is a TEST key derived from a fixed seed; none protects anything.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from keel_verify.signing import ed25519_key_from_seed, encoded_public_key, sign_document

DATA = Path(__file__).parent / "data"
PUBLIC = DATA / "keel-public"
PUBLIC_V1 = PUBLIC / "voice_session_export.json"
PUBLIC_V3 = PUBLIC / "voice_session_export_v3.json"

#: The key embedded in the public v3 / v1 samples (self-attested; no trust root exists).
PUBLIC_V3_KEY = "ed25519:QZbGRJQZdOYf/ecudWHr0JbkXb7SMCRU5BSvbqRHvIM="

TEST_ISSUER_KEY: Ed25519PrivateKey = ed25519_key_from_seed(b"keel-verify TEST issuer key #1")
OTHER_KEY: Ed25519PrivateKey = ed25519_key_from_seed(b"keel-verify TEST attacker key #1")
TEST_ISSUER_PUBLIC = encoded_public_key(TEST_ISSUER_KEY)
OTHER_PUBLIC = encoded_public_key(OTHER_KEY)


def load_document(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(path.read_bytes())
    return document


def public_v3() -> dict[str, Any]:
    return load_document(PUBLIC_V3)


def public_v1() -> dict[str, Any]:
    return load_document(PUBLIC_V1)


def to_bytes(document: Any) -> bytes:
    return json.dumps(document, ensure_ascii=False, indent=1).encode("utf-8")


def resign(
    document: dict[str, Any], key: Ed25519PrivateKey = TEST_ISSUER_KEY, **kwargs: Any
) -> dict[str, Any]:
    """A deep copy of ``document`` re-signed with ``key`` (signed_at kept unless given)."""
    signed_at = kwargs.pop("signed_at", None)
    if signed_at is None:
        signed_at = document.get("signatures", [{}])[0].get("signed_at", "2026-05-21T14:35:00Z")
    return sign_document(copy.deepcopy(document), key, signed_at=signed_at, **kwargs)
