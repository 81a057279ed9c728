"""Whether an issuer key vouches for an artifact, and on what time: pure functions.

Inputs are the caller's statements about the key (every :class:`TrustedKey` of the trust
policy with the same 32 key bytes, from whatever source) and the times that bound the
signing. Nothing from the artifact's unsigned members is an input: not ``key_id``, not
``key_purpose``, not ``signed_at``.

The rules (also the README's "Trust" section):

* **Keyed by bytes; the strictest statement wins.** Every statement about the same key
  bytes applies: any revocation, the latest ``not_before``, the earliest ``not_after``.
  Listing a key twice, or pinning it with ``--public-key`` beside a trust root that
  revokes it, never lifts a restriction.
* **Purpose comes from the policy.** The key vouches for an attestation only if some
  statement grants it :data:`ISSUER_KEY_PURPOSE`; the artifact's ``key_purpose`` claim is
  ignored.
* **Times that bound the signing.** A witnessed, authenticated genTime is a LOWER bound
  (the signature covers the receipt); the verification time is an UPPER bound (the
  artifact exists now); ``issued_at`` is the issuer's own claim and bounds nothing.
  - Revoked: refused, unless the revocation lies after the verification time (scheduled):
    nothing in the artifact proves that the signature predates a past revocation.
  - ``not_after`` after the verification time: the window is still open, fine. Before it:
    refused when the genTime (or even ``issued_at``) lies after it; otherwise the key
    vouches only on the issuer's claim, which the check reports as a warning.
  - ``not_before``: refused when the verification time (or ``issued_at``) lies before it;
    proven when the genTime lies at or after it, else judged on ``issued_at``.
  - ``retired`` (Keel manifests): the key no longer signs; with no ``not_after`` the
    retirement time is unknown, so signing before it rests on the claim (a warning).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property

from keel_verify.trust.policy import ISSUER_KEY_PURPOSE, TrustedKey

# Reason kinds, strictest first; the issuer_signature check names them as reason codes.
KEY_REVOKED = "key_revoked"
KEY_EXPIRED = "key_expired"
KEY_NOT_YET_VALID = "key_not_yet_valid"
KEY_PURPOSE_MISMATCH = "key_purpose_mismatch"
KEY_NO_SIGNING_TIME = "key_no_signing_time"
KEY_STATUS_UNKNOWN = "key_status_unknown"
KEY_WINDOW_ON_CLAIM = "key_window_on_claim"  # vouches, but only on issued_at (a warning)

ACTIVE = "active"
REVOKED = "revoked"
RETIRED = "retired"


def _shown(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class SigningTimes:
    """What is known about when the artifact was signed.

    ``witnessed``: an authenticated RFC 3161 genTime over the chain head the signature
    covers: the signing happened at or after it (a lower bound), or None.
    ``claimed``: the signed ``issued_at``: the issuer's own claim, bounds nothing.
    ``verified_at``: the verification time: the signing happened before it (an upper bound).
    """

    witnessed: datetime | None
    claimed: datetime | None
    verified_at: datetime


class Standing(enum.Enum):
    VOUCHES = "vouches"  # proven on times that bound the signing
    VOUCHES_ON_CLAIM = "vouches-on-claim"  # only the issuer's issued_at keeps it in window
    REFUSES = "refuses"  # a statement about these bytes forbids it
    SILENT = "silent"  # the policy says nothing about these bytes

    @property
    def vouches(self) -> bool:
        return self in (Standing.VOUCHES, Standing.VOUCHES_ON_CLAIM)


@dataclass(frozen=True)
class KeyDecision:
    standing: Standing
    statements: tuple[TrustedKey, ...] = ()  # every policy statement about the key bytes
    grant: TrustedKey | None = None  # the statement granting the purpose (label, source)
    kind: str | None = None  # one of the KEY_* kinds when refused or on claim
    problem: str | None = None  # why refused
    caveat: str | None = None  # why it vouches only on the issuer's claim
    notes: tuple[str, ...] = ()

    @cached_property
    def sources(self) -> str:
        """Every source that made a statement about the key, in words."""
        return "; ".join(dict.fromkeys(statement.source for statement in self.statements))


_SILENT = KeyDecision(Standing.SILENT)


def _is_revoked(statement: TrustedKey) -> bool:
    return statement.status == REVOKED or statement.revoked_at is not None


def _revocation(
    statements: tuple[TrustedKey, ...], times: SigningTimes
) -> tuple[str | None, str | None]:
    """(problem, note) from every revocation of the key bytes."""
    revocations = [s for s in statements if _is_revoked(s)]
    if not revocations:
        return None, None
    undated = [s for s in revocations if s.revoked_at is None]
    if undated:
        return f"key is revoked ({undated[0].source})", None
    first = min(revocations, key=lambda s: s.revoked_at or times.verified_at)
    assert first.revoked_at is not None
    at = _shown(first.revoked_at)
    if first.revoked_at > times.verified_at:
        return None, f"key is scheduled for revocation at {at} ({first.source})"
    if times.witnessed is not None and times.witnessed >= first.revoked_at:
        return (
            f"key was revoked at {at} ({first.source}), and the witnessed genTime "
            f"{_shown(times.witnessed)} shows the signature was made after that"
        ), None
    return (
        f"key was revoked at {at} ({first.source}); nothing in the artifact proves the "
        "signature predates the revocation (issued_at and signed_at are the issuer's own claims)"
    ), None


def _not_before(bound: datetime, source: str, times: SigningTimes) -> tuple[str | None, str | None]:
    """(kind, problem) for the latest not_before."""
    at = _shown(bound)
    if times.witnessed is not None and times.witnessed >= bound:
        return None, None
    if times.verified_at < bound:
        return KEY_NOT_YET_VALID, f"key is not valid before {at} ({source}), later than now"
    if times.claimed is None:
        return KEY_NO_SIGNING_TIME, f"no usable signing time to judge the key's not_before {at}"
    if times.claimed < bound:
        return KEY_NOT_YET_VALID, (
            f"issued_at {_shown(times.claimed)} is before the key is valid ({at}, {source})"
        )
    return None, None


def _not_after(
    bound: datetime | None, source: str, retired: bool, times: SigningTimes
) -> tuple[str | None, str | None]:
    """(kind, problem or caveat) for the earliest not_after (None: open), or retirement."""
    if bound is not None:
        at = _shown(bound)
        if times.witnessed is not None and times.witnessed > bound:
            return KEY_EXPIRED, (
                f"key expired at {at} ({source}), before the witnessed genTime "
                f"{_shown(times.witnessed)}: the signature was made after that"
            )
        if times.verified_at <= bound:
            return None, None  # still open now, and the signing happened before now
        if times.claimed is None:
            return KEY_NO_SIGNING_TIME, f"no usable signing time to judge the key's not_after {at}"
        if times.claimed > bound:
            return KEY_EXPIRED, (
                f"issued_at {_shown(times.claimed)} is after the key expired ({at}, {source})"
            )
        return KEY_WINDOW_ON_CLAIM, (
            f"the key's window closed at {at} ({source}); that it signed before then rests "
            f"only on issued_at {_shown(times.claimed)}, the issuer's own claim: no witness "
            "bounds the signing from above"
        )
    if retired:
        claimed = f" {_shown(times.claimed)}" if times.claimed is not None else ""
        return KEY_WINDOW_ON_CLAIM, (
            f"the key is retired ({source}) with no recorded end; that it signed before its "
            f"retirement rests only on issued_at{claimed}, the issuer's own claim"
        )
    return None, None


def decide_key(
    statements: tuple[TrustedKey, ...],
    times: SigningTimes,
    purpose: str = ISSUER_KEY_PURPOSE,
) -> KeyDecision:
    """Whether the policy's ``statements`` about one key's bytes let it vouch for a
    signature made for ``purpose`` at a time bounded by ``times`` (see the module doc)."""
    if not statements:
        return _SILENT  # one value for every key the policy says nothing about

    def refused(kind: str, problem: str, notes: tuple[str, ...] = ()) -> KeyDecision:
        return KeyDecision(Standing.REFUSES, statements, None, kind, problem, None, notes)

    unknown = [s for s in statements if s.status not in (ACTIVE, REVOKED, RETIRED)]
    if unknown:
        return refused(KEY_STATUS_UNKNOWN, f"key has unknown status {unknown[0].status!r:.40} "
                                           f"({unknown[0].source})")
    problem, note = _revocation(statements, times)
    if problem is not None:
        return refused(KEY_REVOKED, problem)
    notes = (note,) if note else ()
    # A trust file's grant names the key (its label) better than a bare pinned key.
    grants = sorted((s for s in statements if s.purpose == purpose), key=lambda s: s.pinned)
    if not grants:
        listed = ", ".join(sorted({repr(s.purpose) for s in statements}))
        return refused(KEY_PURPOSE_MISMATCH, (
            f"key is trusted only for purpose {listed} ({statements[0].source}), "
            f"not for signing attestations ({purpose!r})"
        ), notes)
    starts = [s for s in statements if s.not_before is not None]
    if starts:
        latest = max(starts, key=lambda s: s.not_before or times.verified_at)
        assert latest.not_before is not None
        kind, problem = _not_before(latest.not_before, latest.source, times)
        if kind is not None and problem is not None:
            return refused(kind, problem, notes)
    ends = [s for s in statements if s.not_after is not None]
    earliest = min(ends, key=lambda s: s.not_after or times.verified_at) if ends else None
    retired = [s for s in statements if s.status == RETIRED]
    end_source = earliest.source if earliest else retired[0].source if retired else ""
    kind, text = _not_after(earliest.not_after if earliest else None, end_source, bool(retired),
                            times)
    if kind == KEY_WINDOW_ON_CLAIM:
        return KeyDecision(Standing.VOUCHES_ON_CLAIM, statements, grants[0], kind, None, text, notes)
    if kind is not None and text is not None:
        return refused(kind, text, notes)
    return KeyDecision(Standing.VOUCHES, statements, grants[0], None, None, None, notes)
