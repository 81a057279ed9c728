"""Provider adapters: recordings -> atoms, turns and tool calls -> engine -> VERIFIED.

The fixture recordings are built by ``tests/adapter_fixtures.py`` (real synthesised
audio); the expected values below are computed from those recordings by hand.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from keel_verify import verify_bytes
from keel_verify.adapters import ADAPTERS, adapt_recording
from keel_verify.adapters.ingest import Ingested, ingest_bytes
from keel_verify.adapters.plan import Atom, SessionPlan, TurnInterruption
from keel_verify.adapters.recording import RecordingError, parse_recording_bytes
from keel_verify.adapters.scenario import IngestOptions
from keel_verify.emit.artifact import dump_artifact
from keel_verify.emit.signing import ed25519_key_from_seed
from keel_verify.results import Verdict
from keel_verify.trust import TrustPolicy
from keel_verify.trust.trust_root import load_trust_root
from tests.adapter_fixtures import DATA, FIXTURES, T0_NS, pcm16_tone, ulaw_byte, ulaw_tone

SAMPLE_TRUST_ROOT = Path(__file__).parent.parent / "sample" / "trust-root.json"


def _trust() -> TrustPolicy:
    return load_trust_root(SAMPLE_TRUST_ROOT).apply(TrustPolicy())


def _fixture(name: str) -> bytes:
    return (DATA / name).read_bytes()


def _plan(name: str) -> SessionPlan:
    return adapt_recording(FIXTURES[name][0], _fixture(name))


def _atoms(plan: SessionPlan, atom_type: str) -> list[Atom]:
    return [atom for atom in plan.atoms if atom.atom_type == atom_type]


def _sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


_INGESTED: dict[tuple[str, int], Ingested] = {}


def _ingest(name: str, schema_version: int = 3) -> Ingested:
    """One in-process ingest per fixture and schema version (the module reuses it)."""
    key = (name, schema_version)
    if key not in _INGESTED:
        _INGESTED[key] = ingest_bytes(FIXTURES[name][0], _fixture(name),
                                      options=IngestOptions(schema_version=schema_version))
    return _INGESTED[key]


# -- fixtures and audio --------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_committed_fixture_equals_its_generator(name: str) -> None:
    assert (DATA / name).read_text(encoding="utf-8") == FIXTURES[name][1]()


def test_ulaw_encoder_follows_g711() -> None:
    # G.711 μ-law reference points: 0 -> 0xFF, the clip level -> 0x80, -1 -> 0x7F.
    assert ulaw_byte(0) == 0xFF
    assert ulaw_byte(32767) == 0x80
    assert ulaw_byte(-32768) == 0x00
    assert ulaw_byte(-1) == 0x7F
    assert len(ulaw_tone(20)) == 160 and len(pcm16_tone(20)) == 960


# -- the three providers end to end ----------------------------------------------------------


@pytest.mark.parametrize("schema_version", [3, 1])
@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_fixture_session_verifies_with_the_sample_trust_root(name: str, schema_version: int
                                                             ) -> None:
    result = _ingest(name, schema_version)
    report = verify_bytes(dump_artifact(result.artifact), _trust())
    assert report.verdict is Verdict.VERIFIED, [(c.name, c.outcome, c.reason)
                                                for c in report.checks]
    assert result.artifact["schema_version"] == schema_version
    metadata = result.artifact["session_metadata"]
    assert metadata["provider"] == FIXTURES[name][0]
    counters = metadata["session_counters"]
    assert counters["turn_count"] == len(result.plan.turns)
    digest = _sha(_fixture(name))
    assert digest in json.dumps(result.artifact) or schema_version == 3


def test_the_same_recording_gives_the_same_artifact_bytes() -> None:
    for name in ("twilio.jsonl", "chronapilot.jsonl"):
        first = ingest_bytes(FIXTURES[name][0], _fixture(name))
        second = ingest_bytes(FIXTURES[name][0], _fixture(name))
        assert dump_artifact(first.artifact) == dump_artifact(second.artifact)


def test_every_fixture_line_is_accounted_for() -> None:
    for name in FIXTURES:
        plan = _plan(name)
        lines = {event.line for event in parse_recording_bytes(_fixture(name))}
        assert set(plan.accounting) == lines
        keys = {step.key for step in plan.steps}
        assert all(d.target in keys for ds in plan.accounting.values() for d in ds)


# -- OpenAI Realtime --------------------------------------------------------------------------


def test_openai_audio_chunks_hash_the_decoded_bytes_with_durations_from_byte_counts() -> None:
    plan = _plan("openai_realtime.jsonl")
    inbound = [a for a in _atoms(plan, "audio_chunk") if a.direction == "inbound"]
    # 15 appends of 100 ms (first window: 10 of them), then 8 more after the barge-in
    assert [a.fields["duration_ms"] for a in inbound] == [1000, 500, 800]
    first_ten = b"".join(pcm16_tone(100, 2400 * i) for i in range(10))
    assert inbound[0].fields["content_hash"] == _sha(first_ten)
    assert inbound[0].fields["attributes"]["byte_count"] == 48_000
    assert inbound[0].fields["format"] == "pcm16"
    outbound = [a for a in _atoms(plan, "audio_chunk") if a.direction == "outbound"]
    assert [a.fields["duration_ms"] for a in outbound] == [1200, 900]
    assert outbound[0].fields["attributes"]["item_id"] == "item_asst_2"
    assert plan.usage["audio_input_ms"] == 2300 and plan.usage["audio_output_ms"] == 2100


def test_openai_transcripts_tools_approvals_and_turns() -> None:
    plan = _plan("openai_realtime.jsonl")
    spans = [(a.direction, a.fields["text"]) for a in _atoms(plan, "transcript_span")]
    assert spans == [("inbound", "Where is my order A-1001?"),
                     ("outbound", "Your order shipped this morning and"),
                     ("inbound", "Also, create a private repo called test-repo."),
                     ("outbound", "Done: test-repo is created and private.")]
    attempts = [(a.fields["tool_name"], a.fields["call_id"], a.fields["approval"],
                 a.fields.get("approved_by")) for a in _atoms(plan, "tool_invocation_attempt")]
    assert attempts == [("lookup_order_status", "call_1", "not_required", None),
                        ("create_repository", "mcpr_1", "requested", None),
                        ("create_repository", "mcpr_1", "approved", "client")]
    args = json.dumps({"order_id": "A-1001"}, separators=(",", ":")).encode()
    assert _atoms(plan, "tool_invocation_attempt")[0].fields["arguments_hash"] == _sha(args)
    turns = [(t.input_tokens, t.output_tokens, t.metadata["status"],
              [c.tool_name for c in t.tool_calls]) for t in plan.turns]
    assert turns == [(330, 80, "completed", ["lookup_order_status"]),
                     (420, 95, "cancelled", []),
                     (500, 30, "completed", []),
                     (610, 40, "completed", ["create_repository"])]
    assert plan.model == "gpt-realtime"
    assert plan.usage["input_tokens"] == 1860 and plan.usage["output_tokens"] == 245


def test_openai_barge_in_gives_delivered_and_withheld_durations() -> None:
    plan = _plan("openai_realtime.jsonl")
    [interruption] = _atoms(plan, "interruption")
    # 6 x 200 ms generated; the gateway truncated the item at audio_end_ms 450
    assert interruption.fields["delivered_ms"] == 450
    assert interruption.fields["withheld_ms"] == 750
    assert interruption.fields["interrupted_turn_index"] == 2
    assert interruption.fields["reason"] == "caller_barge_in"
    assert interruption.fields["attributes"]["cancel_acknowledged"] is True
    assert interruption.captured_at_ns == T0_NS + 2300 * 1_000_000  # speech_started
    [record] = [s for s in plan.steps if isinstance(s, TurnInterruption)]
    assert record.turn_index == 2


def test_openai_errors_and_unknown_events_become_opaque_markers_with_their_hash() -> None:
    plan = _plan("openai_realtime.jsonl")
    events = {e.line: e for e in parse_recording_bytes(_fixture("openai_realtime.jsonl"))}
    markers = {a.fields["provider_event_type"]: a for a in _atoms(plan, "provider_opaque_marker")}
    assert {"error", "rate_limits.updated", "input_audio_buffer.timeout_triggered",
            "conversation.item.create", "response.create"} <= set(markers)
    error = markers["error"]
    assert error.fields["marker_hash"] == events[error.lines[0]].event_hash
    assert "Invalid value" not in json.dumps(plan.atoms[0].fields)


def test_openai_beta_names_and_g711_formats() -> None:
    plan = _plan("openai_realtime_beta.jsonl")
    chunks = {a.direction: a for a in _atoms(plan, "audio_chunk")}
    assert chunks["inbound"].fields["format"] == "g711_ulaw"
    assert chunks["inbound"].fields["duration_ms"] == 500
    assert chunks["outbound"].fields["duration_ms"] == 1000
    assert chunks["outbound"].fields["content_hash"] == _sha(
        b"".join(ulaw_tone(250, 2000 * i) for i in range(4)))
    assert [a.fields["text"] for a in _atoms(plan, "transcript_span")] == [
        "Hello?", "Hi! How can I help?"]
    # every beta event is modelled: the user item folds into its transcript, the rest into
    # the turn; nothing is left opaque
    assert _atoms(plan, "provider_opaque_marker") == []
    [user_span] = [a for a in _atoms(plan, "transcript_span") if a.direction == "inbound"]
    assert user_span.lines == (7, 8)


# -- Twilio Media Streams ---------------------------------------------------------------------


def test_twilio_start_media_marks_clear_dtmf_stop() -> None:
    plan = _plan("twilio.jsonl")
    start, stop = _atoms(plan, "lifecycle_marker")
    assert start.fields["marker_type"] == "stream_started" and stop.fields["marker_type"] == "stream_stopped"
    assert start.fields["attributes"]["call_sid"] == "CA5b4a6c3f2e1d0c9b8a7f6e5d4c3b2a10"
    assert start.fields["attributes"]["encoding"] == "audio/x-mulaw"
    assert start.lines == (1, 2)  # connected folds into start
    first = _atoms(plan, "audio_chunk")[0]
    assert first.direction == "inbound" and first.fields["format"] == "g711_ulaw"
    assert first.fields["attributes"]["first_chunk"] == 1
    assert first.fields["attributes"]["last_chunk"] == 50
    assert first.fields["attributes"]["first_timestamp_ms"] == 20
    assert first.fields["duration_ms"] == 1000 and first.fields["attributes"]["byte_count"] == 8000
    assert [t.metadata["status"] for t in plan.turns] == ["completed", "interrupted", "completed"]
    [interruption] = _atoms(plan, "interruption")
    # part A (1 s) confirmed played by its mark echo; part B (1 s) unconfirmed at the clear
    assert interruption.fields["delivered_ms"] == 1000
    assert interruption.fields["withheld_ms"] == 1000
    assert interruption.fields["interrupted_turn_index"] == 2
    assert interruption.fields["attributes"]["cancel_acknowledged"] is True
    [dtmf] = _atoms(plan, "provider_opaque_marker")
    assert dtmf.fields["provider_event_type"] == "dtmf"
    assert "digit" not in json.dumps(dtmf.fields)


# -- ChronaPilot ----------------------------------------------------------------------------


def test_chronapilot_confirmation_is_recorded_before_the_governed_tool_call() -> None:
    result = _ingest("chronapilot.jsonl", 1)
    chain = result.artifact["chain"]
    types = [entry["event_type"] for entry in chain]
    approved = next(i for i, entry in enumerate(chain)
                    if entry["event_type"] == "voice.tool_invocation.attempted"
                    and entry["canonicalized_payload"]["payload"]["approval"] == "approved")
    governed = types.index("voice.tool_invocation.governed")
    assert approved < governed
    plan = result.plan
    attempts = [(a.fields["tool_name"], a.fields["approval"])
                for a in _atoms(plan, "tool_invocation_attempt")]
    assert attempts == [("create_event", "requested"), ("create_event", "approved"),
                        ("create_event", "approved"), ("get_next_event", "not_required")]
    executed = [a.fields["attributes"] for a in _atoms(plan, "tool_invocation_attempt")
                if a.fields["attributes"]["stage"] == "executed"]
    assert [ref["resource_id"] for ref in executed] == ["evt_8hq2k1", "evt_8hq2k1"]
    assert [[c.tool_name for c in t.tool_calls] for t in plan.turns] == [
        [], ["create_event"], ["get_next_event"]]
    assert plan.turns[1].metadata["affected_resource_ids"] == ["evt_8hq2k1"]
    [interruption] = _atoms(plan, "interruption")
    assert (interruption.fields["delivered_ms"], interruption.fields["withheld_ms"]) == (600, 400)
    assert [a.fields["text"] for a in _atoms(plan, "transcript_span")] == [
        "Book a dentist appointment Friday at 3 pm", "What's next on my calendar?"]


def _log(*events: tuple[str, dict[str, Any]]) -> bytes:
    return "".join(json.dumps({"ts_ns": T0_NS + i * 1_000_000, "direction": d, "event": e}) + "\n"
                   for i, (d, e) in enumerate(events)).encode()


def test_chronapilot_action_executed_without_confirmation_is_marked_missing() -> None:
    plan = adapt_recording("chronapilot", _log(
        ("server", {"type": "action.proposed", "id": "a1",
                    "action": {"tool": "cancel_event", "arguments": {"id": "evt_1"}}}),
        ("server", {"type": "action.executed", "id": "a1", "resource_id": "evt_1"}),
        ("server", {"type": "response.done"})))
    statuses = [a.fields["approval"] for a in _atoms(plan, "tool_invocation_attempt")]
    assert statuses == ["requested", "missing"]
    assert [c.tool_name for c in plan.turns[0].tool_calls] == ["cancel_event"]


def test_fragments_whose_aggregate_never_came_become_opaque_markers() -> None:
    plan = adapt_recording("openai-realtime", _log(
        ("server", {"type": "conversation.item.input_audio_transcription.delta",
                    "item_id": "i9", "delta": "hel"}),
        ("server", {"type": "response.created", "response": {"id": "r9"}})))
    markers = _atoms(plan, "provider_opaque_marker")
    assert [m.fields["provider_event_type"] for m in markers] == [
        "conversation.item.input_audio_transcription.delta", "response.created"]
    assert [d.rule for ds in plan.accounting.values() for d in ds] == [
        "orphaned:transcript_delta", "orphaned:response_structure"]


_AUDIO = base64.b64encode(bytes(4800)).decode()  # 100 ms of pcm16 at 24 kHz


def _rules(plan: SessionPlan) -> list[str]:
    return [d.rule for ds in plan.accounting.values() for d in ds]


@pytest.mark.parametrize("cancel", [False, True])
def test_a_chronapilot_response_without_response_done_is_orphaned(cancel: bool) -> None:
    events: list[tuple[str, dict[str, Any]]] = [
        ("server", {"type": "audio.delta", "audio": _AUDIO}),
        ("server", {"type": "action.executed", "id": "a1",
                    "action": {"tool": "lookup", "arguments": {}}})]
    if cancel:
        events.append(("client", {"type": "response.cancel"}))
    plan = adapt_recording("chronapilot", _log(*events))  # the recording ends here
    assert plan.turns == () and not _atoms(plan, "interruption")
    assert [s.key for s in plan.steps if isinstance(s, TurnInterruption)] == []
    rules = _rules(plan)
    assert "orphaned:response_done" in rules and "response_done" not in rules
    assert ("orphaned:response_cancel" in rules) is cancel
    markers = _atoms(plan, "provider_opaque_marker")
    assert markers[0].fields["provider_event_type"] == "audio.delta"
    # what the provider did stays on record as atoms
    assert len(_atoms(plan, "audio_chunk")) == 1
    assert [a.fields["approval"] for a in _atoms(plan, "tool_invocation_attempt")] == [
        "not_required"]


def test_a_chronapilot_response_with_response_done_is_a_completed_turn() -> None:
    plan = adapt_recording("chronapilot", _log(
        ("server", {"type": "audio.delta", "audio": _AUDIO}),
        ("server", {"type": "response.done"})))
    assert [t.metadata["status"] for t in plan.turns] == ["completed"]
    assert not any(rule.startswith("orphaned:") for rule in _rules(plan))


def test_a_twilio_turn_the_recording_ends_inside_is_orphaned() -> None:
    media = {"event": "media", "streamSid": "MZ1",
             "media": {"payload": base64.b64encode(bytes(160)).decode()}}
    plan = adapt_recording("twilio", _log(
        ("client", media),
        ("client", {"event": "mark", "streamSid": "MZ1", "mark": {"name": "m1"}})))
    assert plan.turns == ()
    rules = _rules(plan)
    assert "orphaned:playback_complete" in rules and "orphaned:playback_mark" in rules
    assert len(_atoms(plan, "audio_chunk")) == 1


def test_a_twilio_turn_ended_by_stop_is_a_turn() -> None:
    media = {"event": "media", "streamSid": "MZ1",
             "media": {"payload": base64.b64encode(bytes(160)).decode()}}
    plan = adapt_recording("twilio", _log(
        ("client", media), ("server", {"event": "stop", "streamSid": "MZ1", "stop": {}})))
    assert [t.metadata["status"] for t in plan.turns] == ["stream_stopped"]


_JCS_MAX = 2**53 - 1


@pytest.mark.parametrize("tokens", [2**53, 10**30])
def test_provider_numbers_beyond_the_api_range_are_clamped_and_recorded(tokens: int) -> None:
    """A huge usage count or cut-off offset is clamped in the adapter (ledger: clamped),
    so the engine takes the session instead of refusing it whole."""
    data = _log(
        ("server", {"type": "response.created", "response": {"id": "r1"}}),
        ("server", {"type": "response.output_audio.delta", "response_id": "r1",
                    "item_id": "it1", "delta": _AUDIO}),
        ("client", {"type": "conversation.item.truncate", "item_id": "it1",
                    "content_index": 0, "audio_end_ms": tokens}),
        ("server", {"type": "response.done", "response": {
            "id": "r1", "status": "completed",
            "usage": {"input_tokens": tokens, "output_tokens": tokens}}}))
    ingested = ingest_bytes("openai-realtime", data, options=IngestOptions(schema_version=1))
    (turn,) = ingested.plan.turns
    assert (turn.input_tokens, turn.output_tokens) == (_JCS_MAX, _JCS_MAX)
    assert turn.metadata["provider_input_tokens"] == str(tokens)
    (cut,) = [s for s in ingested.plan.steps if isinstance(s, TurnInterruption)]
    assert cut.cutoff_offset_ms == _JCS_MAX
    clamped = sorted(d.rule for ds in ingested.plan.accounting.values() for d in ds
                     if d.kind == "clamped")
    assert clamped == ["clamped:cutoff_offset_ms", "clamped:input_tokens",
                       "clamped:output_tokens"]
    assert verify_bytes(dump_artifact(ingested.artifact), _trust()).verdict is Verdict.VERIFIED
    assert ingested.artifact["session_metadata"]["usage"]["input_tokens"] == _JCS_MAX


def test_numbers_within_the_api_range_are_kept_exactly() -> None:
    plan = adapt_recording("openai-realtime", _log(
        ("server", {"type": "response.done", "response": {
            "id": "r1", "status": "completed",
            "usage": {"input_tokens": _JCS_MAX, "output_tokens": 7}}})))
    assert (plan.turns[0].input_tokens, plan.turns[0].output_tokens) == (_JCS_MAX, 7)
    assert "provider_input_tokens" not in plan.turns[0].metadata
    assert not any(d.kind == "clamped" for ds in plan.accounting.values() for d in ds)


def test_twilio_numbers_beyond_the_range_stay_exact_as_text() -> None:
    plan = adapt_recording("twilio", _log(("server", {"event": "media", "media": {
        "track": "inbound", "chunk": 10**30, "timestamp": 2**53,
        "payload": base64.b64encode(bytes(160)).decode()}})))
    (chunk,) = _atoms(plan, "audio_chunk")
    assert chunk.fields["attributes"]["first_chunk"] == str(10**30)
    assert chunk.fields["attributes"]["first_timestamp_ms"] == str(2**53)


def test_undecodable_audio_is_an_opaque_marker_not_a_chunk() -> None:
    plan = adapt_recording("twilio", _log(
        ("server", {"event": "media", "media": {"track": "inbound", "payload": "%%%"}})))
    assert [a.atom_type for a in plan.atoms] == ["provider_opaque_marker"]


def test_an_oversized_transcript_is_split_never_cut() -> None:
    text = "é" * 70_000
    plan = adapt_recording("chronapilot", _log(("client", {"type": "text.append", "text": text})))
    spans = _atoms(plan, "transcript_span")
    assert "".join(s.fields["text"] for s in spans) == text
    assert [s.fields["attributes"]["part"] for s in spans] == [1, 2]


def test_long_provider_ids_are_replaced_by_their_hash() -> None:
    sid = "MZ" + "x" * 500
    plan = adapt_recording("twilio", _log(("server", {"event": "start", "start": {
        "streamSid": sid, "tracks": ["inbound"] * 50}})))
    ref = plan.atoms[0].fields["attributes"]
    assert ref["stream_sid"] == _sha(sid.encode()) and len(ref["tracks"]) == 8


# -- the recording format ------------------------------------------------------------------


@pytest.mark.parametrize(("text", "message"), [
    ("{", "line 1: not JSON"),
    ("[]", "line 1: must be a JSON object"),
    ('{"ts_ns": -1, "direction": "server", "event": {}}', "line 1: ts_ns"),
    ('{"ts_ns": 1.5, "direction": "server", "event": {}}', "line 1: ts_ns"),
    ('{"ts_ns": "12a", "direction": "server", "event": {}}', "line 1: ts_ns"),
    ('{"ts_ns": 1, "direction": "up", "event": {}}', "line 1: direction"),
    ('{"ts_ns": 1, "direction": "client", "event": []}', "line 1: event must be"),
    ('{"ts_ns": 1, "direction": "client", "event": {}, "x": 1}', "unknown member 'x'"),
    ('{"ts_ns": 1, "direction": "client", "event": {"t": NaN}}', "line 1: not JSON"),
    ('{"ts_ns": 1, "direction": "client", "event": {"t": "\\ud800"}}',
     "line 1: not JSON \\(string contains a lone UTF-16 surrogate"),
    ("\n\n", "holds no events"),
    # a capture time the API cannot take is refused here, naming the line
    ('{"ts_ns": 9223372036854775808, "direction": "client", "event": {}}', "line 1: ts_ns"),
    ('{"ts_ns": "9223372036854775808", "direction": "client", "event": {}}', "line 1: ts_ns"),
    # duplicate keys at any depth: the first value would silently disappear
    ('{"ts_ns": 1, "direction": "client", "event": {"type": "input_audio_buffer.append", '
     '"audio": "QUFB", "audio": "QkJC"}}', 'line 1: not JSON \\(duplicate object key "audio"\\)'),
    ('{"ts_ns": 1, "ts_ns": 2, "direction": "client", "event": {}}',
     'line 1: not JSON \\(duplicate object key "ts_ns"\\)'),
    ('{"ts_ns": 1, "direction": "server", "event": {"type": "response.done", '
     '"response": {"usage": {"input_tokens": 1, "input_tokens": 2}}}}',
     'line 1: not JSON \\(duplicate object key "input_tokens"\\)'),
    ('{"ts_ns": 1, "direction": "client", "event": {}}\n'
     '{"ts_ns": 2, "direction": "client", "event": {"a": 1, "a": 1}}', "^line 2: "),
])
def test_bad_recordings_are_refused_with_the_line(text: str, message: str) -> None:
    with pytest.raises(RecordingError, match=message):
        parse_recording_bytes(text.encode())


def test_recording_schema_accepts_every_fixture_line() -> None:
    import jsonschema

    schema = json.loads((Path(__file__).parent.parent / "schemas"
                         / "provider-recording-v1.schema.json").read_text())
    validator = jsonschema.Draft202012Validator(schema)
    for name in FIXTURES:
        for line in _fixture(name).decode().splitlines():
            validator.validate(json.loads(line))
    assert not validator.is_valid({"ts_ns": 1, "direction": "sideways", "event": {}})


def test_sidecar_key_signs_every_atom_and_the_engine_verifies_it() -> None:
    key = ed25519_key_from_seed(b"keel-verify TEST sidecar for adapters")
    result = ingest_bytes("chronapilot", _fixture("chronapilot.jsonl"), sidecar_key=key,
                          options=IngestOptions(schema_version=1))
    atoms = [e["canonicalized_payload"] for e in result.artifact["chain"]
             if "atom_type" in e["canonicalized_payload"]]
    assert atoms and all(a["signatures"] and a["signatures"][0]["status"] == "verified"
                         for a in atoms)
    assert verify_bytes(dump_artifact(result.artifact), _trust()).verdict is Verdict.VERIFIED


def test_adapters_cover_the_three_providers() -> None:
    assert set(ADAPTERS) == {"openai-realtime", "twilio", "chronapilot"}


def test_no_fixture_audio_appears_in_the_v1_artifact() -> None:
    for name in FIXTURES:
        artifact = dump_artifact(_ingest(name, 1).artifact).decode()
        for event in parse_recording_bytes(_fixture(name)):
            for member in ("audio", "delta", "payload"):
                value = event.event.get(member) or (event.event.get("media") or {}).get(member)
                if isinstance(value, str) and len(value) > 40:
                    assert value[:40] not in artifact
                    assert base64.b64decode(value)[:32].hex() not in artifact


# -- keel-emit ingest -----------------------------------------------------------------------


def test_ingest_command_writes_a_verified_artifact_and_the_ledger(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.test_emit_cli import run

    out, ledger = tmp_path / "session.json", tmp_path / "ledger.json"
    code, _, err = run(["ingest", "--provider", "twilio", str(DATA / "twilio.jsonl"),
                        "-o", str(out), "--ledger", str(ledger)], capsys)
    assert code == 0, err
    assert out.read_bytes() == dump_artifact(_ingest("twilio.jsonl").artifact)
    assert verify_bytes(out.read_bytes(), _trust()).verdict is Verdict.VERIFIED
    lines = json.loads(ledger.read_text())["lines"]
    assert len(lines) == len(parse_recording_bytes(_fixture("twilio.jsonl")))
    assert lines["1"] == [{"kind": "aggregated", "target": "twl-000001-lifecycle_marker",
                           "rule": "handshake"}]


def test_ingest_command_refuses_bad_recordings_in_one_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.test_emit_cli import assert_one_line_error, run

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"ts_ns": 1, "direction": "server", "event": {}}\n{"ts_ns": 1}\n')
    out = tmp_path / "out.json"
    code, _, err = run(["ingest", "--provider", "openai-realtime", str(bad), "-o", str(out)],
                       capsys)
    assert_one_line_error(code, err, "line 2: direction must be")
    assert not out.exists()
    code, _, err = run(["ingest", "--provider", "twilio", str(tmp_path / "none.jsonl"),
                        "-o", str(out)], capsys)
    assert_one_line_error(code, err, "no such file")


def test_hostile_provider_values_still_give_a_verified_session() -> None:
    # a 500-character response id, a 300-character tool name, float arguments: the API's
    # bounds are kept (ids hashed, arguments replaced by their hash), nothing is refused
    long_id = "r" * 500
    data = _log(
        ("server", {"type": "response.created", "response": {"id": long_id}}),
        ("server", {"type": "response.function_call_arguments.done", "response_id": long_id,
                    "item_id": "i" * 300, "call_id": "c" * 300, "name": "t" * 300,
                    "arguments": '{"amount": 12.5}'}),
        ("server", {"type": "response.done", "response": {
            "id": long_id, "status": "completed",
            "usage": {"input_tokens": 10**12, "output_tokens": 1}}}))
    result = ingest_bytes("openai-realtime", data)
    assert verify_bytes(dump_artifact(result.artifact), _trust()).verdict is Verdict.VERIFIED
    [turn] = result.plan.turns
    assert turn.metadata["provider_response_id"] == _sha(long_id.encode())
    call = next(c for c in result.calls if c.name == "turns").body["tool_call"]
    assert call["tool_name"] == _sha(("t" * 300).encode())
    assert call["arguments"] == {"arguments_sha256": turn.tool_calls[0].arguments_hash}


def test_the_readme_three_commands_run_as_written(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    import shlex

    from keel_verify.cli import main as verify_main
    from keel_verify.emit.cli import main as emit_main

    root = Path(__file__).resolve().parent.parent
    readme = (root / "README.md").read_text(encoding="utf-8")
    block = readme.split("The three commands of an integrator:", 1)[1].split("```sh\n", 1)[1]
    commands = [shlex.split(line) for line in block.split("```", 1)[0].splitlines()
                if line.startswith(("keel-emit", "keel-verify"))]
    assert [c[:2] for c in commands] == [["keel-emit", "ingest"],
                                         ["keel-verify", "--trust-root"],
                                         ["keel-verify", "--trust-root"]]
    monkeypatch.chdir(root)

    def local(argv: list[str]) -> list[str]:  # outputs into the test's folder
        return [str(tmp_path / a) if a.startswith("session.") else a for a in argv]

    for argv in commands:
        entry = emit_main if argv[0] == "keel-emit" else verify_main
        try:
            entry(local(argv[1:]))
            code = 0
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else 1
        assert code == 0, capsys.readouterr().err
    assert "VERIFIED" in capsys.readouterr().out
    html = (tmp_path / "session.html").read_text(encoding="utf-8")
    for kind in ("voice.turn.evaluated", "voice.tool_invocation.governed",
                 "voice.tool_invocation.attempted", "voice.turn.interrupted"):
        assert kind in html
    # v1 (payloads embedded): the timeline shows approvals and delivered/withheld audio
    assert "attempt: create_repository \u00b7 requested" in html
    assert "attempt: create_repository \u00b7 approved by client" in html
    assert "interruption: caller_barge_in \u00b7 delivered 450 ms, withheld 750 ms" in html
    assert json.loads((tmp_path / "session.json").read_text())["schema_version"] == 1
