"""``keel-emit`` on the command line: demo, replay, keygen, trust-root, the samples, and
one clear stderr line (no traceback, no partial file) for every bad input."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from keel_verify import TrustPolicy, Verdict, verify_path
from keel_verify.emit import build_demo_artifact, dump_artifact
from keel_verify.emit.cli import main
from keel_verify.trust.trust_root import load_trust_root
from tests.test_emit_support import SAMPLE, assert_verified, schema_errors


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        main(argv)
        code = 0
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_one_line_error(code: int, err: str, words: str) -> None:
    assert code != 0
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("keel-emit: error: ") and words in lines[0], lines[0]
    assert "Traceback" not in err


def sample_trust() -> TrustPolicy:
    return load_trust_root(SAMPLE / "trust-root.json").apply(TrustPolicy())


@pytest.mark.parametrize("schema_version", ["3", "1"])
def test_demo_writes_a_verifying_artifact(tmp_path: Path, schema_version: str,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "a.json"
    code, _, err = run(["demo", "--schema-version", schema_version, "-o", str(out)], capsys)
    assert (code, err) == (0, "")
    assert out.read_bytes() == dump_artifact(build_demo_artifact(int(schema_version)))
    assert_verified(verify_path(out, sample_trust()), witnessed=True)
    again = tmp_path / "b.json"
    run(["demo", "--schema-version", schema_version, "-o", str(again)], capsys)
    assert again.read_bytes() == out.read_bytes()  # same seed, same bytes


def test_demo_without_tsa_and_with_padding(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "a.json"
    code, _, _ = run(["demo", "--no-tsa", "--events", "300", "--text", "¡Hola! 👋",
                      "--compact", "-o", str(out)], capsys)
    assert code == 0
    artifact = json.loads(out.read_bytes())
    assert artifact["tsa_status"] == "degraded_no_receipt"
    assert artifact["chain_head"]["event_count"] == 300
    assert "¡Hola! 👋".encode() not in out.read_bytes()  # v3: hash-only, text not embedded
    assert_verified(verify_path(out, sample_trust()), witnessed=False)


def test_scenario_replays_to_the_demo(tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    scenario, out = tmp_path / "scenario.json", tmp_path / "replayed.json"
    assert run(["scenario", "-o", str(scenario)], capsys)[0] == 0
    assert run(["replay", str(scenario), "-o", str(out)], capsys)[0] == 0
    assert out.read_bytes() == (SAMPLE / "voice_session_v3.json").read_bytes()


def test_samples_are_what_the_commands_in_sample_readme_write(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    readme = (SAMPLE / "README.md").read_text()
    commands = [line.strip() for line in readme.splitlines()
                if line.strip().startswith("keel-emit ")]
    assert len(commands) >= 4
    for command in commands:
        argv = command.split()[1:]
        target = argv[argv.index("-o") + 1]
        argv[argv.index("-o") + 1] = str(tmp_path / Path(target).name)
        assert run(argv, capsys)[0] == 0, command
        assert (tmp_path / Path(target).name).read_bytes() == (SAMPLE.parent / target
                                                               ).read_bytes(), command
    for name in ("voice_session_v3.json", "voice_session_v1.json"):
        artifact = json.loads((SAMPLE / name).read_bytes())
        assert schema_errors(artifact) == []
        report = verify_path(SAMPLE / name, sample_trust())
        assert_verified(report, witnessed=True)
        assert all(check.outcome.value == "pass" for check in report.checks), [
            (c.name, c.reason) for c in report.checks if c.outcome.value != "pass"]


def test_keygen_and_a_custom_issuer_key(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    key = tmp_path / "issuer.pem"
    code, out, _ = run(["keygen", "-o", str(key)], capsys)
    assert code == 0 and out.startswith("ed25519:")
    assert key.stat().st_mode & 0o077 == 0
    code, _, err = run(["keygen", "-o", str(key)], capsys)
    assert_one_line_error(code, err, "already exists")
    artifact, root = tmp_path / "a.json", tmp_path / "root.json"
    assert run(["demo", "--issuer-key", str(key), "-o", str(artifact)], capsys)[0] == 0
    assert run(["trust-root", "--issuer-key", str(key), "-o", str(root)], capsys)[0] == 0
    trust = load_trust_root(root).apply(TrustPolicy())
    assert_verified(verify_path(artifact, trust), witnessed=True)
    assert verify_path(artifact, sample_trust()).verdict is Verdict.FAILED  # not the TEST key
    assert json.loads(artifact.read_bytes())["signatures"][0]["public_key"] == out.strip()


def _bad_inputs(tmp_path: Path) -> list[tuple[list[str], str]]:
    not_json = tmp_path / "not.json"
    not_json.write_text("[{")
    bad_call = tmp_path / "bad_call.json"
    bad_call.write_text(json.dumps([{"call": "start", "body": {"project_id": "p"}}]))
    no_end = tmp_path / "no_end.json"
    no_end.write_text(json.dumps(build_scenario_without_end()))
    not_key = tmp_path / "not_a_key.pem"
    not_key.write_text("hello")
    old_db = tmp_path / "old.sqlite3"  # a database of an older keel-emit storage format
    with sqlite3.connect(old_db) as connection:
        connection.execute("CREATE TABLE sessions (session_id TEXT, state TEXT)")
    connection.close()
    out = str(tmp_path / "out.json")
    return [
        (["replay", str(tmp_path / "missing.json"), "-o", out], "no such file"),
        (["replay", str(not_json), "-o", out], "invalid JSON"),
        (["replay", str(bad_call), "-o", out], "scenario call 1"),
        (["replay", str(no_end), "-o", out], "no 'end' call"),
        (["demo", "--events", "3", "-o", out], "at least"),
        (["demo", "--tsa", "carrier-pigeon", "-o", out], "tsa"),
        (["demo", "--schema-version", "2", "-o", out], "schema-version"),
        (["demo", "--issuer-key", str(not_key), "-o", out], "PEM"),
        (["demo"], "output"),
        (["serve", "--port", "0"], "API key"),
        (["serve", "--port", "0", "--api-key", "   "], "printable ASCII"),
        (["serve", "--port", "0", "--api-key", "k", "--db", str(old_db)], "storage format"),
        (["frobnicate"], "frobnicate"),
        (["demo", "-o", str(tmp_path / "no" / "such" / "dir.json")], "cannot write"),
    ]


def build_scenario_without_end() -> list[dict[str, object]]:
    from keel_verify.emit import demo_scenario

    return demo_scenario()[:2]


def test_bad_inputs_one_line_no_partial_file(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KEEL_EMIT_API_KEY", raising=False)
    for argv, words in _bad_inputs(tmp_path):
        code, _, err = run(argv, capsys)
        assert_one_line_error(code, err, words)
        assert not (tmp_path / "out.json").exists(), argv
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "bad_call.json", "no_end.json", "not.json", "not_a_key.pem", "old.sqlite3"]


def test_console_script_reports_without_traceback(tmp_path: Path) -> None:
    scenario = tmp_path / "s.json"
    scenario.write_text(json.dumps([{"call": "events", "body": {}}]))
    result = subprocess.run(
        [sys.executable, "-m", "keel_verify.emit.cli", "replay", str(scenario), "-o",
         str(tmp_path / "o.json")], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 1
    assert result.stderr.strip() == ("keel-emit: error: scenario call 1: no session: start "
                                     "one first")
    assert not (tmp_path / "o.json").exists()


def test_no_arguments_prints_the_help_and_version_works(capsys: pytest.CaptureFixture[str]
                                                        ) -> None:
    code, out, err = run([], capsys)
    assert (code, err) == (0, "")
    assert out.startswith("Usage: keel-emit") and "serve" in out and len(out.splitlines()) > 5
    code, out, _ = run(["--version"], capsys)
    assert code == 0 and out.startswith("keel-emit, version ")
    result = subprocess.run([sys.executable, "-m", "keel_verify.emit.cli"], capture_output=True,
                            text=True, timeout=120, check=False)
    assert result.returncode == 0 and result.stdout.startswith("Usage: keel-emit")
    assert "error" not in result.stderr


def test_replay_schema_version_option_wins_over_the_start_body(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    scenario, out = tmp_path / "scenario.json", tmp_path / "v1.json"
    assert run(["scenario", "--schema-version", "3", "-o", str(scenario)], capsys)[0] == 0
    assert json.loads(scenario.read_text())[0]["body"]["schema_version"] == 3
    assert run(["replay", str(scenario), "--schema-version", "1", "-o", str(out)], capsys)[0] == 0
    artifact = json.loads(out.read_text())
    assert artifact["schema_version"] == 1 and "canonicalized_payload" in artifact["chain"][0]
    assert out.read_bytes() == (SAMPLE / "voice_session_v1.json").read_bytes()


@pytest.mark.loopback
def test_demo_with_a_tsa_url_is_verified(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    from keel_verify.emit import DEMO_TSA_SEED
    from keel_verify.emit.tsa_authority import TestTimestampAuthority
    from keel_verify.emit.tsa_http import serve_tsa

    out = tmp_path / "a.json"
    with serve_tsa(TestTimestampAuthority.from_seed(DEMO_TSA_SEED)) as tsa:  # real clock
        code, _, err = run(["demo", "--tsa", tsa.url, "-o", str(out)], capsys)
    assert (code, err) == (0, "")
    artifact = json.loads(out.read_text())
    assert artifact["timestamp_receipts"][0]["tsa"] == tsa.url
    assert_verified(verify_path(out, sample_trust()), witnessed=True)


def test_openapi_command_writes_the_shipped_document(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "openapi.json"
    assert run(["openapi", "-o", str(out)], capsys)[0] == 0
    assert out.read_bytes() == (SAMPLE.parent / "schemas" / "keel-emit-openapi.json").read_bytes()


def test_serve_without_db_keeps_sessions_in_a_file_in_the_working_directory(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "keel_verify.emit.cli", "serve", "--port", "0", "--api-key", "k"],
        cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        assert process.stderr is not None
        line = ""
        while "listening on" not in line:
            line = process.stderr.readline().decode("utf-8", "replace")
            assert line, "keel-emit serve ended before it listened"
    finally:
        process.terminate()
        process.wait(30)
        if process.stderr is not None:
            process.stderr.close()
    database = (tmp_path / "keel-emit.sqlite3").resolve()
    assert f"(db {database}: sessions survive restarts)" in line, line
    assert database.is_file()
