"""Reasons say what they mean once, in the artifact's own terms: a pointer is named once,
a JSON null/true/false is never shown as Python's None/True/False, counts agree in number."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from keel_verify.results import CheckResult, Outcome, names_pointer
from tests.helpers import public_v3, to_bytes

SAMPLE_V3 = Path(__file__).resolve().parent.parent / "sample" / "voice_session_v3.json"

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
