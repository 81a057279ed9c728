"""Reasons say what they mean once, in the artifact's own terms: a pointer is named once,
a JSON null/true/false is never shown as Python's None/True/False, counts agree in number."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
import token
import tokenize
from pathlib import Path
from typing import Any

import pytest

from keel_verify import load_trust_policy, verify_bytes
from keel_verify.results import MISSING, CheckResult, Outcome, member, names_pointer, shown
from tests.helpers import to_bytes

SAMPLE = Path(__file__).resolve().parent.parent / "sample"
SAMPLE_V3 = SAMPLE / "voice_session_v3.json"
SAMPLE_V1 = SAMPLE / "voice_session_v1.json"
TRUST = load_trust_policy(trust_roots=[SAMPLE / "trust-root.json"])

# -- the pointer is said once ----------------------------------------------------------


@pytest.mark.parametrize("output_format", ["text", "github", "junit"])
def test_the_schema_reason_names_its_pointer_once(tmp_path: Path, output_format: str) -> None:
    document = json.loads(SAMPLE_V3.read_bytes())
    document["chain"][3]["sequence"] = "x"
    artifact = tmp_path / "bad.json"
    artifact.write_bytes(to_bytes(document))
    result = subprocess.run(
        [sys.executable, "-m", "keel_verify", "--format", output_format, str(artifact)],
        capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 1
    assert ("at /chain/3/sequence: 'x' is not of type 'integer'" in result.stdout), result.stdout
    line = next(line for line in result.stdout.splitlines() if "does not match attestation" in line)
    if output_format == "junit":  # the message attribute, then the element's text
        line = line.split('">', 1)[1]
    assert line.count("/chain/3/sequence") == 1, line


@pytest.mark.parametrize(
    ("reason", "pointer", "where"),
    [("at /chain/3/sequence: 'x' is not of type 'integer'", "/chain/3/sequence", ""),
     ("chain entry 3 (/chain/3) is out of order", "/chain/3", ""),
     ("the token is not anchored", "/timestamp_receipts/0", " at /timestamp_receipts/0"),
     ("see /chain/3/occurred_at", "/chain/3", " at /chain/3"),
     ("see /chain/30", "/chain/3", " at /chain/3"),
     ("the whole artifact", "", "")],
)
def test_a_renderer_adds_the_pointer_only_when_the_reason_lacks_it(reason: str, pointer: str,
                                                                   where: str) -> None:
    check = CheckResult("c", Outcome.FAIL, reason, pointer)
    assert check.where == where
    if pointer:
        assert names_pointer(reason, pointer) is (where == "")


# -- counts agree in number ------------------------------------------------------------


def test_timeline_bars_count_events_in_the_right_number() -> None:
    from keel_verify.facts.model import LaneBins, Timeline
    from keel_verify.report.timeline import build_picture

    bins = LaneBins("audio_in", 1_000.0, 1_002.0, (1, 0, 2), 3)
    picture = build_picture(Timeline(1_000.0, 1_002.0, (), (bins,), ("audio_in",)))
    assert [bar.title for bar in picture.bars] == ["1 audio in event", "2 audio in events"]


def test_the_report_index_counts_files_in_the_right_number(tmp_path: Path) -> None:
    from keel_verify.cli import main

    for files, heading in (([SAMPLE_V3], "1 file checked"), ([SAMPLE_V3, SAMPLE_V1], "2 files checked")):
        out = tmp_path / str(len(files))
        with pytest.raises(SystemExit):
            main(["--report-dir", str(out), "--jobs", "1", *map(str, files)])
        assert heading + " by keel-verify" in (out / "index.html").read_text(encoding="utf-8")


def test_the_tsa_bundle_note_counts_in_the_right_number() -> None:
    from keel_verify.results import counted
    from keel_verify.trust.named import KEEL_PRODUCTION, named_source_files
    from keel_verify.trust.trust_root import load_trust_root

    assert [counted(n, "CRL snapshot") for n in (1, 2)] == ["1 CRL snapshot", "2 CRL snapshots"]
    # The note itself, on the shipped bundle (2 roots, 4 intermediates, 6 CRL snapshots).
    _, bundle = named_source_files(KEEL_PRODUCTION)
    (note,) = load_trust_root(bundle).notes
    assert ": 2 roots, 4 intermediates, 6 CRL snapshots (sha256 of every file checked)" in note


# "http(s)" names a URL scheme, not a plural.
_PLURAL_HEDGE = re.compile(r"[A-Za-z](?<!http)\((?:s|es|ies)\)")


def _texts(path: Path) -> list[str]:
    """A module's string literals (literal parts of f-strings included); a template whole."""
    source = path.read_text(encoding="utf-8")
    if path.suffix != ".py":
        return source.splitlines()
    kinds = {token.STRING, getattr(token, "FSTRING_MIDDLE", token.STRING)}
    return [t.string for t in tokenize.generate_tokens(io.StringIO(source).readline) if t.type in kinds]


def test_no_user_facing_text_hedges_a_plural_with_parentheses() -> None:
    package = Path(__file__).resolve().parent.parent / "keel_verify"
    found = [f"{path.relative_to(package)}: {text}"
             for path in sorted(package.rglob("*")) if path.suffix in (".py", ".j2", ".html")
             for text in _texts(path) if _PLURAL_HEDGE.search(text)]
    assert found == []


# -- JSON values in JSON's terms -------------------------------------------------------

_PYTHON_LITERAL = re.compile(r"\b(None|True|False)\b")
#: Objects whose members are each removed, set to null, true or false in turn.
_HOLDERS = ("", "chain/1", "chain/2", "chain_head", "project_chain_head", "timestamp_receipts/0",
            "rfc3161_timestamp_receipt", "permits/parent_session_permit",
            "permits/child_tool_call_permits/0", "session_metadata",
            "session_metadata/session_counters", "signatures/0")


def _at(document: Any, path: str) -> Any:
    for step in filter(None, path.split("/")):
        document = document[int(step)] if step.isdigit() else document[step]
    return document


def _reasons(document: Any) -> list[str]:
    report = verify_bytes(to_bytes(document), TRUST)
    return [check.reason for check in report.checks] + [report.error or ""]


@pytest.mark.parametrize("holder", _HOLDERS)
def test_no_reason_shows_python_literals_for_json_values(holder: str) -> None:
    original = json.loads(SAMPLE_V3.read_bytes())
    found = []
    for key in _at(original, holder):
        for value in ("missing", None, True, False):
            document = json.loads(SAMPLE_V3.read_bytes())
            if value == "missing":
                del _at(document, holder)[key]
            else:
                _at(document, holder)[key] = value
            found += [f"{holder}/{key}={value}: {reason}" for reason in _reasons(document)
                      if _PYTHON_LITERAL.search(reason)]
    assert found == []


@pytest.mark.parametrize(
    ("path", "value", "check", "words"),
    [("chain/1/payload_materialization", None, "payload_hashes",
      'chain entry 1 payload_materialization is null, expected "hash_only"'),
     ("chain/1/payload_materialization", "missing", "payload_hashes",
      'chain entry 1 payload_materialization is missing, expected "hash_only"'),
     ("chain/1/previous_content_hash", None, "chain_integrity", ", found null"),
     ("chain/1/previous_content_hash", "missing", "chain_integrity", ", found missing"),
     ("chain/3/sequence", None, "artifact_schema",
      "at /chain/3/sequence: null is not of type 'integer'"),
     ("chain/3/sequence", None, "session_binding", "chain entry 3 sequence is null, not an integer"),
     ("chain/3/sequence", True, "session_binding",
      "chain entry 3 sequence is a boolean (true), not an integer"),
     ("session_metadata/session_counters/turn_count", False, "session_counters",
      "session_counters.turn_count is false (not an integer)"),
     ("signatures/0/algorithm", "missing", "issuer_signature", "algorithm is missing"),
     ("signatures/0/algorithm", None, "issuer_signature", "unsupported algorithm null")],
)
def test_null_true_false_and_missing_are_said_in_json_terms(path: str, value: Any, check: str,
                                                           words: str) -> None:
    document = json.loads(SAMPLE_V3.read_bytes())
    *holder, key = path.split("/")
    if value == "missing":
        del _at(document, "/".join(holder))[key]
    else:
        _at(document, "/".join(holder))[key] = value
    assert words in verify_bytes(to_bytes(document), TRUST).check(check).reason


@pytest.mark.parametrize(
    ("value", "text"),
    [(None, "null"), (True, "true"), (False, "false"), (MISSING, "missing"), (7, "7"),
     ("x", "'x'"), ([None, True], "[null,true]"), ({"a": False}, '{"a":false}'), (1.5, "1.5")],
)
def test_shown_says_a_json_value_in_json_terms(value: Any, text: str) -> None:
    assert shown(value) == text
    assert member({"k": value}, "k") is value and member({}, "k") is MISSING
