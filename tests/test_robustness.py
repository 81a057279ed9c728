"""Hostile input never crashes, hangs or writes (docs/format.md §9.5): every input ends in a Report.

Whatever the bytes, ``verify_bytes`` returns a :class:`Report` whose verdict is ERROR (with
a one-line, printable ``error`` and no checks) or FAILED / UNTRUSTED / VERIFIED (with every
registered check's result, each with a printable one-line reason and no "internal error").

The loader limits these tests rely on (``keel_verify/loader.py``, README "Input limits"):

* ``MAX_INPUT_BYTES`` (4 GiB): ``read_input`` reads at most one byte more and rejects;
  input only the exact reading path can judge is refused above ``MAX_EXACT_PATH_BYTES``
  (512 MiB): that path holds the whole document as Python objects;
* ``MAX_DEPTH`` (128): containers nested deeper are rejected -- both by the depth walk
  after parsing and, for nesting beyond the interpreter's recursion limit (the C parser
  recurses), by turning ``RecursionError`` into the same message. Every check can
  therefore recurse (canonical bytes, JSON Schema, equality) without exhausting the stack;
* integers over 4,300 digits (CPython's ``int_max_str_digits``) and floats that overflow a
  double are rejected, so every number a check sees is exact or finite.

Sizes below stay modest so that the suite runs in seconds; the limits above are what make
larger inputs safe, and ``fuzz/fuzz_verify.py`` explores further outside CI.
"""

from __future__ import annotations

import base64
import copy
import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from keel_verify import Outcome, Report, TrustPolicy, Verdict, verify_bytes, verify_path
from keel_verify.checks import ALL_CHECKS
from keel_verify.checks.entry_problems import MAX_ENTRY_PROBLEMS
from keel_verify.errors import LoadError
from keel_verify.load.loader import MAX_DEPTH, MAX_INPUT_BYTES, SUPPORTED_VERSIONS, parse_json
from tests import hostile_inputs
from tests.helpers import (
    PUBLIC_V1,
    PUBLIC_V3,
    TEST_ISSUER_PUBLIC,
    count_strict_parses,
    json_paths,
    public_v1,
    public_v3,
    resign,
    to_bytes,
)

TRUST = TrustPolicy.pinned(TEST_ISSUER_PUBLIC)
POLICIES = (TrustPolicy(), TrustPolicy.self_attested_only(), TRUST)
CHECK_NAMES = [check.name for check in ALL_CHECKS]
SIGNED_AT = "2026-05-21T14:35:00Z"
MAX_REASON = 2000  # no reason is a screenful: untrusted text is quoted and truncated
SAMPLES = {"v1": public_v1(), "v3": public_v3()}

# Generating whole artifacts is slow by hypothesis' standards; that is not a failure.
ROBUST = settings(
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                           HealthCheck.large_base_example],
)


def assert_sound(report: Report) -> Report:
    """The invariant every input must satisfy, whatever it is."""
    assert isinstance(report, Report)
    assert report.verdict in set(Verdict)
    assert report.exit_code == report.verdict.exit_code
    if report.verdict is Verdict.ERROR:
        assert report.error, report
        assert report.error.isprintable() and "\n" not in report.error, report.error
        assert len(report.error) < MAX_REASON
        assert report.checks == ()
        return report
    assert report.error is None
    assert [result.name for result in report.checks] == CHECK_NAMES
    for result in report.checks:
        assert result.outcome in set(Outcome)
        assert result.reason, result
        assert result.reason.isprintable(), result.reason[:300]
        assert len(result.reason) < MAX_REASON, result.reason[:300]
        assert "internal error" not in result.reason, result
        assert isinstance(result.pointer, str)
    if any(result.outcome is Outcome.FAIL for result in report.checks):
        assert report.verdict is Verdict.FAILED
    return report


def verify_all(data: bytes) -> list[Report]:
    return [assert_sound(verify_bytes(data, policy)) for policy in POLICIES]


# --- strategies -------------------------------------------------------------------------

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(10**400), max_value=10**400)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
    | st.sampled_from(["sha256:" + "0" * 64, "2026-05-21T14:33:12Z", "", "project:", "\u2028"])
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                  max_size=4),
    max_leaves=25,
)
json_texts = st.builds(
    lambda value, ascii_only, indent: json.dumps(value, ensure_ascii=ascii_only, indent=indent),
    json_values,
    st.booleans(),
    st.sampled_from([None, 1]),
)




SAMPLE_PATHS = {name: json_paths(document)[1:] for name, document in SAMPLES.items()}


@st.composite
def mutated_samples(draw: st.DrawFn) -> tuple[str, dict[str, Any], tuple[Any, ...]]:
    """A public sample with one member replaced, deleted, or a member added beside it."""
    name = draw(st.sampled_from(sorted(SAMPLES)))
    document = copy.deepcopy(SAMPLES[name])
    path = draw(st.sampled_from(SAMPLE_PATHS[name]))
    parent: Any = document
    for token in path[:-1]:
        parent = parent[token]
    operation = draw(st.sampled_from(["replace", "delete", "add", "retype"]))
    if operation == "replace":
        parent[path[-1]] = draw(json_values)
    elif operation == "delete":
        del parent[path[-1]]
    elif operation == "retype":
        current = parent[path[-1]]
        parent[path[-1]] = (
            str(current) if not isinstance(current, str) else draw(st.integers() | st.none())
        )
    elif isinstance(parent, dict):
        parent[draw(st.text(max_size=12))] = draw(json_values)
    else:
        parent.insert(path[-1], draw(json_values))
    return name, document, path


# --- properties -------------------------------------------------------------------------


@ROBUST
@given(st.binary(max_size=2048))
def test_arbitrary_bytes_end_in_a_report(data: bytes) -> None:
    for report in verify_all(data):
        assert report.verdict is Verdict.ERROR  # random bytes are never an attestation


@ROBUST
@given(json_texts)
def test_arbitrary_json_ends_in_a_report(text: str) -> None:
    verify_all(text.encode("utf-8"))


@ROBUST
@given(st.binary(max_size=4096))
def test_the_loader_raises_only_load_errors(data: bytes) -> None:
    try:
        parse_json(data)
    except LoadError as error:
        assert "\n" not in str(error)


@ROBUST
@given(
    st.sampled_from(sorted(SUPPORTED_VERSIONS)),
    st.dictionaries(st.sampled_from(sorted(SAMPLES["v1"])), json_values, max_size=12),
    st.booleans(),
)
def test_attestation_shaped_garbage_is_judged_not_crashed(
    version: int, members: dict[str, Any], signed: bool
) -> None:
    document = {
        **members,
        "verifier_compatibility": {"format_version": "1.0", "atoms_layer": False},
        "schema": "keel.voice.attestation.phase_a",
        "schema_version": version,
        "canonicalization_profile": "keel.canonical_json.attestation_artifact.v1",
    }
    data = to_bytes(resign(document, signed_at=SIGNED_AT) if signed else document)
    for report in verify_all(data):
        assert report.verdict is not Verdict.ERROR
        assert report.verdict is not Verdict.VERIFIED or signed


@ROBUST
@given(mutated_samples(), st.booleans())
def test_a_sample_with_any_subtree_replaced_ends_in_a_report(
    mutation: tuple[str, dict[str, Any], tuple[Any, ...]], signed: bool
) -> None:
    name, document, path = mutation
    data = to_bytes(resign(document, signed_at=SIGNED_AT) if signed else document)
    reports = verify_all(data)
    original = SAMPLES[name]
    changed_outside_signatures = (
        {k: v for k, v in document.items() if k != "signatures"}
        != {k: v for k, v in original.items() if k != "signatures"}
    )
    if changed_outside_signatures and not signed:
        # The samples' own embedded keys signed the originals: any change breaks that.
        assert all(report.verdict is not Verdict.VERIFIED for report in reports), path


@ROBUST
@given(
    st.sampled_from(sorted(SAMPLES)),
    st.lists(st.tuples(st.integers(min_value=0), st.binary(max_size=3), st.integers(0, 3)),
             min_size=1, max_size=4),
)
def test_byte_level_damage_to_a_sample_ends_in_a_report(
    name: str, edits: list[tuple[int, bytes, int]]
) -> None:
    data = bytearray((PUBLIC_V1 if name == "v1" else PUBLIC_V3).read_bytes())
    for position, insert, remove in edits:
        at = position % (len(data) + 1)
        data[at : at + remove] = insert
    verify_all(bytes(data))


NUMBERS = st.from_regex(
    r"-?(0|[1-9][0-9]{0,5000})(\.[0-9]{1,400})?([eE][+-]?[0-9]{1,6})?", fullmatch=True
)


@ROBUST
@given(st.sampled_from(sorted(SAMPLES)), st.sampled_from([b"101", b"102", b"103", b"2"]), NUMBERS)
def test_any_number_in_a_count_or_sequence_ends_in_a_report(
    name: str, target: bytes, number: str
) -> None:
    data = (PUBLIC_V1 if name == "v1" else PUBLIC_V3).read_bytes()
    needle = b": " + target + b","
    assume(needle in data)
    verify_all(data.replace(needle, b": " + number.encode("ascii") + b",", 1))


# --- explicit extremes ------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        b'{"a":' + b"[" * 100_000,
        b'{"a":' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
        b'{"verifier_compatibility": {}, "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        b'{"verifier_compatibility": {}, "x": ' + b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1)
        + b"}",
    ],
    ids=["open-brackets", "balanced-brackets", "nested-objects", "deep-member", "one-too-deep"],
)
def test_deep_nesting_is_rejected_with_one_line(data: bytes) -> None:
    for report in verify_all(data):
        assert report.verdict is Verdict.ERROR
        assert report.error is not None
        assert "nesting deeper than the limit of 128" in report.error


def _nested(depth: int) -> Any:
    value: Any = 0
    for _ in range(depth):
        value = [value]
    return value


def test_nesting_up_to_the_limit_is_verified_in_full() -> None:
    # top-level object (1) > session_metadata (2) > the nested arrays (3 ...)
    document = public_v3()
    document["session_metadata"]["deep"] = _nested(MAX_DEPTH - 2)
    report = assert_sound(verify_bytes(to_bytes(resign(document)), TRUST))
    assert report.verdict is not Verdict.ERROR
    assert not any(r.outcome is Outcome.FAIL for r in report.checks
                   if r.name not in ("timestamp_witness", "time_consistency"))
    document["session_metadata"]["deep"] = _nested(MAX_DEPTH - 1)
    report = assert_sound(verify_bytes(to_bytes(resign(document)), TRUST))
    assert report.verdict is Verdict.ERROR


@pytest.mark.parametrize(
    ("number", "fragment"),
    [
        (b"1" + b"0" * 5000, "invalid JSON number"),
        (b"-" + b"9" * 4301, "invalid JSON number"),
        (b"1e400", "overflows a double"),
        (b"-1e400", "overflows a double"),
        (b"1" + b"0" * 400 + b".0", "overflows a double"),
    ],
)
def test_huge_numbers_are_rejected(number: bytes, fragment: str) -> None:
    data = PUBLIC_V3.read_bytes().replace(b'"event_count": 2', b'"event_count": ' + number, 1)
    assert data != PUBLIC_V3.read_bytes()
    for report in verify_all(data):
        assert report.verdict is Verdict.ERROR and fragment in (report.error or "")


@pytest.mark.parametrize(
    "number",
    [b"1e-400", b"4" + b"0" * 4299, b"1.5", b"2.0", b"true", b'"2"'],
    ids=["underflow", "4300-digits", "fraction", "float-2", "boolean", "string"],
)
def test_representable_odd_numbers_fail_the_count_not_the_run(number: bytes) -> None:
    data = PUBLIC_V3.read_bytes().replace(b'"event_count": 2', b'"event_count": ' + number, 1)
    for report in verify_all(data):
        assert report.verdict is Verdict.FAILED
        assert report.check("chain_integrity").pointer == "/chain_head/event_count"
        session = report.check("session_binding")
        if number.isdigit():  # a huge integer is an integer, just not the count
            assert session.outcome is Outcome.PASS
            assert report.check("canonical_portability").outcome is Outcome.WARN
        else:
            assert session.outcome is Outcome.FAIL
            assert session.pointer == "/chain_head/event_count"


def test_huge_strings_are_verified_and_never_echoed() -> None:
    document = public_v3()
    huge = "\u2028x" * 4_000_000  # 12 MB of UTF-8, with line separators
    document["session_metadata"]["note"] = huge
    document["session_metadata"]["session_id"] = huge
    report = assert_sound(verify_bytes(to_bytes(resign(document)), TRUST))
    assert report.check("session_binding").outcome is Outcome.FAIL
    assert report.check("permit_linkage").outcome is Outcome.FAIL


def test_huge_arrays_are_verified() -> None:
    document = public_v1()
    document["session_metadata"]["samples"] = [0.25] * 300_000
    document["chain"].extend([None] * 50_000)
    document["timestamp_receipts"].extend([document["timestamp_receipts"][0]] * 2_000)
    document["permits"]["child_tool_call_permits"].extend([{}] * 2_000)
    report = assert_sound(verify_bytes(to_bytes(resign(document)), TRUST))
    assert report.verdict is Verdict.FAILED
    portability = report.check("canonical_portability")
    assert portability.outcome is Outcome.WARN
    assert portability.details["warning_count"] == 300_000
    assert len(portability.details["warnings"]) == 50
    chain = report.check("chain_integrity").details
    # 50,000 bad entries: counted until enough are found, and said to be a lower bound
    assert chain["problem_count"] >= MAX_ENTRY_PROBLEMS and chain["problem_count_is_lower_bound"]
    assert chain["entries_examined"] < 50_000


def test_the_byte_limit_is_enforced_before_parsing(tmp_path: Path) -> None:
    assert MAX_INPUT_BYTES == 4 * 1024**3
    path = tmp_path / "artifact.json"
    shutil.copyfile(PUBLIC_V3, path)
    size = path.stat().st_size
    report = assert_sound(verify_path(path, max_bytes=size - 1))
    assert report.verdict is Verdict.ERROR and "larger than the limit" in (report.error or "")
    assert assert_sound(verify_path(path, max_bytes=size)).verdict is Verdict.UNTRUSTED


def test_the_exact_path_has_its_own_lower_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    from keel_verify.load import accel, loader
    from keel_verify.load.loader import MAX_EXACT_PATH_BYTES

    assert MAX_EXACT_PATH_BYTES == 512 * 1024**2
    data = PUBLIC_V3.read_bytes()
    document = json.loads(data)
    document["chain"][0]["latency"] = 0.5  # a float: only the exact reading judges it
    with_float = json.dumps(document).encode()
    monkeypatch.setattr(loader, "MAX_EXACT_PATH_BYTES", len(with_float) - 1)
    # The fast path reads larger input in bounded memory: the lower limit does not apply,
    # nor to a float, which the fast path reads exactly in the chunk that holds it.
    # (Under KEEL_VERIFY_PURE every input takes the exact path, so the limit applies.)
    assert len(data) > len(with_float)
    fast = accel.fast_json_available()
    for each in (data, with_float):
        report = assert_sound(verify_bytes(each, TRUST))
        assert (report.verdict is not Verdict.ERROR) if fast else (
            "only the exact reading path" in (report.error or ""))
    report = assert_sound(verify_bytes(with_float, TRUST, exact=True))
    assert report.verdict is Verdict.ERROR and "only the exact reading path" in (report.error or "")


def _with_escaped_colon(data: bytes) -> bytes:
    document = json.loads(data)
    document["session_metadata"] = {**document.get("session_metadata", {}), "note": "a:b"}
    return json.dumps(document).replace("a:b", "a\\u003ab").encode()


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(_with_escaped_colon, id="escaped colon"),
        pytest.param(lambda data: b"\xef\xbb\xbf" + data, id="byte order mark"),
        pytest.param(lambda data: data.replace(b"{", b'{"dup": 1, "dup": 2, ', 1), id="duplicate key"),
        pytest.param(lambda data: data, id="KEEL_VERIFY_PURE"),
    ],
)
def test_every_way_onto_the_exact_path_is_bounded_by_its_limit(
    monkeypatch: pytest.MonkeyPatch, make: Any, request: pytest.FixtureRequest
) -> None:
    # The exact path holds the whole document as Python objects: whatever sends an input
    # there (refused up front by the fast reader, found during the chain pass, or asked
    # for), an input above its limit is refused in one line before it is parsed.
    from keel_verify.load import loader

    if request.node.callspec.id == "KEEL_VERIFY_PURE":
        monkeypatch.setenv("KEEL_VERIFY_PURE", "1")
    data = make(PUBLIC_V3.read_bytes())
    parsed = count_strict_parses(monkeypatch)  # sizes of what the strict parser was handed
    assert_sound(verify_bytes(data, TRUST))
    assert len(data) in parsed  # this input does take the exact path
    monkeypatch.setattr(loader, "MAX_EXACT_PATH_BYTES", len(data) - 1)
    parsed.clear()
    report = assert_sound(verify_bytes(data, TRUST))
    assert report.verdict is Verdict.ERROR, report.verdict
    assert "only the exact reading path" in (report.error or "")
    assert len(data) not in parsed  # refused before the whole input was parsed


@pytest.mark.parametrize("name", ["missing", "directory"])
def test_unreadable_paths_end_in_a_report(tmp_path: Path, name: str) -> None:
    target = tmp_path / name
    if name == "directory":
        target.mkdir()
    report = assert_sound(verify_path(target))
    assert report.verdict is Verdict.ERROR


# --- artifact text never reaches a report raw -------------------------------------------


FUZZ_CORPUS = Path(__file__).resolve().parent.parent / "fuzz" / "corpus"
FUZZ_SEEDS = sorted(p for p in FUZZ_CORPUS.iterdir() if p.suffix == ".json")


@pytest.mark.parametrize("seed", FUZZ_SEEDS, ids=[p.name for p in FUZZ_SEEDS])
def test_every_fuzz_seed_keeps_the_invariant(seed: Path) -> None:
    # The fuzz target starts from these; each must already keep the invariant, and each
    # damaged seed must fail. The good samples, and many_signatures.json (a good sample
    # with junk signature entries, which never fail it), are judged on their merits.
    reports = verify_all(seed.read_bytes())
    if not seed.name.startswith(("public_", "emitted_", "many_signatures")):
        assert all(report.verdict is Verdict.FAILED for report in reports), seed.name


def test_the_fuzz_corpus_reaches_the_full_size_long_oid_case() -> None:
    # -max_len=400000 in the fuzz command: the full-size long-OID seed must fit under it.
    seed = FUZZ_CORPUS / "long_oid_100k.json"
    assert seed.read_bytes() == hostile_inputs.long_oid_token(100_000)
    assert seed.stat().st_size < 400_000


def test_token_bytes_quoted_by_a_parser_error_are_escaped() -> None:
    # Found by fuzz/fuzz_verify.py: asn1crypto quotes the bad GeneralizedTime bytes, and
    # those are the artifact's. Here they carry a terminal escape sequence.
    document = public_v3()
    der = base64.b64decode(document["timestamp_receipts"][0]["tsa_response_base64"])
    hostile = der.replace(b"20260415120001Z", b"2026041512\x1b[31m")
    assert hostile != der
    for receipt in (document["timestamp_receipts"][0], document["rfc3161_timestamp_receipt"]):
        receipt["tsa_response_base64"] = base64.b64encode(hostile).decode("ascii")
    for report in verify_all(to_bytes(resign(document, signed_at=SIGNED_AT))):
        reason = report.check("rfc3161_timestamp_receipt").reason
        assert "\x1b" not in reason and "\\x1b[31m" in reason


def test_a_hostile_key_id_is_quoted_in_the_signature_reason() -> None:
    document = resign(public_v3(), key_id="k\n  [PASS] chain_integrity  all good\x1b[2J")
    report = assert_sound(verify_bytes(to_bytes(document), TRUST))
    reason = report.check("issuer_signature").reason
    assert report.check("issuer_signature").outcome is Outcome.PASS
    assert "\n" not in reason and "\\n  [PASS]" in reason


# --- verification writes nothing --------------------------------------------------------


def _snapshot(root: Path) -> dict[str, tuple[int, int, bytes]]:
    state: dict[str, tuple[int, int, bytes]] = {}
    for directory, subdirectories, files in os.walk(root):
        for entry in [*subdirectories, *files]:
            path = Path(directory, entry)
            stat = path.lstat()
            content = path.read_bytes() if path.is_file() else b""
            state[str(path.relative_to(root))] = (stat.st_mtime_ns, stat.st_size, content)
    return state


def test_verification_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for sample in (PUBLIC_V1, PUBLIC_V3):
        shutil.copy2(sample, tmp_path / sample.name)
    (tmp_path / "tampered.json").write_bytes(b'{"verifier_compatibility": {}, "x": [')
    monkeypatch.chdir(tmp_path)  # relative paths too: nothing lands in the working directory
    before = _snapshot(tmp_path)
    directory_mtime = tmp_path.stat().st_mtime_ns
    for name in sorted(before):
        for policy in POLICIES:
            assert_sound(verify_path(name, policy))
            assert_sound(verify_path(tmp_path / name, policy))
    assert _snapshot(tmp_path) == before
    assert tmp_path.stat().st_mtime_ns == directory_mtime


# --- the command line: any bytes, any file name, any output encoding ---------------------

CLI_ENCODINGS = ("utf-8", "latin-1", "ascii")
SAMPLE_BYTES = (PUBLIC_V1.read_bytes(), PUBLIC_V3.read_bytes())


@st.composite
def cli_inputs(draw: st.DrawFn) -> bytes:
    """Raw bytes, a JSON text, a mutated sample, or a sample with a span of bytes replaced."""
    kind = draw(st.sampled_from(["bytes", "json", "mutated", "spliced"]))
    if kind == "bytes":
        return draw(st.binary(max_size=512))
    if kind == "json":
        return draw(json_texts).encode("utf-8")
    if kind == "mutated":
        return to_bytes(draw(mutated_samples())[1])
    data = draw(st.sampled_from(SAMPLE_BYTES))
    start = draw(st.integers(0, len(data) - 1))
    end = draw(st.integers(start, min(len(data), start + 64)))
    return data[:start] + draw(st.binary(max_size=16)) + data[end:]


file_names = st.binary(min_size=1, max_size=80).filter(
    lambda name: b"/" not in name and b"\0" not in name and name not in (b".", b".."))


def run_cli_in_process(args: list[str | bytes], encoding: str) -> tuple[int, bytes, bytes]:
    """``keel-verify`` in this process, stdout and stderr strict text streams in
    ``encoding``: the exit code and the bytes written. Any exception but SystemExit
    escapes (a traceback)."""
    import io
    import sys
    from unittest import mock

    from keel_verify import cli

    out, err = io.BytesIO(), io.BytesIO()
    stdout = io.TextIOWrapper(out, encoding=encoding, errors="strict", write_through=True)
    stderr = io.TextIOWrapper(err, encoding=encoding, errors="backslashreplace",
                              write_through=True)
    code: Any = None
    with mock.patch.object(sys, "stdout", stdout), mock.patch.object(sys, "stderr", stderr):
        try:
            cli.main([os.fsdecode(arg) for arg in args])
        except SystemExit as done:
            code = done.code
    return code, out.getvalue(), err.getvalue()


@settings(ROBUST, max_examples=60)
@given(data=cli_inputs(), name=file_names, encoding=st.sampled_from(CLI_ENCODINGS),
       as_json=st.booleans(), trust=st.sampled_from([[], ["--self-attested"],
                                                     ["--public-key", TEST_ISSUER_PUBLIC]]))
def test_the_cli_ends_with_a_documented_code_on_any_input(
    tmp_path_factory: pytest.TempPathFactory, data: bytes, name: bytes, encoding: str,
    as_json: bool, trust: list[str],
) -> None:
    """Whatever the bytes, the file name's bytes and the output encoding: exit 0-3, no
    traceback, one ``keel-verify:`` line per stderr line, and with ``--json`` a UTF-8
    document that validates against the report schema."""
    import jsonschema

    from keel_verify.results import display_path
    from keel_verify.schemas import REPORT_SCHEMA, load_schema

    path = os.path.join(os.fsencode(tmp_path_factory.mktemp("cli")), name)
    with open(path, "wb") as handle:
        handle.write(data)
    code, out, err = run_cli_in_process(
        [*trust, *(["--json"] if as_json else []), "-j", "1", path], encoding)
    assert code in (0, 1, 2, 3), (code, err)
    errors = err.decode(encoding)
    assert "Traceback" not in errors
    assert all(line.startswith("keel-verify: ") for line in errors.splitlines()), errors
    if as_json:
        document = json.loads(out.decode("utf-8"))
        jsonschema.validate(document, load_schema(REPORT_SCHEMA))
        assert document["exit_code"] == code
        assert [f["path"] for f in document["files"]] == [display_path(path)]
    else:
        text = out.decode(encoding)  # strict: everything written was encodable
        first = text.splitlines()[0]
        assert first.split("  ", 1)[0].split(" ", 1)[0] in ("VERIFIED", "FAILED", "ERROR",
                                                             "UNTRUSTED")
