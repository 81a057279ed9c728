"""Hostile input costs bounded work, proved by structure (what is refused before the
expensive step runs, and how often each step runs), never by a clock. The times and peak
memory of the same cases at full size are in ``benchmarks/hostile.py``."""

from __future__ import annotations

import base64
import io
import json
import os
import pickle
import stat
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import cms

from keel_verify import Outcome, TrustPolicy, Verdict, verify_bytes, verify_path
from keel_verify.checks import canonical_portability
from keel_verify.checks.binding_support import MAX_LISTED
from keel_verify.crypto import canonical, rfc3161
from keel_verify.crypto.rfc3161 import (
    MAX_DER_DEPTH,
    MAX_OID_ARC_BYTES,
    MAX_OID_BYTES,
    MAX_TOKEN_BYTES,
    ReceiptTokens,
    TokenError,
    der_shape_problem,
    parse_token,
)
from keel_verify.load.receipts import MAX_RECEIPTS
from keel_verify.trust.policy import TrustedKey
from tests import hostile_inputs as hostile
from tests.helpers import PUBLIC_V3, TEST_ISSUER_PUBLIC, public_v3, resign, to_bytes

SAMPLE = Path(__file__).resolve().parent.parent / "sample"
RECEIPT_CHECKS = ("rfc3161_timestamp_receipt", "receipt_coverage", "timestamp_witness")


def record_calls(monkeypatch: pytest.MonkeyPatch, owner: Any, name: str) -> list[Any]:
    """Replace ``owner.name`` by a wrapper that records each call's first argument."""
    calls: list[Any] = []
    real = getattr(owner, name)

    def recording(first: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(first)
        return real(first, *args, **kwargs)

    monkeypatch.setattr(owner, name, recording)
    return calls


@pytest.fixture
def asn1_loads(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every call into asn1crypto's ContentInfo parser."""
    return record_calls(monkeypatch, cms.ContentInfo, "load")


@pytest.fixture
def token_parses(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every call of :func:`parse_token` (the one entry to token parsing)."""
    return record_calls(monkeypatch, rfc3161, "parse_token")


def receipt_reasons(data: bytes) -> dict[str, str]:
    report = verify_bytes(data, TrustPolicy())
    assert report.verdict is Verdict.FAILED
    return {name: report.check(name).reason for name in RECEIPT_CHECKS
            if report.check(name).outcome is Outcome.FAIL}


# -- item: a token nesting a SEQUENCE 1,200 deep in TSTInfo.tsa ---------------------------


def test_deep_token_is_refused_before_asn1crypto_runs(asn1_loads: list[bytes]) -> None:
    reasons = receipt_reasons(hostile.deep_tsa_token(1200))
    assert set(reasons) == set(RECEIPT_CHECKS)
    for reason in reasons.values():
        assert f"ASN.1 nesting deeper than the limit of {MAX_DER_DEPTH} levels" in reason
    assert asn1_loads == []  # refused by the header walk, never handed to the parser


def test_deep_token_nesting_is_bounded_at_the_limit() -> None:
    token = hostile.unsigned_token(tsa=hostile.deep_tsa_name(MAX_DER_DEPTH))
    assert "deeper than the limit" in (der_shape_problem(token) or "")
    shallow = hostile.unsigned_token(tsa=hostile.deep_tsa_name(MAX_DER_DEPTH - 12))
    assert der_shape_problem(shallow) is None


def test_a_recursion_error_in_the_asn1_layer_becomes_a_token_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Backstop at the entry: whatever asn1crypto recurses on, parse_token says why."""
    def recursing(*_args: Any, **_kwargs: Any) -> Any:
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(rfc3161, "_parse_token", recursing)
    with pytest.raises(TokenError, match="nesting too deep"):
        parse_token(hostile.unsigned_token())


def test_api_never_raises_on_a_recursion_error_anywhere(monkeypatch: pytest.MonkeyPatch) -> None:
    from keel_verify import verifier

    def recursing(*_args: Any, **_kwargs: Any) -> Any:
        raise RecursionError

    monkeypatch.setattr(verifier, "run_checks", recursing)
    report = verify_bytes(PUBLIC_V3.read_bytes())
    assert report.verdict is Verdict.ERROR and report.exit_code == 2
    assert report.error == "input nested too deeply to verify"


def test_api_turns_an_internal_error_into_error_not_failed(monkeypatch: pytest.MonkeyPatch) -> None:
    from keel_verify import verifier

    def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise KeyError("bug\nsecond line")

    monkeypatch.setattr(verifier, "decide", broken)
    report = verify_bytes(PUBLIC_V3.read_bytes())
    assert report.verdict is Verdict.ERROR
    assert report.error is not None and report.error.startswith("internal error while verifying")
    assert "\n" not in report.error


@pytest.mark.parametrize("value", ["a str", "", 42, None, ["list"], {"a": 1}])
def test_verify_bytes_never_raises_for_a_wrong_type(value: Any) -> None:
    report = verify_bytes(value)
    assert report.verdict is Verdict.ERROR
    assert report.error == f"input must be bytes, not {type(value).__name__}" + (
        " (encode text as UTF-8 first)" if isinstance(value, str) else "")


def test_verify_bytes_accepts_bytes_like() -> None:
    data = PUBLIC_V3.read_bytes()
    trust = TrustPolicy.self_attested_only()
    assert verify_bytes(bytearray(data), trust).verdict is Verdict.VERIFIED
    assert verify_bytes(memoryview(data), trust).verdict is Verdict.VERIFIED


@pytest.mark.parametrize("value", [3, None, 1.5, ["a"]])
def test_verify_path_never_raises_for_a_wrong_type(value: Any) -> None:
    """An int is not opened as a file descriptor."""
    report = verify_path(value)
    assert report.verdict is Verdict.ERROR
    assert report.error == f"path must be str or os.PathLike, not {type(value).__name__}"


@pytest.mark.parametrize("path", ["\x00bad", b"a\x00b.json", Path("a\x00b")])
def test_verify_path_never_raises_for_a_nul_byte(path: Any) -> None:
    report = verify_path(path)
    assert report.verdict is Verdict.ERROR
    assert report.error == "a path holding a NUL byte names no file"


def _closed_stdin() -> io.TextIOWrapper:
    stream = io.TextIOWrapper(io.BytesIO(b"{}"))
    stream.close()
    return stream


@pytest.mark.parametrize(("stdin", "error"), [
    (None, "standard input is closed"), (_closed_stdin(), "standard input is closed"),
    (io.StringIO("{}"), "standard input is not a byte stream"),
], ids=["closed at start", "closed by the program", "text only"])
def test_verify_path_never_raises_without_a_binary_stdin(monkeypatch: pytest.MonkeyPatch,
                                                         stdin: Any, error: str) -> None:
    monkeypatch.setattr(sys, "stdin", stdin)
    report = verify_path("-")
    assert report.verdict is Verdict.ERROR and report.error == error


def test_verify_path_accepts_bytes_and_non_utf8_names(tmp_path: Path) -> None:
    name = os.fsencode(tmp_path) + b"/caf\xe9.json"
    with open(name, "wb") as handle:
        handle.write(PUBLIC_V3.read_bytes())
    report = verify_path(name, TrustPolicy.self_attested_only())
    assert report.verdict is Verdict.VERIFIED
    assert report.path.endswith("caf\\xe9.json")
    assert verify_path(os.fsdecode(name)).path == report.path


# -- item: long OIDs (quadratic decoding) and oversized tokens ----------------------------


@pytest.mark.parametrize(("arc_bytes", "why"), [
    (100_000, f"exceeds the limit of {MAX_TOKEN_BYTES}"),  # the reported case: size first
    (60_000, f"object identifier of 60001 bytes exceeds the limit of {MAX_OID_BYTES}"),
    (MAX_OID_ARC_BYTES + 1, f"object identifier arc longer than {MAX_OID_ARC_BYTES} bytes"),
])
def test_long_oid_arc_is_refused_before_asn1crypto_runs(
    asn1_loads: list[bytes], arc_bytes: int, why: str
) -> None:
    reasons = receipt_reasons(hostile.long_oid_token(arc_bytes))
    assert set(reasons) == set(RECEIPT_CHECKS)
    for reason in reasons.values():
        assert why in reason
    assert asn1_loads == []


def test_oid_limits_are_exact() -> None:
    too_long = hostile.long_arc_oid(MAX_OID_ARC_BYTES + 1)
    assert "arc longer than" in (der_shape_problem(hostile.unsigned_token(policy=too_long)) or "")
    fine = hostile.long_arc_oid(MAX_OID_ARC_BYTES)
    assert der_shape_problem(hostile.unsigned_token(policy=fine)) is None
    many_arcs = hostile.oid(b"\x2b" + b"\x01" * MAX_OID_BYTES)
    assert f"exceeds the limit of {MAX_OID_BYTES}" in (
        der_shape_problem(hostile.unsigned_token(policy=many_arcs)) or "")
    # a registeredID ([8] IMPLICIT OID) in the TSA name is held to the arc limit too
    registered = hostile.der(0x88, b"\x2b" + b"\x81" * 100 + b"\x01")
    assert "arc longer than" in (der_shape_problem(hostile.unsigned_token(tsa=registered)) or "")


def test_oversized_token_text_is_refused_before_base64_decoding(
    monkeypatch: pytest.MonkeyPatch, asn1_loads: list[bytes]
) -> None:
    decoded = record_calls(monkeypatch, rfc3161, "decode_base64_der")
    big = hostile.unsigned_token(policy=hostile.oid(b"\x2b\x01"), serial=2 ** (8 * MAX_TOKEN_BYTES))
    assert len(big) > MAX_TOKEN_BYTES
    reasons = receipt_reasons(hostile.encode(hostile.with_tokens([big])))
    assert set(reasons) == set(RECEIPT_CHECKS)
    for reason in reasons.values():
        assert f"exceeds the limit of {MAX_TOKEN_BYTES}" in reason
    assert decoded == [] and asn1_loads == []


def test_der_walk_reads_each_header_once_and_is_capped() -> None:
    """The walk is linear in elements: a flat SEQUENCE of many NULLs hits the element
    cap instead of being parsed."""
    flat = hostile.sequence(*([hostile.der(0x05, b"")] * (rfc3161.MAX_DER_ELEMENTS + 1)))
    assert "ASN.1 elements" in (der_shape_problem(flat) or "")


def test_real_tokens_pass_the_shape_limits() -> None:
    """Every token the project ships or meets (BER indefinite lengths included) is within
    the limits, so the limits refuse only hostile bytes."""
    for path in (PUBLIC_V3, SAMPLE / "voice_session_v3.json", SAMPLE / "voice_session_v1.json"):
        receipt = json.loads(path.read_bytes())["timestamp_receipts"][0]
        der = base64.b64decode(receipt["tsa_response_base64"])
        assert der_shape_problem(der) is None, path
    indefinite = b"\x30\x80" + hostile.integer(1) + b"\x00\x00"
    assert der_shape_problem(indefinite) is None


# -- item: each distinct token parsed once, failures included ------------------------------


def test_each_distinct_token_is_parsed_once_across_all_checks(token_parses: list[bytes]) -> None:
    good = hostile.unsigned_token(serial=7)
    bad = hostile.unsigned_token(tsa=hostile.deep_tsa_name(100))  # refused: a failure
    document = hostile.with_tokens([good, bad, bad, good, bad])
    verify_bytes(hostile.encode(document), TrustPolicy())
    assert sorted(token_parses) == sorted([good, bad])


def test_receipt_tokens_remember_failures() -> None:
    tokens = ReceiptTokens()
    text = base64.b64encode(b"\x30\x03\x02\x01").decode()  # truncated DER
    for _ in range(3):
        with pytest.raises(TokenError):
            tokens.from_text(text)
    assert tokens.parses == 1


# -- item: 20,000 distinct tokens (the receipt limit in every receipt check) ----------------


def test_the_receipt_limit_holds_in_every_receipt_check(token_parses: list[bytes]) -> None:
    reasons = receipt_reasons(hostile.many_tokens(MAX_RECEIPTS + 1))
    assert reasons == {
        name: f"{MAX_RECEIPTS + 1} timestamp receipts exceed the limit of {MAX_RECEIPTS}"
        for name in RECEIPT_CHECKS
    }
    assert token_parses == []


def test_receipts_up_to_the_limit_are_all_judged(token_parses: list[bytes]) -> None:
    report = verify_bytes(hostile.many_tokens(MAX_RECEIPTS), TrustPolicy())
    assert "exceed the limit" not in report.check("receipt_coverage").reason
    assert len(set(token_parses)) == MAX_RECEIPTS


# -- item: JSON Pointers only for what is reported -----------------------------------------


def test_jcs_divergences_build_pointers_only_for_what_is_listed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    built = record_calls(monkeypatch, canonical, "_pointer")
    document = public_v3()
    document["padding"] = [0.5] * 10_000 + [0] * 10_000
    report = verify_bytes(to_bytes(document), TrustPolicy())
    result = report.check(canonical_portability.NAME)
    assert result.outcome is Outcome.WARN
    assert result.details["warning_count"] == 10_000
    assert [w["pointer"] for w in result.details["warnings"]] == [
        f"/padding/{index}" for index in range(MAX_LISTED)
    ]
    assert len(built) <= 2 * MAX_LISTED  # the chain's first few and the rest's first few


def test_jcs_walk_memory_follows_depth_not_size() -> None:
    """Counting the divergences of 10**6 values allocates next to nothing (the old walk
    held a pointer string per element: about 75 bytes of memory per input byte)."""
    import tracemalloc

    values = [0] * 500_000 + [0.5] * 500_000
    tracemalloc.start()
    try:
        count, first = canonical.jcs_divergence_summary({"padding": values}, "", MAX_LISTED)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert count == 500_000 and len(first) == MAX_LISTED
    assert peak < 256 * 1024


def test_jcs_findings_come_in_pointer_order() -> None:
    value = {"b": [1.5, {"z": 0.25, "a": 2**60}], "a": 0.5}
    assert [p for p, _ in canonical.jcs_divergences(value)] == ["/a", "/b/0", "/b/1/a", "/b/1/z"]


# -- item: a FIFO with no writer --------------------------------------------------------


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    fifo = tmp_path / "export.json"
    os.mkfifo(fifo)
    result: list[Any] = []
    reader = threading.Thread(target=lambda: result.append(verify_path(fifo)), daemon=True)
    reader.start()
    reader.join(60)  # a generous bound for a slow machine: the point is "returns at all"
    if reader.is_alive():  # unblock the reader before failing
        with open(fifo, "wb"):
            pass
        pytest.fail("verify_path waited for a writer on a FIFO")
    report = result[0]
    assert report.verdict is Verdict.ERROR
    assert report.error == "a FIFO, not a regular file (pipe it to standard input as '-')"
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)  # untouched


def test_a_character_device_is_refused() -> None:
    report = verify_path("/dev/zero")
    assert report.verdict is Verdict.ERROR
    assert report.error == "a character device, not a regular file (pipe it to standard input as '-')"


# -- item: 100,000 trusted keys and 10,000 signatures --------------------------------------


def test_trusted_keys_are_found_by_their_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    """One dict lookup per signature: comparing key bytes one by one never happens."""
    keys = tuple(TrustedKey(public_key=index.to_bytes(32, "big"), source=f"k{index}")
                 for index in range(20_000))
    policy = TrustPolicy(issuer_keys=keys)
    compared: list[int] = []
    real_eq = bytes.__eq__

    class Counting(bytes):
        def __eq__(self, other: object) -> bool:
            compared.append(1)
            return real_eq(self, other)

        __hash__ = bytes.__hash__

    wanted = Counting((19_999).to_bytes(32, "big"))
    assert policy.keys_matching(wanted) == (keys[-1],)
    assert policy.keys_matching(Counting((30_000).to_bytes(32, "big"))) == ()
    assert len(compared) <= 2
    duplicate = TrustPolicy(issuer_keys=(keys[0], TrustedKey(keys[0].public_key, "again")))
    assert [k.source for k in duplicate.keys_matching(keys[0].public_key)] == ["k0", "again"]


def test_many_signatures_against_a_big_trust_root_are_judged() -> None:
    keys = tuple(TrustedKey(public_key=(index + 1_000_000).to_bytes(32, "big"), source="root")
                 for index in range(5_000))
    issuer = TrustPolicy.pinned(TEST_ISSUER_PUBLIC).issuer_keys
    document = resign(public_v3())
    report = verify_bytes(hostile.many_signatures_of(document, 500),
                          TrustPolicy(issuer_keys=(*keys, *issuer)))
    result = report.check("issuer_signature")
    assert result.outcome is Outcome.PASS, result.reason
    assert "499 other signatures not counted" in result.reason
    assert report.signer is not None and report.signer.trusted


def test_a_parsed_policy_with_tsa_roots_survives_pickling() -> None:
    """Workers receive the parsed policy (certificates travel as DER)."""
    from keel_verify.runner import make_picklable
    from keel_verify.trust.sources import TrustSpec, build_policy

    policy = build_policy(TrustSpec((), False, str(SAMPLE / "trust-root.json"), (), False))
    assert policy.tsa_roots
    make_picklable(policy)
    copy = pickle.loads(pickle.dumps(policy))
    assert copy == policy
    assert copy.keys_matching(policy.issuer_keys[0].public_key) == policy.issuer_keys


# -- item: 10^6 empty chain entries ----------------------------------------------------------


def test_bad_chain_entries_are_counted_and_only_the_reported_ones_worded() -> None:
    """Every chain visitor keeps at most the problems it reports (memory follows the
    listing limit, not the chain), and counts them until it has enough to stop
    (tests/test_entry_bound.py proves where it stops)."""
    from keel_verify.checks import visitor_factories
    from keel_verify.checks.entry_problems import MAX_ENTRY_PROBLEMS
    from keel_verify.checks.permit_linkage import PermitUses
    from keel_verify.load.chainpass import CHUNK_ENTRIES, read_strictly

    entries = 5_000
    _artifact, chain = read_strictly(hostile.empty_chain_entries(entries), visitor_factories())
    for name, visitor in chain.visitors.items():
        found = getattr(visitor, "found", None)
        assert found is None or len(found.listed) <= MAX_LISTED, name
    uses = chain.visitor("permit_linkage")
    assert isinstance(uses, PermitUses)
    # one problem an entry: it stops at the first chunk boundary after 1,000
    stop = -(-MAX_ENTRY_PROBLEMS // CHUNK_ENTRIES) * CHUNK_ENTRIES
    assert uses.found.stopped_at == uses.found.count == stop < entries
    assert len(uses.found.listed) == MAX_LISTED
    report = verify_bytes(hostile.empty_chain_entries(entries), TrustPolicy())
    assert report.check("permit_linkage").reason == (
        f"chain entry 0 has no permit_id (null if none) (and at least {stop - 1} more; stopped "
        f"examining chain entries after {stop} problems, at chain entry {stop})")


def test_judging_a_key_small_order_needs_no_field_inversion(monkeypatch: pytest.MonkeyPatch) -> None:
    """Loading a 100,000-key trust root decodes every key strictly; the small-order test
    after decoding is multiplications only (no modular exponentiation), so each key costs
    one square root, not seven exponentiations."""
    from keel_verify.crypto import ed25519

    point = ed25519.decode_point(base64.b64decode(hostile._key_text(1)[len("ed25519:"):]))
    calls: list[int] = []

    def counting_pow(*args: Any) -> Any:
        calls.append(1)
        return pow(*args)

    monkeypatch.setattr(ed25519, "pow", counting_pow, raising=False)
    assert ed25519.has_small_order(point) is False
    assert calls == []
    identity = ed25519.decode_point(bytes([1]) + bytes(31))
    assert ed25519.has_small_order(identity) is True
