"""``keel-emit serve`` holds up: raw HTTP on loopback (malformed framing, the HTTP layer's
own errors as JSON, 100-continue only after authentication, a connection cap, socket
timeouts), and misbehaving TSAs (silent, trickling, malformed) that neither stall other
clients nor turn an end into a 500."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from keel_verify.emit import HttpTimestamper, demo_scenario
from keel_verify.emit.server import LISTEN_BACKLOG, EmitHTTPServer
from keel_verify.emit.timestamping import Timestamper
from tests.test_emit_server import API_KEY, Running, make_engine

pytestmark = pytest.mark.loopback

START = demo_scenario()[0]["body"]


def exchange(url: str, raw: bytes, *, timeout: float = 10.0) -> bytes:
    """Send ``raw`` on a fresh connection; everything the server sends until it closes
    (or ``timeout``)."""
    host, port = url.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=timeout) as connection:
        connection.sendall(raw)
        chunks = []
        try:
            while chunk := connection.recv(65536):
                chunks.append(chunk)
        except TimeoutError:
            pass
    return b"".join(chunks)


def parse(answer: bytes) -> tuple[int, dict[str, str], Any]:
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), headers, json.loads(body)


@pytest.fixture
def running(tmp_path: Path) -> Iterator[Running]:
    server = Running(make_engine(tmp_path / "emit.db"))
    yield server
    server.stop()


def post(path: str, body: bytes, *headers: str, key: str | None = API_KEY) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json",
             *([f"Authorization: Bearer {key}"] if key else []), *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


BODY = json.dumps(START).encode()


@pytest.mark.parametrize(("raw", "status", "words"), [
    # Content-Length must be ASCII digits ("²" passes str.isdigit)
    (post("/v1/sessions", BODY, "Content-Length: ²".replace("²", "\u00b2")), 400,
     "malformed Content-Length"),
    (post("/v1/sessions", BODY, f"Content-Length: {len(BODY)}", "Content-Length: 5"), 400,
     "conflicting Content-Length"),
    (post("/v1/sessions", BODY, "Content-Length: -5"), 400, "malformed Content-Length"),
    (post("/v1/sessions", BODY, f"Content-Length: {len(BODY)}",
          "Transfer-Encoding: chunked"), 400, "Transfer-Encoding"),
    (b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\n\r\n", 414, "URI"),
    (b"GET /healthz HTTP/1.1\r\n" + b"".join(b"X-%d: y\r\n" % i for i in range(120))
     + b"\r\n", 431, "many headers"),
    (b"GET /healthz HTTP/1.1\r\nX-Long: " + b"y" * 70000 + b"\r\n\r\n", 431, "Line too long"),
    (b"THIS IS NOT HTTP\r\n\r\n", 400, "Bad request"),
    (b"BREW /healthz HTTP/1.1\r\n\r\n", 501, "Unsupported method"),
])
def test_http_layer_errors_are_the_documented_json(running: Running, raw: bytes, status: int,
                                                    words: str) -> None:
    before = running.engine.store.snapshot()
    got, headers, answer = parse(exchange(running.server.url, raw))
    assert got == status, answer
    assert headers["Content-Type"].startswith("application/json")
    assert answer["error"]["status"] == status
    assert words.lower() in answer["error"]["message"].lower(), answer
    assert running.engine.store.snapshot() == before


def test_server_header_names_no_python_version(running: Running) -> None:
    _, headers, _ = parse(exchange(running.server.url, b"GET /healthz HTTP/1.1\r\n"
                                                       b"Connection: close\r\n\r\n"))
    assert headers["Server"] == "keel-emit"
    assert "Python" not in json.dumps(headers)


def test_100_continue_only_after_the_key_is_accepted(running: Running) -> None:
    expect = (f"Content-Length: {len(BODY)}", "Expect: 100-continue")
    refused = exchange(running.server.url, post("/v1/sessions", b"", *expect, key="wrong"))
    assert not refused.startswith(b"HTTP/1.1 100")
    assert parse(refused)[0] == 401
    host, port = running.server.url.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(post("/v1/sessions", b"", *expect, "Connection: close"))
        interim = connection.recv(1024)
        assert interim.startswith(b"HTTP/1.1 100 Continue")
        connection.sendall(BODY)
        rest = b""
        while chunk := connection.recv(65536):
            rest += chunk
    status, _, answer = parse(rest[rest.index(b"HTTP/1.1 200"):])
    assert status == 200 and answer["session_id"].startswith("sess_")


@pytest.mark.parametrize("key", ["", "   ", "\t", "two words", "caf\u00e9"])
def test_api_key_must_be_a_sendable_token(tmp_path: Path, key: str) -> None:
    engine = make_engine(tmp_path / "emit.db")
    with pytest.raises(ValueError, match="printable ASCII"):
        EmitHTTPServer(engine, api_key=key)
    engine.store.close()


def test_connection_cap_answers_503_and_idle_connections_time_out(tmp_path: Path) -> None:
    server = Running(make_engine(tmp_path / "emit.db"), max_connections=2, socket_timeout=1.0)
    host, port = server.server.url.removeprefix("http://").rsplit(":", 1)
    try:
        assert server.server.request_queue_size == LISTEN_BACKLOG >= 128
        idle = [socket.create_connection((host, int(port)), timeout=10) for _ in range(2)]
        status, headers, answer = parse(exchange(server.server.url,
                                                 b"GET /healthz HTTP/1.1\r\n\r\n"))
        assert (status, headers["Retry-After"]) == (503, "1")
        assert "too many connections" in answer["error"]["message"]
        for connection in idle:  # silent clients are dropped after the socket timeout
            assert connection.recv(1) == b""
            connection.close()
        status, _, answer = parse(exchange(server.server.url, b"GET /healthz HTTP/1.1\r\n"
                                                              b"Connection: close\r\n\r\n"))
        assert (status, answer) == (200, {"status": "ok"})
    finally:
        server.stop()


def test_keep_alive_serves_many_requests_on_one_connection(running: Running) -> None:
    host, port = running.server.url.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        reader = connection.makefile("rb")
        for _ in range(3):
            connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            assert reader.readline().startswith(b"HTTP/1.1 200")
            length = 0
            while (line := reader.readline()) != b"\r\n":
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            assert json.loads(reader.read(length)) == {"status": "ok"}


# -- misbehaving TSAs ----------------------------------------------------------------------


class StubTsa:
    """A loopback "TSA" that reads a request and then does ``behave(connection)``."""

    def __init__(self, behave: Callable[[socket.socket], object]) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}/"
        self.behave = behave
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            with connection:
                connection.settimeout(10)
                try:
                    connection.recv(65536)
                    self.behave(connection)
                except OSError:
                    pass

    def close(self) -> None:
        self.listener.close()


def _ended_with(tmp_path: Path, timestamper: Timestamper) -> dict[str, Any]:
    engine = make_engine(tmp_path / "emit.db", timestamper)
    session_id = engine.start(START)["session_id"]
    try:
        artifact: dict[str, Any] = engine.end(session_id, {})["attestation_artifact"]
    finally:
        engine.store.close()
    return artifact


@pytest.mark.parametrize(("answer", "words"), [
    (b"HELLO THERE\r\n\r\n", "malformed answer"),
    (b"HTTP/1.1 200 OK\r\nContent-Type: application/timestamp-reply\r\n"
     b"Transfer-Encoding: chunked\r\n\r\nzz\r\nnot a chunk", "malformed answer"),
    (b"HTTP/1.1 200 OK\r\nContent-Type: application/timestamp-reply\r\n"
     b"Content-Length: 5\r\n\r\nhello", "unusable"),
])
def test_malformed_tsa_answer_degrades_with_the_attempt_recorded(
        tmp_path: Path, answer: bytes, words: str) -> None:
    tsa = StubTsa(lambda connection: connection.sendall(answer))
    try:
        artifact = _ended_with(tmp_path, HttpTimestamper(tsa.url, timeout=10))
    finally:
        tsa.close()
    assert artifact["tsa_status"] == "degraded_no_receipt"
    [attempt] = artifact["rfc3161_timestamp_attempts"]
    assert attempt["status"] == "failed" and attempt["url"] == tsa.url
    assert words in attempt["error"], attempt["error"]


def test_trickling_tsa_is_cut_off_at_the_overall_deadline(tmp_path: Path) -> None:
    stop = threading.Event()

    def trickle(connection: socket.socket) -> None:
        for byte in b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + b"x" * 1000:
            if stop.wait(0.2):
                return
            connection.sendall(bytes([byte]))

    tsa = StubTsa(trickle)
    try:
        artifact = _ended_with(tmp_path, HttpTimestamper(tsa.url, timeout=1.5))
    finally:
        stop.set()
        tsa.close()
    [attempt] = artifact["rfc3161_timestamp_attempts"]
    assert "within 1.5 s" in attempt["error"], attempt["error"]
    assert artifact["tsa_status"] == "degraded_no_receipt"


def test_a_silent_tsa_stalls_no_other_client(tmp_path: Path) -> None:
    """While one session's end waits on the TSA, every other call goes through."""
    release = threading.Event()
    tsa = StubTsa(lambda connection: release.wait(30))
    server = Running(make_engine(tmp_path / "emit.db", HttpTimestamper(tsa.url, timeout=30)))
    client = server.client
    first = client.ok("start", START)["session_id"]
    second = client.ok("start", {**START, "permit": {**START["permit"],
                                                      "idempotency_key": "second"}})["session_id"]
    ended: list[Any] = []
    ender = threading.Thread(target=lambda: ended.append(client.post("end", {}, first)))
    try:
        ender.start()
        while server.engine.store.get_session(first).status == "active":  # type: ignore[union-attr]
            threading.Event().wait(0.01)
        turn = client.ok("turns", {"input_tokens": 1, "output_tokens": 1}, second)
        assert turn["decision"] == "allow"
        assert client.raw("GET", f"/v1/sessions/{second}", None)[0] == 200
        assert not ended  # the end is still waiting for the TSA
    finally:
        release.set()
        ender.join(60)
        tsa.close()
        server.stop()
    status, answer = ended[0]
    assert status == 200 and answer["attestation_artifact"]["tsa_status"] == "degraded_no_receipt"


def test_an_answer_is_one_write_with_nodelay(running: Running,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Headers and body leave in one write on a TCP_NODELAY socket: no Nagle stall on a
    kept-alive connection (it cost ~40 ms per answer)."""
    import socketserver

    writes: list[bytes] = []
    nodelay: list[int] = []
    writer: Any = socketserver._SocketWriter  # type: ignore[attr-defined]  # unbuffered wfile
    real_write = writer.write

    def write(self: Any, data: Any) -> int:
        writes.append(bytes(data))
        nodelay.append(self._sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        written: int = real_write(self, data)
        return written

    monkeypatch.setattr(writer, "write", write)
    session_id = running.client.ok("start", START)["session_id"]
    writes.clear()
    status, _, _ = running.client.raw("GET", f"/v1/sessions/{session_id}", None)
    assert status == 200
    [answer] = writes
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n") and answer.endswith(b"}")
    assert all(nodelay)


def test_a_burst_of_320_connections_all_get_an_answer(running: Running) -> None:
    """The issue's burst (42 of 320 timed out with a backlog of 5): every connection is
    answered, by the endpoint or by a 503 past the connection cap; none times out."""
    statuses: list[int] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    request = b"GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n"

    def one() -> None:
        try:
            status = parse(exchange(running.server.url, request, timeout=60))[0]
        except BaseException as error:  # a timeout or a reset is what must not happen
            with lock:
                errors.append(error)
            return
        with lock:
            statuses.append(status)

    threads = [threading.Thread(target=one) for _ in range(320)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert errors == [] and len(statuses) == 320
    assert set(statuses) <= {200, 503} and statuses.count(200) >= 64


def test_400_idle_connections_hold_at_most_the_cap_of_threads(tmp_path: Path) -> None:
    server = Running(make_engine(tmp_path / "emit.db"), max_connections=16)
    host, port = server.server.url.removeprefix("http://").rsplit(":", 1)
    before = threading.active_count()
    idle: list[socket.socket] = []
    try:
        for _ in range(400):
            idle.append(socket.create_connection((host, int(port)), timeout=10))
        deadline = threading.Event()
        deadline.wait(1.0)  # let the server accept them all
        assert threading.active_count() - before <= 16
        status, _, _ = parse(exchange(server.server.url, b"GET /healthz HTTP/1.1\r\n\r\n"))
        assert status == 503
    finally:
        for connection in idle:
            connection.close()
        server.stop()
