"""OpenAI Realtime (WebSocket) session recording -> Keel session plan.

Event names are the GA ones; the beta names still seen in the field are read as their GA
equivalents (:data:`BETA_NAMES`). What each event becomes:

* ``session.created`` / ``session.updated`` (server), ``session.update`` (client): a
  ``lifecycle_marker``; the audio formats (GA ``audio.input.format.type`` ``audio/pcm`` /
  ``audio/pcmu`` / ``audio/pcma``, beta ``input_audio_format`` ``pcm16`` / ``g711_ulaw`` /
  ``g711_alaw``) and the model are taken from them.
* ``input_audio_buffer.append`` (client, inbound) and ``response.output_audio.delta``
  (server, outbound, per item): decoded, hashed and folded into ``audio_chunk`` atoms per
  stream and one-second window; ``duration_ms`` from the byte count and the format.
* ``conversation.item.input_audio_transcription.completed``: an inbound
  ``transcript_span``; the item's VAD, commit and transcription-delta events fold into it.
* ``response.output_audio_transcript.done`` (or ``response.output_text.done``): an
  outbound ``transcript_span``; its deltas fold into it.
* ``response.function_call_arguments.done``: a ``tool_invocation_attempt`` (approval not
  required) and a tool call on the response's turn.
* ``mcp_approval_request`` items (server) and ``mcp_approval_response`` items (client
  ``conversation.item.create``): ``tool_invocation_attempt`` atoms recording the request,
  the decision and who gave it; the approved ``mcp_call`` becomes the turn's tool call.
* ``response.done``: the turn, with the response's token usage; the response's structural
  events (``response.created``, ``output_item``, ``content_part``, ...) fold into it.
* Barge-in -- ``input_audio_buffer.speech_started`` while a response is active, then
  ``response.cancel`` and ``conversation.item.truncate`` with ``audio_end_ms`` -- or a
  response that ends ``cancelled``: an ``interruption`` atom with ``delivered_ms`` (the
  truncation point) and ``withheld_ms`` (generated audio after it), then the turn's
  interruption record.
* ``error``, ``function_call_output`` items, ``rate_limits.updated`` and every event not
  named here: a ``provider_opaque_marker`` with the event's hash.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from keel_verify.adapters.audio import (
    G711_ALAW_8K,
    G711_ULAW_8K,
    PCM16_24K,
    AudioFormat,
)
from keel_verify.adapters.fields import array, count, obj, string
from keel_verify.adapters.plan import PlanBuilder, SessionPlan, ToolCall, arguments_of
from keel_verify.adapters.recording import RecordedEvent

PROVIDER = "openai-realtime"

BETA_NAMES = {
    "response.audio.delta": "response.output_audio.delta",
    "response.audio.done": "response.output_audio.done",
    "response.audio_transcript.delta": "response.output_audio_transcript.delta",
    "response.audio_transcript.done": "response.output_audio_transcript.done",
    "response.text.delta": "response.output_text.delta",
    "response.text.done": "response.output_text.done",
    "conversation.item.created": "conversation.item.added",
}

_FORMATS = {
    "audio/pcm": PCM16_24K, "pcm16": PCM16_24K,
    "audio/pcmu": G711_ULAW_8K, "g711_ulaw": G711_ULAW_8K,
    "audio/pcma": G711_ALAW_8K, "g711_alaw": G711_ALAW_8K,
}
_SERVER_ITEM_EVENTS = ("conversation.item.added", "conversation.item.done",
                       "conversation.item.retrieved", "conversation.item.created")




def _format(session: dict[str, Any], side: str) -> AudioFormat | None:
    """The ``input`` / ``output`` format named in a session object (GA or beta)."""
    audio = session.get("audio")
    if isinstance(audio, dict) and isinstance(audio.get(side), dict):
        fmt = audio[side].get("format")
        if isinstance(fmt, dict) and isinstance(fmt.get("type"), str):
            return _FORMATS.get(fmt["type"])
    beta = session.get(f"{side}_audio_format")
    return _FORMATS.get(beta) if isinstance(beta, str) else None


@dataclass
class _Response:
    response_id: str
    created: RecordedEvent | None = None
    items: list[str] = field(default_factory=list)  # output item ids with audio
    output_bytes: dict[str, int] = field(default_factory=dict)
    tool_calls: list[ToolCall] = field(default_factory=list)
    barge_in: list[RecordedEvent] = field(default_factory=list)  # speech_started, cancel, ...
    truncate: RecordedEvent | None = None
    acknowledged: bool = False


@dataclass
class _State:
    plan: PlanBuilder
    input_fmt: AudioFormat = PCM16_24K
    output_fmt: AudioFormat = PCM16_24K
    model: str = "unknown"
    session_id: str | None = None
    active: str | None = None  # the response in progress
    responses: dict[str, _Response] = field(default_factory=dict)
    item_response: dict[str, str] = field(default_factory=dict)  # output item -> response
    approval_requests: dict[str, str] = field(default_factory=dict)  # request id -> tool
    item_atoms: dict[str, str] = field(default_factory=dict)  # approval item -> atom key

    def response(self, response_id: str) -> _Response:
        if response_id not in self.responses:
            self.responses[response_id] = _Response(response_id)
        return self.responses[response_id]


def adapt(events: Sequence[RecordedEvent]) -> SessionPlan:
    """The plan of an OpenAI Realtime recording (pure: same events, same plan)."""
    state = _State(PlanBuilder(PROVIDER, "oai", events))
    state.plan.walk(state, _HANDLERS, lambda event: BETA_NAMES.get(event.type, event.type),
                    fallback=_unmodelled)
    for response in list(state.responses.values()):
        if response.barge_in or response.truncate:  # cut off, but no response.done came
            _interruption(state, response, None)
    metadata: dict[str, Any] = {"voice_provider": "openai_realtime"}
    if state.session_id:
        metadata["provider_session_id"] = state.session_id
    return state.plan.finish(model=state.model, metadata=metadata)


def _unmodelled(state: _State, event: RecordedEvent) -> None:
    """A response-scoped event folds into its turn; anything else is an opaque marker."""
    response_id = string(event.event.get("response_id"))
    if response_id is not None and event.direction == "server":
        state.plan.pend(f"resp:{response_id}", event, "response_structure")
    elif string(event.event.get("item_id")) and event.direction == "server":
        state.plan.pend(f"item:{event.event['item_id']}", event, "item_structure")
    else:
        state.plan.opaque(event, "unmodelled_event")


# -- session ---------------------------------------------------------------------------------


def _session(state: _State, event: RecordedEvent) -> None:
    session = obj(event.event.get("session"))
    for side in ("input", "output"):
        fmt = _format(session, side)
        if fmt is not None:
            setattr(state, f"{side}_fmt", fmt)
    state.model = string(session.get("model")) or state.model
    state.session_id = string(session.get("id")) or state.session_id
    marker = {"session.created": "session_created", "session.updated": "session_updated",
              "session.update": "session_update_sent"}[event.type]
    state.plan.atom("lifecycle_marker", event.ts_ns, None, {
        "marker_type": marker,
        "attributes": {"event_hash": event.event_hash, "model": state.model,
                         "input_format": state.input_fmt.label,
                         "output_format": state.output_fmt.label},
    }, [event], rule="session_configuration")


# -- audio -----------------------------------------------------------------------------------


def _input_audio(state: _State, event: RecordedEvent) -> None:
    data = state.plan.decoded(event, event.event.get("audio"))
    if data is None:
        return
    state.plan.audio(event, ("inbound", "input_audio_buffer"), state.input_fmt, data,
                     {"stream": "input_audio_buffer"})


def _output_audio(state: _State, event: RecordedEvent) -> None:
    data = state.plan.decoded(event, event.event.get("delta"))
    if data is None:
        return
    item_id = string(event.event.get("item_id")) or "unknown_item"
    response_id = string(event.event.get("response_id")) or state.active or "unknown_response"
    response = state.response(response_id)
    if item_id not in response.items:
        response.items.append(item_id)
    response.output_bytes[item_id] = response.output_bytes.get(item_id, 0) + len(data)
    state.item_response[item_id] = response_id
    state.plan.audio(event, ("outbound", item_id), state.output_fmt, data,
                     {"item_id": item_id, "response_id": response_id})


# -- transcripts -----------------------------------------------------------------------------


def _input_transcript(state: _State, event: RecordedEvent) -> None:
    item_id = string(event.event.get("item_id")) or "unknown_item"
    # nothing heard (empty): the item's pending events end as opaque markers
    state.plan.transcript(event, event.event.get("transcript"), "inbound", "caller",
                          rule="input_transcription", group=f"item:{item_id}",
                          ref={"item_id": item_id})


def _output_transcript(state: _State, event: RecordedEvent) -> None:
    item_id = string(event.event.get("item_id")) or "unknown_item"
    text = string(event.event.get("transcript")) or string(event.event.get("text"))
    group = f"text:{item_id}"
    if text is None:
        response_id = string(event.event.get("response_id"))
        state.plan.pend(f"resp:{response_id}" if response_id else group, event,
                        "empty_output_transcript")
        return
    state.plan.atom("transcript_span", event.ts_ns, "outbound", {
        "text": text, "speaker": "agent", "is_final": True,
        "attributes": {"item_id": item_id,
                         "response_id": string(event.event.get("response_id"))},
    }, [event], rule="output_transcript", group=group)


def _transcript_fragment(state: _State, event: RecordedEvent) -> None:
    item_id = string(event.event.get("item_id")) or "unknown_item"
    group = f"item:{item_id}" if event.type.startswith("conversation.") else f"text:{item_id}"
    state.plan.pend(group, event, "transcript_delta")


# -- voice activity and barge-in -----------------------------------------------------------


def _speech_started(state: _State, event: RecordedEvent) -> None:
    if state.active is not None:
        state.response(state.active).barge_in.append(event)
        return
    _item_signal(state, event)


def _item_signal(state: _State, event: RecordedEvent) -> None:
    item_id = string(event.event.get("item_id")) or "unknown_item"
    state.plan.pend(f"item:{item_id}", event, "voice_activity")


def _cancel(state: _State, event: RecordedEvent) -> None:
    response_id = string(event.event.get("response_id")) or state.active
    if response_id is None:
        state.plan.opaque(event, "cancel_without_response")
        return
    state.response(response_id).barge_in.append(event)


def _truncate(state: _State, event: RecordedEvent) -> None:
    item_id = string(event.event.get("item_id"))
    response_id = state.item_response.get(item_id or "")
    if response_id is None:
        state.plan.opaque(event, "truncate_of_unknown_item")
        return
    state.response(response_id).truncate = event


def _truncated(state: _State, event: RecordedEvent) -> None:
    response_id = state.item_response.get(string(event.event.get("item_id")) or "")
    if response_id is None:
        state.plan.opaque(event, "truncate_of_unknown_item")
        return
    response = state.response(response_id)
    response.acknowledged = True
    response.barge_in.append(event)


def _clear_output(state: _State, event: RecordedEvent) -> None:
    if state.active is None:
        state.plan.opaque(event, "clear_without_response")
        return
    state.response(state.active).barge_in.append(event)


def _interruption(state: _State, response: _Response, status: dict[str, Any] | None) -> None:
    """The interruption atom (delivered / withheld audio) and, when the response became a
    turn, the turn's interruption record."""
    state.responses.pop(response.response_id, None)
    sources = [*response.barge_in, *([response.truncate] if response.truncate else [])]
    generated_bytes = sum(response.output_bytes.values())
    generated_ms = state.output_fmt.duration_ms(generated_bytes)
    delivered_ms = generated_ms
    item_id, end_ms = None, None
    if response.truncate is not None:
        item_id = string(response.truncate.event.get("item_id"))
        end_ms = count(response.truncate.event.get("audio_end_ms")) or 0
        item_ms = state.output_fmt.duration_ms(response.output_bytes.get(item_id or "", 0))
        delivered_ms = generated_ms - item_ms + min(end_ms, item_ms)
    speech = [e for e in response.barge_in if e.type == "input_audio_buffer.speech_started"]
    reason = "caller_barge_in" if speech else (
        string((status or {}).get("reason")) or "client_cancelled")
    first = min(sources, key=lambda e: (e.ts_ns, e.line)) if sources else None
    at_ns = first.ts_ns if first is not None else state.plan.events[-1].ts_ns
    turn_index = state.plan.turn_count if status is not None else None
    atom = state.plan.atom("interruption", at_ns, "inbound" if speech else None, {
        "interrupted_turn_index": turn_index,
        "reason": reason,
        "delivered_ms": delivered_ms,
        "withheld_ms": generated_ms - delivered_ms,
        "attributes": {"response_id": response.response_id, "item_id": item_id,
                         "cancel_acknowledged": response.acknowledged or status is not None},
    }, sources, rule="barge_in")
    if turn_index is not None and sources:
        ack = ("conversation.item.truncated" if response.acknowledged
               else "response.done" if status is not None else None)
        state.plan.interrupt_turn(atom, sources, rule="barge_in", cutoff_offset_ms=end_ms,
                                  cancel_ack=ack)


# -- responses, tools and approvals ----------------------------------------------------------


def _response_created(state: _State, event: RecordedEvent) -> None:
    response = event.event.get("response")
    response_id = string(response.get("id")) if isinstance(response, dict) else None
    if response_id is None:
        state.plan.opaque(event, "response_without_id")
        return
    state.active = response_id
    state.response(response_id).created = event
    state.plan.pend(f"resp:{response_id}", event, "response_structure")


def _function_call(state: _State, event: RecordedEvent) -> None:
    name = string(event.event.get("name")) or "unnamed_function"
    call_id = string(event.event.get("call_id"))
    item_id = string(event.event.get("item_id"))
    arguments, arguments_hash = arguments_of(event.event.get("arguments"))
    response_id = string(event.event.get("response_id")) or state.active or "unknown_response"
    state.response(response_id).tool_calls.append(
        ToolCall(name, call_id, arguments, arguments_hash))
    state.plan.atom("tool_invocation_attempt", event.ts_ns, None, {
        "tool_name": name, "call_id": call_id, "arguments_hash": arguments_hash,
        "approval": "not_required",
        "attributes": {"item_id": item_id, "response_id": response_id},
    }, [event], rule="function_call", group=f"fn:{item_id}")


def _item(state: _State, event: RecordedEvent) -> None:
    item = obj(event.event.get("item"))
    item_type = item.get("type")
    item_id = string(item.get("id")) or "unknown_item"
    if item_id in state.item_atoms:  # the same approval item echoed again
        state.plan.fold(event, state.item_atoms[item_id], "item_lifecycle_repeat")
        return
    if item_type == "mcp_approval_request":
        name = string(item.get("name")) or "unnamed_tool"
        state.approval_requests[item_id] = name
        _, arguments_hash = arguments_of(item.get("arguments"))
        atom = state.plan.atom("tool_invocation_attempt", event.ts_ns, None, {
            "tool_name": name, "call_id": item_id, "arguments_hash": arguments_hash,
            "approval": "requested",
            "attributes": {"server_label": string(item.get("server_label")),
                             "approval_request_id": item_id},
        }, [event], rule="mcp_approval_request")
        state.item_atoms[item_id] = atom.key
    elif item_type == "mcp_approval_response":
        request_id = string(item.get("approval_request_id")) or "unknown_request"
        approved = item.get("approve") is True
        atom = state.plan.atom("tool_invocation_attempt", event.ts_ns, None, {
            "tool_name": state.approval_requests.get(request_id, "mcp_approval"),
            "call_id": request_id,
            "approval": "approved" if approved else "denied",
            "approved_by": "client" if event.direction == "client" else "provider",
            "attributes": {"approval_request_id": request_id,
                             "approval_response_id": item_id},
        }, [event], rule="mcp_approval_response")
        state.item_atoms[item_id] = atom.key
    elif event.direction == "client" and item_type == "message" and item.get("role") == "user":
        text = "".join(part.get("text", "") for part in array(item.get("content"))
                       if isinstance(part, dict) and isinstance(part.get("text"), str))
        if text:
            state.plan.atom("transcript_span", event.ts_ns, "inbound", {
                "text": text, "speaker": "caller", "is_final": True,
                "attributes": {"item_id": item_id, "input": "text"},
            }, [event], rule="client_text_message")
        else:
            state.plan.opaque(event, "client_item")
    elif event.direction == "server" and event.type in _SERVER_ITEM_EVENTS:
        state.plan.pend(f"item:{item_id}", event, "item_structure")
    else:  # tool outputs and other client-created items: content stays with the gateway
        state.plan.opaque(event, "client_item")


def _response_done(state: _State, event: RecordedEvent) -> None:
    body = obj(event.event.get("response"))
    response_id = string(body.get("id")) or state.active or "unknown_response"
    response = state.response(response_id)
    if state.active == response_id:
        state.active = None
    output = [item for item in array(body.get("output")) if isinstance(item, dict)]
    item_ids = [string(item.get("id")) for item in output]
    plan = state.plan
    plan.flush_audio(*[("outbound", item_id) for item_id in response.items])
    for item in output:
        if item.get("type") == "mcp_call":
            name = string(item.get("name")) or "unnamed_tool"
            arguments, arguments_hash = arguments_of(item.get("arguments"))
            call = ToolCall(name, string(item.get("id")), arguments, arguments_hash)
            response.tool_calls.append(call)
            if not string(item.get("approval_request_id")):
                plan.atom("tool_invocation_attempt", event.ts_ns, None, {
                    "tool_name": name, "call_id": call.call_id,
                    "arguments_hash": arguments_hash, "approval": "not_required",
                    "attributes": {"server_label": string(item.get("server_label"))},
                }, [event], rule="mcp_call")
    usage = obj(body.get("usage"))
    status = obj(body.get("status_details"))
    folded = [f"item:{i}" for i in item_ids if i] + [f"fn:{i}" for i in item_ids if i]
    turn = plan.turn(event.ts_ns, [event], input_tokens=count(usage.get("input_tokens")) or 0,
                     output_tokens=count(usage.get("output_tokens")) or 0, metadata={
                         "provider_response_id": response_id,
                         "status": string(body.get("status")) or "unknown"},
                     tool_calls=response.tool_calls, group=f"resp:{response_id}",
                     rule="response_done")
    for group in folded:
        plan.settle(group, turn.key)
    if body.get("status") == "cancelled" or response.barge_in or response.truncate:
        _interruption(state, response, status)
    else:
        state.responses.pop(response_id, None)


def _error(state: _State, event: RecordedEvent) -> None:
    state.plan.opaque(event, "provider_error")


_HANDLERS = {
    "session.created": _session,
    "session.updated": _session,
    "session.update": _session,
    "input_audio_buffer.append": _input_audio,
    "response.output_audio.delta": _output_audio,
    "conversation.item.input_audio_transcription.completed": _input_transcript,
    "conversation.item.input_audio_transcription.delta": _transcript_fragment,
    "conversation.item.input_audio_transcription.segment": _transcript_fragment,
    "response.output_audio_transcript.delta": _transcript_fragment,
    "response.output_text.delta": _transcript_fragment,
    "response.output_audio_transcript.done": _output_transcript,
    "response.output_text.done": _output_transcript,
    "input_audio_buffer.speech_started": _speech_started,
    "input_audio_buffer.speech_stopped": _item_signal,
    "input_audio_buffer.committed": _item_signal,
    "response.cancel": _cancel,
    "conversation.item.truncate": _truncate,
    "conversation.item.truncated": _truncated,
    "output_audio_buffer.clear": _clear_output,
    "response.created": _response_created,
    "response.function_call_arguments.done": _function_call,
    "conversation.item.added": _item,
    "conversation.item.done": _item,
    "conversation.item.create": _item,
    "response.done": _response_done,
    "error": _error,
}
