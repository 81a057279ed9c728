"""Bounded memos of pure functions of DER bytes, shared by every file one process
verifies: a batch whose tokens come from one TSA parses and checks that TSA's
certificates once, not once per file.

A memo is keyed by every input of the function it stands for -- the exact DER of each
certificate, name or attribute read, never a digest or a parsed object -- so two calls
with the same key would compute the same result. What is kept is a derived, immutable
result (bytes, strings, a frozen dataclass, an immutable ``cryptography`` certificate),
never an asn1crypto object, which parses itself lazily as it is read. A computation
that raises keeps nothing, so the error is raised again, with the same text, at the
same step, by the next call. Each memo holds at most a fixed number of entries (the
least recently used is dropped first), and a key's bytes are bounded by the token size
limit (:data:`keel_verify.crypto.rfc3161.MAX_TOKEN_BYTES`) or belong to the caller's
trust policy, so hostile input cannot grow memory.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar, cast

Value = TypeVar("Value")

_MISSING = object()

#: Entries per memo. A deployment's tokens name a handful of certificates; the per-token
#: attributes (message digests) come and go, least recently used first.
DEFAULT_SIZE = 64


class DerMemo(Generic[Value]):
    """At most ``size`` results of one pure function, by key; ``hits`` and ``misses``
    count lookups (tests read them to prove what is shared and what is not)."""

    def __init__(self, name: str, size: int = DEFAULT_SIZE) -> None:
        self.name = name
        self.size = size
        self.hits = 0
        self.misses = 0
        self._entries: OrderedDict[Hashable, Value] = OrderedDict()
        # A lookup and an eviction must not interleave (a caller's threads share the memo);
        # computations run outside the lock.
        self._lock = threading.Lock()
        _ALL.append(self)

    def get(self, key: Hashable, compute: Callable[[], Value]) -> Value:
        """The result for ``key``: remembered, or ``compute()`` (kept unless it raises)."""
        found = self._find(key)
        if found is not _MISSING:
            return cast(Value, found)
        value = compute()
        self.put(key, value)
        return value

    def peek(self, key: Hashable) -> Value | None:
        """The remembered result for ``key``, or None (counted as a hit or a miss)."""
        found = self._find(key)
        return None if found is _MISSING else cast(Value, found)

    def _find(self, key: Hashable) -> object:
        entries = self._entries
        with self._lock:
            if key in entries:
                self.hits += 1
                entries.move_to_end(key)
                return entries[key]
            self.misses += 1
            return _MISSING

    def put(self, key: Hashable, value: Value) -> None:
        """Remember ``value`` for ``key``, dropping the least recently used beyond the size."""
        entries = self._entries
        with self._lock:
            entries[key] = value
            entries.move_to_end(key)
            if len(entries) > self.size:
                entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self.hits = self.misses = 0


_ALL: list[DerMemo[Any]] = []


def all_memos() -> tuple[DerMemo[Any], ...]:
    """Every memo of this process (for tests and diagnostics)."""
    return tuple(_ALL)


def clear_all() -> None:
    """Forget every remembered result (tests start from an empty memo)."""
    for memo in _ALL:
        memo.clear()
