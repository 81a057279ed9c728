"""keel-emit serve on loopback: latency and throughput, ingest rate, and `end` at scale.

    python benchmarks/emit_bench.py            # full run (about 2 minutes on 2 CPUs)
    python benchmarks/emit_bench.py --quick    # smoke run (10,000-event end, fewer requests)
    python benchmarks/emit_bench.py --json out.json

What it measures, each against a fresh ``keel-emit serve`` child process (SQLite file in a
temporary directory, the built-in test TSA, the default settings):

* **requests**: ``POST /v1/sessions/{id}/turns`` (a small body, one SQLite commit each)
  from 1, 8 and 32 clients, each on its own kept-alive connection and session:
  requests/s and the p50/p99 latency of one request.
* **ingest**: ``POST /v1/voice/sessions/{id}/events`` with 100 atoms per request in the
  public guide's shape (placeholder signatures, recorded unverified), from 1 and 4
  clients: events/s, the median of 3 runs (1 with ``--quick``), each into new sessions,
  and the server's CPU per event. Also (one run) with every atom carrying a real Ed25519
  sidecar signature by a registered key (each one verified).
* **ingest floor**: plain SQLite with the same rows -- the entry rows and atom keys the
  server stored for the unsigned 1-client ingest, inserted again into a fresh file with
  the store's tables and settings, one transaction per request's rows: events/s.
* **end**: ``POST /v1/sessions/{id}/end`` of a session of 100,000 events (``--events``),
  read to the last byte by the client, against its *floor*: the least work any end must
  do -- read the session's stored entries from the same SQLite file, join them into the
  artifact's canonical bytes, sign them once with Ed25519, and move them across a
  loopback socket to a reader. Also how much the end stored for the artifact (it is
  stored once: its chain is the entries already stored).

Bodies are encoded before the clock starts, so the client's own JSON work is not
counted; the client runs in this process (threads), the server in its own.
``benchmarks/run.py --only emit`` runs the ingest and end parts (:func:`measure`) and
judges them with the other goals.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from keel_verify.emit.sidecar import SidecarSigner, atom, batch_key  # noqa: E402
from keel_verify.emit.sqlite_store import _SCHEMA, PAGE_SIZE  # noqa: E402

API_KEY = "bench-key-not-a-secret"
HEADERS = {"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"}
T0_NS = 1780513200000000000


# -- the server ------------------------------------------------------------------------------


class Server:
    def __init__(self, directory: Path) -> None:
        self.db = directory / "bench.sqlite3"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "keel_verify.emit.cli", "serve", "--port", "0", "--db",
             str(self.db), "--api-key", API_KEY],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"})
        assert self.process.stderr is not None
        for raw in self.process.stderr:
            found = re.search(rb"listening on http://127\.0\.0\.1:(\d+)", raw)
            if found:
                self.port = int(found.group(1))
                break
        else:
            raise SystemExit("keel-emit serve did not start")

    def connection(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=600)

    def cpu_seconds(self) -> float:
        """The server's CPU time so far (user + system), from /proc (Linux)."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(60)


def call(connection: http.client.HTTPConnection, method: str, path: str,
         body: bytes | None = None) -> bytes:
    connection.request(method, path, body=body, headers=HEADERS)
    reply = connection.getresponse()
    data = reply.read()
    if reply.status != 200:
        raise SystemExit(f"{method} {path}: HTTP {reply.status}: {data[:300]!r}")
    return data


def start_body(key: str, *, sidecar: SidecarSigner | None = None) -> bytes:
    body: dict[str, Any] = {
        "permit": {"project_id": "11111111-1111-1111-1111-111111111111",
                   "idempotency_key": key, "subject": {"type": "user", "id": "usr_bench"},
                   "action": {"name": "realtime.session"},
                   "resource": {"type": "request", "id": f"req_{key}", "attributes": {
                       "provider": "openai", "model": "gpt-4o-realtime-preview",
                       "operation": "realtime.session", "execution_mode": "realtime"}}},
        "metadata": {"voice_provider": "openai_realtime"}}
    if sidecar is not None:
        body["sidecar_keys"] = [sidecar.registration()]
    return json.dumps(body).encode()


def new_session(server: Server, key: str, *, sidecar: SidecarSigner | None = None) -> str:
    connection = server.connection()
    try:
        session_id: str = json.loads(call(connection, "POST", "/v1/sessions",
                                          start_body(key, sidecar=sidecar)))["session_id"]
    finally:
        connection.close()
    return session_id


def guide_atom(number: int) -> dict[str, Any]:
    """An atom in the guide's shape, with the guide's kind of placeholder signature."""
    item = atom("transcript_span", f"evt_{number:09d}", T0_NS + number * 10_000_000,
                {"text": "I approve the support lookup for this account.", "language": "en"},
                direction="inbound" if number % 2 else "outbound")
    item["signatures"] = [{"algorithm": "ed25519", "key_id": "voice-sidecar-example",
                           "signature": f"sig_example_{number}",
                           "signed_at": "2026-06-03T18:00:02Z"}]
    return item


def event_batches(session_id: str, count: int, first: int, *,
                  sidecar: SidecarSigner | None = None) -> list[bytes]:
    """``count`` atoms as encoded batch bodies of 100."""
    bodies = []
    for start in range(first, first + count, 100):
        atoms = [guide_atom(n) for n in range(start, min(start + 100, first + count))]
        if sidecar is not None:
            atoms = [sidecar.sign({k: v for k, v in a.items() if k != "signatures"},
                                  session_id=session_id, signed_at="2026-06-03T18:00:02Z")
                     for a in atoms]
        bodies.append(json.dumps({"batch_idempotency_key": batch_key(session_id, atoms),
                                  "events": atoms}).encode())
    return bodies


# -- measurements ------------------------------------------------------------------------------


def run_clients(server: Server, jobs: list[tuple[str, list[bytes]]]) -> tuple[float, list[float]]:
    """Each job (path, bodies) on its own kept-alive connection, all at once: (wall
    seconds, every request's latency in seconds)."""
    latencies: list[float] = []
    lock = threading.Lock()
    barrier = threading.Barrier(len(jobs) + 1)

    def client(path: str, bodies: list[bytes]) -> None:
        connection = server.connection()
        mine = []
        call(connection, "GET", "/healthz")  # connect before the clock starts
        barrier.wait()
        for body in bodies:
            began = time.perf_counter()
            call(connection, "POST", path, body)
            mine.append(time.perf_counter() - began)
        connection.close()
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client, args=job) for job in jobs]
    for thread in threads:
        thread.start()
    barrier.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    return time.perf_counter() - began, latencies


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def bench_requests(server: Server, clients: int, per_client: int) -> dict[str, Any]:
    turn = json.dumps({"input_tokens": 28, "output_tokens": 12,
                       "metadata": {"provider_response_id": "resp_bench"}}).encode()
    jobs = [(f"/v1/sessions/{new_session(server, f'req-{clients}-{i}')}/turns",
             [turn] * per_client) for i in range(clients)]
    wall, latencies = run_clients(server, jobs)
    return {"clients": clients, "requests": len(latencies),
            "requests_per_s": round(len(latencies) / wall, 1),
            "p50_ms": round(percentile(latencies, 0.50) * 1000, 2),
            "p99_ms": round(percentile(latencies, 0.99) * 1000, 2)}


def bench_ingest(server: Server, clients: int, events_per_client: int, *,
                 signed: bool = False, repeats: int = 1) -> dict[str, Any]:
    """``repeats`` runs, each into new sessions: the median events/s (and the runs), the
    median server CPU per event, the p50 latency over all requests."""
    runs: list[tuple[float, float]] = []  # (events/s, server CPU s per event)
    latencies: list[float] = []
    session_ids: list[str] = []
    events = clients * events_per_client
    for repeat in range(repeats):
        jobs = []
        session_ids = []
        for i in range(clients):
            sidecar = (SidecarSigner(Ed25519PrivateKey.generate(), "bench-sidecar") if signed
                       else None)
            session_id = new_session(server, f"ingest-{clients}-{i}-{signed}-{repeat}",
                                     sidecar=sidecar)
            session_ids.append(session_id)
            jobs.append((f"/v1/voice/sessions/{session_id}/events",
                         event_batches(session_id, events_per_client, 0, sidecar=sidecar)))
        cpu = server.cpu_seconds()
        wall, run_latencies = run_clients(server, jobs)
        runs.append((events / wall, (server.cpu_seconds() - cpu) / events))
        latencies += run_latencies
    rate = statistics.median(run[0] for run in runs)
    cpu_per_event = statistics.median(run[1] for run in runs)
    return {"clients": clients, "signed": signed, "events": events, "repeats": repeats,
            "events_per_s": round(rate), "runs_events_per_s": [round(run[0]) for run in runs],
            "p50_ms": round(percentile(latencies, 0.5) * 1000, 2),
            "server_cpu_us_per_event": round(cpu_per_event * 1e6, 1),
            "events_per_server_cpu_s": round(1 / cpu_per_event) if cpu_per_event else None,
            "session_ids": session_ids}  # of the last run


def ingest_floor(db: Path, session_ids: list[str]) -> dict[str, Any]:
    """Plain SQLite with the same rows: the entry rows and atom keys stored for
    ``session_ids``, inserted again into a fresh file with the store's tables and
    settings (WAL, ``synchronous=NORMAL``, its page size), one transaction per stored row
    (the rows of one request). Events/s, wall and CPU."""
    marks = ",".join("?" * len(session_ids))
    with sqlite3.connect(db) as source:
        rows = source.execute(f"SELECT session_id, entries FROM entries WHERE session_id IN "
                              f"({marks}) ORDER BY id", session_ids).fetchall()
        keys = source.execute(f"SELECT session_id, atom_key FROM atom_keys WHERE session_id "
                              f"IN ({marks}) ORDER BY 1, 2", session_ids).fetchall()
    source.close()
    by_session: dict[str, list[tuple[str, str]]] = {}
    for session_id, key in keys:
        by_session.setdefault(session_id, []).append((session_id, key))
    batches = []
    for session_id, joined in rows:
        count = joined.count(b"\n") + 1
        batches.append(((session_id, joined), by_session[session_id][:count]))
        by_session[session_id] = by_session[session_id][count:]
    path = db.with_name("ingest-floor.sqlite3")
    target = sqlite3.connect(path, isolation_level=None)
    target.execute(f"PRAGMA page_size={PAGE_SIZE}")
    target.execute("PRAGMA journal_mode=WAL")
    target.execute("PRAGMA synchronous=NORMAL")
    target.executescript(_SCHEMA)
    events = sum(len(atom_keys) for _, atom_keys in batches)
    cpu, began = time.process_time(), time.perf_counter()
    for row, atom_keys in batches:
        target.execute("BEGIN IMMEDIATE")
        target.execute("INSERT INTO entries (session_id, entries) VALUES (?, ?)", row)
        target.executemany("INSERT INTO atom_keys VALUES (?, ?)", atom_keys)
        target.execute("COMMIT")
    wall, cpu = time.perf_counter() - began, time.process_time() - cpu
    target.close()
    path.unlink()
    return {"events": events, "events_per_s": round(events / wall),
            "cpu_us_per_event": round(cpu / events * 1e6, 1)}


def stored_artifact_bytes(db: Path, session_id: str) -> int:
    """What the end stored for the artifact (the chain is the entries stored before)."""
    with sqlite3.connect(db) as database:
        row = database.execute("SELECT length(head) + length(tail) FROM artifacts "
                               "WHERE session_id = ?", (session_id,)).fetchone()
    database.close()
    return int(row[0])


def bench_end(server: Server, events: int) -> dict[str, Any]:
    session_id = new_session(server, f"end-{events}")
    connection = server.connection()
    for body in event_batches(session_id, events - 1, 0):
        call(connection, "POST", f"/v1/voice/sessions/{session_id}/events", body)
    connection.close()
    connection = server.connection()
    call(connection, "GET", "/healthz")
    began = time.perf_counter()
    answer = call(connection, "POST", f"/v1/sessions/{session_id}/end", b"{}")
    end_s = time.perf_counter() - began
    connection.close()
    stored = stored_artifact_bytes(server.db, session_id)
    artifact_bytes = len(answer)
    floors = [end_floor(server.db, session_id) for _ in range(3)]
    floor_s = statistics.median(floors)
    return {"events": events, "end_s": round(end_s, 3), "floor_s": round(floor_s, 3),
            "ratio": round(end_s / floor_s, 2), "answer_mib": round(artifact_bytes / 2**20, 1),
            "artifact_stored_kib": round(stored / 1024, 1)}


def end_floor(db: Path, session_id: str) -> float:
    """Read the entries, join them into one message, sign it, send it over loopback."""
    key = Ed25519PrivateKey.generate()
    listener = socket.create_server(("127.0.0.1", 0))
    received = [0]

    def reader() -> None:
        connection, _ = listener.accept()
        with connection:
            while chunk := connection.recv(1 << 20):
                received[0] += len(chunk)

    thread = threading.Thread(target=reader)
    thread.start()
    began = time.perf_counter()
    with sqlite3.connect(db) as database:
        rows = database.execute("SELECT entries FROM entries WHERE session_id = ? "
                                "ORDER BY id", (session_id,)).fetchall()
    database.close()
    message = b"[" + b",".join(row[0].replace(b"\n", b",") for row in rows) + b"]"
    key.sign(message)
    with socket.create_connection(listener.getsockname()) as sender:
        sender.sendall(message)
    thread.join()
    elapsed = time.perf_counter() - began
    listener.close()
    assert received[0] == len(message)
    return elapsed


def measure(*, quick: bool = False, events: int | None = None,
            parts: tuple[str, ...] = ("requests", "ingest", "end"),
            progress: Any = print) -> dict[str, Any]:
    """Run ``parts`` against one fresh server; the results (as ``--json`` writes them).
    ``progress`` gets one line per figure."""
    events = events or (10_000 if quick else 100_000)
    per_client = 100 if quick else 400
    ingest_events = 5_000 if quick else 30_000
    results: dict[str, Any] = {"machine": f"{os.cpu_count()} CPUs, {sys.platform}",
                               "load_average": os.getloadavg()[0],
                               "python": sys.version.split()[0], "date": time.strftime(
                                   "%Y-%m-%d"), "requests": [], "ingest": []}
    with tempfile.TemporaryDirectory(prefix="keel-emit-bench-") as directory:
        server = Server(Path(directory))
        try:
            if "requests" in parts:
                for clients in (1, 8, 32):
                    row = bench_requests(server, clients,
                                         max(20, per_client * 8 // clients // 2))
                    results["requests"].append(row)
                    progress(f"requests  {clients:>2} client(s): {row['requests_per_s']:>8} req/s"
                             f"  p50 {row['p50_ms']} ms  p99 {row['p99_ms']} ms")
            if "ingest" in parts:
                signed_too = "requests" in parts  # the full run; the harness skips it
                for clients, signed in ((1, False), (4, False), (1, True)):
                    if signed and not signed_too:
                        continue
                    row = bench_ingest(server, clients, ingest_events // clients, signed=signed,
                                       repeats=1 if quick or signed else 3)
                    results["ingest"].append(row)
                    runs = (f", median of {row['runs_events_per_s']}" if row["repeats"] > 1
                            else "")
                    progress(f"ingest    {clients} client(s){' signed' if signed else ''}: "
                             f"{row['events_per_s']:>7} events/s{runs} (100 atoms per request, "
                             f"p50 {row['p50_ms']} ms per request; server CPU "
                             f"{row['server_cpu_us_per_event']} us per event = "
                             f"{row['events_per_server_cpu_s']} events per CPU-second)")
                first = results["ingest"][0]
                results["ingest_floor"] = floor = ingest_floor(server.db, first["session_ids"])
                progress(f"ingest    floor: plain SQLite with the same rows, {floor['events_per_s']}"
                         f" events/s ({floor['cpu_us_per_event']} us CPU per event)")
            if "end" in parts:
                row = bench_end(server, events)
                results["end"] = row
                progress(f"end       {events} events: {row['end_s']} s, floor {row['floor_s']} s, "
                         f"ratio {row['ratio']} ({row['answer_mib']} MiB answer; the end stored "
                         f"{row['artifact_stored_kib']} KiB besides the entries)")
        finally:
            server.stop()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--events", type=int, default=None,
                        help="events in the session whose end is timed (default 100000)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    options = parser.parse_args()
    results = measure(quick=options.quick, events=options.events,
                      progress=lambda line: print(line, flush=True))
    from run import emit_goals  # judged as benchmarks/run.py judges them

    results["goals"] = emit_goals(results)
    for goal in results["goals"]:
        print(f"goal      {goal['status']:<4} {goal['what']}: {goal['measured']}")
    if options.json:
        options.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
