"""Canonical bytes, profile ``keel.canonical_json.attestation_artifact.v1`` (docs/format.md §1).

The profile is: UTF-8 JSON, object members sorted by key in code-point order, no
whitespace, non-ASCII written as itself, strings escaping only ``"`` ``\\`` and controls
below U+0020 (short forms for ``\\b \\f \\n \\r \\t``, lowercase ``\\u00xx`` otherwise),
integers in plain decimal of any size. CPython's JSON encoder, configured below, writes
exactly that, and its C accelerator makes it the fastest exact writer we have.

Where this differs from RFC 8785 (JCS), by design of the Keel profile:

* integers beyond +/-(2**53 - 1): written exactly here; JCS rejects them;
* floats: written as Python's ``repr`` here (``1e+16``, ``1.0``); JCS uses ECMAScript
  number formatting (``1e16``, ``1``);
* object keys outside the Basic Multilingual Plane: sorted by code point here; JCS sorts
  by UTF-16 code units, so such keys can sort differently.

On every other value the bytes equal ``rfc8785.dumps`` (proved by a hypothesis test).
:func:`jcs_divergences` names the places where an artifact leaves that common domain.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

from keel_verify.load.access import escape_token  # a leaf module: no import cycle

PROFILE = "keel.canonical_json.attestation_artifact.v1"

JCS_MAX_SAFE_INTEGER = 2**53 - 1

_ENCODER = json.JSONEncoder(
    ensure_ascii=False,
    allow_nan=False,
    sort_keys=True,
    separators=(",", ":"),
    check_circular=False,
)


def canonical_bytes(value: Any) -> bytes:
    """The profile's canonical bytes of a JSON value (as parsed by :mod:`keel_verify.load.loader`)."""
    return _ENCODER.encode(value).encode("utf-8")


def tagged_sha256(data: bytes | bytearray) -> str:
    """``"sha256:" + lowercase hex SHA-256`` -- the spec's ``H(x)``."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def canonical_hash(value: Any) -> str:
    """``H(C(value))``."""
    return tagged_sha256(canonical_bytes(value))


def hash_hex(tagged_or_bare: str) -> str:
    """The hex part of a hash written either bare or with the ``sha256:`` prefix."""
    return tagged_or_bare.removeprefix("sha256:")


#: The session chain's genesis hash (docs/format.md §5).
GENESIS_HASH = tagged_sha256(b"keel-voice-session-artifact-chain-genesis-v1")


_KEY_OUTSIDE_BMP = "object key outside the Basic Multilingual Plane"


def _scalar_divergence(node: Any) -> bool:
    if isinstance(node, bool):
        return False
    if isinstance(node, int):
        return abs(node) > JCS_MAX_SAFE_INTEGER
    return isinstance(node, float)


def _describe(node: Any) -> str:
    if isinstance(node, float):
        return f"floating-point number {node!r}"
    if isinstance(node, int):
        return f"integer {node} beyond +/-(2^53-1)"
    return _KEY_OUTSIDE_BMP


class _KeyOutsideBmp:
    """Marks a finding about a member name rather than a value."""


_KEY = _KeyOutsideBmp()


def _members(node: dict[str, Any] | list[Any]) -> Iterator[tuple[str | int, Any]]:
    # Members in canonical (code point) order, so findings come in the order of their
    # JSON Pointers and the first few found are the first few reported.
    return iter(sorted(node.items())) if isinstance(node, dict) else enumerate(node)


def _walk(value: Any) -> Iterator[tuple[list[str | int], Any]]:
    """Yield ``(path, node)`` for each divergent value (or ``_KEY`` for a divergent member
    name, the name being the path's last token), ordered by path. ``path`` is live:
    read it before resuming. Iterative, and memory stays proportional to the depth."""
    path: list[str | int] = []
    if _scalar_divergence(value):
        yield path, value
    if not isinstance(value, (dict, list)):
        return
    open_containers = [_members(value)]
    while open_containers:
        for token, child in open_containers[-1]:
            if isinstance(token, str) and any(ord(ch) > 0xFFFF for ch in token):
                path.append(token)
                yield path, _KEY
                path.pop()
            if isinstance(child, (dict, list)):
                path.append(token)
                open_containers.append(_members(child))
                break
            if _scalar_divergence(child):
                path.append(token)
                yield path, child
                path.pop()
        else:
            open_containers.pop()
            if path:
                path.pop()


def _pointer(prefix: str, path: list[str | int]) -> str:
    return prefix + "".join(
        f"/{escape_token(t)}" for t in path
    )


def jcs_divergences(value: Any, pointer: str = "") -> Iterator[tuple[str, str]]:
    """Yield ``(json_pointer, what)`` for each value where this profile and JCS can differ,
    ordered by pointer (members by name, array items by index; ``pointer`` prefixes
    every pointer)."""
    for path, node in _walk(value):
        yield _pointer(pointer, path), _describe(node)


def jcs_divergence_summary(
    value: Any, pointer: str = "", listed: int = 10
) -> tuple[int, list[tuple[str, str]]]:
    """``(count, first)``: how many :func:`jcs_divergences` there are, and the first
    ``listed`` of them. Pointers and descriptions are built only for those listed, so an
    array of 10**7 floats costs a count, not 10**7 strings."""
    count = 0
    first: list[tuple[str, str]] = []
    for path, node in _walk(value):
        if count < listed:
            first.append((_pointer(pointer, path), _describe(node)))
        count += 1
    return count, first
