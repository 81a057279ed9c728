"""The session-facts visitor of the single chain pass (:mod:`keel_verify.load.chainpass`).

The chain pass keeps no entries, so what a report shows about the chain is gathered here,
chunk by chunk, in bounded memory: counts by event type, the counters the chain
determines, the first and last :data:`EDGE_ROWS` entries, and up to
:data:`MAX_ITEMS` turns, tool calls and interruptions, and :data:`MAX_MARKS_PER_LANE`
timeline marks per lane (beyond that a lane keeps only counts per point in time).

Nothing here raises on a hostile shape: a member of the wrong type is read as absent.
"""

from __future__ import annotations

import itertools
import operator
from collections import Counter, deque
from collections.abc import Sequence
from itertools import compress, repeat, starmap
from typing import Any, TypeVar

from keel_verify.facts.model import ChainRow, Interruption, Mark, ToolCall, Turn
from keel_verify.load.access import parse_time
from keel_verify.load.chainpass import Chunk
from keel_verify.load.loader import Artifact

EDGE_ROWS = 50  # chain rows kept at each end
MAX_ITEMS = 500  # turns / tool calls / interruptions kept in full
MAX_MARKS_PER_LANE = 400
LABEL_LIMIT = 120  # characters of untrusted text kept for a label

TURN = "voice.turn.evaluated"
TOOL_EVENTS = frozenset({"voice.tool_invocation.governed", "voice.action.governed"})
#: One interruption is counted per ``voice.turn.interrupted`` entry (the governed
#: interruption record); the ``voice.interruption.observed`` atom that usually precedes it
#: is the captured evidence of the same interruption: shown on the timeline, never
#: counted again. ``session_counters.interruption_count`` follows the same rule.
INTERRUPTED = "voice.turn.interrupted"
INTERRUPTION_ATOM = "voice.interruption.observed"
#: Chain event types that record a voice atom (what ``session_counters.atom_count`` counts).
ATOM_EVENTS = frozenset({
    "voice.audio_chunk.recorded", "voice.transcript_span.recorded",
    "voice.tool_invocation.attempted", "voice.lifecycle.marked", INTERRUPTION_ATOM,
    "voice.provider_marker.recorded", "voice.ai_disclosure.emitted",
})
_LANE_OF: dict[str, str] = {
    "voice.session.started": "lifecycle",
    "voice.session.ended": "lifecycle",
    "voice.lifecycle.marked": "lifecycle",
    "voice.ai_disclosure.emitted": "lifecycle",
    "voice.transcript_span.recorded": "transcript",
    TURN: "turns",
    "voice.tool_invocation.governed": "tools",
    "voice.action.governed": "tools",
    "voice.tool_invocation.attempted": "tools",
    INTERRUPTED: "interruptions",
    INTERRUPTION_ATOM: "interruptions",
}
AUDIO = "voice.audio_chunk.recorded"
_AUDIO_LANES = {"inbound": "audio_in", "outbound": "audio_out"}
#: Event types read one by one whatever their number (the rest only while their lane
#: still takes marks).
_DETAILED = frozenset({TURN, *TOOL_EVENTS, INTERRUPTED, INTERRUPTION_ATOM, AUDIO,
                       "voice.session.started"})
_NOT_OBJECT = "(not an object)"
_NO_TYPE = "(no event_type)"


def lane_of(kind: str) -> str:
    return _LANE_OF.get(kind, "other")


def as_int(value: Any) -> int | None:
    return value if type(value) is int else None


def as_text(value: Any, limit: int = LABEL_LIMIT) -> str | None:
    """An untrusted string, cut to ``limit`` characters; None when not a string."""
    if not isinstance(value, str):
        return None
    return value if len(value) <= limit else value[: limit - 1] + "\u2026"


_HEX = frozenset("0123456789abcdef")


def hash_prefix(value: Any) -> str:
    """The first 12 hex digits of a ``sha256:`` hash; "" for anything else (so that a
    hash prefix in a report is always 12 plain hex digits, never artifact text)."""
    if isinstance(value, str) and value.startswith("sha256:"):
        prefix = value[7:19]
        if len(prefix) == 12 and set(prefix) <= _HEX:
            return prefix
    return ""


_TIMES: dict[str, float | None] = {}


def epoch_seconds(value: Any) -> float | None:
    """Seconds since the epoch of an RFC 3339 UTC string, else None (cached: chains
    repeat the same second many times)."""
    if not isinstance(value, str):
        return None
    if value in _TIMES:
        return _TIMES[value]
    moment = parse_time(value)  # the one RFC 3339 reader the checks use too
    seconds = None if moment is None else moment.timestamp()
    if len(_TIMES) < 100_000:
        _TIMES[value] = seconds
    return seconds


def _turn_index(entry: dict[str, Any], payload: dict[str, Any]) -> int | None:
    index = as_int(payload.get("turn_index"))
    if index is not None:
        return index
    resource = entry.get("resource_id")
    if isinstance(resource, str) and resource.startswith("turn_") and resource[5:].isdigit():
        return int(resource[5:])
    return None


class ChainFacts:
    """Per-artifact state the chain pass feeds (one instance per verification)."""

    def __init__(self, artifact: Artifact) -> None:
        self.payloads_embedded = not artifact.is_hash_only
        self.count = 0
        self.counts: Counter[str] = Counter()
        self.first: list[ChainRow] = []
        # The rows themselves, not their entries: an entry may be an object of a million
        # members, and 50 of them held to the end cost gigabytes.
        self.last: deque[ChainRow] = deque(maxlen=EDGE_ROWS)
        # The latest chunk's rows for ``last``, not yet put there (the offset of its first
        # row, the chunk): a chunk bringing EDGE_ROWS rows or more pushes every earlier
        # row out, so rows are read only from the chunks that keep some (entries decoded
        # when asked for are then decoded, and deferred hashes computed, for those alone).
        self.unsettled: tuple[int, Chunk] | None = None
        self.turns: list[Turn] = []
        self.tool_calls: list[ToolCall] = []
        self.interruptions: list[Interruption] = []
        self.turn_count = 0
        self.denied_turns = 0
        self.tool_call_count = 0
        self.denied_tool_calls = 0
        self.interrupted_count = 0  # interruptions (see INTERRUPTED)
        self.atom_count = 0
        # v1 sums; None once a turn or chunk lacks the member (then not determined)
        self.input_tokens: int | None = 0
        self.output_tokens: int | None = 0
        self.budget_used: int | None = 0
        self.audio_ms: dict[str, int | None] = {"inbound": 0, "outbound": 0}
        self.budget_total: int | None = None  # from voice.session.started (v1)
        self.budget_seen = False  # a voice.session.started was read
        self.permit_sequences: dict[str, int | None] = {}
        self.marks: dict[str, list[Mark]] = {}
        self.pairs: Counter[tuple[str, Any]] = Counter()  # (event type, occurred_at)
        self.audio_pairs: Counter[tuple[str, Any]] = Counter()  # (audio lane, occurred_at)
        # In a shard worker (keel_verify.load.shards): marks its earlier chunks kept, a
        # lower bound on what the whole pass keeps before this chunk.
        self.marks_before: Counter[str] = Counter()

    # -- the visitor -------------------------------------------------------------------

    def visit(self, chunk: Chunk) -> None:
        entries = chunk.entries
        count = len(entries)
        first = chunk.first
        self.count += count
        if first < EDGE_ROWS:
            # Only the edge rows' hashes are asked for: a chain of junk objects is hashed
            # no further than some check still reads its hashes (Chunk.hashes).
            stop = min(first + count, EDGE_ROWS)
            leading = chunk.content_hashes_between(0, stop - first)
            for index in range(first, stop):
                self.first.append(chain_row(index, entries[index - first], leading[index - first]))
        # offset of the rows the deque may keep: this chunk's last EDGE_ROWS (the chain's
        # length is not known before the pass ends: a dense chain is counted as it is read)
        tail = max(first, EDGE_ROWS, first + count - EDGE_ROWS) - first
        if tail < count:
            if count - tail == EDGE_ROWS:  # these rows push every earlier one out
                self.last.clear()
            else:
                self._settle()
            self.unsettled = (tail, chunk)
            if count <= EDGE_ROWS:
                # A chunk of so few entries (a part of large ones): its rows now, so that
                # it is not held while the next one is read.
                self._settle()
        objects, types, times = _types_and_times(chunk)
        others = count - len(types)  # entries that are not objects
        kinds: Counter[str] = Counter()
        if others == count:
            if count:
                self.pairs[_NOT_OBJECT, None] += count
                kinds[_NOT_OBJECT] = count
        elif types.count(types[0]) == len(types) and times.count(times[0]) == len(times):
            # every object of one kind at one time (the others, if any, after the leading
            # objects: counted in the order they first occur, as below)
            found = [((types[0], times[0]), len(types)), ((_NOT_OBJECT, None), others)]
            if others and type(entries[0]) is not dict:  # not an object first
                found.reverse()
            for pair, number in found:
                if number:
                    self.pairs[pair] += number
                    kinds[pair[0]] += number
        else:  # few per chunk, counted in the order they first occur
            pairs: Counter[tuple[str, str | None]] = Counter()
            before = _leading_objects(entries) if others else len(types)
            pairs.update(zip(types[:before], times[:before], strict=True))
            if others:
                pairs[_NOT_OBJECT, None] += others
            pairs.update(zip(types[before:], times[before:], strict=True))
            self.pairs.update(pairs)
            for (kind, _), number in pairs.items():
                kinds[kind] += number
        self.counts.update(kinds)
        self.atom_count += sum(n for kind, n in kinds.items() if kind in ATOM_EVENTS)
        self._permit_uses(chunk)
        wanted = {kind for kind in kinds if kind != _NOT_OBJECT  # nothing to read in those
                  and (kind in _DETAILED or self._room(lane_of(kind)))}
        if not wanted:
            return
        for position in [i for i, kind in enumerate(types) if kind in wanted]:
            entry = objects[position]
            if type(entry) is dict:
                self._entry(entry, types[position])

    def _room(self, lane: str) -> bool:
        return (len(self.marks.get(lane, ())) < MAX_MARKS_PER_LANE
                and self.marks_before[lane] < MAX_MARKS_PER_LANE)

    def _permit_uses(self, chunk: Chunk) -> None:
        """The first entry carrying each permit id (its artifact_sequence)."""
        entries = chunk.entries
        if chunk.objects:
            if chunk.lacks_member("permit_id"):
                return
            permit_ids = chunk.column("permit_id")
        else:  # only objects can carry one
            entries = chunk.object_entries()
            if not entries or chunk.lacks_member("permit_id"):
                return
            permit_ids = list(map(dict.get, entries, repeat("permit_id")))
        if permit_ids.count(None) == len(permit_ids):
            return
        if chunk.same:  # one entry repeated: only its first use counts
            entries, permit_ids = entries[:1], permit_ids[:1]
        for entry, permit_id in zip(entries, permit_ids, strict=True):
            if isinstance(permit_id, str) and permit_id not in self.permit_sequences:
                self.permit_sequences[permit_id] = as_int(entry.get("artifact_sequence"))

    # Sharding (keel_verify.load.shards): nothing carries over between chunks but the
    # lanes' room for marks, and a lane's marks are its first ones in chain order, so a
    # later chunk's marks are appended while there is room.
    def carried(self) -> object:
        return None

    def seed(self, previous: Any) -> None:
        pass

    def prime(self, earlier: ChainFacts) -> None:
        """In a shard worker: a lane an earlier chunk of this worker filled is full for
        the whole pass too, so this chunk need not read that lane's other entries."""
        self.marks_before = Counter(earlier.marks_before)
        for lane, kept in earlier.marks.items():
            self.marks_before[lane] += len(kept)

    def absorb(self, later: ChainFacts) -> None:
        self.count += later.count
        self.counts.update(later.counts)
        self.first.extend(later.first)
        self._settle()
        later._settle()
        self.last.extend(later.last)
        _extend_capped(self.turns, later.turns, MAX_ITEMS)
        _extend_capped(self.tool_calls, later.tool_calls, MAX_ITEMS)
        _extend_capped(self.interruptions, later.interruptions, MAX_ITEMS)
        for name in ("turn_count", "denied_turns", "tool_call_count", "denied_tool_calls",
                     "interrupted_count", "atom_count"):
            setattr(self, name, getattr(self, name) + getattr(later, name))
        for name in ("input_tokens", "output_tokens", "budget_used"):
            setattr(self, name, _add(getattr(self, name), getattr(later, name)))
        for direction, total in later.audio_ms.items():
            self.audio_ms[direction] = _add(self.audio_ms.get(direction, 0), total)
        if later.budget_seen:
            self.budget_total, self.budget_seen = later.budget_total, True
        for permit_id, sequence in later.permit_sequences.items():
            self.permit_sequences.setdefault(permit_id, sequence)
        for lane, marks in later.marks.items():
            _extend_capped(self.marks.setdefault(lane, []), marks, MAX_MARKS_PER_LANE)
        self.pairs.update(later.pairs)
        self.audio_pairs.update(later.audio_pairs)

    def _entry(self, entry: dict[str, Any], kind: str) -> None:
        payload = entry.get("canonicalized_payload")
        if type(payload) is not dict:
            payload = {}
        elif type(payload.get("payload")) is dict and "atom_type" in payload:
            # an atom: its own members sit in "payload", beside direction and capture time
            payload = {**payload["payload"], "direction": payload.get("direction")}
        if kind == TURN:
            label = self._turn(entry, payload)
        elif kind in TOOL_EVENTS:
            label = self._tool_call(entry, payload, kind)
        elif kind in (INTERRUPTED, INTERRUPTION_ATOM):
            label = self._interruption(entry, payload, kind)
        elif kind == AUDIO:
            label = self._audio(entry, payload)
        elif kind == "voice.transcript_span.recorded":
            label = as_text(payload.get("text"), 80) or "transcript span"
        elif kind == "voice.session.started":
            self.budget_total = as_int(payload.get("risk_budget_total_micros"))
            self.budget_seen = True
            label = "session started"
        elif kind == "voice.tool_invocation.attempted":
            label = f"attempt: {as_text(payload.get('tool_name'), 60) or _tool_of(entry) or '?'}"
            approval = as_text(payload.get("approval"), 40)
            if approval is not None:  # an approval the sidecar recorded (adapters)
                by = as_text(payload.get("approved_by"), 40)
                label += f" \u00b7 {approval}" + (f" by {by}" if by else "")
        elif kind == "voice.lifecycle.marked":
            label = as_text(payload.get("marker_type"), 80) or kind
        elif kind == "voice.provider_marker.recorded":
            label = f"provider: {as_text(payload.get('provider_event_type'), 80) or '?'}"
        else:
            label = kind
        lane = lane_of(kind)
        if len(self.marks.get(lane, ())) < MAX_MARKS_PER_LANE or kind == AUDIO:
            self._mark(entry, kind, label, payload)

    def _mark(self, entry: dict[str, Any], kind: str, label: str,
              payload: dict[str, Any]) -> None:
        lane = lane_of(kind)
        duration = None
        if kind == AUDIO:
            direction = payload.get("direction")
            lane = _AUDIO_LANES.get(direction if isinstance(direction, str) else "", "audio")
            duration = as_int(payload.get("duration_ms"))
        kept = self.marks.setdefault(lane, [])
        if len(kept) < MAX_MARKS_PER_LANE:
            decision = entry.get("decision")
            kept.append(Mark(
                lane=lane, t=epoch_seconds(entry.get("occurred_at")),
                sequence=as_int(entry.get("artifact_sequence")),
                event_type=kind, hash_prefix=hash_prefix(entry.get("content_hash")),
                label=label, state=decision if isinstance(decision, str) else "",
                duration_ms=duration,
            ))

    def _turn(self, entry: dict[str, Any], payload: dict[str, Any]) -> str:
        self.turn_count += 1
        decision = _decision(entry)
        denied = decision == "denied"
        self.denied_turns += denied
        inputs = as_int(payload.get("input_tokens"))
        outputs = as_int(payload.get("output_tokens"))
        used = as_int(payload.get("risk_budget_used_micros"))
        self.input_tokens = _add(self.input_tokens, inputs)
        self.output_tokens = _add(self.output_tokens, outputs)
        self.budget_used = _add(self.budget_used, 0 if denied else used)
        listed = len(self.turns) < MAX_ITEMS
        if not listed and len(self.marks.get(lane_of(TURN), ())) >= MAX_MARKS_PER_LANE:
            return ""  # counted; neither listed nor marked, so no label is read (_entry)
        index = _turn_index(entry, payload)
        reason = as_text(payload.get("user_facing_reason"), 300)
        if listed:
            self.turns.append(Turn(
                index=index, sequence=as_int(entry.get("artifact_sequence")),
                at=as_text(entry.get("occurred_at"), 40), decision=decision, reason=reason,
                input_tokens=inputs, output_tokens=outputs, risk_budget_used_micros=used,
                hash_prefix=hash_prefix(entry.get("content_hash")),
            ))
        label = f"turn {index if index is not None else '?'} {decision}"
        return f"{label}: {reason}" if reason else label

    def _tool_call(self, entry: dict[str, Any], payload: dict[str, Any], kind: str) -> str:
        self.tool_call_count += 1
        decision = _decision(entry)
        self.denied_tool_calls += decision == "denied"
        name = as_text(payload.get("tool_name"), 80) or _tool_of(entry)
        permit_id = entry.get("permit_id")
        if len(self.tool_calls) < MAX_ITEMS:
            from keel_verify.facts.permits import payment_of

            self.tool_calls.append(ToolCall(
                sequence=as_int(entry.get("artifact_sequence")),
                at=as_text(entry.get("occurred_at"), 40),
                event_type=kind,
                tool_name=name,
                call_id=as_text(payload.get("call_id") or entry.get("resource_id"), 80),
                action_verb=as_text(payload.get("action_verb"), 60),
                decision=decision,
                turn_index=as_int(payload.get("turn_index")),
                permit_id=as_text(permit_id, 80),
                permit_found=False,  # settled against the permits in extract.py
                payment=payment_of(payload),
                hash_prefix=hash_prefix(entry.get("content_hash")),
            ))
        return f"{name or 'tool call'} {decision}"

    def _interruption(self, entry: dict[str, Any], payload: dict[str, Any], kind: str) -> str:
        reason = as_text(payload.get("reason"), 120)
        if kind == INTERRUPTED:  # the interruption itself; the atom is its evidence
            self.interrupted_count += 1
        if kind == INTERRUPTED and len(self.interruptions) < MAX_ITEMS:
            self.interruptions.append(Interruption(
                sequence=as_int(entry.get("artifact_sequence")),
                at=as_text(entry.get("occurred_at"), 40), event_type=kind, reason=reason,
                interrupted_turn_index=as_int(payload.get("interrupted_turn_index")),
                hash_prefix=hash_prefix(entry.get("content_hash")),
            ))
        label = f"interruption: {reason}" if reason else "interruption"
        delivered, withheld = as_int(payload.get("delivered_ms")), as_int(payload.get("withheld_ms"))
        if delivered is not None and withheld is not None:
            label += f" \u00b7 delivered {delivered} ms, withheld {withheld} ms"
        return label

    def _audio(self, entry: dict[str, Any], payload: dict[str, Any]) -> str:
        direction = payload.get("direction")
        duration = as_int(payload.get("duration_ms"))
        lane = _AUDIO_LANES.get(direction if isinstance(direction, str) else "", "audio")
        self.audio_pairs[(lane, entry.get("occurred_at"))] += 1
        if direction in self.audio_ms:
            self.audio_ms[direction] = _add(self.audio_ms[direction], duration)
        return f"audio {direction if isinstance(direction, str) else ''} " \
               f"{duration if duration is not None else '?'} ms".replace("  ", " ")

    # -- results -----------------------------------------------------------------------

    def _settle(self) -> None:
        """Put the latest chunk's rows in ``last`` (see ``unsettled``)."""
        if self.unsettled is not None:
            tail, chunk = self.unsettled
            self.unsettled = None
            count = len(chunk.entries)
            self.last.extend(starmap(chain_row, zip(
                range(chunk.first + tail, chunk.first + count), chunk.entries[tail:],
                chunk.content_hashes_between(tail, count), strict=True)))

    def __getstate__(self) -> dict[str, Any]:
        """Pickled (by a shard worker) with its rows settled: values, not a chunk."""
        self._settle()
        return self.__dict__

    def last_rows(self) -> list[ChainRow]:
        self._settle()
        return list(self.last)

    def lane_times(self) -> tuple[dict[str, Counter[float]], Counter[str], float | None, float | None]:
        """Per lane: event counts by time, total events; and the earliest and latest
        readable ``occurred_at`` (audio chunks without a v1 direction share one lane)."""
        by_lane: dict[str, Counter[float]] = {}
        totals: Counter[str] = Counter()
        t_min: float | None = None
        t_max: float | None = None
        lanes = [((lane_of(kind), at), count) for (kind, at), count in self.pairs.items()
                 if kind != AUDIO]
        for (lane, at), count in [*lanes, *self.audio_pairs.items()]:
            totals[lane] += count
            t = epoch_seconds(at)
            if t is None:
                continue
            by_lane.setdefault(lane, Counter())[t] += count
            t_min = t if t_min is None or t < t_min else t_min
            t_max = t if t_max is None or t > t_max else t_max
        return by_lane, totals, t_min, t_max


def _types_and_times(chunk: Chunk) -> tuple[Sequence[Any], list[str], list[str | None]]:
    """The entries that are objects, in order, and each one's event type (or why it has
    none) and ``occurred_at`` text (None when not a string), in C per entry; the other
    entries have neither. (For one value repeated, the objects are the entries.)"""
    entries = chunk.entries
    if chunk.same:  # one value repeated: read once
        if type(entries[0]) is not dict:
            return [], [], []
        kind, at = _type_and_time(entries[0])
        return entries, [kind] * len(entries), [at] * len(entries)
    if not chunk.objects:
        entries = chunk.object_entries()
        if not entries:
            return entries, [], []
    if chunk.lacks_member("event_type") and chunk.lacks_member("occurred_at"):
        return entries, [_NO_TYPE] * len(entries), [None] * len(entries)
    types: list[Any] = list(map(dict.get, entries, repeat("event_type")))
    times: list[Any] = list(map(dict.get, entries, repeat("occurred_at")))
    if types.count(None) == len(types):  # no entry has one (a chain of junk objects)
        types = [_NO_TYPE] * len(types)
    elif not set(map(type, types)) <= {str}:  # junk of any type (even unhashable) is named
        types = [kind if type(kind) is str else _NO_TYPE for kind in types]
    if not set(map(type, times)) <= {str, type(None)}:
        times = [at if type(at) is str else None for at in times]
    return entries, types, times


def _leading_objects(entries: Sequence[Any]) -> int:
    """How many entries are objects before the first that is not one (there is one)."""
    return next(compress(itertools.count(), map(operator.is_not, map(type, entries), repeat(dict))))


def _type_and_time(entry: Any) -> tuple[str, str | None]:
    """One entry's event type and time, as :func:`_types_and_times` names them."""
    if type(entry) is not dict:
        return _NOT_OBJECT, None
    kind, at = entry.get("event_type"), entry.get("occurred_at")
    return kind if type(kind) is str else _NO_TYPE, at if type(at) is str else None


_T = TypeVar("_T")


def _extend_capped(kept: list[_T], more: list[_T], cap: int) -> None:
    kept.extend(more[: max(0, cap - len(kept))])


def _tool_of(entry: dict[str, Any]) -> str | None:
    """The tool an entry's ``operation`` names (``tool.<name>``): hash-only chains keep
    no payload, but the operation is in the entry itself."""
    operation = entry.get("operation")
    if isinstance(operation, str) and operation.startswith("tool."):
        return as_text(operation[5:], 80)
    return None


def _add(total: int | None, value: int | None) -> int | None:
    if total is None or value is None:
        return None
    return total + value


def _decision(entry: dict[str, Any]) -> str:
    decision = entry.get("decision")
    return as_text(decision, 40) or "?" if isinstance(decision, str) else "?"


def chain_row(index: int, entry: Any, recomputed: str | None) -> ChainRow:
    if type(entry) is not dict:
        return ChainRow(index, None, None, "(not an object)", None, None, hash_prefix(recomputed))
    stated = entry.get("content_hash")
    return ChainRow(
        index=index,
        sequence=as_int(entry.get("artifact_sequence")),
        at=as_text(entry.get("occurred_at"), 40),
        event_type=as_text(entry.get("event_type"), 80) or "(no event_type)",
        decision=as_text(entry.get("decision"), 40),
        permit_id=as_text(entry.get("permit_id"), 80),
        hash_prefix=hash_prefix(stated) or hash_prefix(recomputed),
    )
