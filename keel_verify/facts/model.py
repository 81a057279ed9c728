"""What happened in a session, as typed, immutable facts read from an artifact.

These records are what the renderers (terminal, JSON, HTML) show about the session
itself: turns and their decisions, tool calls with their child permits and payments,
interruptions, receipts, counts by event type, the budget, and the counters the artifact
states beside what its chain holds. They are pure data; nothing here decides a verdict.

Every string here is copied from the artifact and therefore attacker-controlled: a
renderer must treat it as text (escape it), never as markup.

Times are RFC 3339 strings as the artifact states them (``at``), plus ``t`` -- seconds
since the Unix epoch -- where the string is a readable UTC time (None otherwise).
"""

from __future__ import annotations

from dataclasses import dataclass

#: Timeline lanes, top to bottom, with the label a renderer shows.
LANES: tuple[tuple[str, str], ...] = (
    ("lifecycle", "lifecycle"),
    ("audio_in", "audio in"),
    ("audio_out", "audio out"),
    ("audio", "audio (direction not in artifact)"),
    ("transcript", "transcript"),
    ("turns", "turns"),
    ("tools", "tool calls"),
    ("permits", "permits"),
    ("interruptions", "interruptions"),
    ("other", "other events"),
    ("witness", "witness"),
)


@dataclass(frozen=True)
class Mark:
    """One event on the timeline."""

    lane: str  # a key of LANES
    t: float | None  # seconds since the epoch (occurred_at), None when unreadable
    sequence: int | None  # the entry's artifact_sequence (None for witness marks)
    event_type: str
    hash_prefix: str  # first 12 hex digits of the entry's content hash ("" if none)
    label: str  # short, untrusted text: "turn 3 denied", a tool name, a transcript snippet
    state: str = ""  # "allowed", "denied", "recorded", "witnessed", "claimed"
    duration_ms: int | None = None  # audio chunks (v1 payloads)


@dataclass(frozen=True)
class LaneBins:
    """A lane with too many marks to draw one by one: counts per equal time bin."""

    lane: str
    start: float
    end: float
    counts: tuple[int, ...]
    total: int


@dataclass(frozen=True)
class Timeline:
    start: float | None  # earliest time shown (seconds since the epoch)
    end: float | None
    marks: tuple[Mark, ...]  # individual marks (lanes drawn one by one)
    bins: tuple[LaneBins, ...]  # lanes drawn as density (too many marks)
    lanes: tuple[str, ...]  # lane keys shown, in LANES order


@dataclass(frozen=True)
class Payment:
    """An ``mpp.payment`` as the tool call's payload (or its child permit) states it."""

    amount_minor: int | None  # requested amount in the currency's minor units (cents)
    currency: str | None
    authority_id: str | None = None  # the spend request (or authority) id
    amount_max: str | None = None  # the spend authority's ceiling, as stated
    cadence: str | None = None  # one_shot, ...
    ttl_seconds: int | None = None
    purpose: str | None = None  # purpose_binding, e.g. purchase.once
    target_url: str | None = None  # mpp_target_url: text to show, never a link

    @property
    def amount_text(self) -> str:
        """``12.50 USD`` for two-decimal currencies (the format's only observed kind)."""
        return _money(self.amount_minor, self.currency)


def _money(minor: int | None, currency: str | None) -> str:
    if minor is None:
        return "?"
    sign = "-" if minor < 0 else ""
    units, cents = divmod(abs(minor), 100)
    return f"{sign}{units}.{cents:02d} {(currency or '').upper()}".rstrip()


@dataclass(frozen=True)
class Turn:
    index: int | None  # turn_index (payload) or from resource_id "turn_N"
    sequence: int | None
    at: str | None
    decision: str  # "allowed" / "denied" / the entry's own text
    reason: str | None  # user_facing_reason (v1 payloads only)
    input_tokens: int | None = None
    output_tokens: int | None = None
    risk_budget_used_micros: int | None = None
    hash_prefix: str = ""


@dataclass(frozen=True)
class ToolCall:
    sequence: int | None
    at: str | None
    event_type: str  # voice.tool_invocation.governed / voice.action.governed
    tool_name: str | None
    call_id: str | None
    action_verb: str | None
    decision: str
    turn_index: int | None
    permit_id: str | None
    permit_found: bool  # the permit_id names a child permit in the artifact
    payment: Payment | None = None
    hash_prefix: str = ""


@dataclass(frozen=True)
class Permit:
    permit_id: str | None
    kind: str  # "session" (the parent) or "child"
    action_name: str | None
    decision: str | None
    status: str | None
    bound_sequence: int | None = None  # artifact_sequence of the chain entry naming it
    payment: Payment | None = None


@dataclass(frozen=True)
class Interruption:
    sequence: int | None
    at: str | None
    event_type: str  # voice.turn.interrupted: one per interruption (its atom is evidence)
    reason: str | None
    interrupted_turn_index: int | None
    hash_prefix: str = ""


@dataclass(frozen=True)
class Receipt:
    """A timestamp receipt as the artifact states it, plus what its token verification
    found (status and genTime come from the verification, never from the receipt)."""

    pointer: str
    provider: str | None
    tsa: str | None
    received_at: str | None
    covers_sequence: int | None
    status: str  # verified / unanchored / unsigned / invalid
    gen_time: str | None
    tsa_subject: str | None = None
    serial_number: str | None = None
    policy_oid: str | None = None
    token_sha256: str | None = None


@dataclass(frozen=True)
class CounterFact:
    """A counter the artifact states, beside the value its chain holds."""

    name: str  # "session_counters.turn_count", "usage.input_tokens", "risk_budget_used_micros"
    pointer: str  # RFC 6901 pointer of the stated value
    stated: int | str | None  # str: a value that is not an integer (shown as found)
    derived: int | None  # None: the chain does not determine it (e.g. v3 hash-only)
    basis: str  # how the chain value is derived, in words
    relation: str = "equal"  # "equal", or "at least" (the stated value may exceed it)
    binding: bool = True  # False: a metering claim; a disagreement warns, never fails

    @property
    def agrees(self) -> bool | None:
        """True/False when comparable, None when the chain does not determine it."""
        if self.derived is None:
            return None
        if type(self.stated) is not int:
            return False
        if self.relation == "at least":
            return self.stated >= self.derived
        return self.stated == self.derived


@dataclass(frozen=True)
class Budget:
    total_micros: int | None
    used_micros: int | None
    remaining_micros: int | None
    used_by_chain_micros: int | None  # sum of the allowed turns' reservations (v1)


@dataclass(frozen=True)
class ChainRow:
    index: int  # 0-based position in the chain
    sequence: int | None  # artifact_sequence
    at: str | None  # occurred_at
    event_type: str
    decision: str | None
    permit_id: str | None
    hash_prefix: str


@dataclass(frozen=True)
class SessionFacts:
    """Everything a report shows about the session. Lists are capped (``*_omitted``
    counts what was left out) so that a huge chain gives a bounded report."""

    schema_version: int | None
    payloads_embedded: bool  # v1: payloads in the chain; v3: hashes only
    session_id: str | None
    project_id: str | None
    provider: str | None
    model: str | None
    status: str | None
    started_at: str | None
    ended_at: str | None
    issued_at: str | None
    duration_seconds: float | None
    policy_snapshot_id: str | None
    policy_ids: tuple[str, ...]
    event_count: int
    counts_by_type: tuple[tuple[str, int], ...]  # most frequent first
    turns: tuple[Turn, ...]
    tool_calls: tuple[ToolCall, ...]
    permits: tuple[Permit, ...]
    interruptions: tuple[Interruption, ...]
    receipts: tuple[Receipt, ...]
    budget: Budget
    counters: tuple[CounterFact, ...]
    chain_first: tuple[ChainRow, ...]
    chain_last: tuple[ChainRow, ...]  # empty when chain_first holds the whole chain
    timeline: Timeline
    project_chain_head: str | None = None  # the project-wide head the receipts witness
    project_chain_sequence: int | None = None
    turns_omitted: int = 0
    tool_calls_omitted: int = 0
    interruptions_omitted: int = 0
    permits_omitted: int = 0

    @property
    def payments(self) -> tuple[ToolCall, ...]:
        return tuple(call for call in self.tool_calls if call.payment is not None)

    @property
    def denied_turns(self) -> tuple[Turn, ...]:
        return tuple(turn for turn in self.turns if turn.decision == "denied")

    @property
    def chain_omitted(self) -> int:
        return self.event_count - len(self.chain_first) - len(self.chain_last)

    @property
    def disagreeing_counters(self) -> tuple[CounterFact, ...]:
        return tuple(counter for counter in self.counters if counter.agrees is False)
