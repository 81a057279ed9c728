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

import pytest

from keel_verify.results import CheckResult, Outcome, names_pointer
from tests.helpers import public_v3, to_bytes

SAMPLE = Path(__file__).resolve().parent.parent / "sample"
SAMPLE_V3 = SAMPLE / "voice_session_v3.json"
SAMPLE_V1 = SAMPLE / "voice_session_v1.json"

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

    assert [counted(n, "CRL snapshot") for n in (1, 2)] == ["1 CRL snapshot", "2 CRL snapshots"]


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
