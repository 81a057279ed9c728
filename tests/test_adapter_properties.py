"""Properties of the provider adapters over generated recordings (hypothesis).

* No audio byte sequence from a recording ever appears in an atom body or in the
  artifact (checked as raw bytes, base64 and hex, in v1 artifacts, which embed payloads).
* Every recorded event is accounted for: an atom, a documented aggregation, a turn, or an
  opaque marker carrying the event's hash -- whatever the events hold.
* The same recording gives the same artifact bytes.

The generated recordings mix every event the adapters know with unknown ones, members of
the wrong type, undecodable audio and ids from small pools (so responses, items and
marks refer to each other), in any order.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from keel_verify.adapters import ADAPTERS
from keel_verify.adapters.ingest import ingest_bytes
from keel_verify.adapters.plan import Atom, SessionPlan
from keel_verify.adapters.recording import RecordedEvent, parse_recording_bytes
from keel_verify.adapters.scenario import IngestOptions, plan_calls
from keel_verify.emit.artifact import dump_artifact

T0 = 1_796_032_800_000_000_000

#: Audio that cannot turn up by chance: at least 24 bytes with 8 distinct values.
AUDIO = st.binary(min_size=24, max_size=200).filter(lambda b: len(set(b)) >= 8)
IDS = st.sampled_from(["r1", "r2", "i1", "i2", "m1", "act_1", "act_2"])
JUNK = st.one_of(st.none(), st.integers(-5, 10**16), st.text(max_size=8), st.lists(st.none()),
                 st.booleans())
TEXT = st.text(min_size=0, max_size=20)


def _b64(audio: bytes) -> str:
    return base64.b64encode(audio).decode("ascii")


@st.composite
def openai_event(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    kind = draw(st.integers(0, 17))
    rid, iid = draw(IDS), draw(IDS)
    usage = {"input_tokens": draw(st.integers(0, 10**6)),
             "output_tokens": draw(st.integers(0, 10**6))}
    fmt = draw(st.sampled_from(["audio/pcm", "audio/pcmu", "audio/pcma", "g729"]))
    events: list[tuple[str, dict[str, Any]]] = [
        ("server", {"type": "session.created",
                    "session": {"model": draw(TEXT), "audio": {"input": {"format": {"type": fmt}},
                                                               "output": {"format": {"type": fmt}}}}}),
        ("client", {"type": "input_audio_buffer.append", "audio": _b64(draw(AUDIO))}),
        ("server", {"type": draw(st.sampled_from(["response.output_audio.delta",
                                                  "response.audio.delta"])),
                    "response_id": rid, "item_id": iid, "delta": _b64(draw(AUDIO))}),
        ("server", {"type": "conversation.item.input_audio_transcription.completed",
                    "item_id": iid, "transcript": draw(TEXT)}),
        ("server", {"type": "response.output_audio_transcript.done", "response_id": rid,
                    "item_id": iid, "transcript": draw(TEXT)}),
        ("server", {"type": "input_audio_buffer.speech_started", "item_id": iid,
                    "audio_start_ms": draw(JUNK)}),
        ("server", {"type": "response.created", "response": {"id": rid}}),
        ("server", {"type": "response.done", "response": {
            "id": rid, "status": draw(st.sampled_from(["completed", "cancelled", None])),
            "usage": usage, "output": [{"type": "mcp_call", "id": iid, "name": draw(TEXT),
                                        "arguments": draw(TEXT)}]}}),
        ("client", {"type": "response.cancel", "response_id": draw(st.sampled_from([rid, None]))}),
        ("client", {"type": "conversation.item.truncate", "item_id": iid,
                    "audio_end_ms": draw(JUNK)}),
        ("server", {"type": "conversation.item.truncated", "item_id": iid}),
        ("server", {"type": "response.function_call_arguments.done", "response_id": rid,
                    "item_id": iid, "call_id": draw(IDS), "name": draw(TEXT),
                    "arguments": draw(TEXT)}),
        ("server", {"type": "conversation.item.added", "item": {
            "type": "mcp_approval_request", "id": iid, "name": draw(TEXT),
            "arguments": draw(TEXT), "server_label": draw(JUNK)}}),
        ("client", {"type": "conversation.item.create", "item": {
            "type": "mcp_approval_response", "id": draw(IDS), "approval_request_id": iid,
            "approve": draw(JUNK)}}),
        ("server", {"type": "error", "error": {"message": draw(TEXT)}}),
        ("server", {"type": draw(TEXT), "response_id": draw(st.one_of(IDS, JUNK))}),
        ("client", {"type": "input_audio_buffer.append", "audio": draw(JUNK)}),
        ("server", {"type": "response.output_audio_transcript.delta", "item_id": draw(JUNK),
                    "delta": draw(TEXT)}),
    ]
    return events[kind]


@st.composite
def twilio_event(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    kind = draw(st.integers(0, 9))
    name = draw(st.sampled_from(["a", "b", "c"]))
    events: list[tuple[str, dict[str, Any]]] = [
        ("server", {"event": "connected", "protocol": "Call", "version": "1.0.0"}),
        ("server", {"event": "start", "start": {
            "callSid": draw(JUNK), "streamSid": draw(TEXT), "tracks": draw(JUNK),
            "mediaFormat": {"encoding": draw(st.sampled_from(["audio/x-mulaw",
                                                              "audio/x-alaw"]))}}}),
        ("server", {"event": "media", "media": {
            "track": draw(st.sampled_from(["inbound", "outbound"])), "chunk": draw(JUNK),
            "timestamp": draw(JUNK), "payload": _b64(draw(AUDIO))}}),
        ("client", {"event": "media", "media": {"payload": _b64(draw(AUDIO))}}),
        ("client", {"event": "mark", "mark": {"name": name}}),
        ("server", {"event": "mark", "mark": {"name": name}}),
        ("client", {"event": "clear"}),
        ("server", {"event": "dtmf", "dtmf": {"digit": draw(TEXT)}}),
        ("server", {"event": "stop", "stop": draw(JUNK)}),
        (draw(st.sampled_from(["client", "server"])), {"event": draw(TEXT), "x": draw(JUNK)}),
    ]
    return events[kind]


@st.composite
def chronapilot_event(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    kind = draw(st.integers(0, 12))
    aid = draw(st.sampled_from(["act_1", "act_2", None]))
    events: list[tuple[str, dict[str, Any]]] = [
        ("client", {"type": "session.update", "session": draw(JUNK)}),
        ("client", {"type": "audio.append", "audio": _b64(draw(AUDIO))}),
        ("client", {"type": "text.append", "text": draw(TEXT)}),
        ("client", {"type": "response.cancel"}),
        ("client", {"type": "action.confirm", "id": aid}),
        ("server", {"type": "transcript.partial", "text": draw(TEXT)}),
        ("server", {"type": "transcript.final", "text": draw(TEXT)}),
        ("server", {"type": "intent.detected", "name": draw(TEXT), "confidence": 0.5}),
        ("server", {"type": "action.proposed", "id": aid,
                    "action": draw(st.one_of(JUNK, st.fixed_dictionaries(
                        {"tool": TEXT, "arguments": st.dictionaries(TEXT, JUNK, max_size=2)})))}),
        ("server", {"type": "action.executed", "id": aid, "tool": draw(TEXT),
                    "resource_id": draw(JUNK)}),
        ("server", {"type": "audio.delta", "audio": _b64(draw(AUDIO))}),
        ("server", {"type": "response.done"}),
        ("server", {"type": draw(TEXT)}),
    ]
    return events[kind]


_EVENTS = {"openai-realtime": openai_event(), "twilio": twilio_event(),
           "chronapilot": chronapilot_event()}


@st.composite
def recording(draw: st.DrawFn) -> tuple[str, bytes]:
    provider = draw(st.sampled_from(sorted(_EVENTS)))
    events = draw(st.lists(_EVENTS[provider], min_size=1, max_size=30))
    gaps = draw(st.lists(st.integers(0, 700_000_000), min_size=len(events),
                         max_size=len(events)))
    lines = []
    ts = T0
    for (direction, event), gap in zip(events, gaps, strict=True):
        ts += gap
        lines.append(json.dumps({"ts_ns": ts, "direction": direction, "event": event}))
    return provider, ("\n".join(lines) + "\n").encode()


def _audio_in(events: tuple[RecordedEvent, ...]) -> list[bytes]:
    found = []
    for event in events:
        body = event.event
        for value in (body.get("audio"), body.get("delta"),
                      (body.get("media") or {}).get("payload")
                      if isinstance(body.get("media"), dict) else None):
            if isinstance(value, str) and len(value) >= 32:
                raw = base64.b64decode(value, validate=False)
                if len(raw) >= 24 and len(set(raw)) >= 8:
                    found.append(raw)
    return found


def _check_accounting(plan: SessionPlan, events: tuple[RecordedEvent, ...]) -> None:
    assert set(plan.accounting) == {event.line for event in events}
    steps = {step.key: step for step in plan.steps}
    by_line = {event.line: event for event in events}
    for line, dispositions in plan.accounting.items():
        assert dispositions
        for disposition in dispositions:
            target = steps[disposition.target]
            assert line in target.lines
            if disposition.kind == "opaque":
                assert isinstance(target, Atom)
                assert target.atom_type == "provider_opaque_marker"
                assert target.fields["marker_hash"] == by_line[line].event_hash


@given(recording())
def test_every_event_is_accounted_for(generated: tuple[str, bytes]) -> None:
    provider, data = generated
    events = parse_recording_bytes(data)
    _check_accounting(ADAPTERS[provider](events), events)


@given(recording())
def test_no_audio_bytes_reach_an_atom_or_the_artifact_and_replays_are_identical(
        generated: tuple[str, bytes]) -> None:
    provider, data = generated
    options = IngestOptions(schema_version=1)
    first = ingest_bytes(provider, data, options=options, tsa=None)
    artifact = dump_artifact(first.artifact)
    bodies = json.dumps([call.body for call in plan_calls(first.plan, options)]).encode()
    for audio in _audio_in(parse_recording_bytes(data)):
        for form in (audio, base64.b64encode(audio), base64.b64encode(audio).rstrip(b"="),
                     audio.hex().encode(), audio.decode("latin-1").encode("utf-8")):
            assert form not in artifact
            assert form not in bodies
    again = ingest_bytes(provider, data, options=options, tsa=None)
    assert dump_artifact(again.artifact) == artifact
