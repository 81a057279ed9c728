"""What an adapter produces: a provider-neutral session plan, and the ledger that proves
every recorded event went somewhere.

A :class:`SessionPlan` is the ordered list of Keel steps a recording becomes -- voice
atoms, turns (with their tool calls) and turn interruptions -- plus the session's start
facts and usage. It names no HTTP body: :mod:`keel_verify.adapters.scenario` turns it into
API calls. Adapters build it with :class:`PlanBuilder`, whose ledger gives every recorded
event one or more :class:`Disposition`:

* ``atom`` -- the event is the source of an atom (a transcript, a tool attempt, a marker);
* ``aggregated`` -- the event was folded, under a documented rule, into an atom or a turn
  with other events (audio deltas into one ``audio_chunk``, transcript fragments into the
  final span, a response's structural events into its turn);
* ``turn`` -- the event is the source of a turn or a turn interruption;
* ``opaque`` -- the event became a ``provider_opaque_marker`` carrying its type and hash
  (errors, unknown events, and fragments whose aggregate never arrived);
* ``clamped`` -- a number the event supplied (token counts, a cut-off offset, ...) was
  beyond what the Keel API takes (``0 .. 2**53 - 1``) and was clamped to that maximum
  in the target step; rule ``clamped:<member>``. A turn also keeps the exact value as
  text in ``metadata.provider_<member>``.

:meth:`PlanBuilder.finish` turns every pending fragment that found no home into an opaque
marker, so nothing is ever dropped silently.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal, TypeVar

from keel_verify.adapters.audio import AudioFormat, AudioRun, decode_base64
from keel_verify.adapters.recording import RecordedEvent
from keel_verify.crypto.canonical import canonical_bytes, tagged_sha256

#: Provider ids longer than this are replaced by their hash; lists keep this many items;
#: a provider reference whose canonical form is still over MAX_REF_BYTES is replaced by
#: its hash. Provider values are untrusted, and Keel bounds what an atom may carry.
MAX_REF_TEXT = 200
MAX_REF_ITEMS = 8
MAX_REF_BYTES = 2048
JCS_MAX = 2**53 - 1
#: The longest transcript span the API takes (``LongText`` in keel_verify/emit/bodies.py).
MAX_TEXT = 64 * 1024

#: Audio deltas of one stream are folded into one atom while they arrive within this
#: window of gateway time from the first one.
AUDIO_WINDOW_NS = 1_000_000_000

DispositionKind = Literal["atom", "aggregated", "turn", "opaque", "clamped"]
S = TypeVar("S")  # an adapter's walking state
K = TypeVar("K")  # what an adapter's handlers are keyed by


@dataclass(frozen=True)
class Atom:
    """A Keel voice atom. ``fields`` are the type's own members (``content_hash``,
    ``text``, ``tool_name``, ...); ``lines`` the recording lines it accounts for."""

    key: str
    atom_type: str
    captured_at_ns: int
    direction: str | None  # "inbound" / "outbound"; None: not directional
    fields: dict[str, Any]
    lines: tuple[int, ...]


@dataclass(frozen=True)
class ToolCall:
    """A tool call to govern: ``arguments`` when they were a JSON object; the hash is
    over their canonical bytes (or over the raw text when they were not JSON)."""

    tool_name: str
    call_id: str | None
    arguments: dict[str, Any] | None
    arguments_hash: str


@dataclass(frozen=True)
class Turn:
    """A turn to evaluate. The first tool call rides on the turn; further ones in the same
    turn become action permits right after it."""

    key: str
    at_ns: int
    input_tokens: int
    output_tokens: int
    metadata: dict[str, Any]
    tool_calls: tuple[ToolCall, ...]
    lines: tuple[int, ...]


@dataclass(frozen=True)
class TurnInterruption:
    """The governance record that turn ``turn_index`` (1-based) was cut off, with what
    had been delivered and withheld, the provider's cut-off offset and its
    acknowledgement of the cancel (``None``: none came)."""

    key: str
    at_ns: int
    turn_index: int
    reason: str
    delivered_ms: int | None
    withheld_ms: int | None
    cutoff_offset_ms: int | None
    cancel_ack: str | None
    lines: tuple[int, ...]


Step = Atom | Turn | TurnInterruption


@dataclass(frozen=True)
class Disposition:
    kind: DispositionKind
    target: str  # the key of the atom or turn
    rule: str  # why: a short documented rule name


@dataclass(frozen=True)
class SessionPlan:
    provider: str
    model: str
    started_ns: int
    ended_ns: int
    metadata: dict[str, Any]  # start metadata: provider ids, the recording's hash, ...
    steps: tuple[Step, ...]
    accounting: dict[int, tuple[Disposition, ...]]  # recording line -> what became of it
    usage: dict[str, int]  # input_tokens, output_tokens, audio_input_ms, ... (end body)

    @property
    def atoms(self) -> tuple[Atom, ...]:
        return tuple(step for step in self.steps if isinstance(step, Atom))

    @property
    def turns(self) -> tuple[Turn, ...]:
        return tuple(step for step in self.steps if isinstance(step, Turn))


def bounded(value: Any) -> Any:
    """``value`` (provider ids: strings, integers, lists, objects) within Keel's bounds:
    long strings become ``sha256:`` of their UTF-8 bytes, lists keep their first items,
    integers outside the JCS range become strings, None members are dropped."""
    if isinstance(value, str):
        if len(value) > MAX_REF_TEXT:
            return tagged_sha256(value.encode("utf-8", "surrogatepass"))
        return value
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return value if -JCS_MAX <= value <= JCS_MAX else str(value)
    if isinstance(value, list):
        return [bounded(item) for item in value[:MAX_REF_ITEMS]]
    if isinstance(value, dict):
        kept = {str(k)[:MAX_REF_TEXT]: bounded(v) for k, v in value.items() if v is not None}
        if len(canonical_bytes(kept)) > MAX_REF_BYTES:
            return {"ref_hash": tagged_sha256(canonical_bytes(kept))}
        return kept
    return tagged_sha256(canonical_bytes(value))  # floats and the like: committed, not shown


def arguments_of(raw: Any) -> tuple[dict[str, Any] | None, str]:
    """Tool-call arguments (a JSON string or object) -> (object or None, hash)."""
    if isinstance(raw, str):
        try:
            parsed = json.loads(raw, parse_constant=lambda name: None)
        except (ValueError, RecursionError):
            parsed = None
        if isinstance(parsed, dict):
            try:
                return parsed, tagged_sha256(canonical_bytes(parsed))
            except (TypeError, ValueError):
                pass
        return None, tagged_sha256(raw.encode("utf-8", "surrogatepass"))
    if isinstance(raw, dict):
        return raw, tagged_sha256(canonical_bytes(raw))
    return None, tagged_sha256(canonical_bytes(raw))


@dataclass
class _Pending:
    event: RecordedEvent
    rule: str


@dataclass
class PlanBuilder:
    """Collects steps and the ledger while an adapter walks the recording once."""

    provider: str
    prefix: str  # idempotency-key prefix, e.g. "oai"
    events: Sequence[RecordedEvent]
    steps: list[Step] = field(default_factory=list)
    accounting: dict[int, list[Disposition]] = field(default_factory=dict)
    turn_count: int = 0
    usage: dict[str, int] = field(default_factory=lambda: {
        "input_tokens": 0, "output_tokens": 0, "audio_input_ms": 0, "audio_output_ms": 0})
    _pending: dict[str, list[_Pending]] = field(default_factory=dict)
    _runs: dict[tuple[str, ...], AudioRun] = field(default_factory=dict)
    _serial: int = 0
    _index: dict[str, int] = field(default_factory=dict)  # step key -> place in steps

    # -- the ledger ----------------------------------------------------------------------

    def _account(self, lines: Sequence[int], kind: DispositionKind, target: str,
                 rule: str) -> None:
        for line in lines:
            self.accounting.setdefault(line, []).append(Disposition(kind, target, rule))

    def _clamped(self, lines: Sequence[int], target: str, name: str, value: int) -> int:
        """``value`` within the API's integer range (``0 .. JCS_MAX``); a value beyond it
        is clamped, and ``lines`` are accounted ``clamped`` (rule ``clamped:<name>``)."""
        kept = min(max(value, 0), JCS_MAX)
        if kept != value:
            self._account(lines, "clamped", target, f"clamped:{name}")
        return kept

    def _key(self, what: str) -> str:
        self._serial += 1
        return f"{self.prefix}-{self._serial:06d}-{what}"

    def pend(self, group: str, event: RecordedEvent, rule: str) -> None:
        """Hold ``event`` until the atom or turn of ``group`` exists (see :meth:`settle`)."""
        self._pending.setdefault(group, []).append(_Pending(event, rule))

    def settle(self, group: str, target: str) -> tuple[int, ...]:
        """Fold every event pending under ``group`` into ``target``; their lines."""
        pending = self._pending.pop(group, [])
        for item in pending:
            self._account([item.event.line], "aggregated", target, item.rule)
        lines = tuple(item.event.line for item in pending)
        self._attach(target, lines)
        return lines

    def fold(self, event: RecordedEvent, target: str, rule: str) -> None:
        """Account ``event`` as folded into the existing atom or turn ``target``."""
        self._account([event.line], "aggregated", target, rule)
        self._attach(target, (event.line,))

    def _attach(self, target: str, lines: tuple[int, ...]) -> None:
        """Add ``lines`` to the step ``target`` if it is already in the plan."""
        index = self._index.get(target)
        if index is None or not lines:
            return
        step = self.steps[index]
        if isinstance(step, (Atom, Turn)):
            self.steps[index] = replace(step, lines=tuple(sorted({*step.lines, *lines})))

    def _append(self, step: Step) -> None:
        self._index[step.key] = len(self.steps)
        self.steps.append(step)

    def _add_usage(self, metric: str, amount: int) -> None:
        self.usage[metric] = min(JCS_MAX, self.usage[metric] + amount)

    # -- walking the recording ---------------------------------------------------------

    def walk(self, state: S, handlers: Mapping[K, Callable[[S, RecordedEvent], None]],
             key: Callable[[RecordedEvent], K],
             fallback: Callable[[S, RecordedEvent], None] | None = None) -> None:
        """Feed every event, in order, to ``handlers[key(event)]`` (closing audio windows
        as time passes). An event no handler takes goes to ``fallback``, or becomes an
        opaque marker (rule ``unmodelled_event``)."""
        for event in self.events:
            self.advance(event.ts_ns)
            handler = handlers.get(key(event))
            if handler is not None:
                handler(state, event)
            elif fallback is not None:
                fallback(state, event)
            else:
                self.opaque(event, "unmodelled_event")

    def decoded(self, event: RecordedEvent, value: Any) -> bytes | None:
        """The bytes of a base64 audio member; None (and an opaque marker) if it is not."""
        data = decode_base64(value)
        if data is None:
            self.opaque(event, "undecodable_audio")
        return data

    def transcript(self, event: RecordedEvent, text: Any, direction: str, speaker: str, *,
                   rule: str, group: str | None = None,
                   ref: dict[str, Any] | None = None) -> Atom | None:
        """A final ``transcript_span`` from ``event``; an empty text is an opaque marker."""
        if not isinstance(text, str) or not text:
            self.opaque(event, "empty_transcript")
            return None
        return self.atom("transcript_span", event.ts_ns, direction, {
            "text": text, "speaker": speaker, "is_final": True, "attributes": ref,
        }, [event], rule=rule, group=group)

    # -- steps ---------------------------------------------------------------------------

    def atom(self, atom_type: str, at_ns: int, direction: str | None, fields: dict[str, Any],
             sources: Sequence[RecordedEvent], *, rule: str, group: str | None = None) -> Atom:
        """Append an atom made from ``sources`` (and from the events pending under
        ``group``, folded in). A transcript longer than Keel accepts in one span is
        recorded as consecutive spans (``attributes.part``), never cut."""
        text = fields.get("text")
        if atom_type == "transcript_span" and isinstance(text, str) and len(text) > MAX_TEXT:
            parts = [text[i:i + MAX_TEXT] for i in range(0, len(text), MAX_TEXT)]
            for number, part in enumerate(parts[:-1], start=1):
                self.atom(atom_type, at_ns, direction, {**fields, "text": part, "attributes": {
                    **(fields.get("attributes") or {}), "part": number}}, sources, rule=rule)
            fields = {**fields, "text": parts[-1], "attributes": {
                **(fields.get("attributes") or {}), "part": len(parts)}}
        key = self._key(atom_type)
        own = [event.line for event in sources]
        self._account(own, "atom", key, rule)
        folded = self.settle(group, key) if group is not None else ()
        kept = {k: v for k, v in fields.items() if v is not None}
        for name, value in kept.items():  # delivered_ms, withheld_ms, turn indexes, ...
            if type(value) is int:
                kept[name] = self._clamped(own, key, name, value)
        for name in ("tool_name", "call_id", "reason", "approved_by"):
            if isinstance(kept.get(name), str):
                kept[name] = bounded(kept[name])
        if isinstance(kept.get("attributes"), dict):
            kept["attributes"] = bounded(kept["attributes"])
        atom = Atom(key, atom_type, at_ns, direction, kept, tuple(sorted({*own, *folded})))
        self._append(atom)
        return atom

    def opaque(self, event: RecordedEvent, rule: str) -> Atom:
        """A ``provider_opaque_marker``: the event's type and the hash of its canonical
        bytes, never its content."""
        direction = "inbound" if event.direction == "server" else "outbound"
        key = self._key("provider_opaque_marker")
        self._account([event.line], "opaque", key, rule)
        atom = Atom(key, "provider_opaque_marker", event.ts_ns, direction,
                    {"provider_event_type": event.type[:200], "marker_hash": event.event_hash},
                    (event.line,))
        self._append(atom)
        return atom

    def turn(self, at_ns: int, sources: Sequence[RecordedEvent], *, input_tokens: int = 0,
             output_tokens: int = 0, metadata: dict[str, Any] | None = None,
             tool_calls: Sequence[ToolCall] = (), group: str | None = None,
             rule: str) -> Turn:
        key = self._key("turn")
        own = [event.line for event in sources]
        self._account(own, "turn", key, rule)
        folded = self.settle(group, key) if group is not None else ()
        self.turn_count += 1
        kept_metadata = dict(metadata or {})
        tokens = {"input_tokens": input_tokens, "output_tokens": output_tokens}
        for name, value in tokens.items():
            tokens[name] = self._clamped(own, key, name, value)
            if tokens[name] != value:  # the exact value stays on record, as text
                kept_metadata[f"provider_{name}"] = str(value)
        input_tokens, output_tokens = tokens["input_tokens"], tokens["output_tokens"]
        self._add_usage("input_tokens", input_tokens)
        self._add_usage("output_tokens", output_tokens)
        turn = Turn(key, at_ns, input_tokens, output_tokens, bounded(kept_metadata),
                    tuple(tool_calls), tuple(sorted({*own, *folded})))
        self._append(turn)
        return turn

    def interrupt_turn(self, interruption: Atom, sources: Sequence[RecordedEvent], *,
                       rule: str, cutoff_offset_ms: int | None = None,
                       cancel_ack: str | None = None) -> TurnInterruption:
        """The turn's interruption record, from its ``interruption`` atom."""
        fields = interruption.fields
        key = self._key("interruption")
        lines = tuple(event.line for event in sources)
        self._account(lines, "turn", key, rule)
        if cutoff_offset_ms is not None:
            cutoff_offset_ms = self._clamped(lines, key, "cutoff_offset_ms", cutoff_offset_ms)
        step = TurnInterruption(key, interruption.captured_at_ns,
                                fields["interrupted_turn_index"], fields["reason"],
                                fields.get("delivered_ms"), fields.get("withheld_ms"),
                                cutoff_offset_ms, cancel_ack, lines)
        self._append(step)
        return step

    # -- audio ---------------------------------------------------------------------------

    def audio(self, event: RecordedEvent, stream: tuple[str, ...], fmt: AudioFormat,
              data: bytes, ref: dict[str, Any] | None = None) -> AudioRun:
        """Fold one decoded delta into the open run of ``stream`` (``stream[0]`` is the
        Keel direction), starting a new run when the window has passed or the format
        changed. ``ref`` members are merged into the run's provider reference."""
        run = self._runs.get(stream)
        if run is not None and (event.ts_ns - run.first_ns >= AUDIO_WINDOW_NS
                                or run.fmt != fmt):
            self.flush_audio(stream)
            run = None
        if run is None:
            run = AudioRun(stream, fmt, event.ts_ns)
            self._runs[stream] = run
        run.add(event.line, data)
        if ref:
            run.ref.update(ref)
        return run

    def advance(self, ts_ns: int) -> None:
        """Close the runs whose window ended before ``ts_ns`` (call it for every event,
        so a stream that falls silent is recorded in time order)."""
        expired = [stream for stream, run in self._runs.items()
                   if ts_ns - run.first_ns >= AUDIO_WINDOW_NS]
        if expired:
            self.flush_audio(*expired)

    def flush_audio(self, *streams: tuple[str, ...]) -> list[Atom]:
        """Close the named runs (all when none is named) into ``audio_chunk`` atoms, in
        the order their first delta arrived."""
        chosen = list(streams) if streams else list(self._runs)
        runs = sorted((self._runs.pop(s) for s in chosen if s in self._runs),
                      key=lambda run: (run.first_ns, run.lines[0]))
        atoms = []
        for run in runs:
            direction = run.key[0]
            self._add_usage("audio_input_ms" if direction == "inbound" else "audio_output_ms",
                            run.duration_ms)
            key = self._key("audio_chunk")
            self._account(run.lines, "aggregated", key, "audio_deltas_per_stream_window")
            atom = Atom(key, "audio_chunk", run.first_ns, direction, {
                "content_hash": run.content_hash,
                "format": run.fmt.label,
                "sample_rate_hz": run.fmt.sample_rate_hz,
                "duration_ms": run.duration_ms,
                "attributes": bounded({**run.ref, "byte_count": run.byte_count,
                                       "event_count": len(run.lines)}),
            }, tuple(run.lines))
            self._append(atom)
            atoms.append(atom)
        return atoms

    # -- the end -------------------------------------------------------------------------

    def finish(self, *, model: str, metadata: dict[str, Any]) -> SessionPlan:
        """Close open audio, turn orphaned fragments into opaque markers, and check that
        every recorded event is accounted for."""
        self.flush_audio()
        for group in list(self._pending):
            for item in self._pending.pop(group):
                self.opaque(item.event, f"orphaned:{item.rule}")
        missing = [event.line for event in self.events if event.line not in self.accounting]
        for line in missing:  # an adapter bug must not lose evidence: record it opaquely
            event = next(e for e in self.events if e.line == line)
            self.opaque(event, "unaccounted")
        first = min(event.ts_ns for event in self.events)
        last = max(event.ts_ns for event in self.events)
        usage = dict(self.usage)
        usage["duration_ms"] = min(JCS_MAX, (last - first) // 1_000_000)
        return SessionPlan(
            provider=self.provider, model=bounded(model), started_ns=first, ended_ns=last,
            metadata=bounded(metadata), steps=tuple(self.steps),
            accounting={line: tuple(items) for line, items in sorted(self.accounting.items())},
            usage=usage,
        )
