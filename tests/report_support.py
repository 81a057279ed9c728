"""Shared inputs of the HTML report tests: the samples' trust, a hostile-content artifact,
and the 100,000-event artifact (built once per test run)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from keel_verify import verify_bytes
from keel_verify.report.html import render_report
from keel_verify.results import Report
from keel_verify.trust.sources import TrustSpec, build_policy, describe_policy
from tests.helpers import TEST_ISSUER_PUBLIC, load_document, rechain, resign, to_bytes

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "sample"
SAMPLE_V1 = SAMPLES / "voice_session_v1.json"
SAMPLE_V3 = SAMPLES / "voice_session_v3.json"
TRUST_ROOT = str(SAMPLES / "trust-root.json")
SAMPLE_SPEC = TrustSpec((), False, TRUST_ROOT, (), False)
SAMPLE_TRUST = build_policy(SAMPLE_SPEC)
# The test issuer key pinned plus the sample TSA roots: for re-signed samples.
RESIGNED_SPEC = TrustSpec((TEST_ISSUER_PUBLIC,), False, TRUST_ROOT, (), False)
RESIGNED_TRUST = build_policy(RESIGNED_SPEC)
BIG_EVENTS = 100_000

#: Attacker-chosen text: markup, a script-closing tag inside SVG, a javascript: URL,
#: a right-to-left override, a zero-width space and a NUL.
HOSTILE = ("<script>alert('x')</script></svg></title><img src=x onerror=alert(1)>"
           "<a href=\"javascript:alert(2)\">click</a> \u202egnp.exe\u202c \u200b \x00 end")


def hostile_document() -> dict[str, Any]:
    """The v1 sample with hostile text wherever the report shows artifact text, re-linked
    and re-signed (so the artifact is whole, and each check judges it on its merits)."""
    document = load_document(SAMPLE_V1)
    for entry in document["chain"]:
        payload = entry.get("canonicalized_payload")
        if not isinstance(payload, dict):
            continue
        if isinstance(payload.get("payload"), dict):  # an atom's own members
            payload = payload["payload"]
        if "text" in payload:
            payload["text"] = HOSTILE
        if "tool_name" in payload:
            payload["tool_name"] = HOSTILE
        if "user_facing_reason" in payload:
            payload["user_facing_reason"] = HOSTILE
        if "reason" in payload:
            payload["reason"] = HOSTILE
    document["session_metadata"]["model"] = HOSTILE
    document["session_metadata"]["provider"] = HOSTILE
    document["policy_snapshot"]["snapshot_id"] = HOSTILE
    document["session_metadata"]["session_counters"]["turn_count"] = HOSTILE
    for permit in document["permits"]["child_tool_call_permits"]:
        permit["action_name"] = HOSTILE
        if "payment" in permit["custom_metadata"]:
            permit["custom_metadata"]["payment"]["requested_currency"] = HOSTILE
            permit["custom_metadata"]["payment"]["mpp_target_url"] = "javascript:alert(3)"
    document["rfc3161_timestamp_receipt"]["tsa"] = HOSTILE
    return resign(rechain(document, payloads=True))


def hostile_report(path: str = "<script>alert('path')</script>\u202e.json") -> Report:
    return verify_bytes(to_bytes(hostile_document()), RESIGNED_TRUST, path=path)


@lru_cache(maxsize=1)
def big_report() -> Report:
    """A 100,000-event v3 artifact from keel-emit (as benchmarks/generate.py makes them),
    verified under the sample trust root; only the report is kept."""
    from keel_verify.emit import build_demo_artifact, dump_artifact

    data = dump_artifact(build_demo_artifact(3, tsa="local", events=BIG_EVENTS))
    return verify_bytes(data, SAMPLE_TRUST, path="big-100000.json")


def html_of(report: Report, spec: TrustSpec = SAMPLE_SPEC) -> str:
    return render_report(report, describe_policy(spec, build_policy(spec)),
                         ["--trust-root", TRUST_ROOT])
