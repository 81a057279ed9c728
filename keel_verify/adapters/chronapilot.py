"""ChronaPilot voice realtime (WebSocket) recording -> Keel session plan.

The protocol is modelled on OpenAI Realtime. Client messages: ``session.update``,
``audio.append`` (base64 PCM16), ``text.append``, ``response.cancel``,
``action.confirm {id}``. Server messages: ``transcript.partial``, ``transcript.final
{text}``, ``intent.detected {name, confidence, parameters}``, ``action.proposed {id,
action}``, ``action.executed`` (the tool result and the affected resource id),
``audio.delta {audio}``, ``response.done``. Mutating tools are proposed and need the
user's confirmation; read-only tools execute directly. What each becomes:

* ``session.update``: ``lifecycle_marker`` ``session_update_sent``.
* ``audio.append`` (inbound) and ``audio.delta`` (outbound): decoded, hashed and folded
  into ``audio_chunk`` atoms per direction and one-second window. The protocol names PCM16
  without a rate; it follows OpenAI Realtime, so 24 kHz mono is assumed (``pcm16``, ``sample_rate_hz`` 24000).
* ``transcript.final`` / ``text.append``: an inbound ``transcript_span``; the partials
  before a final fold into it.
* ``intent.detected``: a ``provider_opaque_marker`` (its parameters may hold personal
  data: only the event's hash).
* ``action.proposed``: a ``tool_invocation_attempt`` with ``approval: requested``;
  ``action.confirm``: an attempt with ``approved`` and ``approved_by: client``, recorded
  before the governed tool call. ``action.executed``: an attempt at stage ``executed``
  with the affected resource id and the result's hash (``approved``; ``not_required`` for
  a read-only tool that was never proposed; ``missing`` for a proposed action that ran
  unconfirmed), and the tool call on the response's turn.
* ``response.done``: the turn, with the executed tool calls; ``response.cancel`` while a
  response is under way: an ``interruption`` atom (``delivered_ms``: response audio
  received before the cancel; ``withheld_ms``: audio of that response received after it
  and discarded) and the turn's interruption record.
* Anything else (``error``, unknown types): a ``provider_opaque_marker``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from keel_verify.adapters.audio import PCM16_24K
from keel_verify.adapters.fields import obj, string
from keel_verify.adapters.plan import PlanBuilder, SessionPlan, ToolCall, arguments_of
from keel_verify.adapters.recording import RecordedEvent

PROVIDER = "chronapilot"
MODEL = "chronapilot-voice-realtime"
_OUT = ("outbound", "response_audio")
_IN = ("inbound", "input_audio")



@dataclass
class _Proposal:
    tool_name: str
    arguments: dict[str, Any] | None
    arguments_hash: str
    confirmed: bool = False


@dataclass
class _Response:
    number: int
    opened_by: RecordedEvent  # the first event of the response
    bytes_before_cancel: int = 0
    bytes_after_cancel: int = 0
    cancel: RecordedEvent | None = None
    tool_calls: list[ToolCall] = field(default_factory=list)
    resources: list[str] = field(default_factory=list)


@dataclass
class _State:
    plan: PlanBuilder
    proposals: dict[str, _Proposal] = field(default_factory=dict)
    response: _Response | None = None
    responses: int = 0

    def current(self, event: RecordedEvent) -> _Response:
        """The open response, opening one at ``event`` if none is open."""
        if self.response is None:
            self.responses += 1
            self.response = _Response(self.responses, event)
        return self.response


def adapt(events: Sequence[RecordedEvent]) -> SessionPlan:
    """The plan of a ChronaPilot voice realtime recording (pure)."""
    state = _State(PlanBuilder(PROVIDER, "cp", events))
    state.plan.walk(state, _HANDLERS, lambda event: (event.direction, event.type))
    if state.response is not None:
        _orphan_response(state)
    return state.plan.finish(model=MODEL, metadata={"voice_provider": "chronapilot"})


def _session_update(state: _State, event: RecordedEvent) -> None:
    session = obj(event.event.get("session"))
    state.plan.atom("lifecycle_marker", event.ts_ns, None, {
        "marker_type": "session_update_sent",
        "attributes": {"event_hash": event.event_hash,
                         "output_format": string(session.get("output_format"))},
    }, [event], rule="session_configuration")


def _audio_in(state: _State, event: RecordedEvent) -> None:
    data = state.plan.decoded(event, event.event.get("audio"))
    if data is not None:
        state.plan.audio(event, _IN, PCM16_24K, data, {"stream": "audio.append"})


def _audio_out(state: _State, event: RecordedEvent) -> None:
    data = state.plan.decoded(event, event.event.get("audio"))
    if data is None:
        return
    response = state.current(event)
    if response.cancel is None:
        response.bytes_before_cancel += len(data)
    else:
        response.bytes_after_cancel += len(data)
    state.plan.audio(event, _OUT, PCM16_24K, data,
                     {"stream": "audio.delta", "response": response.number})


def _partial(state: _State, event: RecordedEvent) -> None:
    state.plan.pend("transcript", event, "transcript_partial")


def _final(state: _State, event: RecordedEvent) -> None:
    state.plan.transcript(event, event.event.get("text"), "inbound", "caller",
                          rule="transcript_final", group="transcript")


def _text_append(state: _State, event: RecordedEvent) -> None:
    state.plan.transcript(event, event.event.get("text"), "inbound", "caller",
                          rule="text_turn", ref={"input": "text.append"})


def _intent(state: _State, event: RecordedEvent) -> None:
    state.plan.opaque(event, "intent_hashed")


def _action_parts(action: Any) -> tuple[str, Any]:
    """(tool name, arguments) of an ``action`` object."""
    if not isinstance(action, dict):
        return "unnamed_action", action
    name = string(action.get("tool")) or string(action.get("name")) or "unnamed_action"
    return name, action.get("arguments", action.get("parameters", {}))


def _proposed(state: _State, event: RecordedEvent) -> None:
    proposal_id = string(event.event.get("id"))
    name, raw = _action_parts(event.event.get("action"))
    arguments, arguments_hash = arguments_of(raw)
    state.current(event)
    if proposal_id is not None:
        state.proposals[proposal_id] = _Proposal(name, arguments, arguments_hash)
    state.plan.atom("tool_invocation_attempt", event.ts_ns, None, {
        "tool_name": name, "call_id": proposal_id, "arguments_hash": arguments_hash,
        "approval": "requested", "attributes": {"stage": "proposed"},
    }, [event], rule="action_proposed")


def _confirm(state: _State, event: RecordedEvent) -> None:
    proposal_id = string(event.event.get("id"))
    proposal = state.proposals.get(proposal_id or "")
    if proposal is None:
        state.plan.opaque(event, "confirm_of_unknown_action")
        return
    proposal.confirmed = True
    state.plan.atom("tool_invocation_attempt", event.ts_ns, None, {
        "tool_name": proposal.tool_name, "call_id": proposal_id,
        "arguments_hash": proposal.arguments_hash, "approval": "approved",
        "approved_by": "client", "attributes": {"stage": "confirmed"},
    }, [event], rule="action_confirm")


def _executed(state: _State, event: RecordedEvent) -> None:
    body = event.event
    action_id = string(body.get("id"))
    proposal = state.proposals.get(action_id or "")
    response = state.current(event)
    if proposal is not None:
        name, arguments, arguments_hash = (proposal.tool_name, proposal.arguments,
                                           proposal.arguments_hash)
        status = "approved" if proposal.confirmed else "missing"
    else:
        name, raw = _action_parts(body.get("action", body))
        arguments, arguments_hash = arguments_of(raw)
        status = "not_required"
    resource = string(body.get("resource_id"))
    state.plan.atom("tool_invocation_attempt", event.ts_ns, None, {
        "tool_name": name, "call_id": action_id, "arguments_hash": arguments_hash,
        "approval": status,
        "attributes": {"stage": "executed", "resource_id": resource,
                         "result_hash": arguments_of(body.get("result"))[1]
                         if "result" in body else None},
    }, [event], rule="action_executed")
    response.tool_calls.append(ToolCall(name, action_id, arguments, arguments_hash))
    if resource is not None:
        response.resources.append(resource)


def _cancel(state: _State, event: RecordedEvent) -> None:
    if state.response is None or state.response.cancel is not None:
        state.plan.opaque(event, "cancel_without_response")
        return
    state.response.cancel = event


def _done(state: _State, event: RecordedEvent) -> None:
    state.current(event)
    _finish_response(state, event)


def _orphan_response(state: _State) -> None:
    """A response the recording ends inside (no ``response.done``): no turn, and so no
    governed tool call, since nothing shows how it ended. Its audio and action attempts
    stay atoms; its opening event and any cancel become ``orphaned:`` markers."""
    response = state.response
    assert response is not None
    state.response = None
    state.plan.flush_audio(_OUT)
    state.plan.opaque(response.opened_by, "orphaned:response_done")
    if response.cancel is not None:
        state.plan.opaque(response.cancel, "orphaned:response_cancel")


def _finish_response(state: _State, event: RecordedEvent) -> None:
    response = state.response
    assert response is not None
    state.response = None
    plan = state.plan
    plan.flush_audio(_OUT)
    at_ns = event.ts_ns
    metadata: dict[str, Any] = {"provider_turn": response.number,
                                "status": "cancelled" if response.cancel else "completed"}
    if response.resources:
        metadata["affected_resource_ids"] = response.resources
    plan.turn(at_ns, [event], metadata=metadata,
              tool_calls=response.tool_calls, group=f"response:{response.number}",
              rule="response_done")
    if response.cancel is None:
        return
    delivered = PCM16_24K.duration_ms(response.bytes_before_cancel)
    total = PCM16_24K.duration_ms(response.bytes_before_cancel + response.bytes_after_cancel)
    atom = plan.atom("interruption", response.cancel.ts_ns, "inbound", {
        "interrupted_turn_index": plan.turn_count, "reason": "caller_barge_in",
        "delivered_ms": delivered, "withheld_ms": total - delivered,
        "attributes": {"response": response.number,
                         "cancel_acknowledged": True},
    }, [response.cancel], rule="response_cancel")
    plan.interrupt_turn(atom, [response.cancel], rule="response_cancel",
                        cancel_ack="response.done")


_HANDLERS = {
    ("client", "session.update"): _session_update,
    ("client", "audio.append"): _audio_in,
    ("client", "text.append"): _text_append,
    ("client", "response.cancel"): _cancel,
    ("client", "action.confirm"): _confirm,
    ("server", "transcript.partial"): _partial,
    ("server", "transcript.final"): _final,
    ("server", "intent.detected"): _intent,
    ("server", "action.proposed"): _proposed,
    ("server", "action.executed"): _executed,
    ("server", "audio.delta"): _audio_out,
    ("server", "response.done"): _done,
}
