"""Byte identity: keel-emit produces exactly the bytes it produced before its ingest path
was made faster (the digests below were taken from the code before that change).

Fixed inputs, deterministic ids, clock, keys and test TSA: the demo artifact (v1 and v3,
pretty and compact, with and without padding atoms), and a session served over loopback
HTTP by ``EmitHTTPServer`` on a SQLite store -- every answer's bytes as sent, the stored
state, and the artifact of its end and of ``GET .../attestation``. Any change to an
entry, a hash, an answer or what is stored changes a digest."""

from __future__ import annotations

import contextlib
import copy
import hashlib
import http.client
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from keel_verify.emit import (
    DEMO_START,
    Engine,
    EngineConfig,
    SeededIds,
    SQLiteStore,
    SteppingClock,
    build_demo_artifact,
    demo_issuer_key,
    demo_scenario,
    dump_artifact,
)
from keel_verify.emit.demo import demo_signer, make_timestamper
from keel_verify.emit.server import EmitHTTPServer
from keel_verify.emit.sidecar import ROUTES, SidecarSigner, atom, batch_key

API_KEY = "bytes-test-key"

#: Taken from the code before the ingest path was made faster (same inputs as below).
EXPECTED: dict[str, str] = {
    "demo-v1-1234-compact":
        "f5b16aa7fde216e69c74bd0a9a1f1f2d4edac3040f9194a62c5aef7532616b30",
    "demo-v1-1234-pretty":
        "756a7d45f6e36af0dfe9d685fe68c8a88a0bf5d38937cb7c87cba91ca4419ade",
    "demo-v1-plain-compact":
        "94f6de4c9342d331178fcee753a7eab8b938697f1e2bc61e76424a1fd254be0d",
    "demo-v1-plain-pretty":
        "ae0d60533e0cfd884c248f9bfe713bc5377e3771d3b2517e6b96ad2a2600efe1",
    "demo-v3-1234-compact":
        "2ec836e821806b956d9b18d1a5b8e281750dbddf5e1001c0676777db9d9306d2",
    "demo-v3-1234-pretty":
        "223fb77d1c41794e735ced0494d84d8c1820e7b598d84915f55211f2fbc271b4",
    "demo-v3-plain-compact":
        "5137195db40ba258612a45c3969e1be1673fd34fe2531fba082685aeb6bacd72",
    "demo-v3-plain-pretty":
        "1647e896ac1df7def67030547eb5341170f54912c652035aa3bc1aeb3f1cfed3",
    "served-v1-answer-00":
        "23e28dca94ca3a683dec3cd6368bbe00230b0e678e74036e22beb1def6fd0d30",
    "served-v1-answer-01":
        "2a25becca0ed5774723fbc60603b61063679caafca0b99a6cfeebc56c50c6419",
    "served-v1-answer-02":
        "610a9bbcb39b263fcbb12dc7eac9537f1ad96245b9c931d3d4e830cd7247b31a",
    "served-v1-answer-03":
        "76821f2d70b55702300108c4385052499eb3b3d0c5c2e003743edd13714ef80f",
    "served-v1-answer-04":
        "22cc05fd58e85865ec5a7e834e10e2b18fff8c3909e5cfc0ec476c08d0e6bbc6",
    "served-v1-answer-05":
        "bd6cf2803b14eb725c01ec9501a4ada00e4b93bfa82d9b1688c43285e90dde0e",
    "served-v1-answer-06":
        "2a25becca0ed5774723fbc60603b61063679caafca0b99a6cfeebc56c50c6419",
    "served-v1-answer-07":
        "f0a28d2f8da8c311672ff911477656596f93118dd89e7a07f0a962fd2e078d8e",
    "served-v1-answer-08":
        "0f0db14b68d15e9a0827e2a1bf5ac3d0923639dd767e57dd2ab8825963aac772",
    "served-v1-answer-09":
        "c0903e3d975fff74a12f997b6230d7793694bb75afbcda7b6b3630e0734b123b",
    "served-v1-answer-10":
        "a288f530c4c0114a8c863310e8aaa7cecc01e2a0e1b471d016f0324af0512fd5",
    "served-v1-answer-11":
        "42712f6e7aea44487b607eff2cea4b92a53d5be135927b909b79baf41a4be0f0",
    "served-v1-answer-12":
        "34a4d934818f1e14d2c471cf787718850775a8998d08610196340a7b8676b8a3",
    "served-v1-answer-13":
        "319be2a5197bfa611685e084b68b63058065ab1d26a3de8610535d19c4da77e3",
    "served-v1-answer-14":
        "38e2f592b9992cfdb23e2251f6bcaad479eb8304169da02df246772509e56f2c",
    "served-v1-answer-15":
        "84946b872ca51531e03815bd644e03e52bd2d2d93778b855f9aad144595e2985",
    "served-v1-answer-16":
        "579196e5ae738b3cf49f0576cbb105021dd00c002272c74f739129c5c668a943",
    "served-v1-answer-17":
        "81f873ff81197f540de698bca510e8fcc3f27ccd998611dda030c41d8cfa4454",
    "served-v1-answer-18":
        "c091baeaab9e2a59689cb4abeed554f58d7d0be8e42e4958c46bab9d58c9b409",
    "served-v1-stored":
        "fb9beb5404a9f75b4bc8e0c500df8700780b5e317850976d647d284d42d7dce9",
    "served-v3-answer-00":
        "f2f2796daad525d4561792554ca46f447bafaebca6666d5ee8d7f516a68b4abc",
    "served-v3-answer-01":
        "a2dad7c12dfdb67e0584506350eda0fa0c697b19606395701b69470a0eaa35fd",
    "served-v3-answer-02":
        "295a8625a0895b363bebce978c69bc27c95ecf3e5ca204aacc112dbedc351055",
    "served-v3-answer-03":
        "7dd9ac3b98e6a4890b7d94dd9e9f35e88db736c49226499361aade593f5e16ba",
    "served-v3-answer-04":
        "c77d138c1b94225cf9d5159c162e365eff77aa3ad4b3db098c66ec9bf662d6ca",
    "served-v3-answer-05":
        "75b9bc1035a2d6d27f913f17ea369dc93b07adc81773e9bfd17745317875eba6",
    "served-v3-answer-06":
        "a2dad7c12dfdb67e0584506350eda0fa0c697b19606395701b69470a0eaa35fd",
    "served-v3-answer-07":
        "4f002bf7cc24762ba5bbfd5c5408f400cf336c4338953537659ca7aabd579901",
    "served-v3-answer-08":
        "0f0db14b68d15e9a0827e2a1bf5ac3d0923639dd767e57dd2ab8825963aac772",
    "served-v3-answer-09":
        "a00c007734ba8798581c084c6270981fa393769994def02a6d292e02e86664e0",
    "served-v3-answer-10":
        "cc4867a4a360d5503c1527baf9467a11143756998a2b0b2ee47628f0f563ae4d",
    "served-v3-answer-11":
        "6a9a8303b93b228994509bc91c6772024b44dad41aaa007081d7ae3594d98bdc",
    "served-v3-answer-12":
        "dfa3d5a245eac8dab414ba7a1e023ccc604b9b5b7c196939bdff66c8da770641",
    "served-v3-answer-13":
        "e1ec2a938d324702289f31176c9ba936d632aa4de4c9633457ea64e47b50a801",
    "served-v3-answer-14":
        "5da909c09f07b8a5d85d63e273035c5b8d5c2040719da1530b7b6a9257c1e054",
    "served-v3-answer-15":
        "f0683532b4a95268d9c90af0f5583534a619177babbbb758caf835f72171cd5a",
    "served-v3-answer-16":
        "b5435f2733b23b5197646c8f574b25ee203af3f84b94df327238ad6287658940",
    "served-v3-answer-17":
        "91a202ae6d568ef5536c0879ff784dea613d14419f08b51d3ef732e0dd1478b5",
    "served-v3-answer-18":
        "975921ae7367de8d05daee36c607603525e28c0e142e2ab1857b47af53b764fd",
    "served-v3-stored":
        "83a4c37672b9d78a9f7bd12cb6aaffe8c1f2e98779e2d23a7f7cc753506437f2",
}


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def demo_digests(version: int) -> dict[str, str]:
    out = {}
    for events in (None, 1234):
        artifact = build_demo_artifact(version, events=events)
        name = f"demo-v{version}-{events or 'plain'}"
        out[f"{name}-pretty"] = _sha(dump_artifact(artifact))
        out[f"{name}-compact"] = _sha(dump_artifact(artifact, indent=None))
    return out


def _atoms(signer: SidecarSigner, session_id: str, first: int) -> list[dict[str, Any]]:
    """A batch of every atom type, half of them signed by the registered key."""
    base = 1780513200123456789 + first * 1000
    made = [
        atom("transcript_span", f"t-{first}", base, {"text": "Grüße, ok 👍", "language": "de",
                                                      "is_final": True}, direction="inbound"),
        atom("audio_chunk", f"a-{first}", str(base + 1),
             {"content_hash": "sha256:" + "ab" * 32, "format": "pcm16", "duration_ms": 20,
              "sample_rate_hz": 24000}, direction="outbound"),
        atom("tool_invocation_attempt", f"ti-{first}", base + 2,
             {"tool_name": "lookup", "call_id": f"call-{first}", "approval": "requested"}),
        atom("lifecycle_marker", f"lm-{first}", base + 3,
             {"marker_type": "ai_disclosure_emitted", "jurisdiction_codes": ["US-CA"]}),
        atom("interruption", f"in-{first}", base + 4,
             {"reason": "barge_in", "delivered_ms": 120, "attributes": {"k": [1, "x", None]}}),
        atom("provider_opaque_marker", f"po-{first}", base + 5,
             {"provider_event_type": "response.done", "marker_hash": "sha256:" + "cd" * 32}),
    ]
    for index, item in enumerate(made):
        if index % 2:
            made[index] = signer.sign(item, session_id=session_id,
                                      signed_at="2026-06-03T18:00:02Z")
        else:
            item["signatures"] = [{"algorithm": "ed25519", "key_id": "unregistered",
                                   "signature": f"sig_example_{first}_{index}",
                                   "signed_at": "2026-06-03T18:00:02Z"}]
    return made


class _Client:
    def __init__(self, port: int) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.answers: list[bytes] = []

    def send(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body, ensure_ascii=False).encode("utf-8")
        self.connection.request(method, path, body=data, headers={
            "Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"})
        reply = self.connection.getresponse()
        raw = reply.read()
        self.answers.append(f"{reply.status} ".encode() + raw)
        return json.loads(raw)


@contextlib.contextmanager
def _served(tmp_path: Path, version: int) -> Iterator[tuple[SQLiteStore, _Client]]:
    store = SQLiteStore(tmp_path / f"bytes-v{version}.sqlite3")
    engine = Engine(store, issuer_key=demo_issuer_key(), clock=SteppingClock(DEMO_START),
                    ids=SeededIds(f"bytes-{version}"), timestamper=make_timestamper("local"),
                    config=EngineConfig(schema_version=version))
    server = EmitHTTPServer(engine, api_key=API_KEY)
    server.start_background()
    client = _Client(server.server_address[1])
    try:
        yield store, client
    finally:
        client.connection.close()
        server.shutdown()
        server.server_close()
        store.close()


def served_digests(tmp_path: Path, version: int) -> dict[str, str]:
    """One session over HTTP: every answer (status and body bytes), the stored state, and
    the artifact."""
    signer = demo_signer()
    scenario = copy.deepcopy(demo_scenario(version))
    start = {**scenario[0]["body"], "sidecar_keys": [signer.registration()]}
    with _served(tmp_path, version) as (store, client):
        session_id = client.send("POST", ROUTES["start"], start)["session_id"]
        events = ROUTES["events"].format(id=session_id)
        for first in range(0, 30, 6):
            items = _atoms(signer, session_id, first)
            client.send("POST", events, {"batch_idempotency_key": batch_key(session_id, items),
                                         "events": items})
        items = _atoms(signer, session_id, 0)
        client.send("POST", events, {"batch_idempotency_key": batch_key(session_id, items),
                                     "events": items})  # a replay: the stored answer
        mixed = _atoms(signer, session_id, 6)[:3] + _atoms(signer, session_id, 99)
        client.send("POST", events, {"batch_idempotency_key": "mixed", "events": mixed})
        client.send("POST", events, {"batch_idempotency_key": "mixed", "events": mixed[:2]})
        for step in scenario[1:-1]:
            if step["call"] != "events":
                client.send("POST", ROUTES[step["call"]].format(id=session_id), step["body"])
        client.send("GET", f"/v1/sessions/{session_id}")
        client.send("GET", f"/v1/sessions/{session_id}?pretty=1")
        client.send("POST", ROUTES["end"].format(id=session_id), scenario[-1]["body"])
        client.send("POST", ROUTES["end"].format(id=session_id) + "?pretty=true",
                    scenario[-1]["body"])
        client.send("GET", f"/v1/sessions/{session_id}/attestation")
        snapshot = json.dumps(store.snapshot(), sort_keys=True, ensure_ascii=False)
        out = {f"served-v{version}-answer-{n:02d}": _sha(raw)
               for n, raw in enumerate(client.answers)}
        out[f"served-v{version}-stored"] = _sha(snapshot.encode("utf-8"))
    return out


@pytest.mark.parametrize("version", [3, 1])
def test_demo_artifacts_are_byte_identical(version: int) -> None:
    assert demo_digests(version) == {k: v for k, v in EXPECTED.items() if k.startswith(f"demo-v{version}-")}


@pytest.mark.loopback
@pytest.mark.parametrize("version", [3, 1])
def test_served_answers_and_storage_are_byte_identical(tmp_path: Path, version: int) -> None:
    got = served_digests(tmp_path, version)
    assert got == {k: v for k, v in EXPECTED.items() if k.startswith(f"served-v{version}-")}
