"""Twilio Media Streams (bidirectional WebSocket) recording -> Keel session plan.

``server`` lines are messages from Twilio, ``client`` lines are the gateway's messages to
Twilio. What each message becomes:

* ``connected``: folded into the ``start`` marker (the protocol handshake).
* ``start``: ``lifecycle_marker`` ``stream_started`` with the call, stream and account
  SIDs, the tracks and the media format (``audio/x-mulaw`` at 8000 Hz is G.711 μ-law).
* ``media`` from Twilio (the caller, ``inbound`` track) and from the gateway (the agent's
  audio played to the caller): decoded, hashed and folded into ``audio_chunk`` atoms per
  track and one-second window, keeping the first and last ``chunk`` numbers and the first
  ``timestamp`` (ms since the stream started).
* An agent turn is the gateway's outbound audio from its first ``media`` until it has been
  played to the end -- Twilio echoes the gateway's last ``mark`` -- or is cut off by a
  ``clear``. The turn is recorded then (Twilio carries no token counts: 0).
* ``clear`` (barge-in): an ``interruption`` atom. ``delivered_ms`` is the audio that a
  ``mark`` echo confirmed as played before the clear; ``withheld_ms`` the audio sent but
  unconfirmed when the clear went out (some of it may have played: Twilio reports playback
  only through marks). The marks Twilio echoes because of the clear are its
  acknowledgement (``cancel_acknowledged``).
* ``dtmf``: a ``provider_opaque_marker`` (the digit may be a PIN: only the event's hash).
* ``stop``: ``lifecycle_marker`` ``stream_stopped``.
* Anything else: a ``provider_opaque_marker`` with the event's hash.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from keel_verify.adapters.audio import G711_ALAW_8K, G711_ULAW_8K, AudioFormat
from keel_verify.adapters.fields import array, count, obj, string
from keel_verify.adapters.plan import PlanBuilder, SessionPlan
from keel_verify.adapters.recording import RecordedEvent

PROVIDER = "twilio"
MODEL = "twilio-media-streams"
_GATEWAY = ("outbound", "gateway")




@dataclass
class _Turn:
    number: int
    first: RecordedEvent
    sent_bytes: int = 0
    marks: dict[str, int] = field(default_factory=dict)  # mark name -> bytes sent before it
    last_sent: str | None = None  # the last thing sent: a mark name, or None for media
    played_bytes: int = 0  # confirmed by a mark echo


@dataclass
class _Cleared:
    """A turn cut off by ``clear``, waiting for Twilio to echo its outstanding marks."""

    turn: _Turn
    clear: RecordedEvent
    awaiting: set[str]
    echoes: list[RecordedEvent] = field(default_factory=list)


@dataclass
class _State:
    plan: PlanBuilder
    fmt: AudioFormat = G711_ULAW_8K
    call_sid: str | None = None
    stream_sid: str | None = None
    turn: _Turn | None = None
    cleared: _Cleared | None = None
    turns: int = 0


def adapt(events: Sequence[RecordedEvent]) -> SessionPlan:
    """The plan of a Twilio Media Streams recording (pure)."""
    state = _State(PlanBuilder(PROVIDER, "twl", events))
    state.plan.walk(state, _HANDLERS, lambda event: (event.direction, event.type))
    _settle_clear(state)  # a clear did happen; an unechoed mark is its missing ack
    if state.turn is not None:
        # the recording ends before the turn's last mark echo or a stop: nothing shows
        # how the turn ended, so no turn; its audio stays, its opening event and pending
        # marks become orphaned: markers
        state.plan.flush_audio(_GATEWAY)
        state.plan.opaque(state.turn.first, "orphaned:playback_complete")
        state.turn = None
    metadata: dict[str, Any] = {"voice_provider": "twilio_media_streams"}
    if state.call_sid:
        metadata["call_sid"] = state.call_sid
    if state.stream_sid:
        metadata["stream_sid"] = state.stream_sid
    return state.plan.finish(model=MODEL, metadata=metadata)


def _connected(state: _State, event: RecordedEvent) -> None:
    state.plan.pend("start", event, "handshake")


def _start(state: _State, event: RecordedEvent) -> None:
    start = obj(event.event.get("start"))
    media = obj(start.get("mediaFormat"))
    encoding = string(media.get("encoding"))
    if encoding == "audio/x-alaw":
        state.fmt = G711_ALAW_8K
    state.call_sid = string(start.get("callSid")) or state.call_sid
    state.stream_sid = string(start.get("streamSid")) or string(event.event.get("streamSid"))
    tracks = [t for t in array(start.get("tracks")) if isinstance(t, str)]
    state.plan.atom("lifecycle_marker", event.ts_ns, None, {
        "marker_type": "stream_started",
        "attributes": {"call_sid": state.call_sid, "stream_sid": state.stream_sid,
                         "account_sid": string(start.get("accountSid")), "tracks": tracks,
                         "encoding": encoding, "sample_rate": count(media.get("sampleRate")),
                         "channels": count(media.get("channels"))},
    }, [event], rule="stream_start", group="start")


def _media_ref(run_ref: dict[str, Any], media: dict[str, Any]) -> None:
    chunk = count(media.get("chunk"))
    timestamp = count(media.get("timestamp"))
    if chunk is not None:
        run_ref.setdefault("first_chunk", chunk)
        run_ref["last_chunk"] = chunk
    if timestamp is not None:
        run_ref.setdefault("first_timestamp_ms", timestamp)


def _media_in(state: _State, event: RecordedEvent) -> None:
    media = obj(event.event.get("media"))
    data = state.plan.decoded(event, media.get("payload"))
    if data is None:
        return
    track = string(media.get("track")) or "inbound"
    direction = "outbound" if track.startswith("outbound") else "inbound"
    run = state.plan.audio(event, (direction, f"twilio_{track}"), state.fmt, data,
                           {"track": track})
    _media_ref(run.ref, media)


def _media_out(state: _State, event: RecordedEvent) -> None:
    data = state.plan.decoded(event, obj(event.event.get("media")).get("payload"))
    if data is None:
        return
    _settle_clear(state)  # new audio after a clear: the old turn is closed for good
    if state.turn is None:
        state.turns += 1
        state.turn = _Turn(state.turns, event)
    state.turn.sent_bytes += len(data)
    state.turn.last_sent = None
    state.plan.audio(event, _GATEWAY, state.fmt, data, {"track": "outbound_from_gateway"})


def _mark_sent(state: _State, event: RecordedEvent) -> None:
    name = _mark_name(event)
    turn = state.turn
    if turn is None or name is None:
        state.plan.opaque(event, "mark_outside_turn")
        return
    turn.marks[name] = turn.sent_bytes
    turn.last_sent = name
    state.plan.pend(f"turn:{turn.number}", event, "playback_mark")


def _mark_name(event: RecordedEvent) -> str | None:
    mark = event.event.get("mark")
    return string(mark.get("name")) if isinstance(mark, dict) else None


def _mark_echo(state: _State, event: RecordedEvent) -> None:
    name = _mark_name(event)
    cleared = state.cleared
    if cleared is not None and name in cleared.awaiting:
        cleared.awaiting.discard(name)
        cleared.echoes.append(event)
        if not cleared.awaiting:
            _settle_clear(state)
        return
    turn = state.turn
    if turn is None or name is None or name not in turn.marks:
        state.plan.opaque(event, "unknown_mark")
        return
    turn.played_bytes = max(turn.played_bytes, turn.marks[name])
    if turn.last_sent == name:  # everything the gateway sent has been played
        _complete(state, turn, event, "completed")
    else:
        state.plan.pend(f"turn:{turn.number}", event, "playback_mark")


def _complete(state: _State, turn: _Turn, event: RecordedEvent | None, status: str) -> None:
    """The turn, ended by its last mark echo (``event``) or by Twilio's ``stop``."""
    state.turn = None
    state.plan.flush_audio(_GATEWAY)
    at_ns = event.ts_ns if event is not None else state.plan.events[-1].ts_ns
    state.plan.turn(at_ns, [event] if event is not None else [], metadata={
        "provider_turn": turn.number, "status": status,
        "outbound_audio_ms": state.fmt.duration_ms(turn.sent_bytes)},
        group=f"turn:{turn.number}", rule="playback_complete")


def _clear(state: _State, event: RecordedEvent) -> None:
    turn = state.turn
    if turn is None:
        state.plan.opaque(event, "clear_without_audio")
        return
    state.turn = None
    awaiting = {name for name, sent in turn.marks.items() if sent > turn.played_bytes}
    state.cleared = _Cleared(turn, event, awaiting)
    if not awaiting:
        _settle_clear(state)


def _settle_clear(state: _State) -> None:
    """Record a cleared turn: the turn, the interruption atom, the turn's interruption."""
    cleared = state.cleared
    if cleared is None:
        return
    state.cleared = None
    turn, plan = cleared.turn, state.plan
    plan.flush_audio(_GATEWAY)
    record = plan.turn(cleared.clear.ts_ns, [], metadata={
        "provider_turn": turn.number, "status": "interrupted",
        "outbound_audio_ms": state.fmt.duration_ms(turn.sent_bytes)},
        group=f"turn:{turn.number}", rule="playback_cleared")
    delivered = state.fmt.duration_ms(turn.played_bytes)
    sent = state.fmt.duration_ms(turn.sent_bytes)
    sources = [cleared.clear, *cleared.echoes]
    atom = plan.atom("interruption", cleared.clear.ts_ns, None, {
        "interrupted_turn_index": plan.turn_count, "reason": "caller_barge_in",
        "delivered_ms": delivered, "withheld_ms": sent - delivered,
        "attributes": {"stream_sid": state.stream_sid, "turn": record.metadata["provider_turn"],
                         "cancel_acknowledged": not cleared.awaiting,
                         "unacknowledged_marks": sorted(cleared.awaiting) or None},
    }, sources, rule="clear")
    plan.interrupt_turn(atom, sources, rule="clear",
                        cancel_ack=None if cleared.awaiting else "mark_echo")


def _dtmf(state: _State, event: RecordedEvent) -> None:
    state.plan.opaque(event, "dtmf_digit_hashed")


def _stop(state: _State, event: RecordedEvent) -> None:
    _settle_clear(state)
    if state.turn is not None:
        _complete(state, state.turn, None, "stream_stopped")
    state.plan.flush_audio()
    stop = obj(event.event.get("stop"))
    state.plan.atom("lifecycle_marker", event.ts_ns, None, {
        "marker_type": "stream_stopped",
        "attributes": {"call_sid": string(stop.get("callSid")) or state.call_sid,
                         "stream_sid": string(event.event.get("streamSid")) or state.stream_sid},
    }, [event], rule="stream_stop")


_HANDLERS = {
    ("server", "connected"): _connected,
    ("server", "start"): _start,
    ("server", "media"): _media_in,
    ("server", "mark"): _mark_echo,
    ("server", "dtmf"): _dtmf,
    ("server", "stop"): _stop,
    ("client", "media"): _media_out,
    ("client", "mark"): _mark_sent,
    ("client", "clear"): _clear,
}
