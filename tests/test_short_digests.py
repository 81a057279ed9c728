"""Short pieces are hashed once per distinct value, long ones each: either way every
piece gets exactly its own tagged SHA-256."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from keel_verify.load import chainpass


def _each(pieces: list[bytes]) -> list[str]:
    return ["sha256:" + hashlib.sha256(piece).hexdigest() for piece in pieces]


@given(st.lists(st.sampled_from([b"{}", b"0", b'{"x":15}', b"", b"x" * 200, b"[]"]))
       | st.lists(st.binary(max_size=300)))
def test_every_piece_gets_its_own_digest(pieces: list[bytes]) -> None:
    assert chainpass._tagged_digests(pieces) == _each(pieces)


def test_short_repeated_pieces_are_hashed_once_each(monkeypatch: pytest.MonkeyPatch) -> None:
    hashed: list[bytes] = []
    real = chainpass._tagged_digests_each

    def counting(pieces: list[bytes]) -> list[str | None]:
        hashed.extend(pieces)
        return real(pieces)

    monkeypatch.setattr(chainpass, "_tagged_digests_each", counting)
    pieces = [b"{}"] * 511 + [b'{"x":15}']
    assert chainpass._tagged_digests(pieces) == _each(pieces)
    assert sorted(hashed) == sorted([b"{}", b'{"x":15}'])
    hashed.clear()
    long = [b"%0300d" % index for index in range(3)] * 2  # real entries: hashed each
    assert chainpass._tagged_digests(long) == _each(long)
    assert hashed == long
