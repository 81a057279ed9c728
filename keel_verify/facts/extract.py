"""Session facts: the artifact's own statements plus what the chain pass gathered.

:func:`session_facts` is a pure function of the parsed document, the chain-pass
collector (:class:`~keel_verify.facts.collect.ChainFacts`) and the timestamp witness
assessment; it never raises on a hostile shape (a member of the wrong type reads as
absent).
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from keel_verify.facts.collect import (
    MAX_MARKS_PER_LANE,
    TOOL_EVENTS,
    ChainFacts,
    as_int,
    as_text,
    epoch_seconds,
)
from keel_verify.facts.counters import compare_counters
from keel_verify.facts.model import (
    LANES,
    Budget,
    LaneBins,
    Mark,
    Permit,
    Receipt,
    SessionFacts,
    Timeline,
    ToolCall,
)
from keel_verify.facts.permits import read_permits

if TYPE_CHECKING:
    from keel_verify.trust.tsa_decision import WitnessAssessment

BINS = 120  # density bins of a crowded lane


def _obj(value: Any) -> Mapping[str, Any]:
    return value if type(value) is dict else {}


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    text = value.isoformat().replace("+00:00", "Z")
    return str(text)


def _receipts(document: Mapping[str, Any], witness: WitnessAssessment | None) -> tuple[Receipt, ...]:
    from keel_verify.load.access import Malformed
    from keel_verify.load.receipts import collect_receipts

    try:
        # Read, never copied (a document may hold a million members).
        stated = collect_receipts(document if type(document) is dict else dict(document))
    except Malformed:
        stated = []
    verified = {r.pointer: r for r in witness.receipts} if witness is not None else {}
    receipts = []
    for pointer, raw in stated[:50]:
        raw = _obj(raw)
        found = verified.get(pointer)
        token = found.verification if found is not None else None
        receipts.append(Receipt(
            pointer=pointer,
            provider=as_text(raw.get("provider"), 80),
            tsa=as_text(raw.get("tsa"), 120),
            received_at=as_text(raw.get("received_at"), 40),
            covers_sequence=as_int(raw.get("covers_chain_head_at_sequence")),
            status=token.status.value if token is not None else "not verified",
            gen_time=_iso(token.gen_time) if token is not None else None,
            tsa_subject=as_text(token.tsa_subject, 200) if token is not None else None,
            serial_number=str(token.serial_number) if token and token.serial_number is not None
            else None,
            policy_oid=as_text(token.policy_oid, 80) if token is not None else None,
            token_sha256=token.token_sha256 if token is not None else None,
        ))
    return tuple(receipts)


def _with_payments(marks: list[Mark], tool_calls: tuple[ToolCall, ...]) -> list[Mark]:
    """Tool-call marks name the payment their call made (from its payload or permit)."""
    amounts = {call.sequence: call.payment.amount_text for call in tool_calls
               if call.payment is not None and call.sequence is not None}
    if not amounts:
        return marks
    return [dataclasses.replace(m, label=f"{m.label} \u00b7 pays {amounts[m.sequence]}")
            if m.lane == "tools" and m.sequence in amounts and m.event_type in TOOL_EVENTS
            else m for m in marks]


def _permit_marks(marks: list[Mark], permits: tuple[Permit, ...]) -> list[Mark]:
    """A mark per permit, at the chain entry it is bound to: the session permit at the
    session's start, each child permit at the tool call that names it."""
    at_sequence = {m.sequence: m for m in marks if m.sequence is not None and m.lane != "witness"}
    started = next((m for m in marks if m.event_type == "voice.session.started"), None)
    found: list[Mark] = []
    for permit in permits:
        if permit.kind == "session":
            anchor = started
        else:
            anchor = None if permit.bound_sequence is None else at_sequence.get(permit.bound_sequence)
        if anchor is None:
            continue
        what = "session permit" if permit.kind == "session" else f"{permit.action_name} permit"
        amount = f", {permit.payment.amount_text}" if permit.payment is not None else ""
        short = permit.permit_id or "?"
        short = short if len(short) <= 14 else short[:13] + "\u2026"
        found.append(Mark("permits", anchor.t, anchor.sequence, f"{permit.kind} permit",
                          anchor.hash_prefix, f"{what} {short}{amount}",
                          "allowed" if permit.decision == "allowed" else "other"))
    return found


def _timeline(chain: ChainFacts, document: Mapping[str, Any], metadata: Mapping[str, Any],
              receipts: tuple[Receipt, ...], tool_calls: tuple[ToolCall, ...],
              permits: tuple[Permit, ...]) -> Timeline:
    by_lane, totals, t_min, t_max = chain.lane_times()
    times = [t for t in (t_min, t_max, epoch_seconds(metadata.get("started_at")),
                         epoch_seconds(metadata.get("ended_at")),
                         epoch_seconds(document.get("issued_at"))) if t is not None]
    start, end = (min(times), max(times)) if times else (None, None)
    marks: list[Mark] = []
    bins: list[LaneBins] = []
    for lane, _label in LANES:
        total = totals.get(lane, 0)
        if total > MAX_MARKS_PER_LANE and start is not None and end is not None:
            bins.append(_bin(lane, by_lane.get(lane, Counter()), start, end, total))
        else:
            marks.extend(chain.marks.get(lane, ()))
    marks = _with_payments(marks, tool_calls)
    marks.extend(_permit_marks(marks, permits))
    issued = document.get("issued_at")
    marks.append(Mark("witness", epoch_seconds(issued), None, "issued_at", "",
                      f"issued_at {as_text(issued, 40)} (the issuer's claim)", "claimed"))
    for receipt in receipts:
        if receipt.gen_time is not None:
            marks.append(Mark(
                "witness", epoch_seconds(receipt.gen_time), receipt.covers_sequence,
                "RFC 3161 genTime", (receipt.token_sha256 or "")[7:19],
                f"genTime {receipt.gen_time} ({receipt.status})",
                "witnessed" if receipt.status == "verified" else receipt.status))
    shown = {mark.lane for mark in marks} | {b.lane for b in bins}
    required = {"lifecycle", "audio_in", "audio_out", "transcript", "turns", "tools",
                "permits", "interruptions", "witness"}
    if "audio" in shown and not {"audio_in", "audio_out"} & shown:
        required -= {"audio_in", "audio_out"}  # hash-only: the direction is not recorded
    lanes = tuple(lane for lane, _ in LANES if lane in shown or lane in required)
    return Timeline(start, end, tuple(marks), tuple(bins), lanes)


def _bin(lane: str, times: Counter[float], start: float, end: float, total: int) -> LaneBins:
    span = max(end - start, 1e-9)
    counts = [0] * BINS
    for t, count in times.items():
        slot = min(BINS - 1, max(0, int((t - start) / span * BINS)))
        counts[slot] += count
    return LaneBins(lane, start, end, tuple(counts), total)


def session_facts(document: Mapping[str, Any], chain: ChainFacts, schema_version: int | None,
                  witness: WitnessAssessment | None = None) -> SessionFacts:
    metadata = _obj(document.get("session_metadata"))
    snapshot = _obj(document.get("policy_snapshot"))
    policies = snapshot.get("policies")
    listed = policies[:100] if type(policies) is list else []
    policy_ids = tuple(as_text(_obj(p).get("id"), 80) or "(no id)" for p in listed)
    permits, permits_omitted = read_permits(document, chain.permit_sequences)
    permit_ids = {permit.permit_id for permit in permits if permit.kind == "child"}
    payments = {permit.permit_id: permit.payment for permit in permits if permit.payment is not None}
    tool_calls = tuple(
        dataclasses.replace(
            call,
            permit_found=call.permit_id in permit_ids,
            payment=call.payment or payments.get(call.permit_id),
        )
        for call in chain.tool_calls
    )
    session_permit = next((p for p in permits if p.kind == "session"), None)
    parent = _obj(_obj(document.get("permits")).get("parent_session_permit"))
    permit_total = as_int(parent.get("risk_budget_total_micros")) if session_permit else None
    counters = compare_counters(metadata, chain, permit_total)
    started = epoch_seconds(metadata.get("started_at"))
    ended = epoch_seconds(metadata.get("ended_at"))
    receipts = _receipts(document, witness)
    project_head = _obj(document.get("project_chain_head"))
    return SessionFacts(
        schema_version=schema_version,
        payloads_embedded=chain.payloads_embedded,
        session_id=as_text(metadata.get("session_id"), 120),
        project_id=as_text(metadata.get("project_id"), 120),
        provider=as_text(metadata.get("provider"), 120),
        model=as_text(metadata.get("model"), 120),
        status=as_text(metadata.get("status"), 40),
        started_at=as_text(metadata.get("started_at"), 40),
        ended_at=as_text(metadata.get("ended_at"), 40),
        issued_at=as_text(document.get("issued_at"), 40),
        duration_seconds=ended - started if started is not None and ended is not None else None,
        policy_snapshot_id=as_text(snapshot.get("snapshot_id"), 120),
        policy_ids=policy_ids,
        event_count=chain.count,
        counts_by_type=tuple((as_text(k, 80) or "", v) for k, v in chain.counts.most_common(200)),
        turns=tuple(chain.turns),
        tool_calls=tool_calls,
        permits=permits,
        interruptions=tuple(chain.interruptions),
        receipts=receipts,
        budget=Budget(
            total_micros=as_int(metadata.get("risk_budget_total_micros")),
            used_micros=as_int(metadata.get("risk_budget_used_micros")),
            remaining_micros=as_int(metadata.get("risk_budget_remaining_micros")),
            used_by_chain_micros=chain.budget_used if chain.payloads_embedded else None,
        ),
        counters=counters,
        chain_first=tuple(chain.first),
        chain_last=tuple(chain.last_rows()),
        timeline=_timeline(chain, document, metadata, receipts, tool_calls, permits),
        project_chain_head=as_text(project_head.get("content_hash"), 80),
        project_chain_sequence=as_int(project_head.get("sequence")),
        turns_omitted=chain.turn_count - len(chain.turns),
        tool_calls_omitted=chain.tool_call_count - len(chain.tool_calls),
        interruptions_omitted=chain.interrupted_count - len(chain.interruptions),
        permits_omitted=permits_omitted,
    )
