"""Canonical bytes, profile ``keel.canonical_json.attestation_artifact.v1`` (docs/format.md §1).

The profile is: UTF-8 JSON, object members sorted by key in code-point order, no
whitespace, non-ASCII written as itself, strings escaping only ``"`` ``\\`` and controls
below U+0020 (short forms for ``\\b \\f \\n \\r \\t``, lowercase ``\\u00xx`` otherwise),
integers in plain decimal of any size. CPython's JSON encoder, configured below, writes
exactly that, and its C accelerator makes it the fastest exact writer we have.

Where this differs from RFC 8785 (JCS), by design of the Keel profile:

* integers beyond +/-(2**53 - 1): written exactly here; JCS rejects them;
* floats: written as Python's ``repr`` here (``1e+16``, ``1.0``: :func:`float_text`); JCS
  uses ECMAScript number formatting (``1e16``, ``1``);
* object keys outside the Basic Multilingual Plane: sorted by code point here; JCS sorts
  by UTF-16 code units, so such keys can sort differently.

On every other value the bytes equal ``rfc8785.dumps`` (proved by a hypothesis test).
:func:`jcs_divergences` names the places where an artifact leaves that common domain.
"""

from __future__ import annotations

import hashlib
import heapq
import json
import operator
from collections.abc import Callable, Iterator
from itertools import chain, compress, repeat
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


#: ``float_text(x)``: the profile's text of a finite float, Python's shortest round-trip
#: ``repr`` (``1.5``, ``1e+16``, ``1e-07``, ``-0.0``, ``5e-324``), which is what
#: :func:`canonical_bytes` writes for it (proved by a hypothesis test). The one float
#: formatter: the fast path writes this text too (:func:`keel_verify.load.accel.read_floats`).
#: (The C function itself: called once per float, it costs no Python frame.)
float_text: Callable[[float], str] = float.__repr__


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


#: The most items of two lists compared in one go (their slices are copies: this bounds
#: the memory a comparison takes to a few hundred KiB).
_COMPARED_AT_ONCE = 1 << 14


def _first_difference(values: list[Any], twins: list[Any], start: int) -> int:
    """The first index from ``start`` where two lists of equal length differ (-1 for
    none), compared in C a slice at a time: slices double in size up to
    _COMPARED_AT_ONCE items until one differs, which is then halved down to the index."""
    end = len(values)
    low, step = start, 1
    while low < end:
        high = min(end, low + step)
        if values[low:high] != twins[low:high]:
            while high - low > 1:
                middle = (low + high) // 2
                if values[low:middle] != twins[low:middle]:
                    high = middle
                else:
                    low = middle
            return low
        low, step = high, min(2 * step, _COMPARED_AT_ONCE)
    return -1


_CONTAINERS = frozenset({dict, list})


def _opened(node: dict[str, Any] | list[Any], twin: Any,
            room: int) -> tuple[list[Any] | None, list[Any], list[Any]]:
    """A container's member names (None for an array), its values and its twin's, in
    canonical order: for an object, only its ``room`` smallest names whose value differs
    from the twin's. Each such member yields at least one finding, so no later one is
    reached before ``room`` findings are. A member differs exactly when its value is a
    float (the twin's is not) or a container unequal to the twin's; the floats are told
    by their type and the containers compared, in C: no sort of every name."""
    if isinstance(node, list):
        return None, node, twin
    kinds = list(map(type, node.values()))
    floats = compress(node, map(operator.is_, kinds, repeat(float)))
    containers = list(compress(node, map(_CONTAINERS.__contains__, kinds)))
    differing = compress(containers, map(operator.ne, map(node.__getitem__, containers),
                                         map(twin.__getitem__, containers)))
    names = heapq.nsmallest(room, chain(floats, differing))
    return names, list(map(node.__getitem__, names)), list(map(twin.__getitem__, names))


def float_divergences(value: Any, twin: Any, pointer: str = "", listed: int = 10, *,
                      first_index: int = 0) -> list[tuple[str, str]]:
    """The first ``listed`` of :func:`jcs_divergences` for a value whose only values
    outside the JCS domain are floats (proven by its reader), found without walking the
    rest: ``twin`` is the same value with each float replaced by an object unequal to
    any float (:func:`keel_verify.load.accel.read_floats`), so a subtree equals its twin
    exactly when it holds no float, and C-speed comparisons of slices skip the rest.
    ``first_index``: when ``value`` is an array of consecutive items of a longer one (a
    chunk of chain entries), the index its first item has there."""
    if not isinstance(value, (dict, list)):
        return [(pointer, _describe(value))] if value != twin else []
    found: list[tuple[str, str]] = []
    path: list[str | int] = []
    open_containers = [(*_opened(value, twin, listed), 0)]
    base = first_index if isinstance(value, list) else 0
    while open_containers and len(found) < listed:
        names, values, twins, start = open_containers[-1]
        # An object's opened members all differ from the twin's (see _opened): no second
        # comparison of them; an array's items are compared a slice at a time.
        if names is not None:
            at = start if start < len(values) else -1
        else:
            at = _first_difference(values, twins, start)
        if at < 0:
            open_containers.pop()
            if path:
                path.pop()
            continue
        open_containers[-1] = (names, values, twins, at + 1)
        token: str | int = at if names is None else names[at]
        if len(open_containers) == 1 and names is None:
            token = base + at
        child = values[at]
        if isinstance(child, (dict, list)):
            path.append(token)
            open_containers.append((*_opened(child, twins[at], listed - len(found)), 0))
        else:  # a float: the only scalar unequal to its twin
            found.append((_pointer(pointer, [*path, token]), _describe(child)))
    return found
