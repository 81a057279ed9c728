"""The registry of checks, in report order.

The first five keep the reference verifier's names and meaning; the rest are what this
project checks beyond it (docs/format.md §9). Add a check by writing a module with a ``CHECK``
and listing it here.
"""

from __future__ import annotations

from keel_verify.checks import (
    artifact_ref,
    canonical_portability,
    chain_integrity,
    issuer_signature,
    payload_hashes,
    permit_linkage,
    policy_binding,
    policy_snapshot_hash,
    receipt_coverage,
    rfc3161_timestamp_receipt,
    schema,
    session_binding,
    session_counters,
    time_consistency,
    timestamp_witness,
)
from keel_verify.checks.base import Check
from keel_verify.facts import FACTS_VISITOR
from keel_verify.facts.collect import ChainFacts
from keel_verify.load.chainpass import VisitorFactory
from keel_verify.results import CheckInfo, ReasonCode

CORE_CHECKS: tuple[Check, ...] = (
    schema.CHECK,
    issuer_signature.CHECK,
    chain_integrity.CHECK,
    policy_snapshot_hash.CHECK,
    rfc3161_timestamp_receipt.CHECK,
)

EXTENDED_CHECKS: tuple[Check, ...] = (
    session_binding.CHECK,
    payload_hashes.CHECK,
    policy_binding.CHECK,
    permit_linkage.CHECK,
    session_counters.CHECK,
    receipt_coverage.CHECK,
    canonical_portability.CHECK,
    timestamp_witness.CHECK,
    time_consistency.CHECK,
    artifact_ref.CHECK,
)

ALL_CHECKS: tuple[Check, ...] = CORE_CHECKS + EXTENDED_CHECKS

CORE_CHECK_NAMES = tuple(check.name for check in CORE_CHECKS)


def visitor_factories(checks: tuple[Check, ...] = ALL_CHECKS) -> dict[str, VisitorFactory]:
    """The chain-pass visitors of ``checks``, by check name, plus the session-facts
    collector that every report shows (and ``session_counters`` judges)."""
    factories: dict[str, VisitorFactory] = {
        check.name: check.visitor for check in checks if check.visitor is not None
    }
    factories[FACTS_VISITOR] = ChainFacts
    return factories


CHECK_CATALOGUE: tuple[CheckInfo, ...] = tuple(check.info for check in ALL_CHECKS)


def reason_codes(catalogue: tuple[CheckInfo, ...] = CHECK_CATALOGUE) -> tuple[ReasonCode, ...]:
    """Every stable reason code, in check order (the contract ``--list-checks`` prints)."""
    return tuple(code for info in catalogue for code in info.codes)
