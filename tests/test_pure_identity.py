"""The pure fallbacks give the same results: ``keel-verify --json`` prints the same
report, the same stderr and the same exit code with ``KEEL_VERIFY_PURE=1`` (stdlib JSON,
the jsonschema library) as with msgspec and jsonschema-rs, for every shape the fast
paths treat apart, one file at a time and as a batch with worker processes."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests import hostile_inputs as hostile
from tests.helpers import PUBLIC_V3, public_v3
from tests.test_cli import run

SAMPLE = Path(__file__).resolve().parents[1] / "sample"
TRUST_ROOT = SAMPLE / "trust-root.json"


def _tampered() -> bytes:
    return PUBLIC_V3.read_bytes().replace(b'"severity": "info"', b'"severity": "warn"', 1)


def _float_member() -> bytes:
    document = public_v3()
    document["session_metadata"]["latency_s"] = 0.25
    return hostile.encode(document)


INPUTS: dict[str, Callable[[], bytes]] = {
    "v3 sample": lambda: (SAMPLE / "voice_session_v3.json").read_bytes(),
    "v1 sample": lambda: (SAMPLE / "voice_session_v1.json").read_bytes(),
    "tampered entry": _tampered,
    "float in a member": _float_member,
    "float in every chunk": lambda: hostile.float_in_every_chunk(1_200),
    "1,200 distinct floats": lambda: hostile.float_entries(1_200, distinct=True),
    "floats not in their profile text": lambda: hostile.tiny_chain_entries(
        1_200, (b"1.50", b"1E5", b"0.00001", b"0.5")),
    "3,000 mixed tiny entries": lambda: hostile.tiny_chain_entries(3_000, hostile.MIXED_TINY),
    "2,000 extra members": lambda: hostile.many_members(2_000),
    "entries 60 arrays deep": lambda: hostile.deep_entries(600, 60, distinct=True),
    "20 junk signatures": lambda: hostile.many_signatures_of(public_v3(), 20),
    # Dense chains (over 1 MiB, under 16 bytes a comma): read window by window.
    "120,000 two-member objects": lambda: hostile.two_member_objects(120_000),
    "300,000 distinct integers": lambda: hostile.distinct_integer_entries(300_000),
    "duplicate key": lambda: PUBLIC_V3.read_bytes().replace(
        b'"severity": "info",', b'"severity": "info", "severity": "info",', 1),
}


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("pure-identity")
    paths = {}
    for index, (name, make) in enumerate(INPUTS.items()):
        paths[name] = folder / f"{index:02d}.json"
        paths[name].write_bytes(make())
    return paths


def _both(*args: str | Path) -> tuple[tuple[int, str, str], tuple[int, str, str]]:
    fast = run(*args)
    pure = run(*args, env={"KEEL_VERIFY_PURE": "1"})
    return ((fast.returncode, fast.stdout, fast.stderr),
            (pure.returncode, pure.stdout, pure.stderr))


@pytest.mark.parametrize("name", list(INPUTS))
def test_one_file_reads_the_same_with_the_pure_fallbacks(name: str, files: dict[str, Path]) -> None:
    fast, pure = _both("--json", "--trust-root", TRUST_ROOT, files[name])
    assert fast == pure
    assert fast[0] in (0, 1, 2) and json.loads(fast[1])["files"]


# One chain entry, an object of 5,000 members of floats and other values.
WIDE_FLOAT_ENTRIES = hostile.WIDE_FLOAT_VALUES


@pytest.mark.parametrize("kind", list(WIDE_FLOAT_ENTRIES))
@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
def test_a_wide_float_entry_reads_the_same_with_the_pure_fallbacks(
        kind: str, as_json: bool, tmp_path: Path) -> None:
    path = tmp_path / "wide.json"
    path.write_bytes(hostile.wide_entry_of(5_000, WIDE_FLOAT_ENTRIES[kind]))
    fast, pure = _both(*(["--json"] if as_json else []), "--trust-root", TRUST_ROOT, path)
    assert fast == pure
    assert fast[0] == 1 and "/chain/0/m0" in fast[1]  # a float's place named in both forms


def test_a_batch_reads_the_same_with_the_pure_fallbacks(files: dict[str, Path]) -> None:
    folder = next(iter(files.values())).parent
    fast, pure = _both("--jobs", "2", "--format", "jsonl", "--trust-root", TRUST_ROOT, folder)
    assert fast == pure
    assert len(fast[1].splitlines()) >= len(INPUTS)
