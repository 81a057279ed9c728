"""Issuer signature entries (``signatures[]``): which of them verify, and nothing more.

An entry is *valid* when its Ed25519 signature verifies strictly (RFC 8032 §5.1.7, see
:mod:`keel_verify.crypto.ed25519`) over the artifact's unsigned canonical bytes and its
``content_hash``, when present, names those bytes (the reference treats it as optional).
Whether a valid entry's key vouches for the artifact is a trust decision, made in
:mod:`keel_verify.trust.key_decision`; every member of an entry lies outside the signed
bytes, so ``key_id``, ``key_purpose`` and ``signed_at`` are kept here only as claims.
"""

from __future__ import annotations

import binascii
import hashlib
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import Any, Protocol

from keel_verify.crypto.ed25519 import (
    ED25519_PREFIX,
    Ed25519KeyError,
    decode_public_key,
    signature_scalar_in_range,
    verify,
)
from keel_verify.lazy_sequence import LazySequence
from keel_verify.results import shown


def key_fingerprint(raw_public_key: bytes) -> str:
    """``"sha256:"`` + lowercase hex SHA-256 of the raw 32-byte key: how reports name a
    key by what verified, never by the artifact's own ``key_id``."""
    return "sha256:" + hashlib.sha256(raw_public_key).hexdigest()


@dataclass(frozen=True)
class SignatureEntry:
    """One ``signatures[]`` entry, verified. Text members are the artifact's claims."""

    index: int
    key_id: str | None  # claimed label, unverified
    public_key: str | None  # the entry's text
    claimed_purpose: str | None  # key_purpose: unverified, never decides trust
    raw_public_key: bytes | None
    valid: bool
    problem: str | None  # why it is not valid
    # What strict decoding said of the key bytes when it refused them ("is not a point on
    # the Ed25519 curve"); None when the key was not the problem.
    key_fault: str | None = None

    @property
    def pointer(self) -> str:
        return f"/signatures/{self.index}"

    @property
    def fingerprint(self) -> str | None:
        return key_fingerprint(self.raw_public_key) if self.raw_public_key is not None else None


def decode_prefixed(value: Any, expected_len: int, what: str) -> tuple[bytes | None, str | None]:
    if not isinstance(value, str) or not value.startswith(ED25519_PREFIX):
        return None, f"{what} is not an 'ed25519:BASE64' string"
    try:  # base64.b64decode(validate=True) without its wrapper (a trust root decodes 100,000)
        raw = binascii.a2b_base64(value[len(ED25519_PREFIX) :], strict_mode=True)
    except (binascii.Error, ValueError):
        return None, f"{what} is not valid base64"
    if len(raw) != expected_len:
        return None, f"{what} is {len(raw)} bytes, expected {expected_len}"
    return raw, None


class StreamedMessage(Protocol):
    """A message verified from digests taken as it streamed by
    (:class:`keel_verify.crypto.signed_message.SignedMessage`)."""

    def verify(self, public_key: bytes, signature: bytes) -> bool: ...


#: What verifying one entry found: (raw public key, problem, key fault); problem None means
#: the signature is valid; key fault is what strict decoding said when it refused the key.
_Outcome = tuple[bytes | None, str | None, str | None]


def _verify_entry(
    entry: Any, message: bytes | bytearray | StreamedMessage, content_hash: str
) -> _Outcome:
    if not isinstance(entry, dict):
        return None, "signature entry is not an object", None
    if "algorithm" not in entry:
        return None, "algorithm is missing", None
    if entry["algorithm"] != "ed25519":
        return None, f"unsupported algorithm {shown(entry['algorithm'], 60)}", None
    raw_key, problem = decode_prefixed(entry.get("public_key"), 32, "public_key")
    if problem:
        return None, problem, None
    raw_signature, problem = decode_prefixed(entry.get("signature"), 64, "signature")
    if problem or raw_key is None or raw_signature is None:
        return raw_key, problem, None
    if "content_hash" in entry and entry["content_hash"] != content_hash:
        return raw_key, (
            f"content_hash {shown(entry['content_hash'])} does not name the signed content "
            f"({content_hash})"
        ), None
    try:
        decode_public_key(raw_key)  # the key's first use: on the curve? (memoized by bytes)
    except Ed25519KeyError as error:
        return raw_key, f"public_key {error}", str(error)
    if not signature_scalar_in_range(raw_signature):
        return raw_key, "signature's S is not below the group order L (RFC 8032 5.1.7)", None
    holds = (verify(raw_key, raw_signature, message) if isinstance(message, (bytes, bytearray))
             else message.verify(raw_key, raw_signature))
    if not holds:
        return raw_key, "Ed25519 signature does not verify over the artifact's canonical bytes", None
    return raw_key, None, None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


#: Signature entries that reach the Ed25519 check in one artifact. Each check hashes the
#: whole signed message (SHA-512), so without a bound a file of many forged entries costs
#: entries x message size. Entries by preferred (e.g. trusted) keys are checked first.
MAX_VERIFIED_ENTRIES = 16


class VerifiedEntries(LazySequence[SignatureEntry]):
    """Each entry of ``signatures[]`` verified over ``message`` (the canonical bytes of the
    artifact without ``signatures``, whose ``H`` is ``content_hash``), in entry order. At
    most :data:`MAX_VERIFIED_ENTRIES` entries reach the Ed25519 check: those whose raw
    public key is in ``preferred_keys`` first, then the rest in order; any further entry
    is reported as not verified (``valid`` False) with that reason. Each entry is built
    when first asked for (a file may carry
    100,000 junk entries, and a report lists 50).

    Built at once: the entries whose key is in ``preferred_keys`` and those that reach the
    Ed25519 check within the bound (:attr:`checked`): every entry that can be valid is
    among them. Any other entry cannot verify (it fails a cheap screen, or it is past the
    bound) and is built from its own members alone when asked for."""

    def __init__(
        self,
        entries: list[Any],
        message: bytes | bytearray | StreamedMessage,
        content_hash: str,
        preferred_keys: AbstractSet[bytes] = frozenset(),
    ) -> None:
        super().__init__(len(entries))
        self._entries = entries
        self._content_hash = content_hash
        preferred = _preferred_indices(entries, preferred_keys)
        checked = 0
        for index in preferred:
            outcome, costly = self._screened(index, message, checked)
            checked += costly
            self._built[index] = outcome
        taken = set(preferred)
        for index, entry in enumerate(entries):
            if checked >= MAX_VERIFIED_ENTRIES:
                break  # every entry after this one that passes the screens is past the bound
            if index in taken or not _reaches_the_signature_check(
                    entry, _raw_key_of(entry), content_hash):
                continue
            self._built[index] = _entry(index, entry, _verify_entry(entry, message, content_hash))
            checked += 1
        self._past_the_bound = checked >= MAX_VERIFIED_ENTRIES
        #: Indices of the entries built at once, in entry order.
        self.checked: tuple[int, ...] = tuple(sorted(self._built))

    def _screened(self, index: int, message: bytes | bytearray | StreamedMessage,
                  checked: int) -> tuple[SignatureEntry, bool]:
        entry = self._entries[index]
        raw_key = _raw_key_of(entry)
        costly = _reaches_the_signature_check(entry, raw_key, self._content_hash)
        if costly and checked >= MAX_VERIFIED_ENTRIES:
            return _entry(index, entry, (raw_key, _PAST_THE_BOUND, None)), False
        return _entry(index, entry, _verify_entry(entry, message, self._content_hash)), costly

    def _build(self, index: int) -> SignatureEntry:
        """An entry not checked at once: it fails a cheap screen, or it is past the bound."""
        entry = self._entries[index]
        raw_key = _raw_key_of(entry)
        if self._past_the_bound and _reaches_the_signature_check(
                entry, raw_key, self._content_hash):
            outcome: _Outcome = (raw_key, _PAST_THE_BOUND, None)
        else:  # fails before the Ed25519 check: the message is never read
            outcome = _verify_entry(entry, _UNREAD, self._content_hash)
        return _entry(index, entry, outcome)


#: Base64 characters that encode a 32-byte key's first 30 bytes (and nothing else).
_LEADING_CHARS = 40


def _preferred_indices(entries: list[Any], preferred_keys: AbstractSet[bytes]) -> list[int]:
    """Indices of the entries whose public key decodes to one of ``preferred_keys``.

    Strict base64 writes a 32-byte key's first 30 bytes as exactly the first 40 characters
    (4 characters per 3 bytes, no padding before the end), so only an entry whose text
    starts as a preferred key's does can name it: only those are decoded (when there are
    fewer preferred keys than entries; else decoding each entry costs less)."""
    if not preferred_keys:
        return []
    if len(preferred_keys) >= len(entries):
        return [index for index, entry in enumerate(entries) if _raw_key_of(entry) in preferred_keys]
    start = len(ED25519_PREFIX)
    leading = {binascii.b2a_base64(key, newline=False)[:_LEADING_CHARS].decode("ascii")
               for key in preferred_keys}
    stop = start + _LEADING_CHARS
    return [
        index for index, entry in enumerate(entries)
        if isinstance(entry, dict) and isinstance(text := entry.get("public_key"), str)
        and text[start:stop] in leading and _raw_key_of(entry) in preferred_keys
    ]


class _Unread:
    """The message of an entry that fails a cheap screen: never verified against."""

    def verify(self, public_key: bytes, signature: bytes) -> bool:
        raise AssertionError("an entry past the screens was not checked at once")


_UNREAD = _Unread()


def _entry(index: int, entry: Any, outcome: _Outcome) -> SignatureEntry:
    raw_key, problem, key_fault = outcome
    fields = entry if isinstance(entry, dict) else {}
    return SignatureEntry(
        index=index,
        key_id=_text(fields.get("key_id")),
        public_key=_text(fields.get("public_key")),
        claimed_purpose=_text(fields.get("key_purpose")),
        raw_public_key=raw_key,
        valid=problem is None,
        problem=problem,
        key_fault=key_fault,
    )


_PAST_THE_BOUND = (
    f"not verified: more than {MAX_VERIFIED_ENTRIES} signature entries reach the Ed25519 "
    "check (a cost bound; entries by trusted keys are checked first)"
)


def _raw_key_of(entry: Any) -> bytes | None:
    if not isinstance(entry, dict):
        return None
    return decode_prefixed(entry.get("public_key"), 32, "public_key")[0]


def _reaches_the_signature_check(entry: Any, raw_key: bytes | None, content_hash: str) -> bool:
    """Whether ``entry`` (whose decoded public key is ``raw_key``) passes the cheap screens
    (shape, encodings, content_hash) and so costs a hash of the whole message."""
    if raw_key is None or not isinstance(entry, dict) or entry.get("algorithm") != "ed25519":
        return False
    if "content_hash" in entry and entry["content_hash"] != content_hash:
        return False
    return decode_prefixed(entry.get("signature"), 64, "signature")[0] is not None
