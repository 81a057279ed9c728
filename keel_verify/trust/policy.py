"""Trust policy: which issuer keys and TSA roots vouch for an artifact.

This is the trust boundary. Nothing inside an artifact can add to a policy: a key found
only in the artifact is "self-attested" and is trusted only if the caller explicitly
accepts that (``self_attested=True``), in which case the report says that the origin is
unproven.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING

from keel_verify.crypto.ed25519 import (
    ED25519_PREFIX,
    PUBLIC_KEY_BYTES,
    Ed25519KeyError,
    decode_public_key,
)
from keel_verify.crypto.signatures import decode_prefixed
from keel_verify.errors import TrustConfigError

if TYPE_CHECKING:  # cryptography.x509 is imported only when TSA roots are actually used
    from cryptography import x509

    from keel_verify.trust.tsa_revocation import RevocationSnapshot

TRUST_ROOT_ENV = "KEEL_VERIFY_TRUST_ROOT"
ISSUER_KEY_PURPOSE = "export_signing"


def parse_ed25519_public_key(text: str) -> bytes:
    """``"ed25519:" + base64(32 raw bytes)`` -> the raw key.

    Raises TrustConfigError (one line) unless the bytes are a real Ed25519 public key:
    32 bytes, canonically encoded, on the curve, not of small order (RFC 8032 §5.1.3;
    :func:`keel_verify.crypto.ed25519.decode_public_key`).
    """
    raw, problem = decode_prefixed(text, PUBLIC_KEY_BYTES, "public key")
    if raw is None:
        raise TrustConfigError(f"{problem}, got {text!r:.60}")
    try:
        decode_public_key(raw)  # RFC 8032 5.1.3 strictly; small-order points are no keys
    except Ed25519KeyError as error:
        raise TrustConfigError(f"public key {text!r:.60} {error}") from None
    return raw


def format_ed25519_public_key(raw: bytes) -> str:
    return ED25519_PREFIX + base64.b64encode(raw).decode("ascii")


@dataclass(frozen=True)
class TrustedKey:
    """An issuer key the caller trusts, with the conditions of that trust."""

    public_key: bytes  # raw 32-byte Ed25519 key
    source: str  # where the trust came from, in words: "--public-key", "trust root X, issuer_keys[0]"
    label: str | None = None
    purpose: str = ISSUER_KEY_PURPOSE
    not_before: datetime | None = None
    not_after: datetime | None = None
    revoked_at: datetime | None = None
    status: str = "active"  # "active", "revoked" or (Keel manifests) "retired"
    pinned: bool = False  # given as a bare key (--public-key), not by a trust-root file

    @property
    def encoded(self) -> str:
        return format_ed25519_public_key(self.public_key)


@dataclass(frozen=True)
class TrustPolicy:
    """What the caller trusts. The default trusts nothing (verdicts are then UNTRUSTED)."""

    issuer_keys: tuple[TrustedKey, ...] = ()
    self_attested: bool = False
    tsa_roots: tuple[x509.Certificate, ...] = ()
    tsa_roots_source: str | None = None
    strict: bool = False
    # Certificates that help build a TSA chain (the TSA certificate of a token made with
    # certReq false, intermediates): never trust anchors (--tsa-certs, RFC 3161 2.4.1).
    tsa_certs: tuple[x509.Certificate, ...] = ()
    tsa_certs_source: str | None = None
    # Revocation rules of TSA trust bundles, each for the chains ending at its anchors.
    tsa_revocation: tuple[RevocationSnapshot, ...] = ()
    # What loading the trust sources established, in words (e.g. a verified manifest signature).
    notes: tuple[str, ...] = ()
    # Where each of tsa_roots came from (same order), so a report names the source of the
    # anchor a chain really ended at; empty when the policy was built by hand.
    tsa_root_sources: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.self_attested and self.issuer_keys:
            raise TrustConfigError(
                "self_attested conflicts with trusted issuer keys: accept the artifact's own "
                "key or trust the listed keys, not both"
            )

    @classmethod
    def self_attested_only(cls, *, strict: bool = False) -> TrustPolicy:
        return cls(self_attested=True, strict=strict)

    @classmethod
    def pinned(cls, *public_keys: str, strict: bool = False) -> TrustPolicy:
        keys = tuple(
            TrustedKey(public_key=parse_ed25519_public_key(k), source="pinned key (--public-key)",
                       pinned=True)
            for k in public_keys
        )
        return cls(issuer_keys=keys, strict=strict)

    @property
    def has_issuer_trust_source(self) -> bool:
        return bool(self.issuer_keys)

    def keys_matching(self, raw_public_key: bytes) -> tuple[TrustedKey, ...]:
        """Every statement about this raw key, in policy order (one dict lookup: a trust
        root of 100,000 keys costs no more per signature than one of a single key)."""
        return self._keys_by_bytes.get(raw_public_key, ())

    @cached_property
    def _keys_by_bytes(self) -> dict[bytes, tuple[TrustedKey, ...]]:
        index: dict[bytes, list[TrustedKey]] = {}
        for key in self.issuer_keys:
            index.setdefault(key.public_key, []).append(key)
        return {raw: tuple(keys) for raw, keys in index.items()}

    def tsa_root_source(self, anchor: x509.Certificate) -> str | None:
        """Where the TSA root ``anchor`` came from (all sources when not recorded)."""
        if len(self.tsa_root_sources) == len(self.tsa_roots):
            for root, source in zip(self.tsa_roots, self.tsa_root_sources, strict=True):
                if root == anchor:
                    return source
        return self.tsa_roots_source


def environment_trust_root_path(environ: Mapping[str, str] = os.environ) -> str | None:
    """``$KEEL_VERIFY_TRUST_ROOT`` (None when unset or empty). It applies beside
    ``--trust-root``: statements from both files hold, and the strictest wins."""
    return environ.get(TRUST_ROOT_ENV) or None
