"""The public guide's Python quick start, its bodies exactly as published, sent with
urllib to ``keel-emit serve`` (a child process on loopback): every call succeeds and the
end answer's ``attestation_artifact`` is VERIFIED by keel-verify with the sample trust
root -- and by the reference verifier too, where it is installed."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.emit_process import API_KEY, start_serve, stop
from tests.test_emit_support import SAMPLE

pytestmark = pytest.mark.loopback

PROJECT_ID = "11111111-1111-1111-1111-111111111111"  # the guide's KEEL_PROJECT_ID
#: Where the reference verifier (pip install keel-verifier==3.28.1) may be installed.
REFERENCE = os.environ.get("KEEL_REFERENCE_VERIFIER", "/tmp/refvenv/bin/keel-verify")


def request(base_url: str, method: str, path: str, json_body: dict[str, Any]) -> Any:
    """What the guide's client.request() does: JSON in, JSON out, Bearer key."""
    data = json.dumps(json_body).encode("utf-8")
    req = urllib.request.Request(base_url + path, data=data, method=method, headers={
        "Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as reply:
        assert reply.status == 200
        return json.loads(reply.read())


def quick_start(base_url: str, project_id: str) -> tuple[str, dict[str, Any]]:
    """The guide's Python quick start, body for body."""
    session = request(
        base_url,
        "POST",
        "/v1/sessions",
        {
            "permit": {
                "project_id": project_id,
                "idempotency_key": "idem_voice_session_example_001",
                "subject": {"type": "user", "id": "usr_example_voice"},
                "action": {"name": "realtime.session"},
                "resource": {
                    "type": "request",
                    "id": "req_example_voice_001",
                    "attributes": {
                        "provider": "openai",
                        "model": "gpt-4o-realtime-preview",
                        "operation": "realtime.session",
                        "execution_mode": "realtime",
                        "estimated_input_tokens": 0,
                        "estimated_output_tokens": 0,
                    },
                },
            },
            "metadata": {"voice_provider": "openai_realtime"},
            "risk_budget_total_micros": 250000,
        },
    )
    session_id = session["session_id"]
    request(
        base_url,
        "POST",
        f"/v1/voice/sessions/{session_id}/events",
        {
            "batch_idempotency_key": "batch_voice_example_001",
            "events": [
                {
                    "atom_type": "lifecycle_marker",
                    "idempotency_key": "voice_evt_example_started",
                    "captured_at_ns": 1780513200000000000,
                    "payload": {"marker_type": "started"},
                    "signatures": [
                        {
                            "algorithm": "ed25519",
                            "key_id": "voice-sidecar-example",
                            "signature": "sig_example_started",
                            "signed_at": "2026-06-03T18:00:00Z",
                        }
                    ],
                },
                {
                    "atom_type": "audio_chunk",
                    "idempotency_key": "voice_evt_example_audio_001",
                    "captured_at_ns": 1780513201500000000,
                    "direction": "inbound",
                    "payload": {
                        "content_hash": "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",  # noqa: E501 - as published
                        "format": "pcm16",
                        "duration_ms": 1500,
                    },
                    "signatures": [
                        {
                            "algorithm": "ed25519",
                            "key_id": "voice-sidecar-example",
                            "signature": "sig_example_audio_001",
                            "signed_at": "2026-06-03T18:00:01Z",
                        }
                    ],
                },
            ],
        },
    )
    turn = request(
        base_url,
        "POST",
        f"/v1/sessions/{session_id}/turns",
        {
            "input_tokens": 280,
            "output_tokens": 120,
            "risk_budget_used_micros": 4500,
            "metadata": {"provider_response_id": "resp_example_voice_001"},
        },
    )
    if turn["decision"] != "allow":
        raise RuntimeError(turn.get("user_facing_reason") or turn["decision"])
    ended = request(
        base_url,
        "POST",
        f"/v1/sessions/{session_id}/end",
        {
            "usage_metrics": [
                {"meter": "realtime_minutes", "quantity": 3},
                {"meter": "input_tokens", "quantity": 280},
                {"meter": "output_tokens", "quantity": 120},
            ],
            "metadata": {"ended_by": "voice_gateway"},
        },
    )
    return session_id, ended


@pytest.fixture(scope="module")
def ended(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str, Any]]:
    directory = tmp_path_factory.mktemp("quickstart")
    process, base_url = start_serve(directory / "keel-emit.sqlite3")
    try:
        session_id, answer = quick_start(base_url, PROJECT_ID)
        export = directory / "voice_session_export.json"
        with open(export, "w", encoding="utf-8") as handle:  # as the guide writes it
            json.dump(answer["attestation_artifact"], handle, indent=2)
        yield export, session_id, answer
    finally:
        stop(process)


def test_every_call_succeeds_and_the_end_answer_has_the_audit_fields(
        ended: tuple[Path, str, Any]) -> None:
    _, session_id, answer = ended
    for member in ("session_id", "permit_id", "status", "policy_snapshot_id",
                   "policy_snapshot_hash", "turn_count", "cumulative_usage", "risk_budget"):
        assert member in answer, member
    artifact = answer["attestation_artifact"]
    assert answer["session_id"] == session_id == artifact["session_metadata"]["session_id"]
    assert (answer["status"], answer["turn_count"]) == ("ended", 1)
    assert answer["risk_budget"] == {"total_micros": 250000, "used_micros": 4500,
                                     "remaining_micros": 245500}
    assert artifact["schema"] == "keel.voice.attestation.phase_a"
    assert artifact["chain_head"]["content_hash"].startswith("sha256:")
    # the guide's placeholder signatures are recorded as unverified
    payload_entries = artifact["chain"][1:3]
    assert [e["event_type"] for e in payload_entries] == ["voice.lifecycle.marked",
                                                          "voice.audio_chunk.recorded"]


def test_keel_verify_says_verified_with_the_sample_trust_root(
        ended: tuple[Path, str, Any]) -> None:
    export, _, _ = ended
    result = subprocess.run(
        [sys.executable, "-m", "keel_verify", "--trust-root",
         str(SAMPLE / "trust-root.json"), str(export)],
        capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("VERIFIED")


def test_the_reference_verifier_accepts_it(ended: tuple[Path, str, Any]) -> None:
    reference = shutil.which(REFERENCE) or (REFERENCE if os.access(REFERENCE, os.X_OK) else None)
    if reference is None:
        pytest.skip(f"the reference verifier is not installed ({REFERENCE}; "
                    "pip install keel-verifier==3.28.1 in a scratch venv, or set "
                    "KEEL_REFERENCE_VERIFIER)")
    export, _, _ = ended
    result = subprocess.run([reference, str(export)], capture_output=True, text=True,
                            timeout=120, check=False, cwd=export.parent)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("VERIFIED")


def test_the_guides_other_bodies(tmp_path: Path) -> None:
    """The guide's TypeScript batch (captured_at_ns as a string), its events example and
    its mpp.payment tool call, in one session."""
    process, base_url = start_serve(tmp_path / "keel-emit.sqlite3")
    try:
        session_id = quick_start_session(base_url)
        signature = {"algorithm": "ed25519", "key_id": "voice-sidecar-example"}
        batch = request(base_url, "POST", f"/v1/voice/sessions/{session_id}/events", {
            "batch_idempotency_key": "batch_voice_example_002",
            "events": [{
                "atom_type": "transcript_span",
                "idempotency_key": "voice_evt_example_transcript_001",
                "captured_at_ns": "1780513202000000000",
                "direction": "inbound",
                "payload": {"text": "I approve the support lookup for this account.",
                            "language": "en"},
                "signatures": [{**signature, "signature": "sig_example_transcript_001",
                                "signed_at": "2026-06-03T18:00:02Z"}],
            }, {
                "atom_type": "audio_chunk",
                "idempotency_key": "voice_evt_example_audio_002",
                "captured_at_ns": 1780513202500000000,
                "direction": "outbound",
                "payload": {"content_hash": "sha256:" + "b" * 64, "format": "opus",
                            "duration_ms": 1200},
                "signatures": [{**signature, "signature": "sig_example_audio_002",
                                "signed_at": "2026-06-03T18:00:03Z"}],
            }]})
        assert batch["accepted"] == 2
        turn = request(base_url, "POST", f"/v1/sessions/{session_id}/turns", {
            "input_tokens": 410, "output_tokens": 90, "risk_budget_used_micros": 7000,
            "tool_call": {
                "tool_name": "stripe_mpp_payment", "call_id": "call_example_voice_mpp_001",
                "action_verb": "mpp.payment", "arguments": GUIDE_MPP_ARGUMENTS}})
        assert turn["decision"] == "allow"
        assert turn["tool_call"]["action_verb"] == "mpp.payment"
    finally:
        stop(process)


def quick_start_session(base_url: str) -> str:
    session = request(base_url, "POST", "/v1/sessions", {
        "permit": {"project_id": PROJECT_ID, "idempotency_key": "idem_voice_session_example_002",
                   "subject": {"type": "user", "id": "usr_example_voice"},
                   "action": {"name": "realtime.session"},
                   "resource": {"type": "request", "id": "req_example_voice_002", "attributes": {
                       "provider": "openai", "model": "gpt-4o-realtime-preview",
                       "operation": "realtime.session", "execution_mode": "realtime",
                       "estimated_input_tokens": 0, "estimated_output_tokens": 0}}},
        "metadata": {"voice_provider": "openai_realtime"},
        "risk_budget_total_micros": 250000})
    session_id: str = session["session_id"]
    return session_id


GUIDE_MPP_ARGUMENTS = {
    "requested_amount": 1499,
    "requested_currency": "usd",
    "mpp_target_url": "https://merchant.example/mpp/pay",
    "spend_request_payload": {
        "id": "lsrq_example_voice_approved_001",
        "amount": 1499,
        "currency": "usd",
        "status": "approved",
        "credential_type": "shared_payment_token",
        "shared_payment_token": {"id": "spt_example_voice_001",
                                 "valid_until": "2026-06-03T19:00:00Z"},
        "merchant_name": "Example Merchant",
        "merchant_url": "https://merchant.example/checkout",
        "context": "The user approved a one-time voice purchase for the monthly research "
                   "report for no more than $14.99 USD.",
    },
    "authority": {"amount_max": "1499", "currency_class": "USD_FIAT", "cadence": "one_shot",
                  "ttl_seconds": 3600, "purpose_binding": "purchase.once"},
}
