"""Durability: ``keel-emit serve`` is killed with SIGKILL while clients are sending
batches; restarted on the same SQLite file, it has lost no acknowledged batch and
duplicated nothing, and the session still ends in a VERIFIED artifact."""

from __future__ import annotations

import copy
import os
import signal
import threading
from pathlib import Path
from typing import Any

import pytest

from keel_verify.emit import demo_scenario
from keel_verify.emit.sidecar import HttpTransport, KeelApiError, SidecarClient, atom
from tests.emit_process import API_KEY, start_serve, stop
from tests.test_emit_support import assert_verified, demo_trust, verify

pytestmark = pytest.mark.loopback

BATCHES = 400
SIZE = 100


def batch_atoms(number: int) -> list[dict[str, Any]]:
    return [atom("transcript_span", f"b{number:04d}-a{i:03d}", 1780513200000000000 + i,
                 {"text": f"batch {number} atom {i}"}, direction="inbound")
            for i in range(SIZE)]


def test_sigkill_loses_no_acknowledged_batch_and_duplicates_nothing(tmp_path: Path) -> None:
    db = tmp_path / "keel-emit.sqlite3"
    process, url = start_serve(db)
    client = SidecarClient(HttpTransport(url, API_KEY, attempts=1, timeout=30))
    start = copy.deepcopy(demo_scenario(1)[0]["body"])
    session_id = client.start(start)["session_id"]
    acknowledged: dict[int, dict[str, Any]] = {}
    enough = threading.Event()

    def send() -> None:
        for number in range(BATCHES):
            try:
                acknowledged[number] = client.send_batch(batch_atoms(number))
            except (OSError, KeelApiError):
                return  # the server died under us
            if len(acknowledged) >= 20:
                enough.set()
        enough.set()

    sender = threading.Thread(target=send)
    sender.start()
    try:
        assert enough.wait(120)
        os.kill(process.pid, signal.SIGKILL)  # mid-load: no shutdown, no flush
        sender.join(60)
    finally:
        stop(process)
    assert 20 <= len(acknowledged) < BATCHES, len(acknowledged)

    process, url = start_serve(db)
    try:
        client = SidecarClient(HttpTransport(url, API_KEY, attempts=1), session_id=session_id)
        for number, answer in sorted(acknowledged.items()):  # replays get the stored answer
            assert client.send_batch(batch_atoms(number)) == answer
        # the batch in flight at the kill either committed whole or not at all
        in_flight = len(acknowledged)
        replay = client.send_batch(batch_atoms(in_flight))
        assert replay["accepted"] + len(replay["duplicates"]) == SIZE
        assert replay["accepted"] in (0, SIZE)
        answer = client.end({})
    finally:
        stop(process)
    artifact = answer["attestation_artifact"]
    keys = [entry["canonicalized_payload"].get("idempotency_key") for entry in artifact["chain"]]
    atom_keys = [key for key in keys if key is not None]
    assert len(atom_keys) == len(set(atom_keys)) == (in_flight + 1) * SIZE
    assert_verified(verify(artifact, demo_trust(tmp_path)), witnessed=True)
