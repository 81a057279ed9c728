"""Canonical bytes, profile ``keel.canonical_json.attestation_artifact.v1`` (SPEC A.1).

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


#: The session chain's genesis hash (SPEC A.5).
GENESIS_HASH = tagged_sha256(b"keel-voice-session-artifact-chain-genesis-v1")


def _escape_pointer_token(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def jcs_divergences(value: Any, pointer: str = "") -> Iterator[tuple[str, str]]:
    """Yield ``(json_pointer, what)`` for each value where this profile and JCS can differ.

    Iterative, so depth is bounded by memory rather than the Python stack.
    """
    stack: list[tuple[str, Any]] = [(pointer, value)]
    while stack:
        where, node = stack.pop()
        if isinstance(node, dict):
            for key, child in node.items():
                child_pointer = f"{where}/{_escape_pointer_token(key)}"
                if any(ord(ch) > 0xFFFF for ch in key):
                    yield child_pointer, "object key outside the Basic Multilingual Plane"
                stack.append((child_pointer, child))
        elif isinstance(node, list):
            stack.extend((f"{where}/{index}", child) for index, child in enumerate(node))
        elif isinstance(node, bool):
            continue
        elif isinstance(node, int):
            if abs(node) > JCS_MAX_SAFE_INTEGER:
                yield where, f"integer {node} beyond +/-(2^53-1)"
        elif isinstance(node, float):
            yield where, f"floating-point number {node!r}"
