"""Ed25519 finished from SHA-512(R || A || M) (the message streams by, never held) gives
exactly the strict verifier's answer: Wycheproof's vectors, keys with a torsion part,
small-order and non-canonical keys, S >= L, and any split of the message."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from nacl import bindings

from keel_verify.crypto import ed25519
from keel_verify.crypto.signed_message import MAX_STREAMED_PAIRS, SignedMessage
from tests.test_ed25519 import SMALL_ORDER_ALL, SMALL_ORDER_CANONICAL, WYCHEPROOF


def _prehashed(key: bytes, signature: bytes, message: bytes) -> bool:
    digest = hashlib.sha512(signature[:32] + key + message).digest()
    return ed25519.verify_prehashed(key, signature, digest)


def _vectors() -> list[Any]:
    data = json.loads(WYCHEPROOF.read_text())
    return [
        pytest.param(bytes.fromhex(group["publicKey"]["pk"]), bytes.fromhex(test["sig"]),
                     bytes.fromhex(test["msg"]), id=f"tc{test['tcId']}")
        for group in data["testGroups"] for test in group["tests"]
        if len(bytes.fromhex(test["sig"])) == ed25519.SIGNATURE_BYTES
    ]


@pytest.mark.parametrize(("key", "signature", "message"), _vectors())
def test_wycheproof_vector_same_answer(key: bytes, signature: bytes, message: bytes) -> None:
    assert _prehashed(key, signature, message) == ed25519.verify(key, signature, message)


def _sign(secret: int, nonce: int, torsion: bytes, message: bytes) -> tuple[bytes, bytes]:
    """A key A = [secret]B + T and a signature made as RFC 8032 makes it (k over that A):
    the cofactorless equation then holds only when [k]T is the identity."""
    scalar = (secret % ed25519.L or 1).to_bytes(32, "little")
    prime_part = bindings.crypto_scalarmult_ed25519_base_noclamp(scalar)
    key = bindings.crypto_core_ed25519_add(prime_part, torsion)
    r = (nonce % ed25519.L or 1).to_bytes(32, "little")
    big_r = bindings.crypto_scalarmult_ed25519_base_noclamp(r)
    k = int.from_bytes(hashlib.sha512(big_r + key + message).digest(), "little") % ed25519.L
    s = (int.from_bytes(r, "little") + k * int.from_bytes(scalar, "little")) % ed25519.L
    return key, big_r + s.to_bytes(32, "little")


_scalars = st.integers(1, 2**256)


@given(_scalars, _scalars, st.sampled_from(SMALL_ORDER_CANONICAL), st.binary(max_size=64),
       st.sampled_from(["as signed", "flip a bit", "S + L", "other message"]))
def test_keys_with_a_torsion_part_same_answer(
    secret: int, nonce: int, torsion: bytes, message: bytes, change: str
) -> None:
    key, signature = _sign(secret, nonce, torsion, message)
    if change == "flip a bit":
        signature = signature[:5] + bytes([signature[5] ^ 1]) + signature[6:]
    elif change == "S + L":
        s = int.from_bytes(signature[32:], "little") + ed25519.L
        signature = signature[:32] + (s % 2**256).to_bytes(32, "little")
    elif change == "other message":
        message += b"!"
    assert _prehashed(key, signature, message) == ed25519.verify(key, signature, message)


@given(st.sampled_from(SMALL_ORDER_ALL), st.binary(min_size=64, max_size=64), st.binary(max_size=8))
def test_small_order_keys_never_verify(key: bytes, signature: bytes, message: bytes) -> None:
    assert not _prehashed(key, signature, message)
    assert not _prehashed(key, ed25519.IDENTITY + bytes(32), message)


def test_identity_key_and_identity_signature_refused_as_the_strict_path_does() -> None:
    signature = ed25519.IDENTITY + bytes(32)
    assert not ed25519.verify(ed25519.IDENTITY, signature, b"anything")
    assert not _prehashed(ed25519.IDENTITY, signature, b"anything")


@given(_scalars, _scalars, st.binary(max_size=200), st.lists(st.integers(0, 200), max_size=5))
def test_a_message_fed_in_pieces_verifies_as_a_whole(
    secret: int, nonce: int, message: bytes, cuts: list[int]
) -> None:
    key, signature = _sign(secret, nonce, SMALL_ORDER_CANONICAL[0], message)
    prehash = ed25519.Prehash(key, signature)
    previous = 0
    for cut in [*sorted({min(c, len(message)) for c in cuts}), len(message)]:
        prehash.update(message[previous:cut])
        previous = cut
    assert prehash.verify() == ed25519.verify(key, signature, message) is True


def _entry(key: bytes, signature: bytes) -> dict[str, str]:
    import base64

    return {"algorithm": "ed25519", "public_key": "ed25519:" + base64.b64encode(key).decode(),
            "signature": "ed25519:" + base64.b64encode(signature).decode()}


@pytest.mark.parametrize("pairs", [1, MAX_STREAMED_PAIRS, MAX_STREAMED_PAIRS + 1])
def test_signed_message_verifies_every_pair_streamed_or_kept(pairs: int) -> None:
    message = b'{"a":1,"b":[2,3]}'
    signed = [_sign(i + 2, i + 7, SMALL_ORDER_CANONICAL[0], message) for i in range(pairs)]
    stream = SignedMessage([_entry(k, s) for k, s in signed] + ["junk", {"algorithm": "x"}])
    for piece in (message[:5], message[5:11], message[11:]):
        stream.update(piece)
    assert stream.content_hash == "sha256:" + hashlib.sha256(message).hexdigest()
    assert stream.size == len(message)
    for key, signature in signed:
        assert stream.verify(key, signature)
        assert not stream.verify(key, signature[:-1] + bytes([signature[-1] ^ 1]))
    assert stream.held == (pairs > MAX_STREAMED_PAIRS)


@pytest.mark.parametrize("extra", [1, MAX_STREAMED_PAIRS + 3])
def test_an_artifact_verifies_alike_with_many_signature_entries(
    extra: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past MAX_STREAMED_PAIRS distinct (R, A) pairs the message is held, not streamed:
    the same findings either way, and the same as a whole-message verification."""
    from keel_verify import TrustPolicy, verify_bytes
    from keel_verify.crypto import signed_message
    from tests.helpers import TEST_ISSUER_PUBLIC, public_v3, resign, to_bytes

    document = resign(public_v3())
    junk = [_entry(*_sign(i + 3, i + 5, SMALL_ORDER_CANONICAL[0], b"other")) for i in range(extra)]
    document["signatures"] = document["signatures"] + junk
    data = to_bytes(document)
    trust = TrustPolicy.pinned(TEST_ISSUER_PUBLIC)
    first = verify_bytes(data, trust).check("issuer_signature")
    monkeypatch.setattr(signed_message, "MAX_STREAMED_PAIRS", 0)  # always hold the message
    held = verify_bytes(data, trust).check("issuer_signature")
    assert first == held
    assert first.outcome.value == "pass"
