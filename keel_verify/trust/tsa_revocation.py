"""A TSA trust bundle's revocation rule, applied to one validated chain (pure).

Keel's ``keel.tsa_trust_bundle.v1`` states the rule: verification time is the token's
genTime; for every non-root certificate in the chain, a bundled CRL issued by that
certificate's issuer must cover genTime, and a ``revocationDate`` or ``invalidityDate``
at or before genTime invalidates the chain. The bundle's CRL snapshots carry a refresh
deadline (``crl_refresh_required_before``): past it, the revocation state is *not
validated* (reason code ``not_validated_revocation_snapshot_stale``), never good.

Here a CRL *covers* genTime when genTime is not after its ``nextUpdate``: either the CRL
was current at genTime (RFC 5280 6.3.3 validity) or it was issued later, and so lists
every revocation up to genTime. A revocation listed by any CRL of the right issuer
invalidates the chain even when the snapshot is stale: revocation is permanent.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise

from cryptography import x509

from keel_verify.crypto import crl as crl_primitives
from keel_verify.crypto.witness import iso_utc, shorten

STALE_REASON_CODE = "not_validated_revocation_snapshot_stale"


@dataclass(frozen=True)
class RevocationSnapshot:
    """A bundle's CRLs and their rule, for chains that end at one of ``anchors``."""

    anchors: tuple[x509.Certificate, ...]
    crls: tuple[x509.CertificateRevocationList, ...]
    refresh_required_before: datetime | None  # None: the earliest nextUpdate of ``crls``
    source: str  # how reports name the bundle
    stale_reason_code: str = STALE_REASON_CODE

    @property
    def deadline(self) -> datetime | None:
        if self.refresh_required_before is not None:
            return self.refresh_required_before
        updates = [u for u in (crl_primitives.next_update(c) for c in self.crls) if u is not None]
        return min(updates) if updates else None

    def applies_to(self, anchor: x509.Certificate) -> bool:
        return anchor in self.anchors


class RevocationState(enum.Enum):
    VALIDATED = "validated"  # every non-root certificate covered by a fresh CRL, none revoked
    NOT_VALIDATED = "not validated"  # stale snapshot, or no CRL covers genTime
    REVOKED = "revoked"  # a certificate in the chain was revoked at or before genTime


@dataclass(frozen=True)
class RevocationJudgement:
    state: RevocationState
    reason: str
    code: str | None = None  # the bundle's reason code when stale


def _name(certificate: x509.Certificate) -> str:
    return shorten(certificate.subject.rfc4514_string())


def judge_revocation(
    chain: tuple[x509.Certificate, ...],
    gen_time: datetime,
    snapshot: RevocationSnapshot,
    now: datetime,
) -> RevocationJudgement:
    """The bundle rule (module docstring) for ``chain`` (TSA certificate first, anchor
    last) at ``gen_time``, with staleness judged at ``now``."""
    uncovered: list[str] = []
    for certificate, issuer in pairwise(chain):
        crls = [c for c in snapshot.crls if crl_primitives.issued_by(c, issuer)]
        for crl in crls:
            revocation = crl_primitives.revocation_of(crl, certificate.serial_number)
            if revocation is not None and revocation.effective <= gen_time:
                return RevocationJudgement(
                    RevocationState.REVOKED,
                    f"{_name(certificate)} is revoked since {iso_utc(revocation.effective)}, at "
                    f"or before genTime {iso_utc(gen_time)} (CRL of {_name(issuer)} from "
                    f"{snapshot.source})",
                )
        covering = [
            c for c in crls
            if (crl_primitives.next_update(c) or crl_primitives.this_update(c)) >= gen_time
        ]
        if not covering:
            uncovered.append(_name(certificate))
    deadline = snapshot.deadline
    if deadline is not None and now >= deadline:
        return RevocationJudgement(
            RevocationState.NOT_VALIDATED,
            f"revocation not validated: the CRL snapshots of {snapshot.source} had to be "
            f"refreshed before {iso_utc(deadline)} ({snapshot.stale_reason_code})",
            snapshot.stale_reason_code,
        )
    if uncovered:
        return RevocationJudgement(
            RevocationState.NOT_VALIDATED,
            f"revocation not validated: no CRL in {snapshot.source} from the issuer of "
            f"{'; '.join(uncovered)} covers genTime {iso_utc(gen_time)}",
        )
    return RevocationJudgement(
        RevocationState.VALIDATED,
        f"not revoked at genTime {iso_utc(gen_time)} per the CRLs of {snapshot.source}",
    )
