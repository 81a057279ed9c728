"""Trust-root documents (``schemas/trust-root-v1.schema.json``) for emitted artifacts:
the issuer key that signs them and the root of the TSA that timestamps them."""

from __future__ import annotations

from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from keel_verify.emit.signing import encoded_public_key, fingerprint_key_id
from keel_verify.trust import ISSUER_KEY_PURPOSE

#: The window the sample trust root gives the sample issuer key.
SAMPLE_NOT_BEFORE = "2026-01-01T00:00:00Z"
SAMPLE_NOT_AFTER = "2031-01-01T00:00:00Z"
TEST_WARNING = ("TEST ONLY: these keys are derived from public seeds in keel-emit's source; "
                "they protect nothing. Never trust them for real artifacts.")


def trust_root_document(issuer_key: Ed25519PrivateKey, *, tsa_seed: bytes | None,
                        test_keys: bool = True, not_before: str = SAMPLE_NOT_BEFORE,
                        not_after: str = SAMPLE_NOT_AFTER) -> dict[str, Any]:
    """A trust root naming ``issuer_key`` and, with ``tsa_seed``, the test TSA's root."""
    document: dict[str, Any] = {
        "trust_root_version": 1,
        "description": (TEST_WARNING if test_keys else "keel-emit issuer key")
        + " Written by keel-emit trust-root.",
        "issuer_keys": [{
            "public_key": encoded_public_key(issuer_key),
            "key_id": fingerprint_key_id(issuer_key),
            "purpose": ISSUER_KEY_PURPOSE,
            "not_before": not_before,
            "not_after": not_after,
            "status": "active",
            "description": "keel-emit issuer key" + (" (TEST ONLY)" if test_keys else ""),
        }],
    }
    if tsa_seed is not None:
        from keel_verify.emit.tsa_authority import TestTimestampAuthority

        document["tsa_roots"] = [TestTimestampAuthority.from_seed(tsa_seed).root_pem()]
    return document
