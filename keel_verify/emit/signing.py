"""Issuer-side signing (docs/format.md §4): used by the emitter, and by tests that tamper with an
artifact and re-sign it. Verification lives in :mod:`keel_verify.crypto.signatures`."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from keel_verify.crypto.canonical import canonical_bytes, tagged_sha256
from keel_verify.trust import ED25519_PREFIX, ISSUER_KEY_PURPOSE, format_ed25519_public_key


def ed25519_key_from_seed(seed: bytes) -> Ed25519PrivateKey:
    """A deterministic key: the 32-byte seed is SHA-256 of ``seed`` (any length)."""
    return Ed25519PrivateKey.from_private_bytes(hashlib.sha256(seed).digest())


def raw_public_key(private_key: Ed25519PrivateKey) -> bytes:
    return private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def encoded_public_key(private_key: Ed25519PrivateKey) -> str:
    return format_ed25519_public_key(raw_public_key(private_key))


def fingerprint_key_id(private_key: Ed25519PrivateKey) -> str:
    """The v1 sample's key id convention: "sha256:" + first 32 hex of SHA-256(raw key)."""
    return "sha256:" + hashlib.sha256(raw_public_key(private_key)).hexdigest()[:32]


def signature_entry(
    document: dict[str, Any],
    private_key: Ed25519PrivateKey,
    *,
    signed_at: str,
    key_id: str | None = None,
    key_purpose: str = ISSUER_KEY_PURPOSE,
) -> dict[str, Any]:
    """A ``signatures[]`` entry over ``C(document without "signatures")``."""
    message = canonical_bytes({k: v for k, v in document.items() if k != "signatures"})
    return signature_over(message, private_key, signed_at=signed_at, key_id=key_id,
                          key_purpose=key_purpose)


def signature_over(
    message: bytes,
    private_key: Ed25519PrivateKey,
    *,
    signed_at: str,
    key_id: str | None = None,
    key_purpose: str = ISSUER_KEY_PURPOSE,
) -> dict[str, Any]:
    """A ``signatures[]`` entry over ``message``, the canonical bytes of the document
    without its ``signatures`` member (RFC 8032 Ed25519)."""
    signature = private_key.sign(message)
    return {
        "algorithm": "ed25519",
        "content_hash": tagged_sha256(message),
        "key_id": key_id or fingerprint_key_id(private_key),
        "key_purpose": key_purpose,
        "public_key": encoded_public_key(private_key),
        "signature": ED25519_PREFIX + base64.b64encode(signature).decode("ascii"),
        "signed_at": signed_at,
    }


def sign_document(
    document: dict[str, Any],
    private_key: Ed25519PrivateKey,
    *,
    signed_at: str,
    key_id: str | None = None,
    key_purpose: str = ISSUER_KEY_PURPOSE,
) -> dict[str, Any]:
    """A copy of ``document`` whose ``signatures`` is exactly one fresh signature."""
    signed = {k: v for k, v in document.items() if k != "signatures"}
    signed["signatures"] = [
        signature_entry(signed, private_key, signed_at=signed_at, key_id=key_id,
                        key_purpose=key_purpose)
    ]
    return signed
