"""The signed message -- the canonical bytes of the artifact without ``signatures`` --
consumed as it is produced, so that it is never held in memory.

What a verification needs of it is known before the first byte: its ``H`` (the
``content_hash`` signature entries name) and, for each Ed25519 signature entry,
``SHA-512(R || A || M)`` (RFC 8032 §5.1.7), where R and A come from the entry. Both are
computed as the pieces stream by; the Ed25519 check is then finished from the digest
(:func:`keel_verify.crypto.ed25519.verify_prehashed`, the same answer as
:func:`keel_verify.crypto.ed25519.verify` over the whole message).

Memory is bounded by the number of distinct (R, A) pairs: up to
:data:`MAX_STREAMED_PAIRS` are hashed as the message streams; an artifact with more
keeps the message instead (and costs what a verifier holding it always did).
"""

from __future__ import annotations

import hashlib
from typing import Any

from keel_verify.crypto.ed25519 import PUBLIC_KEY_BYTES, SIGNATURE_BYTES, Prehash, verify
from keel_verify.crypto.signatures import decode_prefixed

#: Distinct (R, A) pairs hashed while streaming; more and the message is held instead.
MAX_STREAMED_PAIRS = 16


def _pairs(entries: Any) -> dict[tuple[bytes, bytes], tuple[bytes, bytes]]:
    """(R, A) -> (public key, signature) of every entry that could verify, or of the
    first ``MAX_STREAMED_PAIRS + 1`` of them (enough to know the message is held)."""
    pairs: dict[tuple[bytes, bytes], tuple[bytes, bytes]] = {}
    for entry in entries if isinstance(entries, list) else ():
        if not isinstance(entry, dict):
            continue
        key, _ = decode_prefixed(entry.get("public_key"), PUBLIC_KEY_BYTES, "public_key")
        signature, _ = decode_prefixed(entry.get("signature"), SIGNATURE_BYTES, "signature")
        if key is not None and signature is not None:
            pairs.setdefault((signature[:32], key), (key, signature))
            if len(pairs) > MAX_STREAMED_PAIRS:
                break
    return pairs


class SignedMessage:
    """The message's digests, fed with :meth:`update` in order; read them only after the
    last piece. ``signature_entries``: the artifact's ``signatures`` member, as parsed."""

    def __init__(self, signature_entries: Any) -> None:
        self._sha256 = hashlib.sha256()
        pairs = _pairs(signature_entries)
        self.held = len(pairs) > MAX_STREAMED_PAIRS
        self._message = bytearray() if self.held else None
        self._prehashes = {} if self.held else {
            pair: Prehash(key, signature) for pair, (key, signature) in pairs.items()
        }
        self.size = 0

    def update(self, piece: bytes | bytearray | memoryview) -> None:
        self._sha256.update(piece)
        for prehash in self._prehashes.values():
            prehash.update(piece)
        if self._message is not None:
            self._message += piece
        self.size += len(piece)

    @property
    def content_hash(self) -> str:
        """``H(message)``: ``"sha256:"`` + lowercase hex."""
        return "sha256:" + self._sha256.hexdigest()

    def verify(self, public_key: bytes, signature: bytes) -> bool:
        """:func:`keel_verify.crypto.ed25519.verify` of the whole message."""
        if self._message is not None:
            return verify(public_key, signature, self._message)
        prehash = self._prehashes.get((bytes(signature[:32]), bytes(public_key)))
        if prehash is None:  # every entry that can verify was given a prehash
            raise ValueError("no digest for this signature: it was not among the entries")
        return prehash.verify_signature(signature)
