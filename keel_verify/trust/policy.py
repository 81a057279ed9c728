"""Trust policy: which issuer keys and TSA roots vouch for an artifact.

This is the trust boundary. Nothing inside an artifact can add to a policy: a key found
only in the artifact is "self-attested" and is trusted only if the caller explicitly
accepts that (``self_attested=True``), in which case the report says that the origin is
unproven.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Callable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING, overload

from keel_verify.crypto.ed25519 import (
    ED25519_PREFIX,
    PUBLIC_KEY_BYTES,
    Ed25519KeyError,
    check_key_encoding,
)
from keel_verify.crypto.signatures import decode_prefixed
from keel_verify.errors import TrustConfigError

if TYPE_CHECKING:  # cryptography.x509 is imported only when TSA roots are actually used
    from cryptography import x509

    from keel_verify.trust.tsa_revocation import RevocationSnapshot

TRUST_ROOT_ENV = "KEEL_VERIFY_TRUST_ROOT"
ISSUER_KEY_PURPOSE = "export_signing"


def parse_ed25519_public_key(text: str) -> bytes:
    """``"ed25519:" + base64(32 raw bytes)`` -> the raw key: how every trust source
    (trust-root files, Keel manifests, ``--public-key``, policy files) reads a key.

    Raises TrustConfigError (one line) unless the bytes pass the checks of RFC 8032
    §5.1.3 that need no square root: 32 bytes, a canonical encoding, not of small order
    (:func:`keel_verify.crypto.ed25519.check_key_encoding`). Whether the key is a point
    on the curve is decided when it is first used to verify a signature (a square root,
    about 0.1 ms a key: 10 s for a trust root of 100,000 keys if done here); a key that
    is not can verify nothing, and the report says so.
    """
    raw, problem = decode_prefixed(text, PUBLIC_KEY_BYTES, "public key")
    if raw is None:
        raise TrustConfigError(f"{problem}, got {text!r:.60}")
    try:
        check_key_encoding(raw)
    except Ed25519KeyError as error:
        raise TrustConfigError(f"public key {text!r:.60} {error}") from None
    return raw


def format_ed25519_public_key(raw: bytes) -> str:
    return ED25519_PREFIX + base64.b64encode(raw).decode("ascii")


@dataclass(frozen=True)
class TrustFile:
    """A trust file as it was read: ``path`` as given, ``sha256`` (``"sha256:"`` + hex
    SHA-256 of the bytes parsed) and ``kind`` in words ("trust root", "TSA roots file").
    Reports name these so that a policy they list only in part stays identifiable."""

    path: str
    sha256: str
    kind: str


@dataclass(frozen=True)
class TrustedKey:
    """An issuer key the caller trusts, with the conditions of that trust."""

    public_key: bytes  # raw 32-byte Ed25519 key
    source: str  # where the trust came from, in words: "--public-key", "trust root X, issuer_keys[0]"
    label: str | None = None
    purpose: str = ISSUER_KEY_PURPOSE
    not_before: datetime | None = None
    not_after: datetime | None = None
    revoked_at: datetime | None = None
    status: str = "active"  # "active", "revoked" or (Keel manifests) "retired"
    pinned: bool = False  # given as a bare key (--public-key), not by a trust-root file

    @property
    def encoded(self) -> str:
        return format_ed25519_public_key(self.public_key)


class IssuerKeys(Sequence[TrustedKey]):
    """Issuer-key statements in policy order, each :class:`TrustedKey` built when first
    read. A trust root of 100,000 keys loads as its key bytes (checked at once) and the
    entries they came from; verifying builds only the statements about the key bytes
    that sign, and only a report listing the whole policy builds them all.

    ``raw_keys``: the 32 key bytes of each statement, in order; ``build(index)``: the
    statement at ``index`` (a picklable callable: policies travel to worker processes).
    Immutable; equal to any sequence of the same statements.
    """

    def __init__(self, raw_keys: tuple[bytes, ...],
                 build: Callable[[int], TrustedKey]) -> None:
        self._raw_keys = raw_keys
        self._parts: tuple[tuple[int, Callable[[int], TrustedKey]], ...] = ((0, build),)
        self._built: dict[int, TrustedKey] = {}

    @classmethod
    def joined(cls, *groups: Sequence[TrustedKey]) -> IssuerKeys:
        """The statements of ``groups``, one after the other (none is built)."""
        raw_keys: list[bytes] = []
        parts: list[tuple[int, Callable[[int], TrustedKey]]] = []
        for group in groups:
            if not group:
                continue
            if isinstance(group, IssuerKeys):
                parts.extend((len(raw_keys) + start, build) for start, build in group._parts)
                raw_keys.extend(group._raw_keys)
            else:
                statements = tuple(group)
                parts.append((len(raw_keys), statements.__getitem__))
                raw_keys.extend(statement.public_key for statement in statements)
        joined = cls(tuple(raw_keys), _no_statement)
        joined._parts = tuple(parts)  # each group's builder, from its first position on
        return joined

    @property
    def raw_keys(self) -> tuple[bytes, ...]:
        return self._raw_keys

    def __len__(self) -> int:
        return len(self._raw_keys)

    @overload
    def __getitem__(self, index: int) -> TrustedKey: ...

    @overload
    def __getitem__(self, index: slice) -> tuple[TrustedKey, ...]: ...

    def __getitem__(self, index: int | slice) -> TrustedKey | tuple[TrustedKey, ...]:
        if isinstance(index, slice):
            return tuple(self[i] for i in range(len(self))[index])
        position = range(len(self))[index]  # IndexError, negative indices
        built = self._built.get(position)
        if built is None:
            start, build = next((s, b) for s, b in reversed(self._parts) if s <= position)
            built = self._built[position] = build(position - start)
        return built

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence) or isinstance(other, (str, bytes)):
            return NotImplemented
        return len(self) == len(other) and tuple(self) == tuple(other)

    def __hash__(self) -> int:
        return hash(tuple(self))

    def __repr__(self) -> str:
        return f"IssuerKeys({len(self)} statements)"


def _no_statement(index: int) -> TrustedKey:
    raise IndexError(index)


def raw_keys_of(statements: Sequence[TrustedKey]) -> tuple[bytes, ...]:
    """The key bytes of each statement, in order (without building lazy statements)."""
    if isinstance(statements, IssuerKeys):
        return statements.raw_keys
    return tuple(statement.public_key for statement in statements)


@dataclass(frozen=True)
class TrustPolicy:
    """What the caller trusts. The default trusts nothing (verdicts are then UNTRUSTED)."""

    issuer_keys: Sequence[TrustedKey] = ()  # a tuple, or IssuerKeys (built when read)
    self_attested: bool = False
    tsa_roots: tuple[x509.Certificate, ...] = ()
    tsa_roots_source: str | None = None
    strict: bool = False
    # Certificates that help build a TSA chain (the TSA certificate of a token made with
    # certReq false, intermediates): never trust anchors (--tsa-certs, RFC 3161 2.4.1).
    tsa_certs: tuple[x509.Certificate, ...] = ()
    tsa_certs_source: str | None = None
    # Revocation rules of TSA trust bundles, each for the chains ending at its anchors.
    tsa_revocation: tuple[RevocationSnapshot, ...] = ()
    # What loading the trust sources established, in words (e.g. a verified manifest signature).
    notes: tuple[str, ...] = ()
    # Where each of tsa_roots came from (same order), so a report names the source of the
    # anchor a chain really ended at; empty when the policy was built by hand.
    tsa_root_sources: tuple[str, ...] = ()
    # Every trust file read to build this policy, in order (empty when built by hand).
    trust_files: tuple[TrustFile, ...] = ()

    def __post_init__(self) -> None:
        if self.self_attested and self.issuer_keys:
            raise TrustConfigError(
                "self_attested conflicts with trusted issuer keys: accept the artifact's own "
                "key or trust the listed keys, not both"
            )

    @classmethod
    def self_attested_only(cls, *, strict: bool = False) -> TrustPolicy:
        return cls(self_attested=True, strict=strict)

    @classmethod
    def pinned(cls, *public_keys: str, strict: bool = False) -> TrustPolicy:
        keys = tuple(
            TrustedKey(public_key=parse_ed25519_public_key(k), source="pinned key (--public-key)",
                       pinned=True)
            for k in public_keys
        )
        return cls(issuer_keys=keys, strict=strict)

    @property
    def has_issuer_trust_source(self) -> bool:
        return bool(self.issuer_keys)

    def keys_matching(self, raw_public_key: bytes) -> tuple[TrustedKey, ...]:
        """Every statement about this raw key, in policy order (one dict lookup: a trust
        root of 100,000 keys costs no more per signature than one of a single key)."""
        positions = self._positions_by_bytes.get(raw_public_key)
        if positions is None:
            return ()
        if isinstance(positions, int):
            return (self.issuer_keys[positions],)
        return tuple(self.issuer_keys[position] for position in positions)

    @property
    def issuer_key_bytes(self) -> AbstractSet[bytes]:
        """The raw bytes of every trusted issuer key (a view: no copy per artifact)."""
        return self._positions_by_bytes.keys()

    @cached_property
    def _positions_by_bytes(self) -> dict[bytes, int | tuple[int, ...]]:
        """Key bytes -> the position of the statement about them (a tuple of positions
        when several statements name the same bytes)."""
        raw_keys = raw_keys_of(self.issuer_keys)
        index: dict[bytes, int | tuple[int, ...]] = {raw: i for i, raw in enumerate(raw_keys)}
        if len(index) != len(raw_keys):  # some key bytes are listed more than once
            listed: dict[bytes, list[int]] = {}
            for position, raw in enumerate(raw_keys):
                listed.setdefault(raw, []).append(position)
            index = {raw: tuple(p) if len(p) > 1 else p[0] for raw, p in listed.items()}
        return index

    def tsa_root_source(self, anchor: x509.Certificate) -> str | None:
        """Where the TSA root ``anchor`` came from (all sources when not recorded)."""
        if len(self.tsa_root_sources) == len(self.tsa_roots):
            for root, source in zip(self.tsa_roots, self.tsa_root_sources, strict=True):
                if root == anchor:
                    return source
        return self.tsa_roots_source


def environment_trust_root_path(environ: Mapping[str, str] = os.environ) -> str | None:
    """``$KEEL_VERIFY_TRUST_ROOT`` (None when unset or empty). It applies beside
    ``--trust-root``: statements from both files hold, and the strictest wins."""
    return environ.get(TRUST_ROOT_ENV) or None
