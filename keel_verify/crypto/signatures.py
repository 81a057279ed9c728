"""Issuer signatures (SPEC A.4) judged against a trust policy (SPEC B.1).

A signature entry is *valid* when its Ed25519 signature verifies over the artifact's
unsigned canonical bytes and its ``content_hash`` names those bytes. It is *trusted* when,
in addition, its key is in the trust policy with a fitting purpose, inside its validity
window and not revoked at the signing time -- or when the caller accepts self-attested
keys. Key ids are labels only: trust is decided by the public key bytes.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from keel_verify.crypto.ed25519 import (
    Ed25519KeyError,
    decode_public_key,
    signature_scalar_in_range,
    verify,
)
from keel_verify.load.access import parse_time
from keel_verify.load.chainpass import ChainPass
from keel_verify.load.loader import Artifact
from keel_verify.trust import ED25519_PREFIX, TrustedKey, TrustPolicy

SELF_ATTESTED = "self-attested"

# Kinds of trust problem, strictest first: they become issuer_signature's reason codes.
KEY_REVOKED = "key_revoked"
KEY_EXPIRED = "key_expired"
KEY_NOT_YET_VALID = "key_not_yet_valid"
KEY_PURPOSE_MISMATCH = "key_purpose_mismatch"
KEY_NO_SIGNING_TIME = "key_no_signing_time"
KEY_PROBLEM_ORDER = (KEY_REVOKED, KEY_EXPIRED, KEY_NOT_YET_VALID, KEY_PURPOSE_MISMATCH, KEY_NO_SIGNING_TIME)
ISSUED_AT_BASIS = "issued_at (signed by the issuer, not independently witnessed)"


@dataclass(frozen=True)
class SignatureFinding:
    index: int
    key_id: str | None
    public_key: str | None
    raw_public_key: bytes | None
    valid: bool
    problem: str | None  # why it is not valid
    trusted_key: TrustedKey | None  # the policy entry that vouches for it, if any
    trust_problem: str | None  # why a matching policy entry does not vouch for it
    trust_note: str | None = None  # e.g. "revoked later, at ..."
    # Which kind of trust problem (a KEY_* constant below); the strictest when several
    # trusted entries match the key and each refuses for its own reason.
    trust_problem_kind: str | None = None

    @property
    def pointer(self) -> str:
        return f"/signatures/{self.index}"


@dataclass(frozen=True)
class SignatureAssessment:
    findings: tuple[SignatureFinding, ...]
    time_basis: str  # which time judged key windows, in words
    self_attested_accepted: bool
    structure_problem: str | None = None  # "signatures" missing or not an array

    @property
    def valid(self) -> tuple[SignatureFinding, ...]:
        return tuple(f for f in self.findings if f.valid)

    @property
    def trusted(self) -> tuple[SignatureFinding, ...]:
        return tuple(f for f in self.findings if f.valid and f.trusted_key is not None)

    @property
    def invalid(self) -> tuple[SignatureFinding, ...]:
        return tuple(f for f in self.findings if not f.valid)

    @property
    def vouched(self) -> bool:
        """A trusted key (or, when accepted, the embedded key) validly signed the artifact."""
        return bool(self.trusted) or (self.self_attested_accepted and bool(self.valid))

    @property
    def primary(self) -> SignatureFinding | None:
        """The signature a report names: trusted first, then any valid one, then the first."""
        for group in (self.trusted, self.valid, self.findings):
            if group:
                return group[0]
        return None


def _decode_prefixed(value: Any, expected_len: int, what: str) -> tuple[bytes | None, str | None]:
    if not isinstance(value, str) or not value.startswith(ED25519_PREFIX):
        return None, f"{what} is not an 'ed25519:BASE64' string"
    try:
        raw = base64.b64decode(value[len(ED25519_PREFIX) :], validate=True)
    except (binascii.Error, ValueError):
        return None, f"{what} is not valid base64"
    if len(raw) != expected_len:
        return None, f"{what} is {len(raw)} bytes, expected {expected_len}"
    return raw, None


def _verify_entry(
    entry: Any, message: bytes | bytearray, content_hash: str
) -> tuple[bytes | None, str | None]:
    """Returns (raw public key, problem); problem None means the signature is valid."""
    if not isinstance(entry, dict):
        return None, "signature entry is not an object"
    if entry.get("algorithm") != "ed25519":
        return None, f"unsupported algorithm {entry.get('algorithm')!r:.60}"
    raw_key, problem = _decode_prefixed(entry.get("public_key"), 32, "public_key")
    if problem:
        return None, problem
    raw_signature, problem = _decode_prefixed(entry.get("signature"), 64, "signature")
    if problem or raw_key is None or raw_signature is None:
        return raw_key, problem
    if entry.get("content_hash") != content_hash:
        return raw_key, (
            f"content_hash {entry.get('content_hash')!r:.80} does not name the signed content "
            f"({content_hash})"
        )
    try:
        decode_public_key(raw_key)
    except Ed25519KeyError as error:
        return raw_key, f"public_key {error}"
    if not signature_scalar_in_range(raw_signature):
        return raw_key, "signature's S is not below the group order L (RFC 8032 5.1.7)"
    if not verify(raw_key, raw_signature, message):
        return raw_key, "Ed25519 signature does not verify over the artifact's canonical bytes"
    return raw_key, None


def _judge_key(
    key: TrustedKey, purpose: Any, at: datetime | None
) -> tuple[tuple[str, str] | None, str | None]:
    """((kind, problem) or None, note) for a trusted key used at time ``at`` with
    signature purpose ``purpose``; ``kind`` is one of the KEY_* constants."""
    if purpose != key.purpose:
        return (KEY_PURPOSE_MISMATCH,
                f"key purpose {purpose!r} does not fit the trusted purpose {key.purpose!r}"), None
    windowed = key.not_before or key.not_after or key.revoked_at or key.status == "revoked"
    if at is None:
        if windowed:
            return (KEY_NO_SIGNING_TIME, "no usable signing time to judge the key's validity window"), None
        return None, None
    if key.not_before and at < key.not_before:
        return (KEY_NOT_YET_VALID,
                f"signed at {at.isoformat()} before the key is valid ({key.not_before.isoformat()})"), None
    if key.not_after and at > key.not_after:
        return (KEY_EXPIRED,
                f"signed at {at.isoformat()} after the key expired ({key.not_after.isoformat()})"), None
    if key.status == "revoked" and key.revoked_at is None:
        return (KEY_REVOKED, "key is revoked"), None
    if key.revoked_at is not None:
        if key.revoked_at <= at:
            return (KEY_REVOKED,
                    f"key was revoked at {key.revoked_at.isoformat()}, at or before signing"), None
        return None, f"key was revoked later, at {key.revoked_at.isoformat()}"
    return None, None


def assess_signatures(
    artifact: Artifact,
    chain_pass: ChainPass,
    trust: TrustPolicy,
    authenticated_time: datetime | None,
) -> SignatureAssessment:
    """Judge ``signatures[]`` over the signed message the chain pass built."""
    entries = artifact.document.get("signatures")
    if not isinstance(entries, list):
        return SignatureAssessment((), "none", trust.self_attested, "\"signatures\" is not an array")
    message = chain_pass.message
    content_hash = chain_pass.content_hash
    findings: list[SignatureFinding] = []
    # The time a key's validity window is judged at. Never a signature entry's own
    # signed_at: "signatures" is outside the signed bytes, so anyone can rewrite it.
    # Without a witnessed genTime, issued_at is used: the issuer's own claim, but covered
    # by the signature, so nobody else can move it.
    if authenticated_time is not None:
        shown = authenticated_time.isoformat().replace("+00:00", "Z")
        basis = f"witnessed genTime {shown} (authenticated)"
        signing_time: datetime | None = authenticated_time
    else:
        basis = ISSUED_AT_BASIS
        signing_time = parse_time(artifact.document.get("issued_at"))
    for index, entry in enumerate(entries):
        raw_key, problem = _verify_entry(entry, message, content_hash)
        fields = entry if isinstance(entry, dict) else {}
        trusted_key: TrustedKey | None = None
        trust_problem: str | None = None
        trust_problem_kind: str | None = None
        note: str | None = None
        if raw_key is not None and problem is None:
            candidates = trust.keys_matching(raw_key)
            problems: list[tuple[str, str]] = []
            for candidate in candidates:
                candidate_problem, candidate_note = _judge_key(
                    candidate, fields.get("key_purpose"), signing_time
                )
                if candidate_problem is None:
                    trusted_key, note = candidate, candidate_note
                    break
                problems.append(candidate_problem)
            if trusted_key is None and problems:
                trust_problem = "; ".join(text for _, text in problems)
                trust_problem_kind = min((kind for kind, _ in problems), key=KEY_PROBLEM_ORDER.index)
            if note:
                # Neither time bounds the signing from above: signed_at is the artifact's
                # own claim, and the signature covers the witnessed receipt, so it was
                # made at or after genTime. A later revocation is reported, not cleared.
                note += (
                    "; the witnessed genTime shows only that the signature is not older, "
                    if authenticated_time is not None
                    else "; judged at the artifact's issued_at, which no witness confirms, "
                ) + "so signing after the revocation is not ruled out"
        key_id = fields.get("key_id")
        public_key = fields.get("public_key")
        findings.append(
            SignatureFinding(
                index=index,
                key_id=key_id if isinstance(key_id, str) else None,
                public_key=public_key if isinstance(public_key, str) else None,
                raw_public_key=raw_key,
                valid=problem is None,
                problem=problem,
                trusted_key=trusted_key,
                trust_problem=trust_problem,
                trust_note=note,
                trust_problem_kind=trust_problem_kind,
            )
        )
    return SignatureAssessment(tuple(findings), basis, trust.self_attested)
