"""Who signed an artifact, and whether the caller's trust policy vouches for it.

Joins what :mod:`keel_verify.crypto.signatures` verified with what
:mod:`keel_verify.trust.key_decision` decides about each verified key. Pure: no I/O.

Trust basis of a result, in the report's words (:data:`TRUST_BASES`):
``trust-root`` (a trust-root file or Keel manifest vouches), ``pinned`` (``--public-key``
or :meth:`TrustPolicy.pinned`), ``self-attested`` (only the artifact's own key, accepted
with ``--self-attested``), ``none`` (nothing vouches).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from functools import cached_property
from typing import Any

from keel_verify.crypto.signatures import SignatureEntry, StreamedMessage, VerifiedEntries
from keel_verify.lazy_sequence import LazySequence
from keel_verify.load.access import parse_time
from keel_verify.results import signer_name
from keel_verify.trust.key_decision import KeyDecision, SigningTimes, Standing, decide_key
from keel_verify.trust.policy import TrustedKey, TrustPolicy

SELF_ATTESTED = "self-attested"
TRUST_ROOT = "trust-root"
PINNED = "pinned"
NONE = "none"
TRUST_BASES = (TRUST_ROOT, PINNED, SELF_ATTESTED, NONE)

ISSUED_AT_BASIS = "issued_at (signed by the issuer, not independently witnessed)"


def witnessed_basis(at: datetime) -> str:
    return f"witnessed genTime {at.isoformat().replace('+00:00', 'Z')} (authenticated)"


@dataclass(frozen=True)
class SignatureFinding:
    """One verified ``signatures[]`` entry and the policy's decision about its key."""

    entry: SignatureEntry
    decision: KeyDecision

    @property
    def index(self) -> int:
        return self.entry.index

    @property
    def pointer(self) -> str:
        return self.entry.pointer

    @property
    def valid(self) -> bool:
        return self.entry.valid

    @property
    def problem(self) -> str | None:
        return self.entry.problem

    @property
    def key_id(self) -> str | None:
        """The entry's own ``key_id``: an unverified claim, never a name for the signer."""
        return self.entry.key_id

    @property
    def public_key(self) -> str | None:
        return self.entry.public_key

    @property
    def raw_public_key(self) -> bytes | None:
        return self.entry.raw_public_key

    @property
    def fingerprint(self) -> str | None:
        return self.entry.fingerprint

    @property
    def trusted_key(self) -> TrustedKey | None:
        """The policy statement that vouches (valid signatures only)."""
        return self.decision.grant if self.valid and self.decision.standing.vouches else None

    @property
    def refused(self) -> bool:
        """The policy speaks about this key and forbids it: never counted, not even
        with --self-attested."""
        return self.decision.standing is Standing.REFUSES

    @property
    def trust_problem(self) -> str | None:
        return self.decision.problem

    @property
    def trust_caveat(self) -> str | None:
        return self.decision.caveat

    @property
    def trust_note(self) -> str | None:
        return "; ".join(self.decision.notes) or None

    @property
    def label(self) -> str | None:
        """The trust policy's label for the key (never the artifact's key_id)."""
        grant = self.trusted_key
        return grant.label if grant is not None else None

    @property
    def trust_basis(self) -> str:
        if self.trusted_key is not None:
            return PINNED if self.trusted_key.pinned else TRUST_ROOT
        return NONE

    def signer_name(self) -> str:
        """How reports name this signer (:func:`keel_verify.results.signer_name`)."""
        return signer_name(self.fingerprint or f"signatures[{self.index}]", self.label,
                           self.key_id)


class Findings(LazySequence[SignatureFinding]):
    """Every ``signatures[]`` entry's finding, in entry order, each built when first asked
    for (a file may carry 100,000 junk entries; a report lists 50 of them).

    :attr:`notable` holds, built at once, every finding that can matter beyond its own
    line: those whose key the policy names and those that reached the Ed25519 check
    (:class:`keel_verify.crypto.signatures.VerifiedEntries`). Any other finding is an
    entry that does not verify, by a key the policy says nothing about."""

    def __init__(self, entries: VerifiedEntries | None = None, trust: TrustPolicy | None = None,
                 times: SigningTimes | None = None) -> None:
        self._entries: Sequence[SignatureEntry] = entries if entries is not None else ()
        super().__init__(len(self._entries))
        self._trust, self._times = trust, times
        checked = entries.checked if entries is not None else ()
        self.notable: tuple[SignatureFinding, ...] = tuple(self[index] for index in checked)

    def _build(self, index: int) -> SignatureFinding:
        assert self._trust is not None and self._times is not None  # else there is no entry
        return _finding(self._entries[index], self._trust, self._times)


def _finding(entry: SignatureEntry, trust: TrustPolicy, times: SigningTimes) -> SignatureFinding:
    statements = (
        trust.keys_matching(entry.raw_public_key) if entry.raw_public_key is not None else ()
    )
    if statements and entry.key_fault is not None:
        entry = _trusted_key_refused(entry, statements)
    return SignatureFinding(entry, decide_key(statements, times))


@dataclass(frozen=True)
class SignatureAssessment:
    """Every signature entry's finding; each group below is computed once (a file may carry
    100,000 junk entries, and the checks and reports ask for the groups many times)."""

    findings: Findings
    time_basis: str  # which time judged key windows, in words
    self_attested_accepted: bool
    structure_problem: str | None = None  # "signatures" missing or not an array

    @cached_property
    def valid(self) -> tuple[SignatureFinding, ...]:
        return tuple(f for f in self.findings.notable if f.valid)

    @cached_property
    def named(self) -> tuple[SignatureFinding, ...]:
        """Signatures by keys the policy makes a statement about, valid or not."""
        return tuple(f for f in self.findings.notable if f.decision.statements)

    @cached_property
    def trusted(self) -> tuple[SignatureFinding, ...]:
        """Valid signatures a policy statement vouches for; proven ones first."""
        vouched = [f for f in self.findings.notable if f.trusted_key is not None]
        vouched.sort(key=lambda f: f.decision.standing is not Standing.VOUCHES)
        return tuple(vouched)

    @cached_property
    def self_attested(self) -> tuple[SignatureFinding, ...]:
        """Valid signatures by keys the policy says nothing about."""
        return tuple(f for f in self.valid if f.decision.standing is Standing.SILENT)

    @cached_property
    def invalid(self) -> tuple[SignatureFinding, ...]:
        return tuple(f for f in self.findings if not f.valid)

    @cached_property
    def vouched(self) -> bool:
        """A trusted key (or, when accepted, an embedded key the policy does not refuse)
        validly signed the artifact."""
        return bool(self.trusted) or (self.self_attested_accepted and bool(self.self_attested))

    @cached_property
    def trust_basis(self) -> str:
        if self.trusted:
            return self.trusted[0].trust_basis
        if self.self_attested_accepted and self.self_attested:
            return SELF_ATTESTED
        return NONE

    @cached_property
    def primary(self) -> SignatureFinding | None:
        """The signature a report names: trusted first, then a self-attested one, then a
        refused valid one, then the first."""
        for group in (self.trusted, self.self_attested, self.valid, self.findings):
            if group:
                return group[0]
        return None


def signing_times(
    document: dict[str, Any], authenticated_time: datetime | None, verified_at: datetime
) -> SigningTimes:
    """The bounds on the signing time (never a signature entry's own ``signed_at``)."""
    return SigningTimes(authenticated_time, parse_time(document.get("issued_at")), verified_at)


def assess_signatures(
    document: dict[str, Any],
    message: bytes | bytearray | StreamedMessage,
    content_hash: str,
    trust: TrustPolicy,
    times: SigningTimes,
) -> SignatureAssessment:
    """Verify ``signatures[]`` over ``message`` and decide each key under ``trust``."""
    basis = witnessed_basis(times.witnessed) if times.witnessed is not None else ISSUED_AT_BASIS
    entries = document.get("signatures")
    if not isinstance(entries, list):
        return SignatureAssessment(Findings(), NONE, trust.self_attested,
                                   "\"signatures\" is not an array")
    verified = VerifiedEntries(entries, message, content_hash, trust.issuer_key_bytes)
    return SignatureAssessment(Findings(verified, trust, times), basis, trust.self_attested)


def _trusted_key_refused(entry: SignatureEntry, statements: tuple[TrustedKey, ...]) -> SignatureEntry:
    """``entry`` whose key a trust source lists but strict decoding refused on its first
    use (the one fault not judged when trust sources load: not a point on the curve)."""
    sources = "; ".join(dict.fromkeys(statement.source for statement in statements))
    return replace(entry, problem=(
        f"the trusted key {entry.fingerprint} ({sources}) {entry.key_fault} (RFC 8032 5.1.3, "
        "checked when a key is first used): it can verify nothing"))
