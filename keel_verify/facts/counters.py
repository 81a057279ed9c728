"""The counters an artifact states, beside what its chain holds.

``session_metadata`` may carry ``session_counters`` (running totals), ``usage`` (the
provider's metering at the end) and the risk-budget totals. Each stated member that the
chain determines gets a :class:`~keel_verify.facts.model.CounterFact` with the chain's
value; members the chain cannot determine (token sums in a hash-only v3 chain, a
counter this verifier does not know) get ``derived=None``. Absent members give nothing:
an artifact need not state counters at all.

How the chain determines each value (the rules the Keel service and keel-emit follow):

===========================  ==========================================================
``event_count``              chain entries
``turn_count``               ``voice.turn.evaluated`` entries
``denied_turn_count``        of those, the ones whose ``decision`` is ``denied``
``tool_call_count``          ``voice.tool_invocation.governed`` and ``voice.action.governed``
``denied_tool_call_count``   of those, the ones whose ``decision`` is ``denied``
``interruption_count``       ``voice.turn.interrupted`` entries: one per interruption; the
                             ``voice.interruption.observed`` atom before it is its
                             evidence and is not counted again (the report counts alike)
``atom_count``               entries recording a voice atom (audio, transcript, tool
                             attempt, lifecycle, interruption, provider marker, disclosure)
``input_tokens`` (and out)   sum over the turns' payloads (v1 only)
risk budget used             sum of the allowed turns' ``risk_budget_used_micros`` (v1)
risk budget total            the session permit's ``risk_budget_total_micros``
risk budget remaining        total minus used
===========================  ==========================================================

``usage`` is metering: its token totals should equal the turns', and its audio totals
must be at least the audio chunks the chain records; a disagreement there is reported
as a warning (``binding=False``), since metering and turn estimates can legitimately be
produced by different parties.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from keel_verify.facts.collect import ChainFacts
from keel_verify.facts.model import CounterFact
from keel_verify.results import shown

_SESSION_COUNTERS: dict[str, tuple[str, str]] = {
    # member: (ChainFacts attribute, basis)
    "event_count": ("count", "chain entries"),
    "turn_count": ("turn_count", "voice.turn.evaluated entries"),
    "denied_turn_count": ("denied_turns", "voice.turn.evaluated entries with decision denied"),
    "tool_call_count": ("tool_call_count",
                        "voice.tool_invocation.governed and voice.action.governed entries"),
    "denied_tool_call_count": ("denied_tool_calls", "tool-call entries with decision denied"),
    "interruption_count": ("interrupted_count",
                           "voice.turn.interrupted entries (one per interruption)"),
    "atom_count": ("atom_count", "chain entries recording a voice atom"),
    "input_tokens": ("input_tokens", "sum of the turns' input_tokens"),
    "output_tokens": ("output_tokens", "sum of the turns' output_tokens"),
}
_USAGE: dict[str, tuple[str, str, str]] = {
    # member: (how to derive, basis, relation)
    "input_tokens": ("input_tokens", "sum of the turns' input_tokens", "equal"),
    "output_tokens": ("output_tokens", "sum of the turns' output_tokens", "equal"),
    "audio_input_ms": ("inbound", "inbound audio chunks recorded in the chain", "at least"),
    "audio_output_ms": ("outbound", "outbound audio chunks recorded in the chain", "at least"),
}
HASH_ONLY = " (not determined: a hash-only chain carries no payloads)"


def _stated(holder: Mapping[str, Any], key: str) -> int | str | None:
    value = holder.get(key)
    if value is None or type(value) is int:
        return value
    return shown(value, 40)


def _payload_value(chain: ChainFacts, attribute: str) -> int | None:
    return getattr(chain, attribute) if chain.payloads_embedded else None


def compare_counters(metadata: Mapping[str, Any], chain: ChainFacts,
                     session_permit_total: int | None) -> tuple[CounterFact, ...]:
    """Every stated counter beside the chain's value (see the module docstring)."""
    facts: list[CounterFact] = []
    counters = metadata.get("session_counters")
    if type(counters) is dict:
        for key in counters:
            stated = _stated(counters, key)
            if stated is None:
                continue
            pointer = f"/session_metadata/session_counters/{key.replace('~', '~0').replace('/', '~1')}"
            if key in _SESSION_COUNTERS:
                attribute, basis = _SESSION_COUNTERS[key]
                payload_only = attribute in ("input_tokens", "output_tokens")
                derived = _payload_value(chain, attribute) if payload_only else getattr(chain, attribute)
                if payload_only and not chain.payloads_embedded:
                    basis += HASH_ONLY
            else:
                derived, basis = None, "not a counter this verifier knows"
            facts.append(CounterFact(f"session_counters.{key}", pointer, stated, derived, basis))
    usage = metadata.get("usage")
    if type(usage) is dict:
        for key, (source, basis, relation) in _USAGE.items():
            stated = _stated(usage, key)
            if stated is None:
                continue
            if source in chain.audio_ms:
                derived = chain.audio_ms[source] if chain.payloads_embedded else None
            else:
                derived = _payload_value(chain, source)
            facts.append(CounterFact(f"usage.{key}", f"/session_metadata/usage/{key}", stated,
                                     derived, basis + ("" if chain.payloads_embedded else HASH_ONLY),
                                     relation=relation, binding=False))
    facts.extend(_budget(metadata, chain, session_permit_total))
    return tuple(facts)


def _budget(metadata: Mapping[str, Any], chain: ChainFacts,
            session_permit_total: int | None) -> list[CounterFact]:
    facts: list[CounterFact] = []
    total = _stated(metadata, "risk_budget_total_micros")
    used = _stated(metadata, "risk_budget_used_micros")
    remaining = _stated(metadata, "risk_budget_remaining_micros")
    chain_total = session_permit_total if session_permit_total is not None else chain.budget_total
    if total is not None:
        facts.append(CounterFact(
            "risk_budget_total_micros", "/session_metadata/risk_budget_total_micros", total,
            chain_total, "the session permit's risk_budget_total_micros"))
    chain_used = chain.budget_used if chain.payloads_embedded else None
    if used is not None:
        facts.append(CounterFact(
            "risk_budget_used_micros", "/session_metadata/risk_budget_used_micros", used,
            chain_used, "sum of the allowed turns' risk_budget_used_micros"
            + ("" if chain.payloads_embedded else HASH_ONLY)))
    if remaining is not None:
        base_total = chain_total if chain_total is not None else total
        base_used = chain_used if chain_used is not None else used
        derived = (base_total - base_used
                   if type(base_total) is int and type(base_used) is int else None)
        facts.append(CounterFact(
            "risk_budget_remaining_micros", "/session_metadata/risk_budget_remaining_micros",
            remaining, derived, "budget total minus budget used"))
    return facts
