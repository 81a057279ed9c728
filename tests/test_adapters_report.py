"""The auditor's HTML report of an ingested provider session shows its turns, tool calls,
approvals and interruption on the timeline (v1 artifacts: the payloads are embedded)."""

from __future__ import annotations

import re
from html import unescape

import pytest

from keel_verify import verify_bytes
from keel_verify.adapters.ingest import ingest_bytes
from keel_verify.adapters.scenario import IngestOptions
from keel_verify.emit.artifact import dump_artifact
from keel_verify.report.session_view import session_summary
from keel_verify.results import Verdict
from tests.adapter_fixtures import DATA, FIXTURES
from tests.report_support import SAMPLE_TRUST, html_of

#: Per fixture: hover titles the timeline must carry (the event type, and the label in it).
EXPECTED = {
    "openai_realtime.jsonl": [
        ("voice.turn.evaluated", "turn 1 allowed"),
        ("voice.turn.evaluated", "turn 4 allowed"),
        ("voice.tool_invocation.governed", "lookup_order_status allowed"),
        ("voice.tool_invocation.governed", "create_repository allowed"),
        ("voice.tool_invocation.attempted", "attempt: create_repository \u00b7 requested"),
        ("voice.tool_invocation.attempted",
         "attempt: create_repository \u00b7 approved by client"),
        ("voice.interruption.observed",
         "interruption: caller_barge_in \u00b7 delivered 450 ms, withheld 750 ms"),
        ("voice.turn.interrupted", "interruption: caller_barge_in"),
        ("voice.provider_marker.recorded", "provider: error"),
    ],
    "twilio.jsonl": [
        ("voice.lifecycle.marked", "stream_started"),
        ("voice.turn.evaluated", "turn 3 allowed"),
        ("voice.interruption.observed",
         "interruption: caller_barge_in \u00b7 delivered 1000 ms, withheld 1000 ms"),
        ("voice.turn.interrupted", "interruption: caller_barge_in"),
        ("voice.provider_marker.recorded", "provider: dtmf"),
        ("voice.lifecycle.marked", "stream_stopped"),
    ],
    "chronapilot.jsonl": [
        ("voice.tool_invocation.attempted", "attempt: create_event \u00b7 requested"),
        ("voice.tool_invocation.attempted", "attempt: create_event \u00b7 approved by client"),
        ("voice.tool_invocation.governed", "create_event allowed"),
        ("voice.tool_invocation.attempted", "attempt: get_next_event \u00b7 not_required"),
        ("voice.tool_invocation.governed", "get_next_event allowed"),
        ("voice.turn.evaluated", "turn 3 allowed"),
        ("voice.interruption.observed",
         "interruption: caller_barge_in \u00b7 delivered 600 ms, withheld 400 ms"),
    ],
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_report_timeline_shows_the_ingested_session(name: str) -> None:
    artifact = ingest_bytes(FIXTURES[name][0], (DATA / name).read_bytes(),
                            options=IngestOptions(schema_version=1)).artifact
    report = verify_bytes(dump_artifact(artifact), SAMPLE_TRUST, path=name)
    assert report.verdict is Verdict.VERIFIED
    html = html_of(report)
    titles = [unescape(t) for t in re.findall(r"<title>([^<]*)</title>", html)]
    for event_type, label in EXPECTED[name]:
        assert any(t.startswith(event_type) and label in t for t in titles), (
            event_type, label)
    lanes = set(re.findall(r'data-lane="([a-z_]+)"', html))
    assert {"lifecycle", "audio_in", "audio_out", "turns", "interruptions"} <= lanes


@pytest.mark.parametrize("schema_version", [1, 3])
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_one_barge_in_is_one_interruption_in_the_summary_and_the_counters(
        name: str, schema_version: int) -> None:
    """Ingest writes an interruption atom and the turn's interruption record per barge-in;
    the summary counts one interruption, as session_counters.interruption_count does."""
    artifact = ingest_bytes(FIXTURES[name][0], (DATA / name).read_bytes(),
                            options=IngestOptions(schema_version=schema_version)).artifact
    report = verify_bytes(dump_artifact(artifact), SAMPLE_TRUST, path=name)
    assert report.verdict is Verdict.VERIFIED
    facts = report.session
    assert facts is not None
    counts = dict(facts.counts_by_type)
    assert counts["voice.interruption.observed"] == counts["voice.turn.interrupted"] == 1
    assert len(facts.interruptions) == 1 and facts.interruptions_omitted == 0
    assert "1 interruption," in session_summary(facts)
    (counter,) = [c for c in facts.counters if c.name == "session_counters.interruption_count"]
    assert (counter.stated, counter.derived) == (1, 1)
