"""Builds the provider recordings in ``tests/data/adapters/`` (deterministic).

Run ``python -m tests.adapter_fixtures`` to rewrite them; ``tests/test_adapters.py``
checks that the committed files equal what this module builds.

The audio is real: a 400 Hz tone from a fixed integer sine table (no floating point, so
every platform builds the same bytes), as 16-bit little-endian PCM at 24 kHz (OpenAI
Realtime ``audio/pcm``, ChronaPilot PCM16) and as G.711 μ-law at 8 kHz (Twilio
``audio/x-mulaw``, encoded here with the G.711 segment rule). Silence is μ-law 0xFF.
The message shapes follow the providers' published references (see the README there).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

DATA = Path(__file__).parent / "data" / "adapters"
#: Recording start: 2026-11-30T10:00:00Z in epoch nanoseconds.
T0_NS = int(datetime(2026, 11, 30, 10, 0, 0, tzinfo=UTC).timestamp()) * 1_000_000_000

#: A quarter period of round(8000 * sin(2*pi*k/60)), k = 0..15: 400 Hz at 24 kHz.
_QUARTER = (0, 836, 1663, 2472, 3254, 4000, 4702, 5353, 5945, 6472, 6928, 7308, 7608, 7825,
            7956, 8000)


def _sine(k: int) -> int:
    k %= 60
    if k <= 15:
        return _QUARTER[k]
    if k <= 30:
        return _QUARTER[30 - k]
    if k <= 45:
        return -_QUARTER[k - 30]
    return -_QUARTER[60 - k]


def pcm16_tone(ms: int, start_sample: int = 0) -> bytes:
    """``ms`` milliseconds of the tone as PCM16 little-endian mono at 24 kHz."""
    count = ms * 24
    return b"".join(_sine(start_sample + i).to_bytes(2, "little", signed=True)
                    for i in range(count))


def ulaw_byte(sample: int) -> int:
    """One 16-bit linear sample as G.711 μ-law (bias 0x84, clip 32635)."""
    sign = 0x80 if sample < 0 else 0
    magnitude = min(-sample if sample < 0 else sample, 32635) + 0x84
    exponent = magnitude.bit_length() - 8  # 0..7 for 132..32767
    mantissa = (magnitude >> (exponent + 3)) & 0x0F
    return ~(sign | (exponent << 4) | mantissa) & 0xFF


def ulaw_tone(ms: int, start_sample: int = 0) -> bytes:
    """``ms`` milliseconds of the tone as μ-law at 8 kHz (every third 24 kHz sample)."""
    return bytes(ulaw_byte(_sine(3 * (start_sample + i))) for i in range(ms * 8))


def ulaw_silence(ms: int) -> bytes:
    return b"\xff" * (ms * 8)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


class _Log:
    def __init__(self) -> None:
        self.lines: list[dict[str, Any]] = []

    def add(self, ms: int, direction: str, event: dict[str, Any]) -> None:
        self.lines.append({"ts_ns": T0_NS + ms * 1_000_000, "direction": direction,
                           "event": event})

    def text(self) -> str:
        return "".join(json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n"
                       for line in self.lines)


# -- OpenAI Realtime (GA event names) ---------------------------------------------------------

_SESSION: dict[str, Any] = {
    "type": "realtime", "object": "realtime.session", "id": "sess_C9fixture0001",
    "model": "gpt-realtime", "output_modalities": ["audio"],
    "audio": {
        "input": {"format": {"type": "audio/pcm", "rate": 24000},
                  "transcription": {"model": "whisper-1"},
                  "turn_detection": {"type": "server_vad", "threshold": 0.5,
                                     "prefix_padding_ms": 300, "silence_duration_ms": 500}},
        "output": {"format": {"type": "audio/pcm", "rate": 24000}, "voice": "marin"},
    },
}
_TOOLS = [
    {"type": "function", "name": "lookup_order_status",
     "description": "Look up the shipping status of an order.",
     "parameters": {"type": "object", "properties": {"order_id": {"type": "string"}},
                    "required": ["order_id"]}},
    {"type": "mcp", "server_label": "github", "server_url": "https://api.githubcopilot.com/mcp/",
     "require_approval": "always"},
]


def _openai_events() -> Iterator[tuple[int, str, dict[str, Any]]]:
    n = iter(range(1, 1000))

    def eid() -> str:
        return f"event_fx{next(n):04d}"

    yield 0, "server", {"type": "session.created", "event_id": eid(), "session": _SESSION}
    yield 50, "client", {"type": "session.update",
                         "session": {"type": "realtime", "tools": _TOOLS,
                                     "instructions": "You are a helpful order assistant."}}
    yield 80, "server", {"type": "session.updated", "event_id": eid(),
                         "session": {**_SESSION, "tools": _TOOLS}}
    # the caller asks about an order: 1.5 s of audio in 100 ms appends
    for i in range(15):
        yield 100 + 100 * i, "client", {"type": "input_audio_buffer.append",
                                        "audio": b64(pcm16_tone(100, 2400 * i))}
        if i == 2:
            yield 305, "server", {"type": "input_audio_buffer.speech_started",
                                  "event_id": eid(), "audio_start_ms": 180,
                                  "item_id": "item_user_1"}
    yield 1405, "server", {"type": "input_audio_buffer.speech_stopped", "event_id": eid(),
                           "audio_end_ms": 1300, "item_id": "item_user_1"}
    yield 1420, "server", {"type": "input_audio_buffer.committed", "event_id": eid(),
                           "previous_item_id": None, "item_id": "item_user_1"}
    yield 1430, "server", {"type": "conversation.item.added", "event_id": eid(),
                           "previous_item_id": None,
                           "item": {"id": "item_user_1", "object": "realtime.item",
                                    "type": "message", "status": "completed", "role": "user",
                                    "content": [{"type": "input_audio", "transcript": None}]}}
    # response 1: a function call
    yield 1450, "server", {"type": "response.created", "event_id": eid(),
                           "response": {"id": "resp_1", "object": "realtime.response",
                                        "status": "in_progress", "output": []}}
    fc_item = {"id": "item_fc_1", "object": "realtime.item", "type": "function_call",
               "status": "in_progress", "name": "lookup_order_status", "call_id": "call_1",
               "arguments": ""}
    yield 1500, "server", {"type": "response.output_item.added", "event_id": eid(),
                           "response_id": "resp_1", "output_index": 0, "item": fc_item}
    for ms, delta in ((1520, '{"order_id":'), (1540, '"A-1001"}')):
        yield ms, "server", {"type": "response.function_call_arguments.delta",
                             "event_id": eid(), "response_id": "resp_1",
                             "item_id": "item_fc_1", "output_index": 0, "call_id": "call_1",
                             "delta": delta}
    args = '{"order_id":"A-1001"}'
    yield 1560, "server", {"type": "response.function_call_arguments.done", "event_id": eid(),
                           "response_id": "resp_1", "item_id": "item_fc_1", "output_index": 0,
                           "call_id": "call_1", "name": "lookup_order_status",
                           "arguments": args}
    yield 1580, "server", {"type": "conversation.item.input_audio_transcription.delta",
                           "event_id": eid(), "item_id": "item_user_1", "content_index": 0,
                           "delta": "Where is my order"}
    yield 1600, "server", {"type": "conversation.item.input_audio_transcription.completed",
                           "event_id": eid(), "item_id": "item_user_1", "content_index": 0,
                           "transcript": "Where is my order A-1001?",
                           "usage": {"type": "tokens", "input_tokens": 18, "output_tokens": 8,
                                     "total_tokens": 26}}
    done_fc = {**fc_item, "status": "completed", "arguments": args}
    yield 1620, "server", {"type": "response.output_item.done", "event_id": eid(),
                           "response_id": "resp_1", "output_index": 0, "item": done_fc}
    yield 1640, "server", {"type": "response.done", "event_id": eid(), "response": {
        "id": "resp_1", "object": "realtime.response", "status": "completed",
        "status_details": None, "output": [done_fc],
        "usage": {"total_tokens": 410, "input_tokens": 330, "output_tokens": 80}}}
    yield 1700, "client", {"type": "conversation.item.create", "item": {
        "type": "function_call_output", "call_id": "call_1",
        "output": '{"status":"shipped","eta":"Friday"}'}}
    yield 1710, "client", {"type": "response.create"}
    # response 2: spoken answer, cut off by the caller (barge-in)
    yield 1750, "server", {"type": "response.created", "event_id": eid(),
                           "response": {"id": "resp_2", "object": "realtime.response",
                                        "status": "in_progress", "output": []}}
    msg_item = {"id": "item_asst_2", "object": "realtime.item", "type": "message",
                "status": "in_progress", "role": "assistant", "content": []}
    yield 1760, "server", {"type": "response.output_item.added", "event_id": eid(),
                           "response_id": "resp_2", "output_index": 0, "item": msg_item}
    yield 1770, "server", {"type": "conversation.item.added", "event_id": eid(),
                           "previous_item_id": "item_fc_1", "item": msg_item}
    yield 1780, "server", {"type": "response.content_part.added", "event_id": eid(),
                           "response_id": "resp_2", "item_id": "item_asst_2",
                           "output_index": 0, "content_index": 0,
                           "part": {"type": "audio", "transcript": ""}}
    ref = {"response_id": "resp_2", "item_id": "item_asst_2", "output_index": 0,
           "content_index": 0}
    for i in range(6):  # 6 x 200 ms of speech, 150 ms apart
        yield 1800 + 150 * i, "server", {"type": "response.output_audio.delta",
                                         "event_id": eid(), **ref,
                                         "delta": b64(pcm16_tone(200, 4800 * i))}
        if i < 2:
            yield 1810 + 150 * i, "server", {
                "type": "response.output_audio_transcript.delta", "event_id": eid(), **ref,
                "delta": ("Your order shipped", " this morning and")[i]}
        if i == 3:
            yield 2300, "server", {"type": "input_audio_buffer.speech_started",
                                   "event_id": eid(), "audio_start_ms": 2100,
                                   "item_id": "item_user_3"}
            yield 2320, "client", {"type": "response.cancel", "response_id": "resp_2"}
            yield 2330, "client", {"type": "conversation.item.truncate",
                                   "item_id": "item_asst_2", "content_index": 0,
                                   "audio_end_ms": 450}
    for i in range(8):
        yield 2200 + 100 * i + 5, "client", {"type": "input_audio_buffer.append",
                                             "audio": b64(pcm16_tone(100, 2400 * i))}
    yield 2650, "server", {"type": "conversation.item.truncated", "event_id": eid(),
                           "item_id": "item_asst_2", "content_index": 0, "audio_end_ms": 450}
    yield 2660, "server", {"type": "response.output_audio.done", "event_id": eid(), **ref}
    yield 2670, "server", {"type": "response.output_audio_transcript.done", "event_id": eid(),
                           **ref, "transcript": "Your order shipped this morning and"}
    yield 2680, "server", {"type": "response.content_part.done", "event_id": eid(), **ref,
                           "part": {"type": "audio",
                                    "transcript": "Your order shipped this morning and"}}
    done_msg = {**msg_item, "status": "incomplete"}
    yield 2690, "server", {"type": "response.output_item.done", "event_id": eid(),
                           "response_id": "resp_2", "output_index": 0, "item": done_msg}
    yield 2700, "server", {"type": "response.done", "event_id": eid(), "response": {
        "id": "resp_2", "object": "realtime.response", "status": "cancelled",
        "status_details": {"type": "cancelled", "reason": "turn_detected"},
        "output": [done_msg],
        "usage": {"total_tokens": 515, "input_tokens": 420, "output_tokens": 95}}}
    yield 3005, "server", {"type": "input_audio_buffer.speech_stopped", "event_id": eid(),
                           "audio_end_ms": 2900, "item_id": "item_user_3"}
    yield 3010, "server", {"type": "input_audio_buffer.committed", "event_id": eid(),
                           "previous_item_id": "item_asst_2", "item_id": "item_user_3"}
    yield 3050, "server", {"type": "conversation.item.input_audio_transcription.completed",
                           "event_id": eid(), "item_id": "item_user_3", "content_index": 0,
                           "transcript": "Also, create a private repo called test-repo.",
                           "usage": {"type": "duration", "seconds": 0.8}}
    # response 3: the MCP tool needs approval
    yield 3100, "server", {"type": "response.created", "event_id": eid(),
                           "response": {"id": "resp_3", "object": "realtime.response",
                                        "status": "in_progress", "output": []}}
    approval = {"id": "mcpr_1", "type": "mcp_approval_request", "server_label": "github",
                "name": "create_repository",
                "arguments": '{"name":"test-repo","private":true}'}
    yield 3150, "server", {"type": "conversation.item.added", "event_id": eid(),
                           "previous_item_id": "item_user_3", "item": approval}
    yield 3160, "server", {"type": "conversation.item.done", "event_id": eid(),
                           "previous_item_id": "item_user_3", "item": approval}
    yield 3200, "server", {"type": "response.done", "event_id": eid(), "response": {
        "id": "resp_3", "object": "realtime.response", "status": "completed",
        "output": [approval],
        "usage": {"total_tokens": 530, "input_tokens": 500, "output_tokens": 30}}}
    reply = {"type": "mcp_approval_response", "id": "mcp_rsp_1",
             "approval_request_id": "mcpr_1", "approve": True}
    yield 4000, "client", {"type": "conversation.item.create", "item": reply}
    yield 4020, "server", {"type": "conversation.item.added", "event_id": eid(),
                           "previous_item_id": "mcpr_1", "item": reply}
    yield 4050, "client", {"type": "response.create"}
    # response 4: the approved MCP call, then a spoken confirmation
    yield 4100, "server", {"type": "response.created", "event_id": eid(),
                           "response": {"id": "resp_4", "object": "realtime.response",
                                        "status": "in_progress", "output": []}}
    call = {"id": "mcp_1", "type": "mcp_call", "server_label": "github",
            "name": "create_repository", "arguments": '{"name":"test-repo","private":true}',
            "approval_request_id": "mcpr_1"}
    yield 4150, "server", {"type": "response.output_item.added", "event_id": eid(),
                           "response_id": "resp_4", "output_index": 0, "item": call}
    yield 4200, "server", {"type": "response.mcp_call_arguments.done", "event_id": eid(),
                           "response_id": "resp_4", "item_id": "mcp_1", "output_index": 0,
                           "arguments": call["arguments"]}
    yield 4250, "server", {"type": "response.mcp_call.in_progress", "event_id": eid(),
                           "output_index": 0, "item_id": "mcp_1"}
    yield 4600, "server", {"type": "response.mcp_call.completed", "event_id": eid(),
                           "output_index": 0, "item_id": "mcp_1"}
    done_call = {**call, "output": '{"full_name":"octo/test-repo","private":true}'}
    yield 4610, "server", {"type": "response.output_item.done", "event_id": eid(),
                           "response_id": "resp_4", "output_index": 0, "item": done_call}
    ref4 = {"response_id": "resp_4", "item_id": "item_asst_4", "output_index": 1,
            "content_index": 0}
    for i in range(3):
        yield 4650 + 100 * i, "server", {"type": "response.output_audio.delta",
                                         "event_id": eid(), **ref4,
                                         "delta": b64(pcm16_tone(300, 7200 * i))}
    yield 4960, "server", {"type": "response.output_audio_transcript.done", "event_id": eid(),
                           **ref4, "transcript": "Done: test-repo is created and private."}
    yield 5000, "server", {"type": "response.done", "event_id": eid(), "response": {
        "id": "resp_4", "object": "realtime.response", "status": "completed",
        "output": [done_call, {"id": "item_asst_4", "object": "realtime.item",
                               "type": "message", "role": "assistant",
                               "status": "completed", "content": []}],
        "usage": {"total_tokens": 650, "input_tokens": 610, "output_tokens": 40}}}
    yield 5100, "server", {"type": "rate_limits.updated", "event_id": eid(), "rate_limits": [
        {"name": "requests", "limit": 1000, "remaining": 996, "reset_seconds": 60}]}
    yield 5200, "server", {"type": "error", "event_id": eid(), "error": {
        "type": "invalid_request_error", "code": "invalid_value",
        "message": "Invalid value: 'g729'.", "param": "session.audio.input.format.type",
        "event_id": "evt_client_9"}}
    yield 5300, "server", {"type": "input_audio_buffer.timeout_triggered", "event_id": eid(),
                           "audio_start_ms": 5000, "audio_end_ms": 5300,
                           "item_id": "item_user_5"}


def openai_realtime_log() -> str:
    log = _Log()
    for ms, direction, event in sorted(_openai_events(), key=lambda e: e[0]):
        log.add(ms, direction, event)
    return log.text()


# -- OpenAI Realtime, beta event names, G.711 μ-law ------------------------------------------


def openai_realtime_beta_log() -> str:
    log = _Log()
    session = {"id": "sess_beta_0001", "object": "realtime.session",
               "model": "gpt-4o-realtime-preview-2024-12-17", "modalities": ["audio", "text"],
               "input_audio_format": "g711_ulaw", "output_audio_format": "g711_ulaw",
               "input_audio_transcription": {"model": "whisper-1"}}
    log.add(0, "server", {"type": "session.created", "event_id": "event_b1", "session": session})
    for i in range(5):
        log.add(100 + 100 * i, "client", {"type": "input_audio_buffer.append",
                                          "audio": b64(ulaw_tone(100, 800 * i))})
    log.add(700, "server", {"type": "conversation.item.created", "event_id": "event_b2",
                            "previous_item_id": None,
                            "item": {"id": "item_b_user", "object": "realtime.item",
                                     "type": "message", "role": "user", "content": []}})
    log.add(750, "server", {"type": "conversation.item.input_audio_transcription.completed",
                            "event_id": "event_b3", "item_id": "item_b_user",
                            "content_index": 0, "transcript": "Hello?"})
    log.add(800, "server", {"type": "response.created", "event_id": "event_b4",
                            "response": {"id": "resp_b1", "object": "realtime.response",
                                         "status": "in_progress", "output": []}})
    ref = {"response_id": "resp_b1", "item_id": "item_b_asst", "output_index": 0,
           "content_index": 0}
    for i in range(4):
        log.add(850 + 100 * i, "server", {"type": "response.audio.delta",
                                          "event_id": f"event_b5{i}", **ref,
                                          "delta": b64(ulaw_tone(250, 2000 * i))})
    log.add(1300, "server", {"type": "response.audio_transcript.done", "event_id": "event_b6",
                             **ref, "transcript": "Hi! How can I help?"})
    log.add(1310, "server", {"type": "response.audio.done", "event_id": "event_b7", **ref})
    log.add(1350, "server", {"type": "response.done", "event_id": "event_b8", "response": {
        "id": "resp_b1", "object": "realtime.response", "status": "completed",
        "output": [{"id": "item_b_asst", "object": "realtime.item", "type": "message",
                    "role": "assistant", "status": "completed"}],
        "usage": {"total_tokens": 120, "input_tokens": 70, "output_tokens": 50}}})
    return log.text()


# -- Twilio Media Streams ---------------------------------------------------------------------

_STREAM = "MZ18ad3ab5a668481ce02b83e7395059f0"
_CALL = "CA5b4a6c3f2e1d0c9b8a7f6e5d4c3b2a10"
_ACCOUNT = "AC0123456789abcdef0123456789abcdef"


def twilio_log() -> str:
    log = _Log()
    seq = iter(range(1, 10_000))
    log.add(0, "server", {"event": "connected", "protocol": "Call", "version": "1.0.0"})
    log.add(5, "server", {"event": "start", "sequenceNumber": str(next(seq)), "start": {
        "accountSid": _ACCOUNT, "streamSid": _STREAM, "callSid": _CALL, "tracks": ["inbound"],
        "customParameters": {"campaign": "order-status"},
        "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}},
        "streamSid": _STREAM})
    sent: list[tuple[int, str, dict[str, Any]]] = []

    def outbound(at: int, frames: int, offset: int) -> int:
        for i in range(frames):  # the gateway sends TTS faster than real time
            payload = b64(ulaw_tone(20, 160 * (offset + i)))
            sent.append((at + i, "client", {"event": "media", "streamSid": _STREAM,
                                            "media": {"payload": payload}}))
        return at + frames

    def mark(at: int, direction: str, name: str) -> None:
        sent.append((at, direction, {"event": "mark", "streamSid": _STREAM,
                                     "mark": {"name": name}}))

    mark(outbound(1800, 50, 0), "client", "resp-1")
    mark(2860, "server", "resp-1")
    mark(outbound(3000, 50, 0), "client", "resp-2-a")
    mark(outbound(3051, 50, 50), "client", "resp-2-b")
    mark(4060, "server", "resp-2-a")
    sent.append((4100, "server", {"event": "dtmf", "streamSid": _STREAM,
                                  "dtmf": {"track": "inbound_track", "digit": "1"}}))
    sent.append((4200, "client", {"event": "clear", "streamSid": _STREAM}))
    mark(4210, "server", "resp-2-b")
    mark(outbound(5000, 25, 0), "client", "resp-3")
    mark(5600, "server", "resp-3")
    inbound = []
    for chunk in range(1, 300):  # 20 ms frames; the caller speaks twice
        ms = 20 * chunk
        speaking = ms <= 1500 or 3500 <= ms <= 4500
        payload = ulaw_tone(20, 160 * chunk) if speaking else ulaw_silence(20)
        inbound.append((ms + 2, "server", {"event": "media",
                                           "media": {"track": "inbound", "chunk": str(chunk),
                                                     "timestamp": str(ms),
                                                     "payload": b64(payload)},
                                           "streamSid": _STREAM}))
    for at, direction, event in sorted(inbound + sent, key=lambda e: e[0]):
        if direction == "server":  # Twilio numbers its messages
            event = {"event": event["event"], "sequenceNumber": str(next(seq)),
                     **{k: v for k, v in event.items() if k != "event"}}
        log.add(at, direction, event)
    log.add(6000, "server", {"event": "stop", "sequenceNumber": str(next(seq)),
                             "streamSid": _STREAM,
                             "stop": {"accountSid": _ACCOUNT, "callSid": _CALL}})
    return log.text()


# -- ChronaPilot voice realtime ---------------------------------------------------------------


def chronapilot_log() -> str:
    log = _Log()
    log.add(0, "client", {"type": "session.update",
                          "session": {"voice": "sage", "output_format": "pcm16"}})
    for i in range(10):
        log.add(100 + 100 * i, "client", {"type": "audio.append",
                                          "audio": b64(pcm16_tone(100, 2400 * i))})
    log.add(600, "server", {"type": "transcript.partial", "text": "Book a dentist"})
    log.add(1100, "server", {"type": "transcript.final",
                             "text": "Book a dentist appointment Friday at 3 pm"})
    log.add(1200, "server", {"type": "intent.detected", "name": "create_event",
                             "confidence": 0.93,
                             "parameters": {"title": "Dentist",
                                            "start": "2026-12-04T15:00:00-08:00"}})
    log.add(1300, "server", {"type": "action.proposed", "id": "act_1", "action": {
        "tool": "create_event",
        "arguments": {"title": "Dentist", "start": "2026-12-04T15:00:00-08:00",
                      "duration_minutes": 60}}})
    for i in range(2):
        log.add(1350 + 50 * i, "server", {"type": "audio.delta",
                                          "audio": b64(pcm16_tone(200, 4800 * i))})
    log.add(1500, "server", {"type": "response.done"})
    log.add(3000, "client", {"type": "action.confirm", "id": "act_1"})
    log.add(3200, "server", {"type": "action.executed", "id": "act_1", "tool": "create_event",
                             "result": {"status": "created", "title": "Dentist"},
                             "resource_id": "evt_8hq2k1"})
    for i in range(4):
        log.add(3300 + 100 * i, "server", {"type": "audio.delta",
                                           "audio": b64(pcm16_tone(200, 4800 * i))})
    log.add(3800, "server", {"type": "response.done"})
    log.add(4000, "client", {"type": "text.append", "text": "What's next on my calendar?"})
    log.add(4100, "server", {"type": "action.executed", "id": "act_2",
                             "tool": "get_next_event", "arguments": {},
                             "result": {"title": "Dentist", "start": "2026-12-04T15:00:00-08:00"},
                             "resource_id": "evt_8hq2k1"})
    for i in range(5):
        log.add(4200 + 150 * i, "server", {"type": "audio.delta",
                                           "audio": b64(pcm16_tone(200, 4800 * i))})
        if i == 2:
            log.add(4550, "client", {"type": "response.cancel"})
    log.add(4900, "server", {"type": "response.done"})
    log.add(5000, "server", {"type": "error", "error": {"code": "rate_limited",
                                                        "message": "Slow down."}})
    for i in range(3):
        log.add(5100 + 100 * i, "client", {"type": "audio.append",
                                           "audio": b64(pcm16_tone(100, 2400 * i))})
    return log.text()


#: file name -> (provider, builder)
FIXTURES = {
    "openai_realtime.jsonl": ("openai-realtime", openai_realtime_log),
    "openai_realtime_beta.jsonl": ("openai-realtime", openai_realtime_beta_log),
    "twilio.jsonl": ("twilio", twilio_log),
    "chronapilot.jsonl": ("chronapilot", chronapilot_log),
}


def main() -> None:
    DATA.mkdir(parents=True, exist_ok=True)
    for name, (_, build) in FIXTURES.items():
        (DATA / name).write_text(build(), encoding="utf-8")
        print(f"wrote {DATA / name}")


if __name__ == "__main__":
    main()
