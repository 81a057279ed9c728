"""Permits: the session-start (parent) permit and the child permits issued for tool
calls and actions, bound to the chain entry that governed them (SPEC A.7).

A child permit's ``binding_session_event_hash`` is the ``content_hash`` of the
``voice.tool_invocation.governed`` (or ``voice.action.governed``) entry whose
``permit_id`` is the permit's id, so a verifier can confirm the linkage in v1 artifacts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from keel_verify.crypto.canonical import canonical_hash
from keel_verify.emit.clock import format_time
from keel_verify.emit.policy import Rules
from keel_verify.emit.requests import ActionRequest, StartRequest
from keel_verify.emit.state import SessionState

BINDING_VERSION = "keel-emit-v1"
DEFAULT_PERMIT_TTL = timedelta(hours=1)


def parent_permit(request: StartRequest, *, permit_id: str, session_id: str,
                  snapshot: dict[str, Any], rules: Rules, created_at: str) -> dict[str, Any]:
    return {
        "action_name": request.action,
        "created_at": created_at,
        "custom_metadata": request.metadata,
        "decision": "allowed",
        "execution_mode": request.execution_mode,
        "idempotency_key": request.idempotency_key,
        "model": request.model,
        "operation": request.operation,
        "parent_permit_id": None,
        "permit_id": permit_id,
        "policy_id": rules.policy_id,
        "policy_snapshot_hash": snapshot["snapshot_hash"],
        "policy_version": rules.policy_version,
        "project_id": request.project_id,
        "provider": request.provider,
        "resource_type": "voice_session",
        "risk_budget_total_micros": request.risk_budget_total_micros,
        "session_id": session_id,
        "status": "issued",
        "subject": request.subject,
    }


@dataclass(frozen=True)
class ActionDecision:
    allowed: bool
    reason: str | None  # the user-facing reason of a denial


def evaluate_action(action: ActionRequest, session: SessionState, rules: Rules
                    ) -> ActionDecision:
    """Policy decision for a tool call or action. Denials are decisions, recorded in the
    chain; malformed requests never get here (they are rejected while parsing)."""
    if action.action_verb not in rules.allowed_action_verbs:
        return ActionDecision(False, f"Action {action.action_verb} is not allowed in this call.")
    if action.name in rules.denied_tools:
        return ActionDecision(False, f"The tool {action.name} is not allowed in this call.")
    payment = action.payment
    if payment is not None:
        authority = payment.authority
        if payment.currency != authority.currency:
            return ActionDecision(False, "The payment currency does not match the spend "
                                         "authority.")
        if payment.amount > authority.amount_max:
            return ActionDecision(False, "The payment amount exceeds the approved maximum.")
        if authority.authority_id in session.used_spend_authorities:
            return ActionDecision(False, "This one-time payment authority was already used.")
    return ActionDecision(True, None)


def action_payload(action: ActionRequest, call_id: str, decision: ActionDecision
                   ) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "action_verb": action.action_verb,
        "call_id": call_id,
        "tool_name": action.name,
        "verdict": "allowed" if decision.allowed else "denied",
    }
    if action.arguments_hash is not None:
        payload["arguments_hash"] = action.arguments_hash
    if action.payment is not None:
        payload["payment"] = payment_terms(action)
    if decision.reason is not None:
        payload["reason"] = decision.reason
    return payload


def payment_terms(action: ActionRequest) -> dict[str, Any]:
    assert action.payment is not None
    authority = action.payment.authority
    return {
        "amount": action.payment.amount,
        "currency": action.payment.currency,
        "spend_authority": {
            "amount_max": authority.amount_max,
            "authority_id": authority.authority_id,
            "cadence": authority.cadence,
            "currency": authority.currency,
            "ttl_seconds": authority.ttl_seconds,
        },
    }


def child_permit(
    action: ActionRequest,
    *,
    session: SessionState,
    rules: Rules,
    permit_id: str,
    call_id: str,
    governed_entry: dict[str, Any],
    resource_type: str,
    now: datetime,
    extra_metadata: dict[str, Any],
) -> dict[str, Any]:
    """A child permit, bound to the chain entry that governed it."""
    payment = action.payment
    ttl = timedelta(seconds=payment.authority.ttl_seconds) if payment else DEFAULT_PERMIT_TTL
    issued_at = format_time(now)
    expires_at = format_time(now + ttl)
    request_hash = canonical_hash(action.request_hash_source)
    binding = {
        "binding_version": BINDING_VERSION,
        "expires_at": expires_at,
        "issued_at": issued_at,
        "permit_id": permit_id,
        "policy_snapshot_hash": session.snapshot_hash,
        "project_anchor_hash": governed_entry["governance_record_hash"],
        "request_hash": request_hash,
        "session_event_hash": governed_entry["content_hash"],
        "session_id": session.session_id,
    }
    metadata: dict[str, Any] = {"action_verb": action.action_verb, "call_id": call_id,
                                **extra_metadata}
    if payment is not None:
        metadata["payment"] = payment_terms(action)
    return {
        "action_name": action.name,
        "binding_canonical_hash": canonical_hash(binding),
        "binding_expires_at": expires_at,
        "binding_issued_at": issued_at,
        "binding_key_id": None,
        "binding_project_anchor_hash": governed_entry["governance_record_hash"],
        "binding_request_hash": request_hash,
        "binding_session_event_hash": governed_entry["content_hash"],
        "binding_session_id": session.session_id,
        "binding_signature": None,
        "binding_signatures": [],
        "binding_version": BINDING_VERSION,
        "created_at": issued_at,
        "custom_metadata": metadata,
        "decision": "allowed",
        "model": session.model,
        "operation": governed_entry["operation"],
        "parent_permit_id": session.parent_permit["permit_id"],
        "permit_id": permit_id,
        "policy_id": rules.policy_id,
        "policy_snapshot_hash": session.snapshot_hash,
        "policy_version": rules.policy_version,
        "project_id": session.project_id,
        "provider": session.provider,
        "reason": "within the session's locked voice policy",
        "resource_type": resource_type,
        "session_id": session.session_id,
        "status": "issued",
    }
