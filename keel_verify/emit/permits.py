"""Permits: the session-start (parent) permit and the child permits issued for tool
calls and actions, bound to the chain entry that governed them.

A child permit's ``binding_session_event_hash`` is the ``content_hash`` of the
``voice.tool_invocation.governed`` (or ``voice.action.governed``) entry whose
``permit_id`` is the permit's id, so a verifier can confirm the linkage. An
``mpp.payment`` permit records ``action_name: "mpp.payment"``, ``resource_provider:
"stripe_mpp"`` and ``resource_model: "stripe.mpp.v1"``, as the public guide describes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from keel_verify.emit.bodies import MPP_PAYMENT, MppContext, StartBody, ToolCall, to_json
from keel_verify.emit.chain import Appended, canonical_hash
from keel_verify.emit.clock import format_time, parse_time
from keel_verify.emit.policy import Rules
from keel_verify.emit.state import SessionState

BINDING_VERSION = "keel-emit-v1"
DEFAULT_PERMIT_TTL = timedelta(hours=1)
MPP_RESOURCE_PROVIDER = "stripe_mpp"
MPP_RESOURCE_MODEL = "stripe.mpp.v1"


def parent_permit(body: StartBody, *, permit_id: str, session_id: str,
                  snapshot: dict[str, Any], rules: Rules, created_at: str) -> dict[str, Any]:
    request = body.permit
    attributes = request.resource.attributes
    return {
        "action_name": request.action.name,
        "created_at": created_at,
        "custom_metadata": body.metadata,
        "decision": "allowed",
        "estimated_input_tokens": attributes.estimated_input_tokens,
        "estimated_output_tokens": attributes.estimated_output_tokens,
        "execution_mode": attributes.execution_mode,
        "idempotency_key": request.idempotency_key,
        "model": attributes.model,
        "operation": attributes.operation,
        "parent_permit_id": None,
        "permit_id": permit_id,
        "policy_id": rules.policy_id,
        "policy_snapshot_hash": snapshot["snapshot_hash"],
        "policy_version": rules.policy_version,
        "project_id": request.project_id,
        "provider": attributes.provider,
        "resource_id": request.resource.id,
        "resource_type": request.resource.type,
        "risk_budget_total_micros": body.risk_budget_total_micros,
        "session_id": session_id,
        "status": "issued",
        "subject": to_json(request.subject),
    }


@dataclass(frozen=True)
class ActionDecision:
    allowed: bool
    reason: str | None  # the user-facing reason of a denial


def evaluate_action(tool: ToolCall, session: SessionState, rules: Rules, now: datetime
                    ) -> ActionDecision:
    """Policy decision for a tool call or action. Denials are decisions, recorded in the
    chain; malformed requests never get here (they are refused while decoding)."""
    if tool.action_verb not in rules.allowed_action_verbs:
        return ActionDecision(False, f"Action {tool.action_verb} is not allowed in this call.")
    if tool.tool_name in rules.denied_tools:
        return ActionDecision(False, f"The tool {tool.tool_name} is not allowed in this call.")
    if tool.action_verb == MPP_PAYMENT:
        return _payment_decision(tool.mpp_context(), session, now)
    return ActionDecision(True, None)


def _payment_decision(context: MppContext, session: SessionState, now: datetime
                      ) -> ActionDecision:
    """The spend authority check of an ``mpp.payment`` call."""
    spend = context.spend_request_payload
    authority = context.authority
    token = spend.shared_payment_token
    if spend.status != "approved":
        reason = "The spend request is not approved."
    elif context.requested_currency != spend.currency:
        reason = "The payment currency does not match the spend request."
    elif not authority.currency_class.lower().startswith(context.requested_currency + "_"):
        reason = "The payment currency is outside the spend authority's currency class."
    elif context.requested_amount > int(authority.amount_max):
        reason = "The payment amount exceeds the approved maximum."
    elif context.requested_amount != spend.amount:
        reason = "The payment amount differs from the approved spend request."
    elif token is not None and parse_time(token.valid_until) <= now:
        reason = "The shared payment token has expired."
    elif spend.id in session.used_spend_authorities:
        reason = "This one-time payment authority was already used."
    else:
        return ActionDecision(True, None)
    return ActionDecision(False, reason)


def payment_terms(context: MppContext) -> dict[str, Any]:
    """What the chain and the permit record of a payment (no token ids, no free text)."""
    spend = context.spend_request_payload
    return {
        "authority": to_json(context.authority),
        "mpp_target_url": context.mpp_target_url,
        "requested_amount": context.requested_amount,
        "requested_currency": context.requested_currency,
        "spend_request_hash": canonical_hash(to_json(spend)),
        "spend_request_id": spend.id,
    }


def action_payload(tool: ToolCall, call_id: str, decision: ActionDecision,
                   target: str | None = None) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "action_verb": tool.action_verb,
        "arguments_hash": canonical_hash(tool.arguments),
        "call_id": call_id,
        "tool_name": tool.tool_name,
        "verdict": "allowed" if decision.allowed else "denied",
    }
    if tool.verb_context is not None:
        payload["verb_context_hash"] = canonical_hash(tool.verb_context)
    if tool.action_verb == MPP_PAYMENT:
        payload["payment"] = payment_terms(tool.mpp_context())
    if target is not None:
        payload["target_digest"] = canonical_hash(target)
    if decision.reason is not None:
        payload["reason"] = decision.reason
    return payload


def child_permit(
    tool: ToolCall,
    *,
    session: SessionState,
    rules: Rules,
    permit_id: str,
    call_id: str,
    governed_entry: Appended,
    resource_type: str,
    now: datetime,
    extra_metadata: dict[str, Any],
) -> dict[str, Any]:
    """A child permit, bound to the chain entry that governed it."""
    payment = tool.mpp_context() if tool.action_verb == MPP_PAYMENT else None
    ttl = timedelta(seconds=payment.authority.ttl_seconds) if payment else DEFAULT_PERMIT_TTL
    issued_at = format_time(now)
    expires_at = format_time(now + ttl)
    request_hash = canonical_hash(to_json(tool))
    binding = {
        "binding_version": BINDING_VERSION,
        "expires_at": expires_at,
        "issued_at": issued_at,
        "permit_id": permit_id,
        "policy_snapshot_hash": session.snapshot_hash,
        "project_anchor_hash": governed_entry.governance_record_hash,
        "request_hash": request_hash,
        "session_event_hash": governed_entry.content_hash,
        "session_id": session.session_id,
    }
    metadata: dict[str, Any] = {"action_verb": tool.action_verb, "call_id": call_id,
                                "tool_name": tool.tool_name, **extra_metadata}
    if payment is not None:
        metadata["payment"] = payment_terms(payment)
    return {
        "action_name": tool.action_verb,
        "binding_canonical_hash": canonical_hash(binding),
        "binding_expires_at": expires_at,
        "binding_issued_at": issued_at,
        "binding_key_id": None,
        "binding_project_anchor_hash": governed_entry.governance_record_hash,
        "binding_request_hash": request_hash,
        "binding_session_event_hash": governed_entry.content_hash,
        "binding_session_id": session.session_id,
        "binding_signature": None,
        "binding_signatures": [],
        "binding_version": BINDING_VERSION,
        "created_at": issued_at,
        "custom_metadata": metadata,
        "decision": "allowed",
        "model": session.model,
        "operation": governed_entry.operation,
        "parent_permit_id": session.parent_permit["permit_id"],
        "permit_id": permit_id,
        "policy_id": rules.policy_id,
        "policy_snapshot_hash": session.snapshot_hash,
        "policy_version": rules.policy_version,
        "project_id": session.project_id,
        "provider": session.provider,
        "reason": "within the session's locked voice policy",
        "resource_model": MPP_RESOURCE_MODEL if payment else session.model,
        "resource_provider": MPP_RESOURCE_PROVIDER if payment else session.provider,
        "resource_type": resource_type,
        "session_id": session.session_id,
        "status": "issued",
    }
