"""``keel-verify`` as a user and a CI job see it: exit codes, output, one-line errors."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from keel_verify.schemas import REPORT_SCHEMA, load_schema
from tests.helpers import (
    OTHER_KEY,
    PUBLIC_V1,
    PUBLIC_V3,
    PUBLIC_V3_KEY,
    public_v3,
    resign,
    to_bytes,
)


def run(*args: str | Path, stdin: bytes | None = None, env: dict[str, str] | None = None
        ) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k != "KEEL_VERIFY_TRUST_ROOT"}
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "keel_verify", *map(str, args)],
        input=stdin.decode("utf-8", "surrogateescape") if stdin is not None else None,
        capture_output=True, text=True, env=environment, timeout=120, check=False,
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("keel-verify: error: "), result.stderr


@pytest.fixture(scope="module")
def forged(tmp_path_factory: pytest.TempPathFactory) -> Path:
    document = public_v3()
    document["session_metadata"]["status"] = "failed"
    path = tmp_path_factory.mktemp("forged") / "forged.json"
    path.write_bytes(to_bytes(resign(document, OTHER_KEY)))
    return path


def test_public_v3_without_flags_is_untrusted() -> None:
    result = run(PUBLIC_V3)
    assert result.returncode == 3
    assert result.stdout.startswith("UNTRUSTED")
    assert "self-attested" in result.stdout
    for name in ("artifact_schema", "issuer_signature", "chain_integrity",
                 "policy_snapshot_hash", "rfc3161_timestamp_receipt"):
        assert f"[PASS] {name}" in result.stdout


def test_self_attested_flag_exits_0_and_says_what_is_unproven() -> None:
    result = run("--self-attested", PUBLIC_V3)
    assert result.returncode == 0, result.stdout
    assert "VERIFIED (self-attested" in result.stdout


def test_pinned_sample_key_exits_0() -> None:
    assert run("--public-key", PUBLIC_V3_KEY, PUBLIC_V3).returncode == 0


def test_resigned_with_another_key_under_the_pinned_key_exits_1(forged: Path) -> None:
    result = run("--public-key", PUBLIC_V3_KEY, forged)
    assert result.returncode == 1
    assert "[FAIL] issuer_signature" in result.stdout


def test_combined_exit_codes(forged: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    assert run("--public-key", PUBLIC_V3_KEY, PUBLIC_V3, forged, broken).returncode == 1
    assert run("--public-key", PUBLIC_V3_KEY, PUBLIC_V3, broken).returncode == 2
    assert run(PUBLIC_V3, PUBLIC_V1).returncode == 3  # no trust source: both untrusted
    # v1 is signed by another key: under v3's pinned key it fails rather than merely untrusted
    assert run("--public-key", PUBLIC_V3_KEY, PUBLIC_V3, PUBLIC_V1).returncode == 1
    assert run("--self-attested", PUBLIC_V3, PUBLIC_V1).returncode == 0


def test_several_files_get_a_summary_in_input_order() -> None:
    result = run(PUBLIC_V3, PUBLIC_V1)
    summary = result.stdout.split("\n\nfile ")[-1]
    assert summary.index(PUBLIC_V3.name) < summary.index(PUBLIC_V1.name)


def test_json_report_matches_its_schema(forged: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_bytes(b'{"a": 1, "a": 2}')
    result = run("--json", "--public-key", PUBLIC_V3_KEY, PUBLIC_V3, forged, broken)
    document = json.loads(result.stdout)
    jsonschema.Draft202012Validator(load_schema(REPORT_SCHEMA)).validate(document)
    assert document["exit_code"] == result.returncode == 1
    verdicts = [f["verdict"] for f in document["files"]]
    assert verdicts == ["VERIFIED", "FAILED", "ERROR"]
    first = document["files"][0]
    assert first["input_sha256"] == "sha256:" + __import__("hashlib").sha256(
        PUBLIC_V3.read_bytes()).hexdigest()
    assert first["signature_content_hash"].endswith("0d954c5d")
    assert [c["name"] for c in first["checks"]][:5] == [
        "artifact_schema", "issuer_signature", "chain_integrity", "policy_snapshot_hash",
        "rfc3161_timestamp_receipt",
    ]
    failing = [c for c in document["files"][1]["checks"] if c["outcome"] == "fail"]
    assert failing and failing[0]["pointer"].startswith("/signatures")
    assert document["files"][2]["error"] == 'duplicate object key "a"'
    assert result.stderr.strip() == f'keel-verify: error: {broken}: duplicate object key "a"'


def test_strict_turns_warnings_into_failure(tmp_path: Path) -> None:
    document = public_v3()
    document["chain"][0]["occurred_at_ms"] = 1.5  # outside the JCS domain -> a warning
    path = tmp_path / "float.json"
    path.write_bytes(to_bytes(document))
    # (with the warning-producing checks registered, --strict must fail what plain passes)
    plain = run("--self-attested", "--json", path)
    warned = any(c["outcome"] == "warn" for c in json.loads(plain.stdout)["files"][0]["checks"])
    strict = run("--self-attested", "--strict", path)
    if warned:
        assert strict.returncode == 1
    else:
        assert strict.returncode == plain.returncode


def test_stdin_is_read_for_dash() -> None:
    result = run("--self-attested", "-", stdin=PUBLIC_V3.read_bytes())
    assert result.returncode == 0
    assert "VERIFIED" in result.stdout and "  -\n" in result.stdout.splitlines()[0] + "\n"


def test_directory_expands_to_sorted_json_files(tmp_path: Path) -> None:
    shutil.copy(PUBLIC_V3, tmp_path / "b.json")
    shutil.copy(PUBLIC_V1, tmp_path / "a.json")
    (tmp_path / "notes.txt").write_text("ignored")
    result = run("--self-attested", "--json", "--jobs", "2", tmp_path)
    paths = [Path(f["path"]).name for f in json.loads(result.stdout)["files"]]
    assert paths == ["a.json", "b.json"]
    assert result.returncode == 0


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\xff\xfe", "invalid UTF-8 at byte 0 (line 1, column 1)"),
        (b"{\n", "invalid JSON"),
        (b'{"a": ' + b"[" * 100_000, "nesting deeper than the limit"),
        (b"[" * 100_000, "top level is an array, not an object"),
        (b'{"verifier_compatibility": {}, "schema": "x"}', "unsupported schema"),
        (b'{"a": [1, NaN]}', "NaN is not a JSON number"),
    ],
)
def test_broken_input_is_one_line_exit_2(tmp_path: Path, data: bytes, message: str) -> None:
    path = tmp_path / "input.json"
    path.write_bytes(data)
    result = run(path)
    assert result.returncode == 2
    assert_one_line_error(result)
    assert message in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        (),
        ("--public-key", "ed25519:not-base64!", "x.json"),
        ("--public-key", "ed25519:AAAA", "x.json"),
        ("--jobs", "0", "x.json"),
        ("--no-such-flag", "x.json"),
    ],
)
def test_usage_errors_are_one_line_exit_2(args: tuple[str, ...]) -> None:
    result = run(*args)
    assert result.returncode == 2
    assert_one_line_error(result)


def test_missing_file_and_directory_inputs(tmp_path: Path) -> None:
    result = run(tmp_path / "nope.json")
    assert result.returncode == 2
    assert "no such file" in result.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    result = run(empty)
    assert result.returncode == 2
    assert_one_line_error(result)


def test_plain_output_has_no_escape_codes() -> None:
    result = run(PUBLIC_V3, env={"NO_COLOR": "1"})
    assert "\x1b[" not in result.stdout


def test_help_documents_verdicts_and_exit_codes() -> None:
    result = run("--help")
    assert result.returncode == 0
    for word in ("VERIFIED", "FAILED", "ERROR", "UNTRUSTED", "--self-attested", "--public-key"):
        assert word in result.stdout


def test_verification_changes_nothing_on_disk(tmp_path: Path, forged: Path) -> None:
    shutil.copy(PUBLIC_V3, tmp_path / "a.json")
    shutil.copy(forged, tmp_path / "b.json")
    before = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in tmp_path.rglob("*")}
    run("--json", tmp_path)
    run(tmp_path / "a.json")
    after = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in tmp_path.rglob("*")}
    assert before == after


SAMPLE_V3 = Path(__file__).parent.parent / "sample" / "voice_session_v3.json"
SAMPLE_TRUST_ROOT = Path(__file__).parent.parent / "sample" / "trust-root.json"


def test_trust_root_comes_from_the_environment_unless_the_option_is_given(tmp_path: Path) -> None:
    trusted = run(SAMPLE_V3, env={"KEEL_VERIFY_TRUST_ROOT": str(SAMPLE_TRUST_ROOT)})
    assert trusted.returncode == 0, trusted.stdout
    assert "trust root" in trusted.stdout
    assert run(SAMPLE_V3, env={"KEEL_VERIFY_TRUST_ROOT": ""}).returncode == 3
    missing = tmp_path / "nowhere.json"
    given = run("--trust-root", missing, SAMPLE_V3,
                env={"KEEL_VERIFY_TRUST_ROOT": str(SAMPLE_TRUST_ROOT)})
    assert given.returncode == 2  # the option wins, and its file does not exist
    assert_one_line_error(given)


def test_list_checks_names_every_check_with_what_it_establishes() -> None:
    from keel_verify.checks import ALL_CHECKS

    result = run("--list-checks")
    assert result.returncode == 0
    lines = [line for line in result.stdout.splitlines() if line and not line.startswith(" ")]
    assert [line.split()[0] for line in lines] == [check.name for check in ALL_CHECKS] + ["policy"]
    assert lines[0].split()[1] == "reference" and lines[-2].split()[1] == "keel-verify"
    assert lines[-1].split()[1] == "gate"  # the gate policy's own reason codes
