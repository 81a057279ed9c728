"""Strict Ed25519 (RFC 8032 §5.1): Wycheproof's vectors, the 8 small-order points in every
encoding, non-canonical encodings, S >= L; and that no such key ever signs an artifact,
vouches as a trust source, or verifies an emitter sidecar signature."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from keel_verify import Outcome, TrustPolicy, Verdict
from keel_verify.crypto import ed25519
from keel_verify.crypto.canonical import canonical_hash
from keel_verify.emit import EmitError
from keel_verify.errors import TrustConfigError
from keel_verify.trust import parse_ed25519_public_key
from keel_verify.trust.trust_root import load_trust_root
from tests.helpers import DATA, TEST_ISSUER_KEY, public_v3, to_bytes
from tests.test_cli import assert_one_line_error, run
from tests.tsa_support import verify

WYCHEPROOF = DATA / "wycheproof" / "ed25519_test.json"

#: The 8 points of order 1, 2, 4 and 8, canonically encoded (identity first).
SMALL_ORDER_CANONICAL = tuple(bytes.fromhex(h) for h in (
    "0100000000000000000000000000000000000000000000000000000000000000",  # identity
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",  # (0, -1), order 2
    "0000000000000000000000000000000000000000000000000000000000000000",  # order 4
    "0000000000000000000000000000000000000000000000000000000000000080",  # order 4
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",  # order 8
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
))
IDENTITY = SMALL_ORDER_CANONICAL[0]
#: (R = identity, S = 0): with the identity key, OpenSSL accepts it for any message.
IDENTITY_SIGNATURE = IDENTITY + bytes(32)


def _encodings(canonical: bytes) -> list[bytes]:
    """Every 32-byte spelling of the point ``canonical`` names: y and y + p (when below
    2^255), each with the sign bit clear and set."""
    number = int.from_bytes(canonical, "little")
    y = number & ((1 << 255) - 1)
    spellings = []
    for candidate in (y, y + ed25519.P):
        if candidate < 1 << 255:
            for sign in (0, 1):
                spellings.append((candidate | sign << 255).to_bytes(32, "little"))
    return spellings


SMALL_ORDER_ALL = tuple(sorted({e for c in SMALL_ORDER_CANONICAL for e in _encodings(c)}))


def _wycheproof_cases() -> list[tuple[str, bytes, bytes, bytes, bool]]:
    document = json.loads(WYCHEPROOF.read_text(encoding="utf-8"))
    cases = []
    for group in document["testGroups"]:
        key = bytes.fromhex(group["publicKey"]["pk"])
        for test in group["tests"]:
            cases.append((f"tc{test['tcId']}-{'-'.join(test['flags'])}", key,
                          bytes.fromhex(test["sig"]), bytes.fromhex(test["msg"]),
                          test["result"] == "valid"))
    return cases


WYCHEPROOF_CASES = _wycheproof_cases()


def test_wycheproof_file_is_complete() -> None:
    assert len(WYCHEPROOF_CASES) == 151
    assert sum(valid for *_, valid in WYCHEPROOF_CASES) == 88


@pytest.mark.parametrize(("key", "signature", "message", "valid"),
                         [case[1:] for case in WYCHEPROOF_CASES],
                         ids=[case[0] for case in WYCHEPROOF_CASES])
def test_wycheproof_vector(key: bytes, signature: bytes, message: bytes, valid: bool) -> None:
    assert ed25519.verify(key, signature, message) is valid


def test_the_small_order_list_is_the_whole_torsion_group() -> None:
    points = [ed25519.decode_point(raw) for raw in SMALL_ORDER_CANONICAL]
    assert len(set(points)) == 8
    assert all(ed25519.has_small_order(point) for point in points)
    # 5 distinct y (1, p - 1, 0 and two of order 8), each with either sign bit; and
    # y + p < 2^255 only for y = 0 and y = 1, again with either sign bit.
    assert len(SMALL_ORDER_ALL) == 5 * 2 + 2 * 2


@pytest.mark.parametrize("raw", SMALL_ORDER_ALL, ids=lambda raw: raw.hex())
def test_every_encoding_of_a_small_order_point_is_refused(raw: bytes) -> None:
    with pytest.raises(ed25519.Ed25519KeyError) as caught:
        ed25519.decode_public_key(raw)
    assert caught.value.reason in (ed25519.SMALL_ORDER, ed25519.NON_CANONICAL)
    if raw in SMALL_ORDER_CANONICAL:
        assert caught.value.reason == ed25519.SMALL_ORDER


def test_identity_key_signs_anything_in_openssl_but_not_here() -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    # The hole this module closes: OpenSSL accepts (R = identity, S = 0) for any message.
    Ed25519PublicKey.from_public_bytes(IDENTITY).verify(IDENTITY_SIGNATURE, b"any message")
    assert not ed25519.verify(IDENTITY, IDENTITY_SIGNATURE, b"any message")


@given(key=st.sampled_from(SMALL_ORDER_ALL), r=st.sampled_from(SMALL_ORDER_ALL),
       s=st.integers(0, 2**256 - 1), message=st.binary(max_size=64))
def test_a_small_order_key_never_gives_a_valid_signature(
    key: bytes, r: bytes, s: int, message: bytes
) -> None:
    assert not ed25519.verify(key, r + s.to_bytes(32, "little"), message)
    assert not ed25519.verify(key, IDENTITY_SIGNATURE, message)


@given(y=st.integers(ed25519.P, 2**255 - 1), sign=st.integers(0, 1))
def test_non_canonical_y_is_refused(y: int, sign: int) -> None:
    with pytest.raises(ed25519.Ed25519KeyError) as caught:
        ed25519.decode_point((y | sign << 255).to_bytes(32, "little"))
    assert caught.value.reason == ed25519.NON_CANONICAL


def test_wrong_length_and_off_curve_keys_are_refused() -> None:
    with pytest.raises(ed25519.Ed25519KeyError) as short:
        ed25519.decode_public_key(bytes(31))
    assert short.value.reason == ed25519.WRONG_LENGTH
    off_curve = (2).to_bytes(32, "little")  # y = 2 has no x on Ed25519
    with pytest.raises(ed25519.Ed25519KeyError) as off:
        ed25519.decode_public_key(off_curve)
    assert off.value.reason == ed25519.NOT_ON_CURVE
    assert not ed25519.verify(off_curve, bytes(64), b"")


def test_s_plus_l_is_refused() -> None:
    message = b"keel"
    signature = TEST_ISSUER_KEY.sign(message)
    public = TEST_ISSUER_KEY.public_key().public_bytes_raw()
    assert ed25519.verify(public, signature, message)
    s = int.from_bytes(signature[32:], "little")
    malleable = signature[:32] + (s + ed25519.L).to_bytes(32, "little")
    assert not ed25519.signature_scalar_in_range(malleable)
    assert not ed25519.verify(public, malleable, message)


# -- no small-order key ever signs an artifact or vouches as a trust source ------------------


def _encoded(raw: bytes) -> str:
    return "ed25519:" + base64.b64encode(raw).decode("ascii")


def identity_signed_v3() -> dict[str, Any]:
    """The public v3 sample edited and 'signed' with the identity key and (R = 0, S = 0)."""
    document = public_v3()
    document["session_metadata"]["model"] = "attacker-model"
    entry = dict(document["signatures"][0])
    unsigned = {k: v for k, v in document.items() if k != "signatures"}
    entry.update(public_key=_encoded(IDENTITY), signature=_encoded(IDENTITY_SIGNATURE),
                 content_hash=canonical_hash(unsigned))
    document["signatures"] = [entry]
    return document


@pytest.mark.parametrize("trust", [TrustPolicy.self_attested_only(), TrustPolicy()],
                         ids=["self-attested", "nothing-trusted"])
def test_identity_key_artifact_is_never_a_valid_signature(trust: TrustPolicy) -> None:
    document = identity_signed_v3()
    report = verify(document, trust)
    result = report.check("issuer_signature")
    assert result.outcome is Outcome.FAIL
    assert "small order" in result.reason
    assert report.verdict is Verdict.FAILED


def test_identity_key_artifact_fails_on_the_command_line(tmp_path: Path) -> None:
    path = tmp_path / "identity.json"
    path.write_bytes(to_bytes(identity_signed_v3()))
    result = run(path, "--self-attested")
    assert result.returncode == 1, result.stdout
    assert "small order" in result.stdout


@pytest.mark.parametrize("raw", SMALL_ORDER_ALL[:6], ids=lambda raw: raw.hex()[:8])
def test_small_order_public_key_option_is_a_usage_error(tmp_path: Path, raw: bytes) -> None:
    path = tmp_path / "identity.json"
    path.write_bytes(to_bytes(identity_signed_v3()))
    result = run(path, "--public-key", _encoded(raw))
    assert result.returncode == 2
    assert_one_line_error(result)


@pytest.mark.parametrize("raw", SMALL_ORDER_ALL, ids=lambda raw: raw.hex())
def test_small_order_key_is_refused_as_a_trust_source(tmp_path: Path, raw: bytes) -> None:
    with pytest.raises(TrustConfigError):
        parse_ed25519_public_key(_encoded(raw))
    with pytest.raises(TrustConfigError):
        TrustPolicy.pinned(_encoded(raw))
    path = tmp_path / "root.json"
    path.write_text(json.dumps({"trust_root_version": 1,
                                "issuer_keys": [{"public_key": _encoded(raw)}]}))
    with pytest.raises(TrustConfigError) as caught:
        load_trust_root(path)
    assert "/issuer_keys/0/public_key" in str(caught.value)


def test_small_order_trust_root_is_a_usage_error_on_the_command_line(tmp_path: Path) -> None:
    root = tmp_path / "root.json"
    root.write_text(json.dumps({"trust_root_version": 1,
                                "issuer_keys": [{"public_key": _encoded(IDENTITY)}]}))
    path = tmp_path / "identity.json"
    path.write_bytes(to_bytes(identity_signed_v3()))
    result = run(path, "--trust-root", root)
    assert result.returncode == 2
    assert_one_line_error(result)
    assert "small order" in result.stderr


def test_emitter_refuses_a_small_order_sidecar_key() -> None:
    from keel_verify.emit import demo_engine, demo_scenario

    start = demo_scenario(3)[0]["body"]
    body = {**start, "sidecar_keys": [{"key_id": "k", "public_key": _encoded(IDENTITY)}]}
    with pytest.raises(EmitError) as caught:
        demo_engine().start(body)
    assert caught.value.status == 422
    assert "small order" in caught.value.message
