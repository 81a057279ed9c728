"""A check stops examining chain entries once it has found enough problems on them, and
says so; where it stops is the same however the chain pass is made (one process, shared
with a worker, or the exact path). Proved by structure -- which entries each visitor was
fed, how many problems it worded -- never by a clock (the times are in
``benchmarks/hostile.py``)."""

from __future__ import annotations

import io
import json
import mmap
import pickle
import subprocess
import sys
from collections.abc import Callable
from functools import cache
from typing import Any

import jsonschema
import pytest

from keel_verify import TrustPolicy, verify_bytes
from keel_verify.checks import visitor_factories
from keel_verify.checks.entry_problems import MAX_ENTRY_PROBLEMS, MAX_LISTED
from keel_verify.crypto.signed_message import SignedMessage
from keel_verify.facts import FACTS_VISITOR
from keel_verify.load import accel, chainpass, dense, shards
from keel_verify.load.loader import MAX_DEPTH, load_bytes
from keel_verify.report.json_report import report_to_dict
from keel_verify.schemas import REPORT_SCHEMA, load_schema
from tests import hostile_inputs as hostile
from tests.helpers import public_v3, record_worker_results

ENTRIES = 20_000  # above shards.MIN_ENTRIES: the pass may be shared with a worker
CHUNK = chainpass.CHUNK_ENTRIES
TRUST = TrustPolicy()

#: Each shape of bad chain, and the visitors that find a problem on (nearly) every entry
#: of it, so must stop; every other visitor must examine the whole chain.
ENTRY_VISITORS = {"artifact_schema", "chain_integrity", "session_binding", "payload_hashes",
                  "permit_linkage", "time_consistency"}
SHAPES: dict[str, tuple[Callable[[int], bytes], set[str]]] = {
    "empty objects": (hostile.empty_chain_entries, ENTRY_VISITORS),
    "wrong types": (hostile.wrong_type_entries, ENTRY_VISITORS),
    "one turn repeated": (hostile.repeated_turn_entries, ENTRY_VISITORS),
    "broken links only": (hostile.broken_link_entries, {"chain_integrity"}),
    "bad content hashes only": (hostile.bad_content_hash_entries, {"chain_integrity"}),
}


@cache
def shape(name: str) -> bytes:
    return SHAPES[name][0](ENTRIES)


def found_count(visitor: Any) -> int:
    """The problems (or schema errors) a visitor has found so far."""
    found = getattr(visitor, "found", None)
    return found.count if found is not None else len(getattr(visitor, "errors", ()))


@pytest.fixture
def alone(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every chain pass in this process, without a worker."""
    monkeypatch.setattr(shards, "usable_cpus", lambda: 1)


@pytest.fixture
def sharded(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Every long chain pass shared with a worker, whatever its entries' size; the list
    records, for each chunk the worker owns, whether its results arrived."""
    monkeypatch.setattr(shards, "usable_cpus", lambda: 2)
    monkeypatch.setattr(shards, "MIN_ENTRY_BYTES", 0)
    return record_worker_results(monkeypatch)


@pytest.fixture
def fed(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[tuple[int, int, int]]]:
    """For each visitor of this process: (first entry, entries, problems found after) of
    every chunk it was fed."""
    log: dict[str, list[tuple[int, int, int]]] = {}
    for name, factory in visitor_factories().items():
        real = factory.visit  # type: ignore[attr-defined]

        def spy(self: Any, chunk: chainpass.Chunk, real: Any = real, name: str = name) -> None:
            real(self, chunk)
            log.setdefault(name, []).append((chunk.first, len(chunk.entries), found_count(self)))

        monkeypatch.setattr(factory, "visit", spy)
    return log


# -- the bound --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", SHAPES)
def test_each_visitor_stops_at_the_first_chunk_boundary_after_enough_problems(
    alone: None, fed: dict[str, list[tuple[int, int, int]]], name: str
) -> None:
    _artifact, chain = chainpass.read_strictly(shape(name), visitor_factories())
    must_stop = SHAPES[name][1]
    for visitor_name, visitor in chain.visitors.items():
        chunks = fed[visitor_name]
        assert [first for first, _, _ in chunks] == list(range(0, len(chunks) * CHUNK, CHUNK))
        examined = sum(size for _, size, _ in chunks)
        counts = [count for _, _, count in chunks]
        found = getattr(visitor, "found", None)
        if visitor_name in must_stop:
            # enough problems only after the last chunk it was fed: it stopped right there
            assert counts[-1] >= MAX_ENTRY_PROBLEMS > max(counts[:-1], default=0), visitor_name
            assert examined < ENTRIES, visitor_name
            if found is not None:  # the schema check keeps its own errors (no more than 1,000)
                assert found.stopped_at == examined
                assert len(found.listed) == MAX_LISTED
                assert found.count < MAX_ENTRY_PROBLEMS + 8 * CHUNK  # worded: a bounded number
        else:
            assert examined == ENTRIES, visitor_name
            assert found is None or found.stopped_at is None
    assert chain.visitor(FACTS_VISITOR).count == ENTRIES  # the facts are never cut short


def test_a_stop_is_decided_only_at_chunk_boundaries(alone: None) -> None:
    """Problems found inside a chunk never cut that chunk short: its later entries are
    still examined, so the count can pass the bound."""
    _artifact, chain = chainpass.read_strictly(shape("wrong types"), visitor_factories())
    binding = chain.visitor("session_binding").found
    assert binding.stopped_at == CHUNK  # every entry has several problems
    assert binding.count > MAX_ENTRY_PROBLEMS


def test_a_sound_chain_is_examined_to_its_end(
    alone: None, fed: dict[str, list[tuple[int, int, int]]]
) -> None:
    document = json.loads(hostile.chain_of(hostile.sound_entries(3 * CHUNK)))
    chainpass.read_strictly(hostile.encode(document), visitor_factories())
    for name, chunks in fed.items():
        assert sum(size for _, size, _ in chunks) == 3 * CHUNK, name


# -- what the report says -----------------------------------------------------------------------


def test_the_reason_and_details_say_the_count_is_a_lower_bound(alone: None) -> None:
    result = verify_bytes(shape("empty objects"), TRUST).check("payload_hashes")
    # two problems an entry: 1,024 after the first chunk, which is enough
    assert result.reason == (
        'chain entry 0 payload_materialization is missing, expected "hash_only" (and at least '
        f"{2 * CHUNK - 1} more; stopped examining chain entries after {2 * CHUNK} problems, "
        f"at chain entry {CHUNK})")
    assert result.details["problem_count"] == 2 * CHUNK
    assert result.details["problem_count_is_lower_bound"] is True
    assert result.details["entries_examined"] == CHUNK
    assert len(result.details["problems"]) == MAX_LISTED


def test_a_check_that_examined_everything_says_its_count_is_exact(alone: None) -> None:
    document = json.loads(hostile.chain_of(hostile.sound_entries(10)))
    for entry in document["chain"][:3]:
        entry["session_id"] = "another"
    result = verify_bytes(hostile.encode(document), TRUST).check("session_binding")
    assert result.reason.endswith("(and 2 more)")
    assert result.details["problem_count"] == 3
    assert result.details["problem_count_is_lower_bound"] is False
    assert "entries_examined" not in result.details


def _run(args: tuple[str, ...], data: bytes) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([sys.executable, "-m", "keel_verify", *args, "-"], input=data,
                          capture_output=True, timeout=120, check=False)
    return subprocess.CompletedProcess(done.args, done.returncode, done.stdout.decode("utf-8"),
                                       done.stderr.decode("utf-8"))


def test_the_cli_says_so_in_text_and_json() -> None:
    data = shape("empty objects")
    text = _run((), data)
    assert text.returncode == 1 and "Traceback" not in text.stderr
    flat = " ".join(text.stdout.split())  # reasons may wrap in a terminal
    assert "stopped examining chain entries after" in flat
    report = _run(("--json",), data)
    assert report.returncode == 1
    document = json.loads(report.stdout)
    jsonschema.Draft202012Validator(load_schema(REPORT_SCHEMA)).validate(document)
    checks = {check["name"]: check for check in document["files"][0]["checks"]}
    for name in ENTRY_VISITORS - {"artifact_schema"}:
        details = checks[name]["details"]
        assert details["problem_count_is_lower_bound"] is True, name
        assert 0 < details["entries_examined"] < ENTRIES, name
        assert details["problem_count"] >= MAX_ENTRY_PROBLEMS, name
        assert "and at least" in checks[name]["reason"], name
    assert checks["artifact_schema"]["details"]["error_count_capped"] is True


def test_the_heads_are_compared_with_the_real_last_entry(alone: None) -> None:
    """chain_integrity and session_binding stopped long before the last entry; what they
    compare after the chain is still the chain's last entry."""
    last = {"content_hash": "sha256:" + "ab" * 32, "sequence": 7}
    document = json.loads(hostile.chain_of([{}] * (ENTRIES - 1) + [last]))
    agreeing = verify_bytes(hostile.encode(document), TRUST)
    assert agreeing.check("chain_integrity").details["chain_head"] == last["content_hash"]
    document["chain_head"]["content_hash"] = "sha256:" + "cd" * 32
    document["chain_head"]["sequence"] = 6  # still below project_chain_head.sequence (8)
    disagreeing = verify_bytes(hostile.encode(document), TRUST)
    for name in ("chain_integrity", "session_binding"):
        before, after = agreeing.check(name).details, disagreeing.check(name).details
        assert before["problem_count_is_lower_bound"] and after["problem_count_is_lower_bound"]
        assert after["problem_count"] == before["problem_count"] + 1, name  # the head's problem


def test_a_binding_beyond_the_stop_is_not_misjudged(alone: None) -> None:
    """The entry carrying the child permit comes after permit_linkage stopped: its binding
    is neither confirmed nor failed on what the check did not examine."""
    permit = public_v3()["permits"]["child_tool_call_permits"][0]
    carrier = {"permit_id": permit["permit_id"], "content_hash": permit["binding_session_event_hash"]}
    document = json.loads(hostile.chain_of([{}] * (ENTRIES - 1) + [carrier]))
    result = verify_bytes(hostile.encode(document), TRUST).check("permit_linkage")
    assert result.details["problem_count_is_lower_bound"] is True
    listed = [p["problem"] for p in result.details["problems"]]
    assert all("no chain entry carries" not in problem for problem in listed)
    assert result.details["confirmed_bindings"] == 0


# -- the same stop however the pass is made ----------------------------------------------------


@pytest.mark.parametrize("name", SHAPES)
def test_sequential_sharded_and_exact_reports_agree(
    sharded: list[bool], monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    data = shape(name)
    with_worker = report_to_dict(verify_bytes(data, TRUST))
    assert received_from_worker(sharded)
    exact = report_to_dict(verify_bytes(data, TRUST, exact=True))
    monkeypatch.setattr(shards, "usable_cpus", lambda: 1)
    alone = report_to_dict(verify_bytes(data, TRUST))
    assert with_worker == alone == exact


@pytest.mark.parametrize("name", SHAPES)
def test_the_dense_reader_feeds_and_stops_as_the_raw_slices_do(
    alone: None, fed: dict[str, list[tuple[int, int, int]]], monkeypatch: pytest.MonkeyPatch,
    name: str,
) -> None:
    """The chain read window by window (keel_verify/load/dense.py; 4 KiB windows, so
    that chunks straddle them): every visitor that may stop is fed the same chunks, with
    the same problems after each -- but for chunks it says change nothing of it
    (``unchanged_by``), whose problem count is indeed the one before -- the session
    facts the same entries in grown chunks made of whole chunks, and the report is the
    exact path's."""
    data = shape(name)
    chainpass.read_strictly(data, visitor_factories())
    raw_fed = {visitor: list(chunks) for visitor, chunks in fed.items()}
    fed.clear()
    monkeypatch.setattr(dense, "MIN_DENSE_BYTES", 0)
    monkeypatch.setattr(dense, "DENSE_BYTES_PER_COMMA", 10**9)
    monkeypatch.setattr(dense, "WINDOW_BYTES", 4096)
    artifact, _chain = chainpass.read_strictly(data, visitor_factories())
    assert artifact.chain is not None and artifact.chain.dense is not None
    assert set(fed) <= set(raw_fed)
    factories = visitor_factories()
    for visitor, chunks in raw_fed.items():
        got = fed.get(visitor, [])
        if visitor == FACTS_VISITOR:
            assert all(first % CHUNK == 0 for first, _, _ in got)
            assert [(at, min(CHUNK, first + size - at), 0) for first, size, _ in got
                    for at in range(first, first + size, CHUNK)] == \
                [(first, size, 0) for first, size, _ in chunks]
            continue
        assert got == [chunk for chunk in chunks if chunk in got]
        skipped = [at for at, chunk in enumerate(chunks) if chunk not in got]
        assert not skipped or hasattr(factories[visitor], "unchanged_by")
        assert all(chunks[at][2] == (chunks[at - 1][2] if at else 0) for at in skipped)
    assert report_to_dict(verify_bytes(data, TRUST)) == report_to_dict(
        verify_bytes(data, TRUST, exact=True))


def received_from_worker(received: list[bool]) -> bool:
    return bool(received) and all(received)


@pytest.mark.parametrize("raised", [False, True], ids=["worker-ignores-flags",
                                                        "worker-skips-everything"])
def test_a_worker_that_misreads_the_stop_flags_changes_nothing(
    sharded: list[bool], monkeypatch: pytest.MonkeyPatch, raised: bool
) -> None:
    """Ignoring a flag costs only time (this process takes nothing of a stopped visitor);
    a flag read as raised too early makes this process do those chunks itself."""
    data = shape("empty objects")
    expected = report_to_dict(verify_bytes(data, TRUST, exact=True))
    monkeypatch.setattr(shards.StopFlags, "raised", lambda self, name: raised)
    assert report_to_dict(verify_bytes(data, TRUST)) == expected
    assert received_from_worker(sharded)


def test_the_worker_visits_nothing_for_a_stopped_visitor(
    monkeypatch: pytest.MonkeyPatch
) -> None:
    """In the worker (run here, in this process): a visitor whose flag is raised gets no
    fresh visitor, no visit, and the seed that equals nothing."""
    artifact = load_bytes(shape("empty objects"))
    factories = visitor_factories()
    visitors = {name: make(artifact) for name, make in factories.items()}
    entries = chainpass.EntriesPass(artifact, factories, accel.sorted_encoder(),
                                    chainpass.MessageWriter(SignedMessage(None)),
                                    visitors, MAX_DEPTH, CHUNK)
    flags = shards.StopFlags(list(visitors), mmap.mmap(-1, len(visitors)))
    stopped = ENTRY_VISITORS | {"canonical_portability"}
    for name in stopped:
        flags.raise_for(name)
    made: list[str] = []
    for name, factory in factories.items():
        real = factory.__init__

        def init(self: Any, artifact: Any, real: Any = real, name: str = name) -> None:
            made.append(name)
            real(self, artifact)

        monkeypatch.setattr(factory, "__init__", init)
    out = io.BytesIO()
    shards._work(entries, out, flags)
    out.seek(0)
    chunks = 0
    while header := out.read(shards._HEADER.size):
        status, piece_size, results_size = shards._HEADER.unpack(header)
        assert status == shards._DONE
        out.read(piece_size)
        seeds, done = pickle.loads(out.read(results_size))
        assert set(seeds) == set(done) == set(visitors) - stopped
        chunks += 1
    assert chunks == sum(map(shards.owns, range(-(-ENTRIES // CHUNK))))
    assert set(made) == set(visitors) - stopped
    for visitor in visitors.values():  # what this process compares with a missing seed
        carried = visitor.carried()  # type: ignore[attr-defined]
        assert (carried == shards.UNSEEDED) is False


def test_a_warning_check_stops_too_and_says_its_count_is_a_lower_bound() -> None:
    """canonical_portability only warns, but counts values outside the RFC 8785 domain
    the same way (floats send the input to the exact path: both paths are that one)."""
    data = hostile.chain_of([{"x": 0.5}] * 3 * CHUNK)
    result = verify_bytes(data, TRUST).check("canonical_portability")
    assert result.outcome.value == "warn"
    assert result.details["warning_count"] == 2 * CHUNK  # the second chunk reached 1,000
    assert result.details["warning_count_is_lower_bound"] is True
    assert result.details["entries_examined"] == 2 * CHUNK
    assert result.reason.endswith(
        f"(and at least {2 * CHUNK - 1} more; stopped examining chain entries after "
        f"{2 * CHUNK} values outside the domain, at chain entry {2 * CHUNK})")
    assert report_to_dict(verify_bytes(data, TRUST)) == report_to_dict(
        verify_bytes(data, TRUST, exact=True))


def test_a_chain_of_one_turn_repeated_is_counted_in_full_and_listed_in_bounds(
    alone: None,
) -> None:
    """The session facts never stop: every entry is counted, while the turns listed and
    the timeline marks stay within their limits (a turn beyond both is not worded)."""
    from keel_verify.facts.collect import MAX_ITEMS, MAX_MARKS_PER_LANE

    _artifact, chain = chainpass.read_strictly(shape("one turn repeated"), visitor_factories())
    facts = chain.visitor(FACTS_VISITOR)
    assert (facts.turn_count, facts.input_tokens, facts.output_tokens, facts.budget_used) == (
        ENTRIES, 5 * ENTRIES, 7 * ENTRIES, 11 * ENTRIES)
    assert len(facts.turns) == MAX_ITEMS and len(facts.marks["turns"]) == MAX_MARKS_PER_LANE
    assert {turn.index for turn in facts.turns} == {3}
    assert facts.marks["turns"][-1].label == "turn 3 allowed"


def test_a_chunk_of_the_entry_repeated_before_is_not_decoded_again(
    alone: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A chain of one entry repeated is decoded and hashed once per distinct chunk shape
    (the full chunks, the shorter last one), not once per chunk."""
    from keel_verify.load import loader

    decoded: list[int] = []
    decode = loader.decode_raw_chunk

    def spy(first: int, raw_items: Any, max_depth: int, **options: Any) -> Any:
        decoded.append(len(raw_items))
        return decode(first, raw_items, max_depth, **options)

    monkeypatch.setattr(loader, "decode_raw_chunk", spy)
    _artifact, chain = chainpass.read_strictly(shape("one turn repeated"), visitor_factories())
    # the first chunk (its one entry decoded), the shorter last one (likewise), and the
    # chain's last entry (read for the checks that stopped before it)
    assert decoded == [CHUNK, 1, ENTRIES % CHUNK, 1, 1]
    assert chain.visitor(FACTS_VISITOR).count == ENTRIES
