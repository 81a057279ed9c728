"""Does a time-stamping authority vouch for a receipt, and anchored in what?

The cryptographic steps are :mod:`keel_verify.crypto.witness`'s; this module decides
with the caller's :class:`TrustPolicy`:

* the signer certificate may be found among the token's own certificates, the policy's
  helper certificates (``--tsa-certs``: RFC 3161 2.4.1 tokens made with certReq false
  carry none) or a TSA certificate the caller pinned as a root;
* the chain is built at genTime to one of the policy's TSA roots -- the only trust
  anchors -- through the token's certificates and the helpers, which never anchor;
* when the anchor belongs to a TSA trust bundle with a revocation rule
  (:mod:`keel_verify.trust.tsa_revocation`), that rule is applied; a stale snapshot
  gives "revocation not validated", never a verified witness.

A witness is VERIFIED only when every step holds and, where a rule applies, revocation
is validated; only then is its genTime an authenticated time.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from keel_verify.crypto.chain_memo import validate_chain_memoised
from keel_verify.crypto.rfc3161 import ReceiptTokens, TokenError, decode_receipt_token
from keel_verify.crypto.witness import (
    STEP_CHAIN,
    STEP_REVOCATION,
    STEP_STRUCTURE,
    TokenCheck,
    TokenFacts,
    check_token,
    iso_utc,
    shorten,
)
from keel_verify.load.access import Malformed, is_tagged_hash, parse_time
from keel_verify.load.receipts import MAX_RECEIPTS, collect_receipts, declares_degraded
from keel_verify.trust.policy import TrustPolicy
from keel_verify.trust.tsa_revocation import RevocationSnapshot, RevocationState, judge_revocation


class WitnessStatus(enum.Enum):
    VERIFIED = "verified"  # signed, valid, chained to a configured TSA root at genTime
    UNANCHORED = "unanchored"  # signed and valid, but no TSA root is configured
    REVOCATION_NOT_VALIDATED = "revocation_not_validated"  # anchored; the anchor's revocation rule unmet
    UNSIGNED = "unsigned"  # no SignerInfo: an unauthenticated claim that binds nothing
    INVALID = "invalid"  # a verification step failed


@dataclass(frozen=True)
class TokenVerification(TokenFacts):
    """What one token proves, and the facts a report shows about it."""

    status: WitnessStatus
    step: str | None = None  # the step that failed (INVALID only)
    problem: str | None = None
    root_subject: str | None = None  # the trust anchor the chain ended at
    root_sha256: str | None = None
    root_source: str | None = None  # the trust source that anchor came from
    chain_subjects: tuple[str, ...] = ()  # the validated path, TSA certificate first
    revocation: str | None = None  # what the anchor's revocation rule found, in words

    @property
    def reason(self) -> str:
        return f"{self.step}: {self.problem}" if self.step else (self.problem or "")


def _from_check(found: TokenCheck, status: WitnessStatus, **more: Any) -> TokenVerification:
    facts = {f.name: getattr(found, f.name) for f in fields(TokenFacts)}
    return TokenVerification(status, **facts, **more)


def _snapshot_for(
    anchor: x509.Certificate, snapshots: tuple[RevocationSnapshot, ...]
) -> RevocationSnapshot | None:
    return next((s for s in snapshots if s.applies_to(anchor)), None)


def verify_token(
    der: bytes,
    *,
    expected_digest: bytes | None,
    tsa_roots: tuple[x509.Certificate, ...] | list[x509.Certificate],
    tsa_certs: tuple[x509.Certificate, ...] = (),
    revocation: tuple[RevocationSnapshot, ...] = (),
    now: datetime | None = None,
    root_source: Callable[[x509.Certificate], str | None] | None = None,
    tokens: ReceiptTokens | None = None,
) -> TokenVerification:
    """Verify one DER TimeStampToken or TimeStampResp against the SHA-256
    ``expected_digest`` (None when the receipt names none), anchored in ``tsa_roots``,
    with ``tsa_certs`` as chain-building helpers and ``revocation`` rules judged at
    ``now`` (default: the clock); ``root_source`` names where an anchor came from;
    ``tokens`` parses each distinct token once. Never raises."""
    roots = tuple(tsa_roots)
    found = check_token(der, expected_digest=expected_digest, candidates=tsa_certs + roots,
                        tokens=tokens)
    if found.failed:
        return _from_check(found, WitnessStatus.INVALID, step=found.step, problem=found.problem)
    if not found.signed:
        return _from_check(found, WitnessStatus.UNSIGNED)
    if not roots or found.signer is None or found.gen_time is None:
        return _from_check(found, WitnessStatus.UNANCHORED)
    chain = validate_chain_memoised(found.signer, found.carried + tsa_certs, roots, found.gen_time)
    anchor = chain.anchor
    if anchor is None:
        return _from_check(found, WitnessStatus.INVALID, step=STEP_CHAIN, problem=chain.problem)
    anchored: dict[str, Any] = {
        "root_subject": anchor.subject.rfc4514_string(),
        "root_sha256": anchor.fingerprint(hashes.SHA256()).hex(),
        "root_source": root_source(anchor) if root_source is not None else None,
        "chain_subjects": tuple(c.subject.rfc4514_string() for c in chain.chain),
    }
    snapshot = _snapshot_for(anchor, revocation)
    if snapshot is None:
        return _from_check(found, WitnessStatus.VERIFIED, **anchored)
    judged = judge_revocation(chain.chain, found.gen_time, snapshot, now or datetime.now(UTC))
    if judged.state is RevocationState.REVOKED:
        return _from_check(
            found, WitnessStatus.INVALID, step=STEP_REVOCATION, problem=judged.reason,
            revocation=judged.reason, **anchored,
        )
    if judged.state is RevocationState.NOT_VALIDATED:
        return _from_check(
            found, WitnessStatus.REVOCATION_NOT_VALIDATED, problem=judged.reason,
            revocation=judged.reason, **anchored,
        )
    return _from_check(found, WitnessStatus.VERIFIED, revocation=judged.reason, **anchored)


# -- an artifact's receipts --------------------------------------------------------------


@dataclass(frozen=True)
class ReceiptWitness:
    pointer: str  # JSON Pointer of the receipt
    verification: TokenVerification
    received_at: datetime | None = None
    covers_sequence: int | None = None
    claimed_tsa: str | None = None  # the receipt's own "tsa" text (unauthenticated)

    @property
    def status(self) -> WitnessStatus:
        return self.verification.status


@dataclass(frozen=True)
class WitnessAssessment:
    """Every receipt's verification, computed once per artifact and shared by checks."""

    receipts: tuple[ReceiptWitness, ...]
    degraded_declared: bool
    roots_configured: bool
    roots_source: str | None = None
    structure_problem: tuple[str, str] | None = None  # (pointer, problem)
    helpers_source: str | None = None

    def with_status(self, status: WitnessStatus) -> tuple[ReceiptWitness, ...]:
        return tuple(r for r in self.receipts if r.status is status)

    @property
    def authenticated_time(self) -> datetime | None:
        """The latest genTime among fully verified tokens, or None.

        The issuer signature covers every receipt, so it was made after each of their
        genTimes: the latest verified one is the tightest authenticated time we have.
        """
        times = [
            r.verification.gen_time
            for r in self.with_status(WitnessStatus.VERIFIED)
            if r.verification.gen_time is not None
        ]
        return max(times) if times else None


def _expected_digest(request_hash: Any) -> bytes | None:
    if not is_tagged_hash(request_hash):
        return None
    return bytes.fromhex(str(request_hash).removeprefix("sha256:"))


def _witness_receipt(
    pointer: str,
    receipt: Any,
    trust: TrustPolicy,
    now: datetime,
    seen: dict[tuple[str, bytes | None], TokenVerification],
    tokens: ReceiptTokens,
) -> ReceiptWitness:
    if not isinstance(receipt, dict):
        return ReceiptWitness(
            pointer,
            TokenVerification(WitnessStatus.INVALID, STEP_STRUCTURE, "receipt is not an object"),
        )
    encoded = receipt.get("tsa_response_base64")
    expected = _expected_digest(receipt.get("request_hash"))
    key = (encoded, expected) if isinstance(encoded, str) else None
    if key is not None and key in seen:  # the same token listed twice is verified once
        verification = seen[key]
    else:
        try:
            der = decode_receipt_token(encoded)
        except TokenError as error:
            verification = TokenVerification(WitnessStatus.INVALID, STEP_STRUCTURE, str(error))
        else:
            verification = verify_token(
                der,
                expected_digest=expected,
                tsa_roots=trust.tsa_roots,
                tsa_certs=trust.tsa_certs,
                revocation=trust.tsa_revocation,
                now=now,
                root_source=trust.tsa_root_source,
                tokens=tokens,
            )
        if key is not None:
            seen[key] = verification
    sequence = receipt.get("covers_chain_head_at_sequence")
    claimed = receipt.get("tsa")
    return ReceiptWitness(
        pointer,
        verification,
        received_at=parse_time(receipt.get("received_at")),
        covers_sequence=sequence if type(sequence) is int else None,
        claimed_tsa=claimed if isinstance(claimed, str) else None,
    )


def assess_witnesses(
    document: dict[str, Any],
    trust: TrustPolicy,
    now: datetime | None = None,
    tokens: ReceiptTokens | None = None,
) -> WitnessAssessment:
    """Every receipt of ``document`` judged under ``trust``; ``now`` (default: the clock)
    judges the staleness of revocation snapshots, nothing else; ``tokens`` (the check
    context's) parses each distinct token once for every receipt check."""
    tokens = tokens or ReceiptTokens()
    degraded = declares_degraded(document)
    configured = bool(trust.tsa_roots)
    sources: dict[str, Any] = {
        "roots_source": trust.tsa_roots_source, "helpers_source": trust.tsa_certs_source,
    }
    try:
        receipts = collect_receipts(document)
    except Malformed as malformed:
        return WitnessAssessment(
            (), degraded, configured, structure_problem=(malformed.pointer, malformed.problem),
            **sources,
        )
    seen: dict[tuple[str, bytes | None], TokenVerification] = {}
    clock = now or datetime.now(UTC)
    witnessed = tuple(
        _witness_receipt(pointer, receipt, trust, clock, seen, tokens)
        for pointer, receipt in receipts
    )
    return WitnessAssessment(witnessed, degraded, configured, **sources)


def describe(receipt: ReceiptWitness) -> dict[str, Any]:
    """JSON-ready facts about one receipt's witness, for a report's details."""
    v = receipt.verification
    return {
        "pointer": receipt.pointer,
        "status": v.status.value,
        "failed_step": v.step,
        "problem": v.problem,
        "gen_time": iso_utc(v.gen_time) if v.gen_time else None,
        "gen_time_authenticated": v.status is WitnessStatus.VERIFIED,
        "accuracy_seconds": v.accuracy.total_seconds() if v.accuracy is not None else None,
        "policy_oid": shorten(v.policy_oid, 256) if v.policy_oid else None,
        "serial_number": format(v.serial_number, "x") if v.serial_number is not None else None,
        "tsa_subject": shorten(v.tsa_subject, 1024) if v.tsa_subject else None,
        "signer_certificate_sha256": v.signer_certificate_sha256,
        "root_subject": shorten(v.root_subject, 1024) if v.root_subject else None,
        "root_sha256": v.root_sha256,
        "root_source": v.root_source,
        "chain": [shorten(s, 1024) for s in v.chain_subjects],
        "revocation": v.revocation,
        "token_sha256": v.token_sha256,
        "claimed_tsa": receipt.claimed_tsa,
    }


__all__ = [
    "MAX_RECEIPTS",
    "ReceiptWitness",
    "TokenVerification",
    "WitnessAssessment",
    "WitnessStatus",
    "assess_witnesses",
    "describe",
    "verify_token",
]
