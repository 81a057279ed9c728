"""benchmarks/floor.py is a floor only if it really verifies: it must refuse what
keel-verify refuses among the faults it claims to check (a changed entry, a duplicate
key), and accept what keel-verify accepts (an escaped colon is valid JSON), in each of its
ways of reading."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from keel_verify import Verdict, verify_bytes
from keel_verify.trust import TrustPolicy

ROOT = Path(__file__).resolve().parent.parent
FLOOR = ROOT / "benchmarks" / "floor.py"
SAMPLE = (ROOT / "sample" / "voice_session_v3.json").read_bytes()
MODES = {"stream": [], "tree": ["--tree"], "stdlib": ["--parser", "json"]}


def _escaped_colon(data: bytes) -> bytes:
    # The same string, its ":" written as the JSON escape \u003a: same document, same bytes signed.
    return data.replace(b'"project:proj_keel_emit_demo"', b'"project\\u003aproj_keel_emit_demo"', 1)


def _duplicate_key(data: bytes) -> bytes:
    return data.replace(b'      "severity": "info",\n',
                        b'      "severity": "info",\n      "severity": "info",\n', 1)


def _tampered(data: bytes) -> bytes:
    return data.replace(b'"severity": "info"', b'"severity": "warn"', 1)


CASES: dict[str, tuple[Callable[[bytes], bytes], int]] = {
    "sample": (lambda data: data, 0),
    "tampered entry": (_tampered, 1),
    "duplicate key": (_duplicate_key, 1),
    "escaped colon": (_escaped_colon, 0),
    "escaped colon and duplicate key": (lambda data: _duplicate_key(_escaped_colon(data)), 1),
}


@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("case", list(CASES))
def test_the_floor_judges_as_the_verifier_does(case: str, mode: str, tmp_path: Path) -> None:
    make, expected = CASES[case]
    data = make(SAMPLE)
    assert data != SAMPLE or case == "sample"
    path = tmp_path / "artifact.json"
    path.write_bytes(data)
    floor = subprocess.run([sys.executable, str(FLOOR), str(path), *MODES[mode]],
                           capture_output=True, text=True, timeout=120)
    assert floor.returncode == expected, floor.stdout + floor.stderr
    # The verifier (self-attested: the floor checks no trust) agrees on good and bad.
    verdict = verify_bytes(data, TrustPolicy.self_attested_only()).verdict
    assert (verdict is Verdict.VERIFIED) == (expected == 0), verdict


@pytest.mark.parametrize("mode", list(MODES))
def test_the_floor_names_a_chain_entry_that_is_not_an_object(mode: str, tmp_path: Path) -> None:
    """Not a Python error: the floor measures artifacts, and refuses this one in words."""
    path = tmp_path / "zeros.json"
    path.write_bytes(SAMPLE.replace(b'"chain": [', b'"chain": [0, 0, ', 1))
    floor = subprocess.run([sys.executable, str(FLOOR), str(path), *MODES[mode]],
                           capture_output=True, text=True, timeout=120)
    assert floor.returncode == 1
    assert "chain[0]: not an object" in floor.stdout + floor.stderr
    assert "TypeError" not in floor.stdout + floor.stderr
