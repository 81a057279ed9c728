"""``time_consistency``: the artifact's times agree with each other and with the time a
timestamp witness claims (docs/format.md §9.3).

* Signed order: ``started_at <= occurred_at`` of every chain entry ``<= ended_at <=
  issued_at``. These are all covered by the issuer signature, so a contradiction among
  them is the issuer's own statement and fails. ``ended_at: null`` (a session still
  active when exported) bounds the events by ``issued_at`` instead.
* Witnessed time: a token's genTime (widened by its stated accuracy) must not precede
  the last chain event it covers -- it cannot witness what did not exist yet -- nor lie
  more than :data:`GEN_TIME_AFTER_ISSUED_TOLERANCE` after ``issued_at``; the receipt's
  ``received_at`` must lie within :data:`RECEIVED_AT_TOLERANCE` of genTime.
  A contradiction with an authenticated genTime (a token that passed
  ``timestamp_witness`` fully) fails; one resting only on an unauthenticated genTime
  (an unsigned or unanchored token) warns. Tokens that failed verification are left to
  ``timestamp_witness``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from keel_verify.checks.base import Check, chain_length, counted, failed, passed, warned
from keel_verify.checks.entry_problems import (
    MAX_LISTED,
    ChunkLocalVisitor,
    EntryProblems,
    count_details,
    more_text,
)
from keel_verify.context import CheckContext
from keel_verify.crypto.witness import iso_utc
from keel_verify.load.access import Malformed, member, obj_at, parse_time, time_at
from keel_verify.load.chainpass import Chunk
from keel_verify.load.loader import Artifact
from keel_verify.load.receipts import collect_receipts
from keel_verify.results import CheckResult, Outcome
from keel_verify.trust.tsa_decision import ReceiptWitness, WitnessStatus

NAME = "time_consistency"

#: How long after ``issued_at`` a genTime may be: the issuer may request the timestamp
#: just after stamping ``issued_at``, but a genTime long after it contradicts the claim
#: that the receipt was part of the artifact when it was issued.
GEN_TIME_AFTER_ISSUED_TOLERANCE = timedelta(minutes=10)

#: How far ``received_at`` (the issuer's clock, when the reply arrived) may lie from
#: genTime (the TSA's clock): network round trip plus ordinary clock skew.
RECEIVED_AT_TOLERANCE = timedelta(minutes=5)

Problem = tuple[str, str]  # (JSON Pointer, problem)


def _duration(delta: timedelta) -> str:
    seconds = int(abs(delta).total_seconds())
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min {seconds} s" if minutes else f"{seconds} s"


def _signed_order(document: dict[str, Any]) -> tuple[list[Problem], datetime, datetime]:
    """Problems among the session's own signed times; started_at and issued_at."""
    metadata = obj_at(document, "session_metadata", "")
    started = time_at(metadata, "started_at", "/session_metadata")
    issued = time_at(document, "issued_at", "")
    ended: datetime | None = None
    if member(metadata, "ended_at", "/session_metadata") is not None:
        ended = time_at(metadata, "ended_at", "/session_metadata")
    problems: list[Problem] = []
    if ended is None and metadata.get("status") == "ended":
        problems.append((
            "/session_metadata/ended_at",
            "session status is \"ended\" but ended_at is null",
        ))
    if ended is not None and ended < started:
        problems.append((
            "/session_metadata/ended_at",
            f"ended_at {iso_utc(ended)} precedes started_at {iso_utc(started)}",
        ))
    if ended is not None and ended > issued:
        problems.append((
            "/session_metadata/ended_at",
            f"ended_at {iso_utc(ended)} is after issued_at {iso_utc(issued)}",
        ))
    if started > issued:
        problems.append((
            "/session_metadata/started_at",
            f"started_at {iso_utc(started)} is after issued_at {iso_utc(issued)}",
        ))
    return problems, started, issued


# Long sessions repeat timestamps (second resolution): parse each distinct one once.
_parse_cached = lru_cache(maxsize=65536)(parse_time)


class EventTimes(ChunkLocalVisitor):
    """Folds over the chain: each event's occurred_at inside the session's window, and,
    per receipt coverage, the latest event covered (nothing else is kept)."""

    def __init__(self, artifact: Artifact) -> None:
        document = artifact.document
        metadata = document.get("session_metadata")
        metadata = metadata if isinstance(metadata, dict) else {}
        self.started = parse_time(metadata.get("started_at"))
        ended = parse_time(metadata.get("ended_at"))
        issued = parse_time(document.get("issued_at"))
        self.last_allowed, self.last_name = (ended, "ended_at") if ended else (issued, "issued_at")
        try:
            receipts = collect_receipts(document)
        except Malformed:
            receipts = []
        thresholds: set[int | None] = {None}
        for _, receipt in receipts:
            if isinstance(receipt, dict) and type(receipt.get("covers_chain_head_at_sequence")) is int:
                thresholds.add(receipt["covers_chain_head_at_sequence"])
        # coverage threshold (None: every event) -> (latest occurred_at, entry index)
        self.latest: dict[int | None, tuple[datetime, int]] = {}
        self.thresholds = tuple(thresholds)
        self.count = 0
        super().__init__()

    def visit(self, chunk: Chunk) -> None:
        if chunk.objects and self._chunk_is_sound(chunk):
            return
        first, entries = chunk.first, chunk.entries
        started, last_allowed, latest = self.started, self.last_allowed, self.latest
        for offset, entry in enumerate(entries):
            index = first + offset
            if type(entry) is not dict:
                self._problem(f"/chain/{index}", f"chain entry {index} is not an object")
                continue
            stamp = entry.get("occurred_at")
            occurred = _parse_cached(stamp) if type(stamp) is str else None
            if occurred is None:
                self._problem(f"/chain/{index}/occurred_at",
                              "occurred_at is not an RFC 3339 UTC timestamp")
                continue
            self.count += 1
            if started is not None and occurred < started:
                self._problem(f"/chain/{index}/occurred_at",
                              f"chain entry {index} occurred_at {iso_utc(occurred)} precedes "
                              f"started_at {iso_utc(started)}")
            if last_allowed is not None and occurred > last_allowed:
                self._problem(f"/chain/{index}/occurred_at",
                              f"chain entry {index} occurred_at {iso_utc(occurred)} is after "
                              f"{self.last_name} {iso_utc(last_allowed)}")
            sequence = entry.get("sequence")
            for threshold in self.thresholds:
                if threshold is None or type(sequence) is not int or sequence <= threshold:
                    held = latest.get(threshold)
                    if held is None or occurred > held[0]:
                        latest[threshold] = (occurred, index)

    def _chunk_is_sound(self, chunk: Chunk) -> bool:
        """The common case, judged with list operations: every event inside the session's
        window, and every threshold covering every event of the chunk."""
        stamps = chunk.column("occurred_at")
        sequences = chunk.column("sequence")
        if not (set(map(type, stamps)) == {str} and set(map(type, sequences)) == {int}):
            return False
        parsed = list(map(_parse_cached, stamps))
        times = [time for time in parsed if time is not None]
        if len(times) != len(parsed):
            return False
        earliest, latest_time = min(times), max(times)
        if (self.started is None or earliest < self.started
                or self.last_allowed is None or latest_time > self.last_allowed):
            return False
        highest = max(sequences)
        if any(threshold is not None and highest > threshold for threshold in self.thresholds):
            return False  # some event lies beyond a receipt's coverage: judge one by one
        index = chunk.first + times.index(latest_time)
        for threshold in self.thresholds:
            held = self.latest.get(threshold)
            if held is None or latest_time > held[0]:
                self.latest[threshold] = (latest_time, index)
        self.count += len(times)
        return True

    # Sharding (keel_verify.load.shards): nothing carries over between chunks; the latest
    # event per threshold is the later time, the earlier entry on a tie.
    def absorb(self, later: EventTimes) -> None:
        if self.found.stopped_at is not None:
            return
        for threshold, (time, index) in later.latest.items():
            held = self.latest.get(threshold)
            if held is None or time > held[0]:
                self.latest[threshold] = (time, index)
        self.count += later.count
        super().absorb(later)

    def _problem(self, pointer: str, problem: str) -> None:
        self.found.add(pointer, problem)

    def latest_covered(self, covers_sequence: int | None) -> tuple[datetime, str] | None:
        held = self.latest.get(covers_sequence if covers_sequence in self.thresholds else None)
        return None if held is None else (held[0], f"/chain/{held[1]}/occurred_at")


def _witness_problems(
    receipt: ReceiptWitness,
    latest_covered: tuple[datetime, str] | None,
    started: datetime,
    issued: datetime,
) -> list[Problem]:
    verification = receipt.verification
    gen_time = verification.gen_time
    if gen_time is None:
        return []
    slack = verification.accuracy or timedelta(0)
    basis = "authenticated" if receipt.status is WitnessStatus.VERIFIED else "unauthenticated"
    shown = f"genTime {iso_utc(gen_time)} ({basis})"
    token_pointer = f"{receipt.pointer}/tsa_response_base64"
    problems: list[Problem] = []
    if gen_time + slack < started:
        problems.append((
            token_pointer,
            f"{shown} precedes the session itself (started_at {iso_utc(started)}, "
            f"{_duration(started - gen_time)} later): it cannot have witnessed this session",
        ))
    elif latest_covered is not None:
        last_time, last_pointer = latest_covered
        if gen_time + slack < last_time:
            problems.append((
                token_pointer,
                f"{shown} precedes the last chain event it covers ({iso_utc(last_time)} at "
                f"{last_pointer})",
            ))
    if gen_time - slack > issued + GEN_TIME_AFTER_ISSUED_TOLERANCE:
        problems.append((
            token_pointer,
            f"{shown} is {_duration(gen_time - issued)} after issued_at {iso_utc(issued)} "
            f"(tolerance {_duration(GEN_TIME_AFTER_ISSUED_TOLERANCE)})",
        ))
    received = receipt.received_at
    if received is not None and abs(received - gen_time) > RECEIVED_AT_TOLERANCE + slack:
        problems.append((
            f"{receipt.pointer}/received_at",
            f"received_at {iso_utc(received)} is {_duration(received - gen_time)} from {shown} "
            f"(tolerance {_duration(RECEIVED_AT_TOLERANCE)})",
        ))
    return problems


def _listed(problems: list[Problem], entries: EntryProblems | None = None) -> dict[str, Any]:
    """``problems`` listed and counted, with those ``entries`` counted without listing."""
    total = len(problems) + (entries.unlisted if entries is not None else 0)
    return {
        "problems": [{"pointer": p, "problem": m} for p, m in problems[:MAX_LISTED]],
        **count_details(total, entries),
    }


def _first(problems: list[Problem], entries: EntryProblems | None = None) -> tuple[str, str]:
    pointer, problem = problems[0]
    total = len(problems) + (entries.unlisted if entries is not None else 0)
    return pointer, problem + more_text(total, entries)


def run(context: CheckContext) -> CheckResult:
    document = context.artifact.document
    signed, started, issued = _signed_order(document)
    chain_length(context.artifact)
    times: EventTimes = context.chain.visitor(NAME)
    signed.extend(times.found.listed)
    authenticated: list[Problem] = []
    unauthenticated: list[Problem] = []
    judged = [
        r for r in context.witness.receipts
        if r.status is not WitnessStatus.INVALID and r.verification.gen_time is not None
    ]
    for receipt in judged:
        found = _witness_problems(receipt, times.latest_covered(receipt.covers_sequence), started,
                                  issued)
        (authenticated if receipt.status is WitnessStatus.VERIFIED else unauthenticated).extend(found)
    details: dict[str, Any] = {
        "gen_time_after_issued_tolerance_seconds": GEN_TIME_AFTER_ISSUED_TOLERANCE.total_seconds(),
        "received_at_tolerance_seconds": RECEIVED_AT_TOLERANCE.total_seconds(),
        "events": times.count,
        "gen_times_judged": len(judged),
    }
    hard = signed + authenticated
    if hard:
        pointer, reason = _first(hard, times.found)
        code = "signed_times_disordered" if signed else "gen_time_contradicts"
        return failed(NAME, reason, pointer, code=code, **details,
                      **_listed(hard + unauthenticated, times.found))
    if unauthenticated:
        pointer, reason = _first(unauthenticated)
        return warned(
            NAME,
            f"{reason}; this rests on an unauthenticated genTime, so it is reported, not failed",
            pointer,
            code="unauthenticated_gen_time_contradicts",
            **details,
            **_listed(unauthenticated),
        )
    reason = f"signed times are ordered (started_at, {counted(times.count, 'event')}, ended_at, issued_at)"
    if judged:
        basis = witness_basis(sum(r.status is WitnessStatus.VERIFIED for r in judged), len(judged))
        reason += (
            f"; {counted(len(judged), 'witnessed genTime')} ({basis}): after the events covered, "
            "within tolerance of issued_at, in agreement with received_at"
        )
    else:
        reason += "; no witnessed genTime to compare"
    return passed(NAME, reason, **details)


def witness_basis(authenticated: int, total: int) -> str:
    """How many of ``total`` (>= 1) witnessed genTimes are authenticated, in words that are
    true for one and for many: ``authenticated``, ``all authenticated``, ``unauthenticated``,
    ``none authenticated``, ``1 authenticated, 2 unauthenticated``."""
    if authenticated == total:
        return "authenticated" if total == 1 else "all authenticated"
    if authenticated == 0:
        return "unauthenticated" if total == 1 else "none authenticated"
    return f"{authenticated} authenticated, {total - authenticated} unauthenticated"


CHECK = Check(
    NAME,
    run,
    "started_at <= events <= ended_at <= issued_at; genTime agrees with the session",
    EventTimes,
    codes={
        "ok": (Outcome.PASS, "signed times are ordered and every witnessed genTime agrees"),
        "signed_times_disordered": (Outcome.FAIL, "the signed times (started_at, events, "
                                                  "ended_at, issued_at) are out of order or unreadable"),
        "gen_time_contradicts": (Outcome.FAIL, "an authenticated genTime contradicts the session's times"),
        "unauthenticated_gen_time_contradicts": (Outcome.WARN, "an unauthenticated genTime "
                                                               "contradicts the session's times"),
    },
)
