"""The policy snapshot a session locks at start (docs/format.md §6), and the rules read from it.

The hash is computed by the verifier's own function
(:func:`keel_verify.checks.policy_snapshot_hash.snapshot_hash_hex`), so the emitter and
the verifier cannot drift apart on what "the snapshot hash" means.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from keel_verify.crypto.format import snapshot_hash_hex

SNAPSHOT_KIND = "realtime_session_policy_snapshot_v1"
DEFAULT_POLICY_ID = "pol_voice_default_v1"

PolicySource = Callable[[str], list[dict[str, Any]]]


def default_policies(project_id: str) -> list[dict[str, Any]]:
    """The one project policy keel-emit applies unless it is configured otherwise."""
    return [{
        "id": DEFAULT_POLICY_ID,
        "name": "keel-emit default voice policy",
        "org_id": None,
        "policy_json": {
            "allowed_action_verbs": ["ai.generate", "mpp.payment"],
            "deny_payment_card_collection": True,
            "denied_tools": ["collect_payment_card"],
            "max_tokens_per_turn": 16000,
            "require_ai_disclosure": True,
            "require_explicit_consent": True,
        },
        "project_id": project_id,
        "scope": "project",
        "version": 1,
    }]


def lock_snapshot(project_id: str, policies: list[dict[str, Any]], snapshot_id: str
                  ) -> dict[str, Any]:
    snapshot: dict[str, Any] = {
        "kind": SNAPSHOT_KIND,
        "policies": policies,
        "project_id": project_id,
    }
    snapshot["snapshot_id"] = snapshot_id
    snapshot["snapshot_hash"] = "sha256:" + snapshot_hash_hex(snapshot)
    return snapshot


@dataclass(frozen=True)
class Rules:
    """What the engine enforces, merged over the snapshot's policies (later ones win for
    limits; deny lists add up)."""

    policy_id: str
    policy_version: str
    max_tokens_per_turn: int | None
    allowed_action_verbs: frozenset[str]
    denied_tools: frozenset[str]


def rules_of(snapshot: dict[str, Any]) -> Rules:
    policies = snapshot["policies"]
    max_tokens: int | None = None
    verbs: set[str] = {"ai.generate", "mpp.payment"}
    denied: set[str] = set()
    for policy in policies:
        body = policy.get("policy_json") or {}
        if type(body.get("max_tokens_per_turn")) is int:
            max_tokens = body["max_tokens_per_turn"]
        if isinstance(body.get("allowed_action_verbs"), list):
            verbs = {v for v in body["allowed_action_verbs"] if isinstance(v, str)}
        if isinstance(body.get("denied_tools"), list):
            denied |= {t for t in body["denied_tools"] if isinstance(t, str)}
    first = policies[0] if policies else {}
    return Rules(
        policy_id=str(first.get("id", "")),
        policy_version=str(first.get("version", "")),
        max_tokens_per_turn=max_tokens,
        allowed_action_verbs=frozenset(verbs),
        denied_tools=frozenset(denied),
    )
