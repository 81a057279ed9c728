"""The session facts as plain data and short sentences, shared by the renderers.

Shows only: every value comes from :class:`~keel_verify.facts.model.SessionFacts`.
"""

from __future__ import annotations

from typing import Any

from keel_verify.facts.model import CounterFact, Payment, SessionFacts
from keel_verify.results import counted


def _payment(payment: Payment | None) -> dict[str, Any] | None:
    if payment is None:
        return None
    return {
        "amount_minor": payment.amount_minor,
        "currency": payment.currency,
        "amount": payment.amount_text,
        "authority_id": payment.authority_id,
        "amount_max": payment.amount_max,
        "cadence": payment.cadence,
        "ttl_seconds": payment.ttl_seconds,
        "purpose": payment.purpose,
        "target_url": payment.target_url,
    }


def counter_to_dict(counter: CounterFact) -> dict[str, Any]:
    return {
        "name": counter.name,
        "pointer": counter.pointer,
        "stated": counter.stated,
        "chain": counter.derived,
        "relation": counter.relation,
        "agrees": counter.agrees,
        "basis": counter.basis,
    }


def session_to_dict(facts: SessionFacts) -> dict[str, Any]:
    """The ``session`` object of the JSON report (schemas/report-v2.schema.json)."""
    return {
        "session_id": facts.session_id,
        "project_id": facts.project_id,
        "provider": facts.provider,
        "model": facts.model,
        "status": facts.status,
        "started_at": facts.started_at,
        "ended_at": facts.ended_at,
        "issued_at": facts.issued_at,
        "duration_seconds": facts.duration_seconds,
        "payloads_embedded": facts.payloads_embedded,
        "policy_snapshot_id": facts.policy_snapshot_id,
        "policy_ids": list(facts.policy_ids),
        "event_count": facts.event_count,
        "counts_by_event_type": dict(facts.counts_by_type),
        "turns": [
            {"index": t.index, "sequence": t.sequence, "at": t.at, "decision": t.decision,
             "reason": t.reason, "input_tokens": t.input_tokens, "output_tokens": t.output_tokens,
             "risk_budget_used_micros": t.risk_budget_used_micros}
            for t in facts.turns
        ],
        "tool_calls": [
            {"sequence": c.sequence, "at": c.at, "event_type": c.event_type,
             "tool_name": c.tool_name, "call_id": c.call_id, "action_verb": c.action_verb,
             "decision": c.decision, "turn_index": c.turn_index, "permit_id": c.permit_id,
             "permit_found": c.permit_found, "payment": _payment(c.payment)}
            for c in facts.tool_calls
        ],
        "payments": [
            {"sequence": c.sequence, "tool_name": c.tool_name, "permit_id": c.permit_id,
             **(_payment(c.payment) or {})}
            for c in facts.payments
        ],
        "permits": [
            {"permit_id": p.permit_id, "kind": p.kind, "action_name": p.action_name,
             "decision": p.decision, "status": p.status, "bound_sequence": p.bound_sequence,
             "payment": _payment(p.payment)}
            for p in facts.permits
        ],
        "interruptions": [
            {"sequence": i.sequence, "at": i.at, "event_type": i.event_type, "reason": i.reason,
             "interrupted_turn_index": i.interrupted_turn_index}
            for i in facts.interruptions
        ],
        "receipts": [
            {"pointer": r.pointer, "provider": r.provider, "tsa": r.tsa,
             "received_at": r.received_at, "covers_sequence": r.covers_sequence,
             "status": r.status, "gen_time": r.gen_time, "tsa_subject": r.tsa_subject,
             "serial_number": r.serial_number, "policy_oid": r.policy_oid}
            for r in facts.receipts
        ],
        "budget": {
            "total_micros": facts.budget.total_micros,
            "used_micros": facts.budget.used_micros,
            "remaining_micros": facts.budget.remaining_micros,
            "used_by_chain_micros": facts.budget.used_by_chain_micros,
        },
        "counters": [counter_to_dict(c) for c in facts.counters],
        "omitted": {
            "turns": facts.turns_omitted, "tool_calls": facts.tool_calls_omitted,
            "interruptions": facts.interruptions_omitted, "permits": facts.permits_omitted,
        },
    }


def session_summary(facts: SessionFacts) -> str:
    """One line: turns, tool calls, payments, permits, interruptions, events."""
    turns = len(facts.turns) + facts.turns_omitted
    denied = len(facts.denied_turns)
    parts = [counted(turns, "turn") + (f" ({denied} denied)" if denied else "")]
    parts.append(counted(len(facts.tool_calls) + facts.tool_calls_omitted, "tool call"))
    payments = facts.payments
    if payments:
        amounts = ", ".join(c.payment.amount_text for c in payments[:3] if c.payment is not None)
        more = ", ..." if len(payments) > 3 else ""
        parts.append(f"{counted(len(payments), 'payment')} ({amounts}{more})")
    parts.append(counted(len(facts.permits) + facts.permits_omitted, "permit"))
    parts.append(counted(len(facts.interruptions) + facts.interruptions_omitted, "interruption"))
    parts.append(counted(facts.event_count, "event"))
    return ", ".join(parts)


def counters_summary(facts: SessionFacts) -> str | None:
    """One line on the stated counters, or None when the artifact states none."""
    if not facts.counters:
        return None
    wrong = facts.disagreeing_counters
    comparable = [c for c in facts.counters if c.agrees is not None]
    if not wrong:
        return (f"{len(comparable)} of {len(facts.counters)} stated counters checked against "
                "the chain; all agree")
    listed = "; ".join(f"{c.name} states {c.stated}, chain {c.derived}" for c in wrong[:4])
    more = f"; and {len(wrong) - 4} more" if len(wrong) > 4 else ""
    return f"{len(wrong)} disagree with the chain: {listed}{more}"
