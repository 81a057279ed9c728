"""``keel-emit ingest --endpoint``: a recording posted through the sidecar client to a
Keel-compatible API (keel-emit serve on loopback) gives a VERIFIED attestation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from keel_verify import verify_bytes
from keel_verify.adapters.ingest import ingest_bytes
from keel_verify.emit.keys import generate_key_pem, write_private_key
from keel_verify.results import Verdict
from tests.adapter_fixtures import DATA, FIXTURES
from tests.test_adapters import _trust
from tests.test_emit_cli import assert_one_line_error, run
from tests.test_emit_server import API_KEY, Running, make_engine

pytestmark = pytest.mark.loopback


@pytest.mark.parametrize("name", ["openai_realtime.jsonl", "twilio.jsonl", "chronapilot.jsonl"])
def test_ingest_to_an_endpoint_verifies(tmp_path: Path, name: str,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    key_path = tmp_path / "sidecar.pem"
    _, pem = generate_key_pem()
    write_private_key(key_path, pem)
    server = Running(make_engine(tmp_path / "emit.db"))
    out = tmp_path / "session.json"
    try:
        code, _, err = run(["ingest", "--provider", FIXTURES[name][0], str(DATA / name),
                            "--endpoint", server.server.url, "--api-key", API_KEY,
                            "--sidecar-key", str(key_path), "-o", str(out)], capsys)
    finally:
        server.stop()
    assert code == 0, err
    data = out.read_bytes()
    assert verify_bytes(data, _trust()).verdict is Verdict.VERIFIED
    artifact = json.loads(data)
    local = ingest_bytes(FIXTURES[name][0], (DATA / name).read_bytes()).artifact
    assert [e["event_type"] for e in artifact["chain"]] == [
        e["event_type"] for e in local["chain"]]
    assert artifact["session_metadata"]["session_counters"] == local["session_metadata"][
        "session_counters"]


def test_endpoint_refusals_and_missing_key_are_one_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KEEL_API_KEY", raising=False)
    server = Running(make_engine(tmp_path / "emit.db"))
    out = tmp_path / "session.json"
    recording = str(DATA / "twilio.jsonl")
    try:
        code, _, err = run(["ingest", "--provider", "twilio", recording, "--endpoint",
                            server.server.url, "--api-key", "wrong-key", "-o", str(out)], capsys)
        assert_one_line_error(code, err, "refused the session: HTTP 401")
        code, _, err = run(["ingest", "--provider", "twilio", recording, "--endpoint",
                            server.server.url, "-o", str(out)], capsys)
        assert code == 2 and "--endpoint needs --api-key" in err
    finally:
        server.stop()
    assert not out.exists()


def test_ingest_with_a_remote_tsa_ends_at_the_ingest_time_and_verifies() -> None:
    from keel_verify.emit.keys import DEMO_TSA_SEED
    from keel_verify.emit.tsa_authority import TestTimestampAuthority
    from keel_verify.emit.tsa_http import serve_tsa

    name = "chronapilot.jsonl"
    with serve_tsa(TestTimestampAuthority.from_seed(DEMO_TSA_SEED)) as tsa:
        artifact = ingest_bytes(FIXTURES[name][0], (DATA / name).read_bytes(),
                                tsa=tsa.url).artifact
    [receipt] = artifact["timestamp_receipts"]
    assert receipt["provider"] == "rfc3161_http"
    assert artifact["session_metadata"]["started_at"] == "2026-11-30T10:00:00Z"
    assert artifact["issued_at"] > "2026-11-30T10:00:05Z"  # the ingest time
    assert verify_bytes(json.dumps(artifact).encode(), _trust()).verdict is Verdict.VERIFIED
