"""``policy_snapshot_hash`` (reference name): the locked policy snapshot hashes to the
value the session metadata names (docs/format.md §6)."""

from __future__ import annotations

from keel_verify.checks.base import Check, failed, passed
from keel_verify.context import CheckContext
from keel_verify.load.access import hex_hash_at, obj_at
from keel_verify.results import CheckResult, Outcome

NAME = "policy_snapshot_hash"


def run(context: CheckContext) -> CheckResult:
    document = context.artifact.document
    obj_at(document, "policy_snapshot", "")  # not an object: that is the problem named first
    metadata = obj_at(document, "session_metadata", "")
    declared = hex_hash_at(metadata, "policy_snapshot_hash", "/session_metadata")
    recomputed = context.policy_snapshot_hash_hex
    if declared != recomputed:
        return failed(
            NAME,
            f"policy snapshot hashes to {recomputed}, but session_metadata names {declared}",
            "/session_metadata/policy_snapshot_hash",
            code="hash_mismatch",
            recomputed=recomputed,
            declared=declared,
        )
    return passed(NAME, f"policy snapshot hashes to {recomputed}", "/policy_snapshot",
                  recomputed=recomputed)


CHECK = Check(
    NAME, run, "the embedded policy snapshot hashes to session_metadata's hash",
    codes={
        "ok": (Outcome.PASS, "the policy snapshot hashes to the value session_metadata names"),
        "hash_mismatch": (Outcome.FAIL, "the policy snapshot hashes to another value"),
    },
)
