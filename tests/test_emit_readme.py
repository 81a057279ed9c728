"""keel_verify/emit/README.md's examples run as written: every HTTP example is sent to
``keel-emit serve`` on loopback in order, and its answer is the documented one (member for
member; ``"..."`` marks members left out); its Python examples run."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from keel_verify.emit import demo_engine
from keel_verify.emit.server import EmitHTTPServer
from tests.test_emit_server import API_KEY, Client
from tests.test_emit_support import ROOT

pytestmark = pytest.mark.loopback

README = ROOT / "keel_verify" / "emit" / "README.md"
FENCE = re.compile(r"^```(\w+)( answer)?\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def blocks(kind: str) -> list[tuple[str, bool]]:
    return [(text, bool(answer)) for language, answer, text in FENCE.findall(
        README.read_text(encoding="utf-8")) if language == kind]


def exchanges() -> list[tuple[str, str, int, Any, Any]]:
    """(method, path, status, body, documented answer) for each http block, in order."""
    found = []
    items = [(m.group(1), bool(m.group(2)), m.group(3))
             for m in FENCE.finditer(README.read_text(encoding="utf-8"))]
    for index, (language, _, text) in enumerate(items):
        if language != "http":
            continue
        request_line, _, body = text.partition("\n\n")
        method, path, *rest = request_line.split()
        status = int(rest[1]) if rest[:1] == ["->"] else 200
        answer_language, is_answer, answer = items[index + 1]
        assert (answer_language, is_answer) == ("json", True), request_line
        found.append((method, path, status, json.loads(body) if body.strip() else None,
                      json.loads(answer)))
    return found


def assert_documented(documented: Any, real: Any, where: str = "") -> None:
    if isinstance(documented, dict):
        assert isinstance(real, dict), where
        listed = set(documented) - {"..."}
        if "..." in documented:
            assert listed <= set(real), (where, listed - set(real))
        else:
            assert listed == set(real), (where, listed ^ set(real))
        for key in listed:
            assert_documented(documented[key], real[key], f"{where}.{key}")
    elif isinstance(documented, list):
        assert isinstance(real, list), where
        if documented == ["..."]:
            return
        assert len(documented) == len(real), where
        for index, (doc_item, real_item) in enumerate(zip(documented, real, strict=True)):
            assert_documented(doc_item, real_item, f"{where}[{index}]")
    else:
        assert documented == real, (where, documented, real)


def test_every_http_example_gives_its_documented_answer() -> None:
    found = exchanges()
    assert len(found) >= 10
    engine = demo_engine(seed="readme")  # the ids and times the README shows
    server = EmitHTTPServer(engine, api_key=API_KEY)
    thread = server.start_background()
    client = Client(server.url)
    session_id = ""
    try:
        for method, path, status, body, documented in found:
            path = path.replace("{session_id}", session_id)
            data = None if body is None else json.dumps(body).encode()
            got, _, raw = client.raw(method, path, data)
            answer = json.loads(raw)
            assert got == status, (path, answer)
            assert_documented(documented, answer, f"{method} {path}")
            if path == "/v1/sessions":
                session_id = answer["session_id"]
    finally:
        server.shutdown()
        thread.join()
        server.server_close()


def test_python_examples_run(monkeypatch: pytest.MonkeyPatch,
                             capsys: pytest.CaptureFixture[str]) -> None:
    examples = [text for text, _ in blocks("python")]
    assert len(examples) == 2
    engine = demo_engine(seed="readme python")
    server = EmitHTTPServer(engine, api_key=API_KEY)
    thread = server.start_background()
    monkeypatch.setenv("KEEL_BASE_URL", server.url)
    monkeypatch.setenv("KEEL_API_KEY", API_KEY)
    try:
        for example in examples:
            exec(compile(example, str(README), "exec"), {})
    finally:
        server.shutdown()
        thread.join()
        server.server_close()
    printed = capsys.readouterr().out.strip()
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", printed), printed


def test_sidecar_example_is_ten_lines() -> None:
    sidecar = blocks("python")[0][0]
    assert len(sidecar.strip().splitlines()) <= 11  # ten lines, plus the wrapped atom


def test_readme_names_no_unknown_route() -> None:
    text = README.read_text(encoding="utf-8")
    assert "requests.py" not in text and "SPEC" not in text and "issue N" not in text
    for path in re.findall(r"`(?:GET|POST) (/[^`]*)`", text):
        assert path.startswith(("/v1/", "/openapi.json", "/healthz")), path
    assert Path(ROOT / "schemas" / "keel-emit-openapi.json").exists()
