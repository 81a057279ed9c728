"""Trusted keys are checked in two steps: at load, the RFC 8032 §5.1.3 checks that need no
square root (a fault is a usage error, exit 2); whether the key is a point on the curve,
when the key is first used to verify something (a key that is not verifies nothing, and
the report says why). Every trust source takes the same path; a trust root of 100,000
keys decodes onto the curve only the keys an artifact uses."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import pickle
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from keel_verify import Outcome, TrustPolicy, Verdict, verify_bytes
from keel_verify.crypto import ed25519
from keel_verify.crypto.signatures import MAX_VERIFIED_ENTRIES
from keel_verify.errors import LoadError, TrustConfigError
from keel_verify.gate import GateOptions, run_gate
from keel_verify.load.loader import parse_json, parse_json_fast
from keel_verify.trust import parse_ed25519_public_key, sources, trust_root
from keel_verify.trust.key_decision import KEY_REVOKED, SigningTimes, Standing, decide_key
from keel_verify.trust.policy import IssuerKeys, TrustedKey
from keel_verify.trust.sources import TrustSpec, load_trust_policy
from keel_verify.trust.trust_root import load_trust_root
from tests.helpers import TEST_ISSUER_PUBLIC, public_v3, resign, to_bytes
from tests.test_cli import assert_one_line_error, run
from tests.test_ed25519 import SMALL_ORDER_ALL, SMALL_ORDER_CANONICAL
from tests.test_keel_trust import SIGNER_ENTRY, _key, _signed_manifest, _write
from tests.test_signature_cost import _junk_entries

#: 32 bytes that pass every check made at load but name no point: y = 2 has no x.
OFF_CURVE = (2).to_bytes(32, "little")
NOT_A_POINT = "not a point on the Ed25519 curve"


def _encoded(raw: bytes) -> str:
    return "ed25519:" + base64.b64encode(raw).decode("ascii")


def _spell(y: int, sign: int) -> bytes:
    return (y | sign << 255).to_bytes(32, "little")


# -- the small-order y set equals the definition ---------------------------------------------


def _reference_reason(raw: bytes) -> str | None:
    """The full decoding as it was: RFC 8032 5.1.3, then [8]A == identity."""
    try:
        point = ed25519.decode_point(raw)
    except ed25519.Ed25519KeyError as error:
        return error.reason
    return ed25519.SMALL_ORDER if ed25519.has_small_order(point) else None


def _split_reason(raw: bytes) -> str | None:
    """The check made at load, then the square root made on first use."""
    try:
        ed25519.check_key_encoding(raw)
        ed25519.decode_point(raw)
    except ed25519.Ed25519KeyError as error:
        return error.reason
    return None


def test_the_five_y_values_are_those_of_the_eight_small_order_points() -> None:
    points = [ed25519.decode_point(raw) for raw in SMALL_ORDER_CANONICAL]
    assert all(ed25519.has_small_order(point) for point in points)
    assert {y for _, y in points} == ed25519.SMALL_ORDER_Y
    for y in ed25519.SMALL_ORDER_Y:  # each y: both signs, decoded fully, are small order
        for sign in (0, 1):
            try:
                point = ed25519.decode_point(_spell(y, sign))
            except ed25519.Ed25519KeyError as error:  # x = 0 with the sign bit set
                assert error.reason == ed25519.NON_CANONICAL and y in (1, ed25519.P - 1)
                continue
            assert ed25519.has_small_order(point)


@pytest.mark.parametrize("raw", SMALL_ORDER_ALL, ids=lambda raw: raw.hex())
def test_every_spelling_of_a_small_order_point_is_refused_at_load(raw: bytes) -> None:
    with pytest.raises(ed25519.Ed25519KeyError) as caught:
        ed25519.check_key_encoding(raw)
    assert caught.value.reason == _reference_reason(raw)
    with pytest.raises(TrustConfigError):
        parse_ed25519_public_key(_encoded(raw))


_INTERESTING_Y = st.one_of(
    st.integers(0, ed25519.P - 1),
    st.sampled_from(sorted(ed25519.SMALL_ORDER_Y)),
    st.integers(ed25519.P, 2**255 - 1),  # non-canonical
    st.sampled_from([y + ed25519.P for y in (0, 1)]),  # small order, spelled y + p
)


@given(y=_INTERESTING_Y, sign=st.integers(0, 1))
def test_the_split_refuses_exactly_what_the_full_decoding_refuses(y: int, sign: int) -> None:
    raw = _spell(y, sign)
    assert _split_reason(raw) == _reference_reason(raw)
    try:
        ed25519.check_key_encoding(raw)
    except ed25519.Ed25519KeyError as error:  # found at load: the reason the full decoding gives
        assert error.reason == _reference_reason(raw)
    else:  # passed at load: only the square root can still refuse it
        assert _reference_reason(raw) in (None, ed25519.NOT_ON_CURVE)


@given(raw=st.binary(min_size=32, max_size=32))
def test_decode_public_key_matches_the_full_decoding(raw: bytes) -> None:
    try:
        ed25519.decode_public_key(raw)
        reason = None
    except ed25519.Ed25519KeyError as error:
        reason = error.reason
    assert reason == _reference_reason(raw)


def test_a_key_off_the_curve_passes_at_load_and_is_refused_on_use() -> None:
    assert parse_ed25519_public_key(_encoded(OFF_CURVE)) == OFF_CURVE
    with pytest.raises(ed25519.Ed25519KeyError) as caught:
        ed25519.decode_public_key(OFF_CURVE)
    assert caught.value.reason == ed25519.NOT_ON_CURVE
    assert not ed25519.verify(OFF_CURVE, bytes(64), b"")


# -- which faults are found at load (exit 2) ------------------------------------------------

LOAD_FAULTS = {
    "wrong-length": "ed25519:" + base64.b64encode(bytes(31)).decode("ascii"),
    "not-base64": "ed25519:" + "!" * 43 + "=",
    "y-at-least-p": _encoded(_spell(ed25519.P + 5, 0)),
    "x-zero-sign-bit": _encoded(_spell(1, 1)),
    "small-order": _encoded(SMALL_ORDER_CANONICAL[4]),
}


def _root(tmp_path: Path, *entries: dict[str, Any], name: str = "root.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps({"trust_root_version": 1, "issuer_keys": list(entries)}))
    return path


@pytest.mark.parametrize("text", LOAD_FAULTS.values(), ids=LOAD_FAULTS.keys())
def test_structural_faults_are_refused_when_any_source_loads(tmp_path: Path, text: str) -> None:
    with pytest.raises(TrustConfigError):
        TrustPolicy.pinned(text)
    with pytest.raises(TrustConfigError) as caught:
        load_trust_root(_root(tmp_path, {"public_key": TEST_ISSUER_PUBLIC}, {"public_key": text}))
    assert "/issuer_keys/1/public_key" in str(caught.value) and "\n" not in str(caught.value)
    manifest = _signed_manifest([SIGNER_ENTRY, _key(text, key_id="bad")])
    with pytest.raises(TrustConfigError) as in_manifest:
        load_trust_root(_write(tmp_path, manifest))
    assert "/keys/1/public_key" in str(in_manifest.value)


@pytest.mark.parametrize("text", [LOAD_FAULTS["small-order"], LOAD_FAULTS["y-at-least-p"]],
                         ids=["small-order", "y-at-least-p"])
def test_structural_faults_exit_2_on_the_command_line(tmp_path: Path, text: str) -> None:
    artifact = tmp_path / "a.json"
    artifact.write_bytes(to_bytes(resign(public_v3())))
    for options in (["--public-key", text], ["--trust-root", _root(tmp_path, {"public_key": text})]):
        result = run(artifact, *options)
        assert result.returncode == 2, result.stdout
        assert_one_line_error(result)


# -- which faults are found when the key is used --------------------------------------------


def _signed_by_off_curve_key() -> dict[str, Any]:
    """A well-formed artifact whose one signature entry names OFF_CURVE as its key."""
    document = resign(public_v3())
    document["signatures"][0]["public_key"] = _encoded(OFF_CURVE)
    return document


def _assert_refused_on_use(check_reason: str, source: str) -> None:
    assert NOT_A_POINT in check_reason
    assert "the trusted key sha256:" in check_reason and source in check_reason


def test_a_trust_root_key_off_the_curve_verifies_nothing_and_the_report_says_why(
    tmp_path: Path,
) -> None:
    path = _root(tmp_path, {"public_key": _encoded(OFF_CURVE), "key_id": "broken"})
    policy = load_trust_policy(trust_roots=[path])  # loads: the curve is not judged yet
    report = verify_bytes(to_bytes(_signed_by_off_curve_key()), policy)
    result = report.check("issuer_signature")
    assert result.outcome is Outcome.FAIL and report.verdict is Verdict.FAILED
    _assert_refused_on_use(result.reason, f"trust root {path}, issuer_keys[0]")
    [entry] = result.details["signatures"]
    assert entry["valid"] is False and entry["counted"] is False
    assert NOT_A_POINT in entry["problem"]


def test_every_trust_source_defers_the_curve_check_to_first_use(tmp_path: Path) -> None:
    artifact = tmp_path / "a.json"
    artifact.write_bytes(to_bytes(_signed_by_off_curve_key()))
    root = _root(tmp_path, {"public_key": _encoded(OFF_CURVE)})
    policy_file = tmp_path / "policy.json"
    policy_file.write_text(json.dumps(
        {"policy_version": 1, "trust": {"public_keys": [_encoded(OFF_CURVE)]}}))
    runs = {
        "--public-key": (run(artifact, "--public-key", _encoded(OFF_CURVE)), "pinned key"),
        "--trust-root": (run(artifact, "--trust-root", root), "trust root"),
        "$KEEL_VERIFY_TRUST_ROOT": (run(artifact, env={"KEEL_VERIFY_TRUST_ROOT": str(root)}),
                                    "trust root"),
        "--policy": (run(artifact, "--policy", policy_file), "pinned key"),
    }
    for name, (result, source) in runs.items():
        assert result.returncode == 1, (name, result.stderr)
        assert "Traceback" not in result.stderr + result.stdout
        _assert_refused_on_use(result.stdout, source)


def test_a_manifest_lists_an_off_curve_key_but_cannot_be_signed_by_one(tmp_path: Path) -> None:
    listed = load_trust_root(_write(tmp_path, _signed_manifest(
        [SIGNER_ENTRY, _key(_encoded(OFF_CURVE), key_id="broken")])))
    assert [key.public_key for key in listed.issuer_keys][1] == OFF_CURVE
    signer = dict(SIGNER_ENTRY, public_key=_encoded(OFF_CURVE))
    with pytest.raises(TrustConfigError) as caught:
        load_trust_root(_write(tmp_path, _signed_manifest([signer])))
    assert "/manifest_signature/signature" in str(caught.value)
    assert NOT_A_POINT in str(caught.value) and "it can verify nothing" in str(caught.value)


def test_revocations_of_an_off_curve_key_still_apply(tmp_path: Path) -> None:
    """Strictest wins whatever the curve says: both statements about the bytes stand."""
    path = _root(tmp_path, {"public_key": _encoded(OFF_CURVE)},
                 {"public_key": _encoded(OFF_CURVE), "status": "revoked"})
    policy = load_trust_policy(trust_roots=[path])
    statements = policy.keys_matching(OFF_CURVE)
    assert [s.status for s in statements] == ["active", "revoked"]
    decision = decide_key(statements, SigningTimes(None, None, datetime.now(UTC)))
    assert decision.standing is Standing.REFUSES and decision.kind == KEY_REVOKED


# -- a 100,000-key trust root: only the keys used are decoded onto the curve ----------------


@pytest.fixture
def counted_work(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, list[Any]]]:
    """Every square root taken (decode_point) and every trust-root statement built."""
    work: dict[str, list[Any]] = {"decoded": [], "built": []}
    real_decode, real_build = ed25519.decode_point, trust_root._IssuerKeyEntries.__call__

    def decode(raw: bytes) -> tuple[int, int]:
        work["decoded"].append(bytes(raw))
        return real_decode(raw)

    def build(self: Any, index: int) -> TrustedKey:
        work["built"].append(index)
        return real_build(self, index)

    monkeypatch.setattr(ed25519, "decode_point", decode)
    monkeypatch.setattr(trust_root._IssuerKeyEntries, "__call__", build)
    ed25519.decode_key_once.cache_clear()
    yield work
    ed25519.decode_key_once.cache_clear()


def _filler_keys(count: int) -> list[str]:
    """``count`` distinct keys that pass every check made at load (about half are not on
    the curve: nothing ever finds out, because none is used)."""
    keys = []
    for index in range(count):
        raw = bytearray(hashlib.sha256(b"filler %d" % index).digest())
        raw[31] &= 0x3F  # y < 2^254 < p
        keys.append(_encoded(bytes(raw)))
    return keys


def test_a_100k_key_trust_root_decodes_only_the_keys_an_artifact_uses(
    tmp_path: Path, counted_work: dict[str, list[Any]],
) -> None:
    document = resign(public_v3())
    real = document["signatures"][0]
    junk = _junk_entries(MAX_VERIFIED_ENTRIES + 8, real["content_hash"])
    document["signatures"] = [real, *junk]
    used = [TEST_ISSUER_PUBLIC, *(entry["public_key"] for entry in junk)]
    filler = _filler_keys(100_000)
    path = _root(tmp_path, *({"public_key": key} for key in [*filler[:50_000], *used,
                                                            *filler[50_000:]]))

    policy = load_trust_policy(trust_roots=[path])
    assert len(policy.issuer_keys) == 100_000 + len(used)
    assert counted_work["decoded"] == [] and counted_work["built"] == []

    report = verify_bytes(to_bytes(document), policy)
    assert report.check("issuer_signature").outcome is Outcome.PASS
    used_bytes = {parse_ed25519_public_key(key) for key in used}
    assert parse_ed25519_public_key(TEST_ISSUER_PUBLIC) in counted_work["decoded"]
    assert set(counted_work["decoded"]) <= used_bytes
    assert len(set(counted_work["decoded"])) <= MAX_VERIFIED_ENTRIES  # each once: memoized
    assert len(counted_work["decoded"]) == len(set(counted_work["decoded"]))
    positions = {50_000 + i for i in range(len(used))}
    assert 50_000 in counted_work["built"]  # the statement about the signing key
    assert set(counted_work["built"]) <= positions


def test_keel_production_decodes_only_its_manifest_signing_key(
    counted_work: dict[str, list[Any]],
) -> None:
    spec = TrustSpec(public_keys=(), self_attested=False, trust_root=None, tsa_roots=(),
                     strict=False, trust_names=("keel-production",))
    policy = sources.build_policy(spec)
    export_keys = {key.public_key for key in policy.issuer_keys
                   if key.purpose == "export_signing"}
    assert len(policy.issuer_keys) == 4
    assert counted_work["decoded"] and set(counted_work["decoded"]) <= export_keys


def test_a_text_report_never_lists_the_policy_and_json_lists_it_all(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    described: list[int] = []
    real = sources.describe_policy

    def describe(spec: TrustSpec, policy: TrustPolicy,
                 featured: Sequence[str] = ()) -> dict[str, Any]:
        described.append(len(policy.issuer_keys))
        return real(spec, policy, featured)

    monkeypatch.setattr(sources, "describe_policy", describe)
    artifact = tmp_path / "a.json"
    artifact.write_bytes(to_bytes(resign(public_v3())))
    root = _root(tmp_path, *({"public_key": key} for key in _filler_keys(3)),
                 {"public_key": TEST_ISSUER_PUBLIC})
    spec = TrustSpec(public_keys=(), self_attested=False, trust_root=str(root), tsa_roots=(),
                     strict=False)
    text = io.StringIO()
    run_gate(GateOptions(files=(str(artifact),), spec=spec), text, io.StringIO())
    assert described == [] and "issuer_signature" in text.getvalue()
    out = io.StringIO()
    run_gate(GateOptions(files=(str(artifact),), spec=spec, stdout_format="json"), out,
             io.StringIO())
    assert described == [4]
    assert len(json.loads(out.getvalue())["trust"]["issuer_keys"]) == 4


# -- IssuerKeys: a sequence of statements, built when read ----------------------------------


def test_issuer_keys_behave_as_the_tuple_of_their_statements(tmp_path: Path) -> None:
    pinned = TrustPolicy.pinned(TEST_ISSUER_PUBLIC).issuer_keys
    filler = _filler_keys(3)
    loaded = load_trust_root(_root(tmp_path, *({"public_key": k, "key_id": f"k{i}"}
                                               for i, k in enumerate(filler))))
    joined = IssuerKeys.joined(pinned, loaded.issuer_keys, (), pinned)
    expected = (*pinned, *tuple(loaded.issuer_keys), *pinned)
    assert len(joined) == 5 and joined == expected and tuple(joined) == expected
    assert joined[-1] == pinned[0] and joined[1:3] == expected[1:3]
    assert [key.label for key in joined] == [None, "k0", "k1", "k2", None]
    assert joined[1].source == f"trust root {tmp_path / 'root.json'}, issuer_keys[0] (\"k0\")"
    with pytest.raises(IndexError):
        joined[5]
    copied = pickle.loads(pickle.dumps(TrustPolicy(issuer_keys=joined)))  # to worker processes
    assert copied.issuer_keys == expected
    assert len(copied.keys_matching(pinned[0].public_key)) == 2


# -- trust files are parsed as strictly as before, at C speed -------------------------------

_JSON_TEXTS = st.one_of(
    st.sampled_from([b'{"a":1,"a":2}', b'{"a":{"b":1,"b":1}}', b'{"a\\u003a":1,"a:":2}',
                     b'[1.5]', b'[1e400]', b'{"x":"\\ud800"}', b'\xef\xbb\xbf{}', b'', b' ',
                     b'[' * 200 + b']' * 200, b'{"k":"v:w","l":[":"]}', b'9' * 30, b'NaN']),
    st.recursive(st.none() | st.booleans() | st.integers() | st.text(),
                 lambda inner: st.lists(inner, max_size=4)
                 | st.dictionaries(st.text(max_size=3), inner, max_size=4),
                 max_leaves=12).map(lambda value: json.dumps(value).encode("utf-8")),
)


@given(data=_JSON_TEXTS)
def test_the_fast_trust_file_reader_reads_as_the_strict_one(data: bytes) -> None:
    def read(parse: Any) -> Any:
        try:
            return parse(data)
        except LoadError as error:
            return f"error: {error}"

    assert read(parse_json_fast) == read(parse_json)
