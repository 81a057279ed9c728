"""Dense chains (millions of tiny entries) are read window by window with no object per
entry held for the whole chain (keel_verify/load/dense.py); what they give must be what
the raw-slice reading and the exact path give: the same entries in the same chunks, the
same stops, the same reports. Proved by structure and by comparison, never by a clock
(the times are in ``benchmarks/hostile.py``)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keel_verify import TrustPolicy, verify_bytes
from keel_verify.checks import visitor_factories
from keel_verify.crypto.signed_message import SignedMessage
from keel_verify.errors import LoadError
from keel_verify.load import accel, budget, chainpass, dense
from keel_verify.load.chainpass import CHUNK_ENTRIES, read_strictly
from keel_verify.load.dense import DenseChain
from keel_verify.load.loader import MAX_DEPTH, NeedsExactPath, load_bytes
from keel_verify.report.json_report import report_to_dict
from tests import hostile_inputs as hostile
from tests.helpers import decoded_window_sizes, public_v3

pytestmark = pytest.mark.skipif(
    not accel.fast_json_available(), reason="msgspec not installed: only the exact path exists"
)

TRUST = TrustPolicy()
#: Each kind of tiny entry, and a mix of them.
KINDS: dict[str, bytes | tuple[bytes, ...]] = {**hostile.TINY_ENTRIES, "mixed": hostile.MIXED_TINY}


@pytest.fixture
def forced(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every chain is dense, read in windows of about 200 bytes (so that small chains
    cross many windows and chunks straddle them)."""
    monkeypatch.setattr(dense, "MIN_DENSE_BYTES", 0)
    monkeypatch.setattr(dense, "DENSE_BYTES_PER_COMMA", 10**9)
    monkeypatch.setattr(dense, "WINDOW_BYTES", 200)


def entries_of(chain: DenseChain, size: int = CHUNK_ENTRIES) -> list[Any]:
    return [entry for chunk in chain.chunks(size, MAX_DEPTH) for entry in chunk.entries]


# -- where a window may be cut -----------------------------------------------------------------

TRICKY_ENTRIES = [
    '"a,b"', '"],["', '"[,"', '"\\",\\""', '"\\\\"', '"\\\\,\\""', '[1,[2,3],[]]',
    '{"a":[1,2],"b":"c,d"}', '{"k,":"]"}', '[[[0,0],0],0]', '""', '","', '"\\u002c"', '{}',
    '[]', '0', 'null', 'true', '"é,ü"', '[{"x":",]"},{}]',
]


@pytest.mark.parametrize("window", [1, 2, 3, 7, 16, 1000])
def test_cuts_fall_only_between_entries(window: int) -> None:
    """Commas inside strings (after escaped quotes and backslashes too), inside nested
    arrays and objects are never taken as boundaries: the entries read window by window
    are the array's entries, whatever the window size."""
    texts = [entry.replace(",", ", ") if "[" in entry else entry for entry in TRICKY_ENTRIES]
    for span in ("[" + ",".join(TRICKY_ENTRIES) + "]", "[ " + " ,\n ".join(texts) + " ]"):
        chain = DenseChain(span.encode(), window_bytes=window)
        assert entries_of(chain, 3) == json.loads(span)
        assert len(chain) == len(TRICKY_ENTRIES)


def test_a_failed_cut_is_tried_farther_away_doubling_the_distance(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """One entry of 10,000 commas in a chain read 10 bytes at a time: the cut is tried
    at distances 10, 20, 40, ... (a few dozen decodes), never at every comma."""
    big = "[" + ",".join(["0"] * 10_000) + "]"
    span = f"[0,{big},1]".encode()
    tried = decoded_window_sizes(monkeypatch)
    assert entries_of(DenseChain(span, window_bytes=10)) == json.loads(span)
    assert len(tried) < 20
    assert sum(tried) < 4 * len(span)


#: Entries whose commas are mostly inside them: a cut at the first comma past the window
#: mostly fails (before, each failure doubled the window: a chain of them was read as one).
COMMA_RICH_ENTRIES = {
    "objects of two members": b'{"content_hash":"x","i":7}',
    "arrays of ten items": b"[0,0,0,0,0,0,0,0,0,0]",
    "arrays of arrays": b"[[],[],[],[0,[1]]]",
    "strings holding brackets": b'{"a":"[{","b":"\\\"]}","c":["]",","]}',
    "objects holding objects": b'{"a":[{},{"b":"},{"}],"c":{"d":0}}',
}


@pytest.mark.parametrize("name", COMMA_RICH_ENTRIES)
def test_windows_stay_near_their_size_when_commas_lie_inside_entries(
        name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    entry = COMMA_RICH_ENTRIES[name]
    span = b"[" + b",".join([entry] * 20_000) + b"]"
    tried = decoded_window_sizes(monkeypatch)
    chain = DenseChain(span, window_bytes=1000)
    assert entries_of(chain) == json.loads(span)
    assert max(tried) < 1000 + 4 * len(entry)  # a window outgrows its size by one entry
    assert sum(tried) < 4 * len(span)
    # Once a guess held, the windows start with it: hardly a decoding is wasted.
    windows = len(list(chain._windows(MAX_DEPTH)))
    tried.clear()
    list(chain._windows(MAX_DEPTH))
    assert len(tried) <= windows + 2


@pytest.mark.parametrize("name", COMMA_RICH_ENTRIES)
def test_chains_of_comma_rich_entries_report_as_the_other_paths(
        name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    data = hostile.tiny_chain_entries(1_500, COMMA_RICH_ENTRIES[name])
    dense_report, raw_report, exact_report = reports(data, monkeypatch)
    assert dense_report == raw_report == exact_report


@given(st.lists(st.recursive(
    st.none() | st.booleans() | st.integers(-3, 3) | st.text(alphabet=',[]{}"\\ax', max_size=4),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.text(alphabet=',[]{}"\\ax', max_size=3), inner, max_size=3),
    max_leaves=8), min_size=1, max_size=12), st.booleans(), st.data(), st.sampled_from([64, 2, 0]))
def test_the_entry_end_guessed_after_a_cut_is_the_next_boundary(
        entries: list[Any], spaced: bool, data: st.DataObject, skips: int) -> None:
    """For any valid array and any comma in it, the guess is the first comma after it
    that separates two entries (or the closing bracket when there is none): the guess is
    exact on valid JSON, though the reader trusts only the decoding. Whether found by
    passing over whole entries (at most ``skips`` of them) or by the bracket search."""
    separator = ", " if spaced else ","
    texts = [json.dumps(entry, separators=(separator, ":")) for entry in entries]
    span = ("[" + separator.join(texts) + "]").encode()
    boundaries, at = [], 1
    for text in texts[:-1]:
        at += len(text.encode())
        boundaries.append(at)
        at += len(separator)
    commas = [index for index, byte in enumerate(span) if byte == ord(",")]
    if not commas:
        return
    cut = data.draw(st.sampled_from(commas))
    later = [boundary for boundary in boundaries if boundary > cut]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(dense, "ENTRY_SKIPS", skips)
        guessed = dense._entry_end_after(span, 1, cut, len(span) - 1)
        skipped = dense._entry_end_skipping(span, 1, cut, len(span) - 1)
    assert guessed == (later[0] if later else len(span) - 1)
    assert skipped in (None, guessed)


@pytest.mark.parametrize("key", ["k", "a[b", "a]b{", "a\\\"]"])
def test_the_end_of_an_object_of_many_members_is_found_in_few_steps(
        monkeypatch: pytest.MonkeyPatch, key: str) -> None:
    """Inside an entry the search steps from bracket to bracket, not from string to
    string: an object of 10^4 members (keys holding brackets and escaped quotes too) is
    crossed within 64 steps (it took one step per key: 10^5 members in 2.2x10^6 Python
    steps per window, a chain of 136 MB of them 43 s)."""
    monkeypatch.setattr(dense, "ENTRY_END_SEARCH_TOKENS", 64)
    monkeypatch.setattr(dense, "ENTRY_SKIPS", 0)  # the bracket search itself
    members = {f"{key}{index}": [index] if index % 5000 == 0 else index
               for index in range(10_000)}
    texts = [json.dumps(members, separators=(",", ":")), "0"]
    span = ("[" + ",".join(texts) + "]").encode()
    boundary = 1 + len(texts[0].encode())
    assert span[boundary:boundary + 1] == b","
    cut = span.index(b",", 100)  # a comma inside the object
    assert dense._entry_end_after(span, 1, cut, len(span) - 1) == boundary


def _searched_brackets(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Each call of the bracket search (dense._boundary_in), as it happens."""
    calls: list[int] = []
    boundary_in = dense._boundary_in

    def counting(text: bytes, at: int, begin: int = 0, end: int | None = None) -> int | None:
        calls.append(at)
        return boundary_in(text, at, begin, end)

    monkeypatch.setattr(dense, "_boundary_in", counting)
    return calls


def test_the_end_of_an_entry_of_many_brackets_is_found_in_c(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Entries of 10^4 empty arrays each: the end of the one holding a cut is found by
    passing over whole entries (msgspec, in C), with no bracket search (it took a Python
    step per bracket: 30 such groups of 35 MB in 2.4 s, 16 times the sample)."""
    searched = _searched_brackets(monkeypatch)
    texts = ['"' + ":" * 300 + '"', json.dumps({"a": [[]] * 10_000, "i": 1},
                                                separators=(",", ":")), "2"]
    span = ("[" + ",".join(texts) + "]").encode()
    boundary = 1 + len(texts[0]) + 1 + len(texts[1])
    cut = span.index(b"],[", 400) + 1  # a comma between two of the empty arrays
    assert dense._entry_end_after(span, 1, cut, len(span) - 1) == boundary
    assert searched == []


def test_more_entries_before_a_cut_than_are_passed_over_leave_it_to_the_search(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A cut in an entry after more than ENTRY_SKIPS others (a window of tiny entries):
    passing over them is given up for the bracket search, which finds the same end."""
    searched = _searched_brackets(monkeypatch)
    texts = ["0"] * (dense.ENTRY_SKIPS + 5) + ["[1,2,3]", "4"]
    span = ("[" + ",".join(texts) + "]").encode()
    cut = span.index(b"1,2") + 1
    boundary = span.index(b"3]") + 2
    assert dense._entry_end_skipping(span, 1, cut, len(span) - 1) is None
    assert dense._entry_end_after(span, 1, cut, len(span) - 1) == boundary
    assert searched


@pytest.mark.parametrize("words, place", [
    ("JSON is malformed: trailing characters (byte 8)", 8),  # msgspec 0.23's
    ("JSON is malformed: trailing characters", None),
    ("", None),
    ("byte 7", None),
])
def test_the_place_is_read_from_msgspecs_words_only(words: str, place: int | None) -> None:
    """The place is read from the words msgspec gives for a value followed by more, and
    from no other words (another version's only cost the bracket search)."""
    found = dense._TRAILING.search(words)
    assert (None if found is None else int(found.group(1))) == place
    with pytest.raises(msgspec.DecodeError) as raised:
        accel.decoder("raw").decode(b"[1,2,3] ,4")
    assert (found := dense._TRAILING.search(str(raised.value))) is not None
    assert int(found.group(1)) == 9  # the comma at index 8, counted from 1


def test_other_words_from_msgspec_leave_it_to_the_search(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Words the pattern does not find (another version) only cost the bracket search,
    never a wrong guess taken as found."""
    texts = ["[1,2,3]", "4"]
    span = ("[" + ",".join(texts) + "]").encode()
    cut = span.index(b"1,2") + 1
    assert dense._entry_end_skipping(span, 1, cut, len(span) - 1) == span.index(b"3]") + 2
    monkeypatch.setattr(dense, "_TRAILING", re.compile(r"(?!)"))  # never matches
    assert dense._entry_end_skipping(span, 1, cut, len(span) - 1) is None
    assert dense._entry_end_after(span, 1, cut, len(span) - 1) == span.index(b"3]") + 2


def test_a_part_ended_by_the_value_limit_starts_the_next_chunk_afresh(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A review's case: once a part over the value limit goes first inside a window, the
    next chunk's end is taken from where it starts (it was the last chunk's, so a later
    window was given a negative share: IndexError, exit 2). The report is the exact
    path's."""
    data = hostile.distinct_integer_entries(3000)
    exact = report_to_dict(verify_bytes(data, TRUST, exact=True))
    exact_hash = read_strictly(data, exact=True)[1].content_hash
    monkeypatch.setattr(dense, "MIN_DENSE_BYTES", 0)
    monkeypatch.setattr(dense, "WINDOW_BYTES", 3000)
    monkeypatch.setattr(budget, "MAX_VALUES", 1201)
    assert read_strictly(data)[1].content_hash == exact_hash
    assert report_to_dict(verify_bytes(data, TRUST)) == exact


@settings(max_examples=100, deadline=None)
@given(st.integers(20, 2000), st.lists(st.integers(0, 1999), max_size=3),
       st.integers(16, 3000), st.integers(20, 1500), st.sampled_from([4, 16, 64]),
       st.integers(1, 16))
def test_chunks_follow_each_other_whatever_the_windows_and_the_limit(
        count: int, floats_at: list[int], window: int, limit: int, size: int,
        growth: int) -> None:
    """Whatever the window size and the value limit, the chunks are the entries in order:
    each starts where the one before ended, none holds more than ``most``, and together
    they are the chain. Distinct integers (each one value: never over the limit alone),
    a few floats among them (read as raw slices, in chunks of ``size``)."""
    entries: list[Any] = list(range(count))
    for at in floats_at:
        if at < count:
            entries[at] = at + 0.5
    span = json.dumps(entries, separators=(",", ":")).encode()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(budget, "MAX_VALUES", limit)
        chain = DenseChain(span, window_bytes=window)
        chunks = list(chain.chunks(size, MAX_DEPTH, size * growth))
    at = 0
    for chunk in chunks:
        assert chunk.first == at
        assert 0 < len(chunk.entries) <= size * growth
        at += len(chunk.entries)
    assert [entry for chunk in chunks for entry in chunk.entries] == entries


def test_a_chain_of_entries_of_many_brackets_reports_as_the_exact_path(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The review's decoys, small: strings of colons among objects of many empty arrays,
    read dense, report as the exact path."""
    monkeypatch.setattr(dense, "MIN_DENSE_BYTES", 0)
    monkeypatch.setattr(dense, "WINDOW_BYTES", 1 << 12)
    colons = b'"' + b":" * 3000 + b'"'
    arrays = b",".join([b"[]"] * 2000)
    items = [colons, *(b'{"a":[' + arrays + b'],"i":%d}' % index for index in range(3))] * 4
    data = hostile._with_raw_chain(b",".join(items))
    artifact, chain_pass = read_strictly(data)
    assert artifact.chain is not None and artifact.chain.dense is not None
    assert chain_pass.content_hash == read_strictly(data, exact=True)[1].content_hash
    assert report_to_dict(verify_bytes(data, TRUST)) == report_to_dict(
        verify_bytes(data, TRUST, exact=True))


def test_an_empty_chain_has_no_entry() -> None:
    for span in (b"[]", b"[ \n ]"):
        chain = DenseChain(span, window_bytes=1)
        assert entries_of(chain) == [] and len(chain) == 0


def test_content_no_cut_can_read_goes_to_the_exact_path() -> None:
    """Bytes msgspec refuses (here invalid UTF-8 inside a string) make every cut fail up
    to the end of the chain: the exact path then judges and words the input."""
    span = b'[0,0,"\xff",0]'
    with pytest.raises(NeedsExactPath):
        entries_of(DenseChain(span, window_bytes=1))


chain_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1)
    | st.text(st.sampled_from(',[]{}"\\:x é\n'), max_size=6),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(st.sampled_from(',[]"\\x'), max_size=3), children, max_size=3),
    max_leaves=12,
)


@given(st.lists(chain_values, max_size=60), st.integers(1, 64), st.integers(1, 9),
       st.booleans())
@settings(max_examples=200, deadline=None)
def test_windows_give_the_entries_in_chunks_of_exactly_the_size(
        entries: list[Any], window: int, size: int, pretty: bool) -> None:
    span = json.dumps(entries, indent=1 if pretty else None).encode()
    chain = DenseChain(span, window_bytes=window)
    chunks = list(chain.chunks(size, MAX_DEPTH))
    assert [c.first for c in chunks] == list(range(0, len(entries), size))
    assert all(len(c.entries) == size for c in chunks[:-1])
    assert [e for c in chunks for e in c.entries] == entries
    for chunk in chunks:
        assert chunk.objects == (bool(chunk.entries) and all(type(e) is dict for e in chunk.entries))
        if chunk.same:  # the same value, type and member order, as equal bytes would be
            texts = {msgspec.json.encode(e) for e in chunk.entries}
            assert len(texts) == 1 and len(chunk.entries) > 1
    assert len(chain) == len(entries)
    if entries:
        last = chain.chunk_at(len(entries) - 1, 1, MAX_DEPTH)
        assert last.entries == entries[-1:] and last.first == len(entries) - 1
        middle = len(entries) // 2
        fresh = DenseChain(span, window_bytes=window)  # nothing kept: read up to it
        assert fresh.chunk_at(middle, 3, MAX_DEPTH).entries == entries[middle : middle + 3]


def test_one_and_true_are_not_the_same_entry() -> None:
    """Python's == says 1 == True and ignores key order; "same" chunks must not."""
    for entries in ([1, True], [0, False], [{"a": 1}, {"a": True}],
                    [{"a": 0, "b": 0}, {"b": 0, "a": 0}], [[1], [True]]):
        chain = DenseChain(json.dumps(entries * 3).encode(), window_bytes=1000)
        assert not any(chunk.same for chunk in chain.chunks(6, MAX_DEPTH)), entries
    assert all(c.same for c in DenseChain(b"[[1],[1],[1]]").chunks(3, MAX_DEPTH))


# -- which chains are dense --------------------------------------------------------------------


def test_only_chains_of_tiny_entries_are_dense() -> None:
    real = load_bytes(hostile.encode(public_v3())).chain
    assert real is not None and real.raw_items is not None
    for entries in KINDS.values():
        artifact = load_bytes(hostile.tiny_chain_entries(600_000, entries))
        assert artifact.chain is not None and artifact.chain.dense is not None, entries
        assert artifact.chain.raw_items is None  # no object per entry is kept
    for data in (hostile.string_chain_entries(80_000, width=14),  # 17 bytes an entry
                 hostile.wrong_type_entries(5_000), hostile.repeated_turn_entries(8_000)):
        assert len(data) > dense.MIN_DENSE_BYTES
        chain = load_bytes(data).chain
        assert chain is not None and chain.raw_items is not None


def test_a_dense_chain_is_read_in_bounded_windows(monkeypatch: pytest.MonkeyPatch) -> None:
    """The pass decodes the chain a window at a time: no text decoded is much larger
    than a window, and the chain is never decoded whole."""
    monkeypatch.setattr(dense, "MIN_DENSE_BYTES", 0)
    monkeypatch.setattr(dense, "WINDOW_BYTES", 4096)
    decoded = decoded_window_sizes(monkeypatch)
    data = hostile.tiny_chain_entries(100_000, hostile.MIXED_TINY)
    artifact, chain_pass = read_strictly(data, visitor_factories())
    assert artifact.chain is not None and artifact.chain.dense is not None
    assert len(artifact.chain) == 100_000
    assert max(decoded) <= 4096 + 16 and sum(decoded) < 1.01 * len(data)
    assert chain_pass.visitor("session_facts").count == 100_000


# -- the same reports as the raw slices and the exact path --------------------------------------


def reports(data: bytes, monkeypatch: pytest.MonkeyPatch,
            read_dense: bool = True) -> Iterator[dict[str, Any]]:
    """The report of ``data`` read dense (windows of 200 bytes), as raw slices, and on
    the exact path. ``read_dense``: whether the fast reader gets as far as the chain
    (not when msgspec refuses the whole document)."""
    with monkeypatch.context() as patch:
        patch.setattr(dense, "MIN_DENSE_BYTES", 0)
        patch.setattr(dense, "DENSE_BYTES_PER_COMMA", 10**9)
        patch.setattr(dense, "WINDOW_BYTES", 200)
        read: list[bool] = []
        run = chainpass.EntriesPass.run_dense

        def spy(self: Any) -> None:
            read.append(True)
            run(self)

        patch.setattr(chainpass.EntriesPass, "run_dense", spy)
        yield report_to_dict(verify_bytes(data, TRUST))
        assert read == [True] * read_dense, "the dense reader was (not) used"
    with monkeypatch.context() as patch:
        patch.setattr(dense, "DENSE_BYTES_PER_COMMA", 0)
        yield report_to_dict(verify_bytes(data, TRUST))
    yield report_to_dict(verify_bytes(data, TRUST, exact=True))


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_of_tiny_entry_reports_as_the_other_paths(
        kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """3,000 entries: past every check's stop (1,000 problems), chunks straddling the
    200-byte windows."""
    data = hostile.tiny_chain_entries(3_000, KINDS[kind])
    dense_report, raw_report, exact_report = reports(data, monkeypatch)
    assert dense_report == raw_report == exact_report
    assert dense_report["verdict"] == "FAILED"


@pytest.mark.parametrize("name", ["strings", "real entries", "wrong types", "one turn repeated",
                                  "empty objects", "a float in a chunk", "a float in every entry",
                                  "deep entries", "a lone surrogate", "an unsafe integer",
                                  "invalid UTF-8", "an astral key"])
def test_other_chains_read_dense_report_as_the_other_paths(
        name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever a chain holds, reading it dense changes nothing: windows the typed
    decoder refuses are read as raw slices chunk by chunk, as the raw path reads them."""
    data = {
        "strings": lambda: hostile.string_chain_entries(1_500),
        "real entries": lambda: hostile.encode(public_v3()),
        "wrong types": lambda: hostile.wrong_type_entries(1_200),
        "one turn repeated": lambda: hostile.repeated_turn_entries(1_200),
        "empty objects": lambda: hostile.empty_chain_entries(1_500),
        "a float in a chunk": lambda: hostile.tiny_chain_entries(1_500).replace(b"0,0,0,0", b"0,1.5,0,0", 1),
        "a float in every entry": lambda: hostile.tiny_chain_entries(600, b"[0.5]"),
        "deep entries": lambda: hostile.tiny_chain_entries(600, b"[[[[[[[[[0]]]]]]]]]"),
        "a lone surrogate": lambda: hostile.tiny_chain_entries(600, b'"\\ud800"'),
        "an unsafe integer": lambda: hostile.tiny_chain_entries(600, b"9007199254740993"),
        "invalid UTF-8": lambda: hostile.tiny_chain_entries(600, b'"\xff"'),
        "an astral key": lambda: hostile.tiny_chain_entries(600, '{"\U0001f600":0,"a":1}'.encode()),
    }[name]()
    refused = name == "a lone surrogate"  # by msgspec, for the whole document
    dense_report, raw_report, exact_report = reports(data, monkeypatch, read_dense=not refused)
    assert dense_report == raw_report == exact_report


def test_nesting_beyond_the_limit_is_refused_alike(forced: None) -> None:
    data = hostile.tiny_chain_entries(50, b"[" * 200 + b"]" * 200)
    with pytest.raises(LoadError) as dense_error:
        read_strictly(data, visitor_factories())
    with pytest.raises(LoadError) as exact_error:
        read_strictly(data, visitor_factories(), exact=True)
    assert str(dense_error.value) == str(exact_error.value)


mixed_entries = st.lists(
    st.sampled_from([0, None, [], {}, "", "x", True, False, -1, [0], {"a": 0},
                     {"content_hash": "sha256:" + "0" * 64}, {"event_type": "x", "occurred_at": 1}]),
    min_size=0, max_size=1_300)


@given(entries=mixed_entries, window=st.integers(1, 300))
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
def test_generated_dense_chains_report_as_the_exact_path(
        entries: list[Any], window: int, monkeypatch: pytest.MonkeyPatch) -> None:
    data = hostile.tiny_chain_entries(len(entries), tuple(json.dumps(e).encode() for e in entries)) \
        if entries else hostile.tiny_chain_entries(0)
    with monkeypatch.context() as patch:
        patch.setattr(dense, "MIN_DENSE_BYTES", 0)
        patch.setattr(dense, "DENSE_BYTES_PER_COMMA", 10**9)
        patch.setattr(dense, "WINDOW_BYTES", window)
        artifact = load_bytes(data)
        # the dense reader did read the chain (unless the fast reader refused the input)
        assert artifact.exact_path or (artifact.chain is not None
                                       and artifact.chain.dense is not None)
        dense_report = report_to_dict(verify_bytes(data, TRUST))
    assert dense_report == report_to_dict(verify_bytes(data, TRUST, exact=True))


@pytest.mark.parametrize("entry", [b'{"a":[]}', b"[[[]]]", b' "x" ', b"\n  0\n", b'"\\u0041"', b"-0"])
def test_a_window_of_one_entry_repeated_is_decoded_once(entry: bytes) -> None:
    """Its bytes alone decode as one value, so the window is that many equal entries:
    the same entries (and "same" chunks) as decoding every one of them."""
    span = b"[" + b",".join([entry] * 1000) + b"]"
    windows = list(DenseChain(span, window_bytes=300)._windows(MAX_DEPTH))
    assert all(uniform for _, _, uniform, _ in windows[:-1])  # the last may be a lone entry
    chain = DenseChain(span, window_bytes=300)
    assert entries_of(chain, 7) == json.loads(span)
    assert all(c.same for c in chain.chunks(7, MAX_DEPTH) if len(c.entries) > 1)


def test_a_window_of_repeated_bytes_that_are_not_one_entry_is_decoded_whole() -> None:
    """``0,0`` repeated is the bytes up to the first comma (``0``) repeated; ``[1`` alone
    is not a value, so a window of ``[1,[1,...`` never passes as repeated entries."""
    span = b"[" + b",".join([b"[1,2]"] * 200) + b"]"
    assert entries_of(DenseChain(span, window_bytes=50)) == [[1, 2]] * 200
    assert dense._repeated_text(b"[[1,[1,[1]") == (b"[1", 3)
    assert dense._decode_window(b"[[1,[1,[1]", MAX_DEPTH) is None


# -- grown chunks: read, hashed and written several chunks at a time ---------------------------


def _dense(entries_pass: chainpass.EntriesPass) -> DenseChain:
    chain = entries_pass.artifact.chain
    assert chain is not None and chain.dense is not None
    return chain.dense


def _pass_for(data: bytes) -> chainpass.EntriesPass:
    artifact = load_bytes(data)
    assert artifact.chain is not None and artifact.chain.dense is not None
    out = chainpass.MessageWriter(SignedMessage(None))
    return chainpass.EntriesPass(artifact, {}, accel.sorted_encoder(), out, {}, MAX_DEPTH,
                                 CHUNK_ENTRIES)


@pytest.mark.parametrize("entries", [hostile.MIXED_TINY, b"{}", b"0",
                                     (b"0",) * 700 + (b"{}",) * 600 + (b'{"a":0}',) * 900])
def test_a_part_of_a_grown_chunk_is_the_chunk_a_pass_of_chunks_makes(
        entries: bytes | tuple[bytes, ...], forced: None) -> None:
    """Each part of a grown chunk (cut at the pass's chunk boundaries) carries the same
    entries, content hashes, object offsets, columns and proofs as the chunk the pass
    of ordinary chunks hashes there (but ``same``, which a part of a chunk that is not
    one value repeated does not prove)."""
    data = hostile.tiny_chain_entries(10_000, entries)
    grown_pass, plain_pass = _pass_for(data), _pass_for(data)
    plain = [plain_pass.hashed(decoded)[0]
             for decoded in _dense(plain_pass).chunks(CHUNK_ENTRIES, MAX_DEPTH)]
    grown = [grown_pass.hashed(decoded)[0]
             for decoded in _dense(grown_pass).chunks(CHUNK_ENTRIES, MAX_DEPTH,
                                                      16 * CHUNK_ENTRIES)]
    assert max(len(chunk.entries) for chunk in grown) > CHUNK_ENTRIES
    for chunk in grown:
        chunk.column("content_hash") if chunk.objects else chunk.object_offsets()
        assert chunk.object_entries() == [entry for entry in chunk.entries if type(entry) is dict]
    parts = [chunk.part(start, start + CHUNK_ENTRIES)
             for chunk in grown for start in range(0, len(chunk.entries), CHUNK_ENTRIES)]
    assert len(parts) == len(plain)
    for part, expected in zip(parts, plain, strict=True):
        assert (part.first, part.entries, part.content_hashes) == \
            (expected.first, expected.entries, expected.content_hashes)
        assert (part.within_jcs, part.flat, part.objects, part.encode) == \
            (expected.within_jcs, expected.flat, expected.objects, expected.encode)
        assert part.same <= expected.same
        assert part.object_offsets() == expected.object_offsets()
        assert part.object_entries() == expected.object_entries() == \
            [entry for entry in expected.entries if type(entry) is dict]
        for key, values in part.columns.items():
            assert values == expected.column(key)
        if part.objects:
            assert part.column("content_hash") == expected.column("content_hash")


def test_a_chunk_holding_floats_is_not_split() -> None:
    chunk = chainpass.Chunk(0, [1.5, 0], [None, None], False, twin=[1.5, 0], floats=1)
    with pytest.raises(ValueError):
        chunk.part(0, 1)


def _spied_sizes(monkeypatch: pytest.MonkeyPatch) -> tuple[list[int], dict[str, list[tuple[int, int]]]]:
    """The sizes of the chunks the pass hashes, and the (first, size) of the chunks
    each visitor is fed."""
    hashed_sizes: list[int] = []
    fed: dict[str, list[tuple[int, int]]] = {}
    hashed = chainpass.EntriesPass.hashed

    def spy_hashed(self: Any, decoded: Any) -> Any:
        hashed_sizes.append(len(decoded.entries))
        return hashed(self, decoded)

    factories = visitor_factories()

    def spying(name: str, factory: Any) -> Any:
        def make(artifact: Any) -> Any:
            visitor = factory(artifact)
            visit = visitor.visit

            def spy_visit(chunk: chainpass.Chunk) -> None:
                fed.setdefault(name, []).append((chunk.first, len(chunk.entries)))
                visit(chunk)

            visitor.visit = spy_visit
            return visitor
        return make

    monkeypatch.setattr(chainpass.EntriesPass, "hashed", spy_hashed)
    monkeypatch.setattr("keel_verify.verifier.visitor_factories",
                        lambda *args: {name: spying(name, factory)
                                       for name, factory in factories.items()})
    return hashed_sizes, fed


@pytest.mark.parametrize("kind", ["mixed", "{}", "0"])
def test_grown_chunks_report_as_the_other_paths(kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """40,000 tiny entries: the dense pass hashes chunks of up to 16 times 512 entries,
    feeds the session facts whole chunks and every check that may stop chunks of 512 at
    the boundaries of 512, and reports exactly as the raw slices and the exact path."""
    entries: dict[str, tuple[bytes, ...] | bytes] = {
        "mixed": hostile.MIXED_TINY, "{}": b"{}", "0": b"0"}
    data = hostile.tiny_chain_entries(40_000, entries[kind])
    with monkeypatch.context() as patch:
        hashed_sizes, fed = _spied_sizes(patch)
        patch.setattr(dense, "MIN_DENSE_BYTES", 0)
        patch.setattr(dense, "DENSE_BYTES_PER_COMMA", 10**9)
        report_to_dict(verify_bytes(data, TRUST))
    assert max(hashed_sizes) == 16 * CHUNK_ENTRIES
    if kind != "mixed":  # a chunk repeating the one before is not hashed again
        assert sum(hashed_sizes) < 40_000
    assert max(size for _, size in fed["session_facts"]) == 16 * CHUNK_ENTRIES
    for name, chunks in fed.items():
        assert all(first % CHUNK_ENTRIES == 0 for first, _ in chunks), name
        if name != "session_facts":  # every check's visitor may stop
            assert max(size for _, size in chunks) <= CHUNK_ENTRIES, name
    assert sum(size for _, size in fed["session_facts"]) == 40_000
    dense_report, raw_report, exact_report = reports(data, monkeypatch)
    assert dense_report == raw_report == exact_report


@pytest.mark.parametrize("start", [20_000, 20_100, 20_480])
def test_a_check_that_finds_problems_late_stops_where_the_other_paths_stop(
        start: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """20,000 or so entries on which ``permit_linkage`` finds nothing (so it is still fed
    when the chunks grow), then objects with unknown permit ids: it stops after 1,000
    problems at the same boundary of 512 entries as on the raw slices and the exact path,
    though the dense pass hashes those entries 8,192 at a time."""
    entry = b'{"permit_id":"no-such-permit"}'
    data = hostile.tiny_chain_entries(40_000, (b"0",) * start + (entry,) * (40_000 - start))
    with monkeypatch.context() as patch:
        hashed_sizes, fed = _spied_sizes(patch)
        patch.setattr(dense, "MIN_DENSE_BYTES", 0)
        patch.setattr(dense, "DENSE_BYTES_PER_COMMA", 10**9)
        report = report_to_dict(verify_bytes(data, TRUST))
    assert max(hashed_sizes) == 16 * CHUNK_ENTRIES
    linkage = next(check for check in report["checks"] if check["name"] == "permit_linkage")
    stop = (start + 1000 + CHUNK_ENTRIES - 1) // CHUNK_ENTRIES * CHUNK_ENTRIES
    assert linkage["details"]["entries_examined"] == stop
    last_first, last_size = fed["permit_linkage"][-1]
    assert last_first + last_size == stop
    dense_report, raw_report, exact_report = reports(data, monkeypatch)
    assert dense_report == raw_report == exact_report == report


@given(st.lists(chain_values | st.sampled_from([1.5, [0.25], {"f": -2.0}]), max_size=80),
       st.integers(1, 64), st.integers(1, 5), st.integers(1, 4))
@settings(max_examples=200, deadline=None)
def test_grown_chunks_are_whole_chunks_and_only_of_values(
        entries: list[Any], window: int, size: int, growth: int) -> None:
    """Chunks asked up to ``growth`` times ``size``: each starts at a multiple of
    ``size`` and holds a multiple of ``size`` entries (the last fewer), never more than
    ``growth`` times; one holding entries read as raw slices (here those with floats)
    is never grown; together they are the entries in order."""
    span = json.dumps(entries).encode()
    chunks = list(DenseChain(span, window_bytes=window).chunks(size, MAX_DEPTH, size * growth))
    assert [e for c in chunks for e in c.entries] == entries
    assert all(c.first % size == 0 for c in chunks)
    assert all(len(c.entries) % size == 0 for c in chunks[:-1])
    assert all(0 < len(c.entries) <= size * growth for c in chunks)
    assert all(len(c.entries) <= size for c in chunks if c.twin is not None or not c.within_jcs)
    assert [c.first for c in chunks[1:]] == [c.first + len(c.entries) for c in chunks[:-1]]


@pytest.mark.parametrize(("entries", "some_not_unchanged"), [
    ((b"0",), False), ((b"{}",), True), (hostile.MIXED_TINY, True),
    ((b'{"permit_id":null,"content_hash":"sha256:00"}',), False),
    ((b'{"permit_id":"p"}', b"0"), True),
    ((b"0",) * 600 + (b'{"permit_id":null}',) * 30, True),  # no content hash: not proven
])
def test_a_visitor_a_chunk_leaves_unchanged_is_left_unchanged_by_its_parts(
        entries: tuple[bytes, ...], some_not_unchanged: bool, forced: None) -> None:
    """``unchanged_by`` (permit_linkage, canonical_portability) says True only when
    visiting the chunk, whole or part by part, changes nothing of the visitor; and it
    says True where the chunks of tiny entries give such a visitor nothing to do."""
    data = hostile.tiny_chain_entries(4_000, entries)
    entries_pass = _pass_for(data)
    factories = visitor_factories()
    said: list[bool] = []
    for decoded in _dense(entries_pass).chunks(CHUNK_ENTRIES, MAX_DEPTH, 8 * CHUNK_ENTRIES):
        chunk = entries_pass.hashed(decoded)[0]
        for name in ("permit_linkage", "canonical_portability"):
            visitor = factories[name](entries_pass.artifact)
            before = repr(vars(visitor))
            if visitor.unchanged_by(chunk):  # type: ignore[attr-defined]
                said.append(True)
                for start in range(0, len(chunk.entries), CHUNK_ENTRIES):
                    visitor.visit(chunk.part(start, start + CHUNK_ENTRIES))
                visitor.visit(chunk)
                assert repr(vars(visitor)) == before
            else:
                said.append(False)
                visitor.visit(chunk)
                assert repr(vars(visitor)) != before or name == "permit_linkage"
    assert (False in said) == some_not_unchanged


@pytest.mark.parametrize("objects", [
    [{}], [{}, {"a": 0}, {}], [{"a": "},{"}, {}], [{"a": [{}, {}]}, {"b": 1}],
    [{"a": "x\\n},{"}, {"c": [{"d": {}}, {}]}], [{"z": 1, "a": {"m": {}}}] * 3,
])
def test_objects_are_cut_from_one_encoding_only_where_they_meet(
        objects: list[dict[str, Any]]) -> None:
    """Each object's canonical bytes, whether cut from one encoding of the list (no
    ``},{`` inside any of them) or encoded one by one (when one holds it)."""
    encode = accel.sorted_encoder()
    assert chainpass._each_encoded(objects, encode) == [encode(one) for one in objects]


@pytest.mark.parametrize("at", [2_900, 3_071, 3_072, 3_100])
def test_a_float_after_grown_chunks_ends_them_at_a_boundary(
        at: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """A window read as raw slices (it holds a float) after values: the grown chunk
    before it ends at the last boundary of 512 it reached, the rest of that chunk of 512
    joins the raw entries, and the report is the raw slices' and the exact path's."""
    data = hostile.tiny_chain_entries(6_000, (b"0",) * at + (b"1.5",) + (b"0",) * (5_999 - at))
    chain = DenseChain(data[data.index(b'"chain":[') + 8 : data.index(b"]", data.index(b'"chain":['))
                            + 1], window_bytes=200)
    chunks = list(chain.chunks(CHUNK_ENTRIES, MAX_DEPTH, 16 * CHUNK_ENTRIES))
    assert all(c.first % CHUNK_ENTRIES == 0 for c in chunks)
    holding = next(c for c in chunks if c.first <= at < c.first + len(c.entries))
    assert holding.first == at // CHUNK_ENTRIES * CHUNK_ENTRIES and len(holding.entries) == 512
    assert holding.twin is not None and holding.floats == 1
    assert max(len(c.entries) for c in chunks if c.first < holding.first) > CHUNK_ENTRIES
    dense_report, raw_report, exact_report = reports(data, monkeypatch)
    assert dense_report == raw_report == exact_report
