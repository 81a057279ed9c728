"""``keel-emit serve`` driven by a real HTTP client (urllib) on loopback, with SQLite
storage, restarts, and the HTTP test TSA."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from keel_verify.emit import (
    DEMO_START,
    DEMO_TSA_SEED,
    Engine,
    HttpTimestamper,
    SeededIds,
    SQLiteStore,
    SteppingClock,
    demo_issuer_key,
    demo_scenario,
)
from keel_verify.emit.demo import demo_signer, run_scenario_with
from keel_verify.emit.server import EmitHTTPServer
from keel_verify.emit.sidecar import ROUTES, HttpTransport, SidecarClient
from keel_verify.emit.timestamping import Timestamper
from keel_verify.emit.tsa_authority import TestTimestampAuthority
from keel_verify.emit.tsa_http import serve_tsa
from keel_verify.results import Outcome
from tests.test_emit_support import assert_verified, demo_trust, schema_errors, verify

pytestmark = pytest.mark.loopback

API_KEY = "test-api-key-not-a-secret"


class Client:
    def __init__(self, url: str, api_key: str | None = API_KEY) -> None:
        self.url = url
        self.api_key = api_key

    def raw(self, method: str, path: str, data: bytes | None,
            headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
        request = urllib.request.Request(self.url + path, data=data, method=method,
                                         headers={"Content-Type": "application/json",
                                                  **(headers or {})})
        if self.api_key is not None:
            request.add_header("Authorization", f"Bearer {self.api_key}")
        try:
            with urllib.request.urlopen(request, timeout=30) as reply:
                return reply.status, dict(reply.headers), reply.read()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read()

    def post(self, call: str, body: Any, session_id: str = "") -> tuple[int, Any]:
        path = ROUTES[call].format(id=session_id)
        status, _, data = self.raw("POST", path, json.dumps(body).encode("utf-8"))
        return status, json.loads(data)

    def ok(self, call: str, body: Any, session_id: str = "") -> Any:
        status, answer = self.post(call, body, session_id)
        assert status == 200, answer
        return answer


def make_engine(db: Path, timestamper: Timestamper | str = "local", seed: str = "srv") -> Engine:
    from keel_verify.emit import make_timestamper

    return Engine(SQLiteStore(db), issuer_key=demo_issuer_key(),
                  clock=SteppingClock(DEMO_START), ids=SeededIds(seed),
                  timestamper=make_timestamper(timestamper))


class Running:
    """A server on 127.0.0.1 (a free port) over an SQLite file; stop() is a shutdown."""

    def __init__(self, engine: Engine, **options: Any) -> None:
        self.engine = engine
        self.server = EmitHTTPServer(engine, api_key=API_KEY, **options)
        self.thread = self.server.start_background()
        self.client = Client(self.server.url)

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join()
        self.server.server_close()
        self.engine.store.close()


@pytest.fixture
def running(tmp_path: Path) -> Iterator[Running]:
    server = Running(make_engine(tmp_path / "emit.db"))
    yield server
    server.stop()


def run_demo(client: Client, calls: list[dict[str, Any]]) -> tuple[str, Any]:
    """The demo session through the sidecar client over HTTP (atoms signed by the demo
    sidecar key); the session id and the artifact of its end, if it has one."""
    sidecar = SidecarClient(HttpTransport(client.url, API_KEY), demo_signer())
    result = run_scenario_with(sidecar, calls)
    return result.responses[0]["session_id"], result.artifacts[-1] if result.artifacts else None


@pytest.mark.parametrize("schema_version", [3, 1])
def test_demo_over_http_verifies(tmp_path: Path, schema_version: int) -> None:
    server = Running(make_engine(tmp_path / "emit.db"))
    try:
        _, artifact = run_demo(server.client, demo_scenario(schema_version))
    finally:
        server.stop()
    assert artifact["schema_version"] == schema_version
    assert schema_errors(artifact) == []
    report = verify(artifact, demo_trust(tmp_path))
    assert_verified(report, witnessed=True)
    assert report.check("timestamp_witness").outcome is Outcome.PASS


def test_restart_loses_no_session(tmp_path: Path) -> None:
    db = tmp_path / "emit.db"
    calls = demo_scenario(3)
    first = Running(make_engine(db))
    session_id, _ = run_demo(first.client, calls[:4])
    count = first.engine.store.get_session(session_id).event_count  # type: ignore[union-attr]
    first.stop()

    second = Running(make_engine(db, seed="after restart"))
    try:
        for step in calls[4:]:
            answer = second.client.ok(step["call"], step["body"], session_id)
        artifact = answer["attestation_artifact"]
        assert count > 1
        assert second.client.post("events", {"batch_idempotency_key": "late", "events": [
            {"atom_type": "lifecycle_marker", "idempotency_key": "late", "captured_at_ns": 1,
             "payload": {"marker_type": "x"}}]}, session_id)[0] == 409
    finally:
        second.stop()
    assert artifact["session_metadata"]["session_id"] == session_id
    assert_verified(verify(artifact, demo_trust(tmp_path)), witnessed=True)


def test_authentication(running: Running) -> None:
    body = json.dumps(demo_scenario()[0]["body"]).encode()
    for client in (Client(running.server.url, None), Client(running.server.url, "wrong")):
        status, headers, data = client.raw("POST", "/v1/sessions", body)
        assert status == 401
        assert headers["WWW-Authenticate"].startswith("Bearer")
        assert "API key" in json.loads(data)["error"]["message"]
    assert running.engine.store.snapshot()["sessions"] == {}
    status, _, data = Client(running.server.url, None).raw("GET", "/healthz", None)
    assert (status, json.loads(data)) == (200, {"status": "ok"})


def test_errors_are_json_with_proper_status(running: Running) -> None:
    client = running.client
    session_id = client.ok("start", demo_scenario()[0]["body"])["session_id"]
    before = running.engine.store.snapshot()
    cases: list[tuple[str, str, bytes | None, int, str]] = [
        ("POST", "/v1/nowhere", b"{}", 404, "no route"),
        ("POST", "/v1/sessions/sess_nope/turns",
         b'{"idempotency_key":"t","input_tokens":1,"output_tokens":1}', 404,
         "unknown session"),
        ("GET", f"/v1/sessions/{session_id}/end", None, 405, "POST"),
        ("POST", f"/v1/sessions/{session_id}/turns", b"{not json", 400, "JSON"),
        ("POST", f"/v1/sessions/{session_id}/turns",
         b'{"idempotency_key":"a","idempotency_key":"b"}', 400, "duplicate"),
        ("POST", f"/v1/sessions/{session_id}/turns", b'{"input_tokens": NaN}', 400, "NaN"),
        ("POST", f"/v1/sessions/{session_id}/turns",
         b'{"idempotency_key":"t","input_tokens":"x","output_tokens":1}', 422,
         "input_tokens"),
        ("POST", f"/v1/voice/sessions/{session_id}/events",
         json.dumps({"batch_idempotency_key": "b", "events": [
             {"atom_type": "transcript_span", "idempotency_key": f"k{i}", "captured_at_ns": i,
              "direction": "inbound", "payload": {"text": "x"}} for i in range(101)]}).encode(),
         413, "at most 100"),
        ("POST", f"/v1/voice/sessions/{session_id}/events",
         b'{"batch_idempotency_key":"b","events":[{"atom_type":"smell"}]}', 422,
         "Invalid value 'smell' (at events[0].atom_type)"),
        ("POST", f"/v1/voice/sessions/{session_id}/events",
         b'{"batch_idempotency_key":"b","atoms":[]}', 422, "unknown member 'atoms'"),
        ("POST", "/v1/sessions", json.dumps({**demo_scenario()[0]["body"],
                                             "risk_budget_total_micros": 1}).encode(), 409,
         "idempotency key"),
        ("POST", f"/v1/sessions/{session_id}/turns", b'{"input_tokens": 1, "x": "\\ud800"}', 400,
         "surrogate"),
        ("POST", f"/v1/sessions/{session_id}/turns", b"[" * 100_000 + b"]" * 100_000, 400,
         "nesting"),
        ("POST", f"/v1/sessions/{session_id}/turns", b"\xff{}", 400, "UTF-8"),
        ("POST", f"/v1/sessions/{session_id}/turns",
         b'{"input_tokens":1,"output_tokens":1,"metadata":' + b'{"a":' * 40 + b"1"
         + b"}" * 41, 422, "deeper than 16"),
        ("GET", "/v1/sessions/sess_nope", None, 404, "unknown session"),
        ("GET", f"/v1/sessions/{session_id}/attestation", None, 409, "still active"),
    ]
    for method, path, data, status, words in cases:
        got, headers, answer = client.raw(method, path, data)
        assert got == status, (path, got, answer)
        assert headers["Content-Type"].startswith("application/json")
        message = json.loads(answer)["error"]["message"]
        assert words in message, (path, message)
    assert running.engine.store.snapshot() == before


def test_body_size_limit(tmp_path: Path) -> None:
    server = Running(make_engine(tmp_path / "emit.db"), max_body_bytes=2048)
    try:
        body = dict(demo_scenario()[0]["body"], metadata={"note": "x" * 4000})
        status, answer = server.client.post("start", body)
        assert status == 413 and "limit" in answer["error"]["message"]
        assert server.engine.store.snapshot()["sessions"] == {}
    finally:
        server.stop()


def test_http_tsa_on_loopback(tmp_path: Path) -> None:
    authority = TestTimestampAuthority.from_seed(DEMO_TSA_SEED)

    def clock() -> datetime:  # the TSA's own clock, a few seconds after the session ends
        return DEMO_START + timedelta(seconds=30)

    with serve_tsa(authority, clock=clock) as tsa:
        server = Running(make_engine(tmp_path / "emit.db", HttpTimestamper(tsa.url)))
        try:
            _, artifact = run_demo(server.client, demo_scenario(3))
        finally:
            server.stop()
    [receipt] = artifact["timestamp_receipts"]
    assert receipt["tsa"] == tsa.url and receipt["provider"] == "rfc3161_http"
    report = verify(artifact, demo_trust(tmp_path))
    assert_verified(report, witnessed=True)
    assert report.check("timestamp_witness").outcome is Outcome.PASS


def test_unreachable_http_tsa_degrades(tmp_path: Path) -> None:
    with serve_tsa(TestTimestampAuthority.from_seed(DEMO_TSA_SEED)) as tsa:
        url = tsa.url  # a port that is closed once the server stops
    engine = make_engine(tmp_path / "emit.db", HttpTimestamper(url, timeout=5))
    session_id = engine.start(demo_scenario()[0]["body"])["session_id"]
    artifact = engine.end(session_id, {})["attestation_artifact"]
    engine.store.close()
    assert artifact["tsa_status"] == "degraded_no_receipt"
    assert artifact["rfc3161_timestamp_attempts"][0]["status"] == "failed"
    assert_verified(verify(artifact, demo_trust(tmp_path)), witnessed=False)


def test_answers_are_compact_unless_pretty_is_asked(running: Running) -> None:
    client = running.client
    session_id = client.ok("start", demo_scenario()[0]["body"])["session_id"]
    status, _, compact = client.raw("POST", f"/v1/sessions/{session_id}/end", b"{}")
    assert status == 200 and b"\n" not in compact.strip() and b'": ' not in compact
    status, _, pretty = client.raw("GET", f"/v1/sessions/{session_id}/attestation?pretty=1",
                                   None)
    assert status == 200 and pretty.startswith(b'{\n  "')
    assert json.loads(pretty) == json.loads(compact)["attestation_artifact"]
