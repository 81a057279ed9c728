"""Injected time and identifiers, so that a scenario replays to identical bytes.

Timestamps in artifacts are RFC 3339 UTC with whole seconds (``2026-05-21T14:32:00Z``),
the form the public samples use.
"""

from __future__ import annotations

import hashlib
import os
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol

#: Start of every deterministic scenario (the public samples' session day).
DEMO_START = datetime(2026, 5, 21, 14, 32, 0, tzinfo=UTC)


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC. The engine calls it once per API call."""
        ...


class IdGenerator(Protocol):
    def new(self, prefix: str) -> str:
        """A fresh identifier such as ``sess_3f2a...``."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC).replace(microsecond=0)


@dataclass
class SteppingClock:
    """Starts at ``start`` and advances by ``step`` on every reading: deterministic, and
    strictly ordered, so ``started_at <= occurred_at <= ended_at`` holds by construction."""

    start: datetime = DEMO_START
    step: timedelta = timedelta(seconds=1)
    _readings: int = field(default=0, init=False)

    def now(self) -> datetime:
        value = self.start + self.step * self._readings
        self._readings += 1
        return value


class RandomIds:
    """Unpredictable ids for a running server (a restart must not reuse ids): 12 bytes
    from ``os.urandom`` each, as ``secrets.token_hex(12)`` makes them, read 256 ids at a
    time (a system call per id cost about a microsecond of each ingested event)."""

    _POOL_BYTES = 12 * 256

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pool = b""
        self._used = 0

    def new(self, prefix: str) -> str:
        with self._lock:
            if self._used == len(self._pool):
                self._pool, self._used = os.urandom(self._POOL_BYTES), 0
            raw = self._pool[self._used:self._used + 12]
            self._used += 12
        return f"{prefix}_{raw.hex()}"


@dataclass
class SeededIds:
    """Ids derived from a seed and a counter: the same seed gives the same sequence."""

    seed: str
    _counter: int = field(default=0, init=False)

    def new(self, prefix: str) -> str:
        self._counter += 1
        digest = hashlib.sha256(f"{self.seed}\x00{self._counter}".encode()).hexdigest()
        return f"{prefix}_{digest[:24]}"


def format_time(moment: datetime) -> str:
    """RFC 3339 UTC, whole seconds, ``Z`` suffix."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: the emitter only handles timezone-aware UTC times")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str) -> datetime:
    """An RFC 3339 date-time (``Z`` or an offset) as an aware UTC datetime."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    if moment.tzinfo is None:  # pragma: no cover - the body pattern requires an offset
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)
