"""The input every check receives: the artifact, the trust policy, and shared derived facts.

Derived facts (the signature assessment, the witnessed time) are computed once, lazily,
and shared, so that checks stay pure functions of ``(artifact, trust)`` without repeating
expensive work such as canonicalisation or CMS parsing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from typing import TYPE_CHECKING

from keel_verify.load.loader import Artifact
from keel_verify.trust import TrustPolicy

if TYPE_CHECKING:
    from keel_verify.crypto.rfc3161 import ReceiptTokens
    from keel_verify.facts.model import SessionFacts
    from keel_verify.load.chainpass import ChainPass
    from keel_verify.trust.signer import SignatureAssessment
    from keel_verify.trust.tsa_decision import WitnessAssessment


@dataclass(frozen=True)
class CheckContext:
    artifact: Artifact
    trust: TrustPolicy
    chain_pass: ChainPass | None = None  # given by the verifier; else made on first use
    # The verification time: an upper bound on when the artifact was signed (it exists
    # now). The verifier sets it once per input; None means "now" when first asked.
    verification_time: datetime | None = None

    @cached_property
    def verified_at(self) -> datetime:
        moment = self.verification_time or datetime.now(UTC)
        return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)  # naive: UTC

    @cached_property
    def chain(self) -> ChainPass:
        """The single pass over the chain, with every registered check's visitor."""
        if self.chain_pass is not None:
            return self.chain_pass
        from keel_verify.checks import visitor_factories
        from keel_verify.load.chainpass import run_chain_pass

        return run_chain_pass(self.artifact, visitor_factories())

    @cached_property
    def policy_snapshot_hash_hex(self) -> str:
        """:func:`keel_verify.crypto.format.snapshot_hash_hex` of the document's
        ``policy_snapshot`` (raises ``Malformed`` as ``obj_at`` does when that member is not
        an object), computed once for every check
        that compares it; with msgspec's sorted encoder when the loader proved that member
        free of floats, unsafe integers and non-BMP keys (the two encoders then write the
        same bytes: docs in keel_verify.load.accel)."""
        from keel_verify.crypto.canonical import canonical_bytes
        from keel_verify.crypto.format import snapshot_hash_hex
        from keel_verify.load import accel
        from keel_verify.load.access import obj_at

        artifact = self.artifact
        snapshot = obj_at(artifact.document, "policy_snapshot", "")
        # (a document within the JCS domain holds no float member)
        proven = (artifact.document_within_jcs and not artifact.exact_path
                  and accel.fast_json_available())
        return snapshot_hash_hex(snapshot, accel.sorted_encoder() if proven else canonical_bytes)

    @cached_property
    def authenticated_time(self) -> datetime | None:
        """A time proven by a trusted, verified timestamp witness (RFC 3161 genTime).

        None until a signed token chained to a configured TSA root witnesses this
        artifact; then key validity windows are judged at that time, not at the
        artifact's own (unauthenticated) ``signed_at``.
        """
        return self.witness.authenticated_time

    @cached_property
    def receipt_tokens(self) -> ReceiptTokens:
        """The receipts' RFC 3161 tokens, each distinct one parsed once for all checks
        (failures included)."""
        from keel_verify.crypto.rfc3161 import ReceiptTokens

        return ReceiptTokens()

    @cached_property
    def witness(self) -> WitnessAssessment:
        """Every timestamp receipt's full RFC 3161 verification, done once per artifact."""
        from keel_verify.trust.tsa_decision import assess_witnesses

        return assess_witnesses(self.artifact.document, self.trust, tokens=self.receipt_tokens)

    @cached_property
    def signatures(self) -> SignatureAssessment:
        from keel_verify.trust.signer import assess_signatures, signing_times

        times = signing_times(self.artifact.document, self.authenticated_time, self.verified_at)
        return assess_signatures(
            self.artifact.document, self.chain.message, self.chain.content_hash, self.trust, times
        )

    @cached_property
    def session_facts(self) -> SessionFacts:
        """What the session recorded (turns, tool calls, permits, counters ...), for the
        reports and the ``session_counters`` check."""
        from keel_verify.facts import FACTS_VISITOR
        from keel_verify.facts.extract import session_facts

        chain = self.chain
        if FACTS_VISITOR not in chain.visitors:  # a pass made without the collector
            from keel_verify.facts.collect import ChainFacts
            from keel_verify.load.chainpass import run_chain_pass

            chain = run_chain_pass(self.artifact, {FACTS_VISITOR: ChainFacts})
        return session_facts(self.artifact.document, chain.visitor(FACTS_VISITOR),
                             self.artifact.schema_version, self.witness)
