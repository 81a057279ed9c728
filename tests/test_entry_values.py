"""Chain entries are decoded at most :data:`keel_verify.load.budget.MAX_VALUES` values at
a time (keel_verify/load/entry_parts.py): a chunk of entries that bound more together is
decoded, hashed and visited in parts, with the report unchanged, and an entry that bounds
more by itself is refused (ERROR, exit 2, one line naming it). Every path that turns entry
bytes into values is covered: raw slices (lazy or decoded, floats or not), dense windows,
and a shard worker's chunks. The limit is lowered here so that the inputs stay small."""

from __future__ import annotations

import io
import json
import mmap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from keel_verify import TrustPolicy, verify_bytes
from keel_verify.checks import visitor_factories
from keel_verify.crypto.signed_message import SignedMessage
from keel_verify.facts import FACTS_VISITOR
from keel_verify.load import accel, budget, chainpass, dense, entry_parts, loader, shards
from keel_verify.report.json_report import report_to_dict
from tests import hostile_inputs as hostile
from tests.helpers import decoded_window_sizes, record_worker_results, values_in
from tests.test_robustness import run_cli_in_process

TRUST = TrustPolicy()
LIMIT = 256  # the lowered limit: an array of 255 zeros (256 values) is at it, of 256 over it
CHUNK = chainpass.CHUNK_ENTRIES


def zeros(count: int, *, in_object: bool = False, then: tuple[bytes, ...] = ()) -> bytes:
    """An array of ``count`` zeros (the JSON texts ``then`` after them), or ``{"a": that
    array}``."""
    array = b"[" + b",".join([b"0"] * count + list(then)) + b"]"
    return b'{"a":' + array + b"}" if in_object else array


def chain(entries: list[bytes]) -> bytes:
    """The v3 sample with ``entries`` (JSON texts) as its chain, in order."""
    return hostile.tiny_chain_entries(len(entries), tuple(entries))


def report(data: bytes) -> dict[str, Any]:
    return report_to_dict(verify_bytes(data, TRUST))


def refusal(index: int, limit: int = LIMIT) -> str:
    return budget.too_many_values(f"chain entry {index}", limit)


# -- the three ways entries are read ---------------------------------------------------


def _raw(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shards, "usable_cpus", lambda: 1)
    monkeypatch.setattr(dense, "MIN_DENSE_BYTES", 1 << 62)


def _dense(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dense, "MIN_DENSE_BYTES", 0)
    monkeypatch.setattr(dense, "DENSE_BYTES_PER_COMMA", 10**9)
    monkeypatch.setattr(dense, "WINDOW_BYTES", 300)  # windows straddled by the entries


def _sharded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dense, "MIN_DENSE_BYTES", 1 << 62)
    monkeypatch.setattr(shards, "usable_cpus", lambda: 2)
    monkeypatch.setattr(shards, "MIN_ENTRIES", 1)
    monkeypatch.setattr(shards, "MIN_ENTRY_BYTES", 0)


PATHS: dict[str, Callable[[pytest.MonkeyPatch], None]] = {
    "raw": _raw, "dense": _dense, "sharded": _sharded}


def read_by(monkeypatch: pytest.MonkeyPatch, path: str, data: bytes) -> None:
    """Set ``path`` up and check that it is the one that reads ``data``'s chain."""
    PATHS[path](monkeypatch)
    with monkeypatch.context() as inner:
        inner.setattr(budget, "MAX_VALUES", 1 << 40)  # loaded only, never refused here
        source = loader.load_bytes(data).chain
    assert source is not None
    assert (source.dense is not None) == (path == "dense")


@pytest.fixture
def workers(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many shard workers were started."""
    started: list[int] = []
    start = shards.start_worker

    def counting(entries: Any) -> Any:
        worker = start(entries)
        if worker is not None:
            started.append(worker.pid)
        return worker

    monkeypatch.setattr(shards, "start_worker", counting)
    return started


# -- one entry over the limit ------------------------------------------------------------

ENTRIES = 3000  # 6 chunks: the worker owns chunks 2, 3 and 4 (entries 1024 to 2559)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("over", [0, 1500, ENTRIES - 1], ids=["first", "middle", "last"])
@pytest.mark.parametrize("in_object", [False, True], ids=["array", "object"])
def test_an_entry_over_the_limit_is_an_error_naming_it(
    path: str, over: int, in_object: bool, monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path, workers: list[int],
) -> None:
    entries = [zeros(3, in_object=in_object)] * ENTRIES
    entries[over] = zeros(LIMIT, in_object=in_object)  # one value over (an object: two)
    data = chain(entries)
    read_by(monkeypatch, path, data)
    monkeypatch.setattr(budget, "MAX_VALUES", LIMIT)
    received = record_worker_results(monkeypatch)
    (tmp_path / "a.json").write_bytes(data)
    code, stdout, stderr = run_cli_in_process([str(tmp_path / "a.json")], "utf-8")
    out, err = stdout.decode(), stderr.decode()
    assert code == 2
    assert refusal(over) in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err + out
    assert report(data)["error"] == refusal(over)  # the library says the same
    if path == "sharded":
        assert workers  # the pass was shared
        if over == 1500:  # in a chunk the worker owns: it could not do it, this process did
            assert received and not received[-1]


def test_an_entry_at_the_limit_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    entries = [zeros(LIMIT - 1), zeros(LIMIT - 2, in_object=True), b"1"]
    assert [budget.value_bound(entry) for entry in entries] == [LIMIT, LIMIT, 1]
    data = chain(entries)
    expected = report(data)
    monkeypatch.setattr(budget, "MAX_VALUES", LIMIT)
    assert report(data) == expected
    assert expected["verdict"] == "FAILED"  # read and judged: the entries are not events


def worker_statuses(data: bytes) -> list[tuple[int, bytes]]:
    """A shard worker's reports (run here, in this process) on each chunk it owns:
    (status, canonical bytes)."""
    artifact = loader.load_bytes(data)
    factories = visitor_factories()
    visitors = {name: make(artifact) for name, make in factories.items()}
    entries = chainpass.EntriesPass(artifact, factories, accel.sorted_encoder(),
                                    chainpass.MessageWriter(SignedMessage(None)),
                                    visitors, loader.MAX_DEPTH, CHUNK)
    out = io.BytesIO()
    shards._work(entries, out, shards.StopFlags(list(visitors), mmap.mmap(-1, len(visitors))))
    out.seek(0)
    found = []
    while header := out.read(shards._HEADER.size):
        status, piece_size, results_size = shards._HEADER.unpack(header)
        found.append((status, out.read(piece_size)))
        out.read(results_size)
    return found


def test_the_worker_does_a_chunk_in_parts_and_hands_back_one_over_the_limit(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The worker does its chunks over the limit together part by part (the chunk's
    bytes, as this process writes them), and reports the chunk holding an entry over the
    limit as not done: this process then does it, and raises the refusal itself."""
    entries = [zeros(80, then=(b"%d" % n,)) for n in range(ENTRIES)]
    entries[1800] = zeros(LIMIT)  # in chunk 3, the worker's
    data = chain(entries)
    monkeypatch.setattr(budget, "MAX_VALUES", LIMIT)
    statuses = [status for status, _ in worker_statuses(data)]
    assert statuses == [shards._DONE, shards._FAILED, shards._DONE]  # chunks 2, 3, 4
    sound = [*entries[:1800], zeros(80), *entries[1801:]]
    assert worker_statuses(chain(sound)) == [  # canonical as written: the input's bytes
        (shards._DONE, b",".join(sound[number * CHUNK : (number + 1) * CHUNK]))
        for number in (2, 3, 4)]
    with pytest.raises(budget.TooManyValues, match="chain entry 1800 "):
        chainpass.read_strictly(data, visitor_factories())


@pytest.mark.parametrize("entries", [
    [zeros(4 * LIMIT), b"1", b"2"],  # the first window starts at it
    [zeros(200), zeros(4 * LIMIT), b"1"],  # a window starts at it after a guessed cut
], ids=["first", "after a long entry"])
def test_a_long_entry_over_the_limit_starting_a_window_is_not_copied(
        entries: list[bytes], monkeypatch: pytest.MonkeyPatch) -> None:
    """Its bytes are validated as one value where they lie in the chain and refused from
    there: never copied into a window of its own (only the failed first cut is decoded)."""
    data = chain(entries)
    read_by(monkeypatch, "dense", data)
    sizes = decoded_window_sizes(monkeypatch)
    monkeypatch.setattr(budget, "MAX_VALUES", LIMIT)
    over = next(index for index, text in enumerate(entries) if len(text) > 1000)
    assert report(data)["error"] == refusal(over)
    assert sizes and max(sizes) < len(entries[over])


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet='[]{},"\\ab0 ', max_size=60), st.data())
def test_the_entry_end_search_reads_a_span_in_place_as_it_reads_a_copy(
        text: str, data: st.DataObject) -> None:
    raw = text.encode()
    begin = data.draw(st.integers(0, len(raw)))
    end = data.draw(st.integers(begin, len(raw)))
    at = data.draw(st.integers(0, end - begin))
    assert dense._boundary_in(raw, at, begin, end) == dense._boundary_in(raw[begin:end], at)


# -- entries under the limit each, over it together ---------------------------------------


@pytest.mark.parametrize("same", [False, True], ids=["distinct", "one entry repeated"])
def test_a_run_over_the_limit_is_refused_before_anything_is_decoded(
        monkeypatch: pytest.MonkeyPatch, same: bool) -> None:
    texts = [zeros(60, then=(b"%d" % (0 if same else n), b"1.5")) for n in range(40)]
    raws = accel.decoder("items").decode(b"[" + b",".join(texts) + b"]")
    monkeypatch.setattr(budget, "MAX_VALUES", LIMIT)

    def no_decode(*_args: Any) -> Any:
        raise AssertionError("decoded")

    for name in ("decoder", "nested_entries_decoder", "nested_items_decoder", "read_floats"):
        monkeypatch.setattr(accel, name, no_decode)
    with pytest.raises(entry_parts.InParts) as raised:
        loader.decode_raw_chunk(7, raws, loader.MAX_DEPTH, lazy=True)
    found = raised.value.parts
    assert [start for start, _, _ in found] == [0, *(stop for _, stop, _ in found[:-1])]
    assert found[-1][1] == len(raws) and all(bound <= LIMIT for _, _, bound in found)
    raws[5] = msgspec.Raw(zeros(LIMIT))  # one over by itself: named, not split
    with pytest.raises(budget.TooManyValues) as refused:
        loader.decode_raw_chunk(7, raws, loader.MAX_DEPTH)
    assert str(refused.value) == refusal(12)


@pytest.fixture
def decodes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The values (by their bytes' bound) handed to each decode of entries: every raw
    chunk decode (whole, lazy or with floats), every dense window decoded to values (a
    run refused before anything of it is decoded is not recorded)."""
    handed: list[int] = []
    decode_raw = loader.decode_raw_chunk

    def raw_spy(first: int, raw_items: Any, max_depth: int, **kwargs: Any) -> Any:
        chunk = decode_raw(first, raw_items, max_depth, **kwargs)  # or refused, undecoded
        handed.append(sum(budget.value_bound(bytes(raw)) for raw in raw_items))
        return chunk

    decode_window = dense._decode_window

    def window_spy(text: bytes, max_depth: int, *more: Any) -> Any:
        window = decode_window(text, max_depth, *more)
        if window is not None and window[1] is None:  # decoded to values
            handed.append(budget.value_bound(text) - 1)  # the entries', not the brackets'
        return window

    monkeypatch.setattr(loader, "decode_raw_chunk", raw_spy)
    monkeypatch.setattr(dense, "decode_raw_chunk", raw_spy)
    monkeypatch.setattr(dense, "_decode_window", window_spy)
    return handed


@pytest.fixture
def held(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The values of each chunk (or part) fed to the session facts' visitor (walked)."""
    fed: list[int] = []
    factory = visitor_factories()[FACTS_VISITOR]
    visit = factory.visit  # type: ignore[attr-defined]

    def spy(self: Any, chunk: chainpass.Chunk) -> None:
        fed.append(sum(map(values_in, chunk.entries)))
        visit(self, chunk)

    monkeypatch.setattr(factory, "visit", spy)
    return fed


#: Chains of entries under the limit each, over it together in a chunk (the limit: LIMIT).
SHAPES: dict[str, list[bytes]] = {
    "arrays of zeros": [zeros(80)] * 1200,
    "objects of zeros": [zeros(80, in_object=True)] * 1200,
    "distinct arrays": [zeros(80, then=(b"%d" % n,)) for n in range(1200)],
    "a float among them": [zeros(80)] * 700 + [zeros(80, then=(b"1.5",))] + [zeros(80)] * 499,
    "floats in every entry": [zeros(60, then=(b"0.25", b"%d" % n)) for n in range(1200)],
    "mixed": [b"1", zeros(255), b'"x"', zeros(60, in_object=True), b"null", b"{}",
              zeros(30, then=(b"2.5",)), b'"' + b"," * 200 + b'"'] * 150,
    "over the limit in one chunk only": [b"0"] * 600 + [zeros(100)] * 10 + [b"0"] * 600,
}


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("shape", SHAPES)
def test_a_chunk_over_the_limit_is_read_in_parts_and_reports_the_same(
    path: str, shape: str, monkeypatch: pytest.MonkeyPatch, decodes: list[int],
    held: list[int], workers: list[int],
) -> None:
    data = chain(SHAPES[shape])
    read_by(monkeypatch, path, data)
    expected = json.dumps(report(data))
    assert max(held) > LIMIT  # without the limit, the chunks held more
    decodes.clear()
    held.clear()
    monkeypatch.setattr(budget, "MAX_VALUES", LIMIT)
    assert json.dumps(report(data)) == expected  # byte for byte
    assert decodes and max(decodes) <= LIMIT
    assert held and max(held) <= LIMIT
    if path == "sharded":
        assert workers


def test_the_parts_of_a_chunk_are_fed_without_a_stop_between_them(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A check that found enough problems stops at a chunk boundary, never between the
    parts of a chunk: it examines the same entries and says where it stopped, the same."""
    entries = [zeros(80, in_object=True)] * 4000  # every entry fails the schema and more
    data = chain(entries)
    _raw(monkeypatch)
    expected = report(data)
    assert any("stopped examining" in check.get("reason", "") for check in expected["checks"])
    monkeypatch.setattr(budget, "MAX_VALUES", LIMIT)
    assert report(data) == expected


# -- the property --------------------------------------------------------------------------

#: The bound of the sample's input outside the chain (bounded apart, by the loader).
OUTSIDE = budget.value_bound(hostile.tiny_chain_entries(0)) - 1

_small = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.text(",[{", max_size=3)
    | st.floats(-10, 10, allow_nan=False).map(lambda f: round(f, 2)),
    lambda inner: st.lists(inner, max_size=6) | st.dictionaries(st.text("ab", max_size=2),
                                                                inner, max_size=4),
    max_leaves=30).map(lambda value: json.dumps(value, separators=(",", ":")).encode())

#: Entries of any size around the limits drawn below: arrays and objects of zeros (with a
#: float or not), a string of commas (bounded high, one value), small values of any kind.
_entries = st.one_of(
    st.builds(zeros, st.integers(0, 420), in_object=st.booleans(),
              then=st.sampled_from([(), (b"1.5",), (b'"x"', b"{}")])),
    st.integers(0, 420).map(lambda n: b'"' + b"," * n + b'"'),
    _small,
)


# Each path has its own examples: drawn among them, the sharded path read in parts came up
# in about 1 example of 110.
@pytest.mark.parametrize("path", PATHS)
@settings(max_examples=50, deadline=None, suppress_health_check=[
    HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(texts=st.lists(_entries, min_size=1, max_size=30), repeat=st.integers(1, 60),
       limit=st.integers(OUTSIDE, OUTSIDE + 300))
def test_a_chain_under_a_limit_reports_as_without_it_or_names_its_first_entry_over_it(
    texts: list[bytes], repeat: int, limit: int, path: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    entries = (texts * repeat)[:1500]  # chunks over the limit together, often
    data = chain(entries)
    with monkeypatch.context() as patch:
        PATHS[path](patch)
        expected = report(data)
        patch.setattr(budget, "MAX_VALUES", limit)
        got = report(data)
    over = [index for index, text in enumerate(entries) if budget.value_bound(text) > limit]
    event(f"{path}, {'an entry over the limit' if over else 'read in parts'}")
    if over:
        assert got["verdict"] == "ERROR" and got["error"] == refusal(over[0], limit)
    else:
        assert got == expected


def test_a_long_entry_is_counted_once_on_the_raw_path(monkeypatch: pytest.MonkeyPatch) -> None:
    # The parts the chunks are cut into are proven within the limit: their decode does not
    # count them again (each entry of the limit's length or more was counted twice).
    monkeypatch.setattr(budget, "MAX_VALUES", LIMIT)
    counted: list[int] = []
    bound = entry_parts.counted_bound

    def counting(raw: Any, limit: int) -> int:
        counted.append(len(memoryview(raw)))
        return bound(raw, limit)

    monkeypatch.setattr(entry_parts, "counted_bound", counting)
    long = zeros(LIMIT // 2)  # under the limit in values, over it in bytes
    assert len(long) >= LIMIT >= budget.value_bound(long)
    source = loader.ChainSource(raw_items=[long, b"0", long, long])
    chunks = list(source.chunks(512, 64))
    assert [len(chunk.entries) for chunk in chunks] == [2, 1, 1]
    assert len(counted) == 3  # each long entry once
