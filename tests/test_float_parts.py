"""Floats stay on the fast path: the top-level member or the chunk of chain entries that
holds one is decoded by msgspec, its floats read as the strict parser reads them and
written from a twin as the profile writes them (keel_verify.load.accel.read_floats). The
result must be the exact path's, byte for byte: the whole report and the signed
message's digest. Proved by structure (what the strict parser is handed: nothing, on the
fast path), never by a clock (the times are in ``benchmarks/hostile.py``)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keel_verify import TrustPolicy, verify_bytes
from keel_verify.crypto.canonical import GENESIS_HASH, canonical_bytes, canonical_hash
from keel_verify.load import accel, chainpass, dense, loader, shards
from keel_verify.load.chainpass import read_strictly
from keel_verify.report.json_report import report_to_dict
from tests import hostile_inputs as hostile
from tests.helpers import count_strict_parses, public_v3, record_worker_results

pytestmark = pytest.mark.skipif(
    not accel.fast_json_available(), reason="msgspec not installed: only the exact path exists"
)

TRUST = TrustPolicy.self_attested_only()
CHUNK = chainpass.CHUNK_ENTRIES
LONG_CHAIN = shards.MIN_ENTRIES + 3 * CHUNK  # long enough to be shared with a worker

FLOATS = [1.5, -0.0, 0.0, 1e16, 1e-7, 5e-324, 1.7976931348623157e308, 0.1, 1.0, -2.5e-300]
#: Number texts as they may appear in an input: each read as the exact path reads it.
NUMBER_TEXTS = ["1.5", "-0.0", "1e16", "1E+16", "1e400", "-1e400", "1.0", "0.10", "2e-400",
                "123456789012345678901234567890.5", "12345678901234567890123456789"]


def encode(document: Any) -> bytes:
    return json.dumps(document, ensure_ascii=False).encode()


def relinked(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The entries hash-linked from genesis again (a sound chain, floats and all)."""
    previous = GENESIS_HASH
    for entry in entries:
        entry.pop("content_hash", None)
        entry["previous_content_hash"] = previous
        entry["content_hash"] = previous = canonical_hash(entry)
    return entries


def long_chain(change: Callable[[int, dict[str, Any]], None]) -> bytes:
    """A sound chain of LONG_CHAIN entries, ``change(index, entry)`` applied to each first."""
    entries = hostile.sound_entries(LONG_CHAIN)
    for index, entry in enumerate(entries):
        change(index, entry)
    return hostile.chain_of(relinked(entries))


def assert_mixed_equals_exact(data: bytes) -> dict[str, Any]:
    """The fast path's report and signed-message digest are the exact path's; returns the
    report."""
    mixed = report_to_dict(verify_bytes(data, TRUST))
    exact = report_to_dict(verify_bytes(data, TRUST, exact=True))
    assert mixed == exact
    if mixed.get("verdict") != "ERROR":
        assert read_strictly(data)[1].content_hash == read_strictly(data, exact=True)[1].content_hash
    return mixed


@pytest.fixture
def strict_reads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The size of every input the strict parser is handed."""
    return count_strict_parses(monkeypatch)


@pytest.fixture
def sharded(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Long chain passes shared with a worker; records, for each chunk the worker owns,
    whether its results arrived."""
    monkeypatch.setattr(shards, "usable_cpus", lambda: 2)
    monkeypatch.setattr(shards, "MIN_ENTRY_BYTES", 0)
    return record_worker_results(monkeypatch)


def test_a_float_in_a_top_level_member_stays_on_the_fast_path(strict_reads: list[int]) -> None:
    document = public_v3()
    document["session_metadata"]["x"] = 1.5
    data = encode(document)
    artifact = loader.load_bytes(data)
    assert not artifact.exact_path and set(artifact.float_members) == {"session_metadata"}
    assert artifact.document["session_metadata"]["x"] == 1.5
    member = artifact.float_members["session_metadata"]
    assert member.floats == 1 and member.floats_only
    assert member.canonical == canonical_bytes(artifact.document["session_metadata"])
    assert member.located == (("/session_metadata/x", "floating-point number 1.5"),)
    assert "session_metadata" not in artifact.jcs_members and not artifact.document_within_jcs
    assert strict_reads == []
    report = assert_mixed_equals_exact(data)
    assert report["verdict"] == "FAILED"  # not re-signed
    assert set(strict_reads) == {len(data)}  # only the exact path, reading the whole input


def test_the_repro_is_never_handed_to_the_strict_parser(strict_reads: list[int]) -> None:
    data = hostile.empty_chain_entries(50_000, metadata_float=True)
    metadata = json.loads(data)["session_metadata"]
    assert metadata["x"] == 1.5
    report = report_to_dict(verify_bytes(data, TRUST))
    assert strict_reads == []
    assert report == report_to_dict(verify_bytes(data, TRUST, exact=True))
    assert strict_reads == [len(data)]


def test_a_float_in_one_entry_gives_only_its_chunk_a_twin(strict_reads: list[int]) -> None:
    entries: list[Any] = [{}] * 50_000
    entries[CHUNK * 7 + 3] = {"latency": 0.25}
    data = hostile.chain_of(entries)
    artifact = loader.load_bytes(data)
    assert artifact.chain is not None
    chunks = list(artifact.chain.chunks(CHUNK, loader.MAX_DEPTH))
    assert [chunk.first for chunk in chunks if chunk.twin is not None] == [CHUNK * 7]
    float_chunk = chunks[7]
    assert float_chunk.floats == 1 and float_chunk.floats_only and not float_chunk.within_jcs
    assert float_chunk.entries[3] == {"latency": 0.25}
    report = report_to_dict(verify_bytes(data, TRUST))
    assert strict_reads == []
    assert report == report_to_dict(verify_bytes(data, TRUST, exact=True))


@pytest.mark.parametrize("where", [2, 3, 7])  # worker-owned chunks (see shards.owns)
def test_a_float_in_one_chunk_of_a_sharded_chain(sharded: list[bool], where: int) -> None:
    assert shards.owns(where)

    def change(index: int, entry: dict[str, Any]) -> None:
        if index == where * CHUNK + 5:
            entry["canonicalized_payload"] = {"latency_seconds": 0.125, "score": -0.0}

    data = long_chain(change)
    report = assert_mixed_equals_exact(data)
    assert report["verdict"] == "FAILED"  # not re-signed
    assert sharded and all(sharded)  # the worker did its chunks, the exact one included


def test_floats_in_every_chunk_of_a_sharded_chain(sharded: list[bool]) -> None:
    def change(index: int, entry: dict[str, Any]) -> None:
        if index % (CHUNK // 2) == 1:
            entry["x"] = FLOATS[index % len(FLOATS)]

    assert_mixed_equals_exact(long_chain(change))
    assert sharded and all(sharded)


def test_floats_in_every_chunk_and_member() -> None:
    document = public_v3()
    for index, entry in enumerate(document["chain"]):
        entry["x"] = FLOATS[index % len(FLOATS)]
    document["session_metadata"]["y"] = [1e16, {"z": -0.0}]
    document["extra"] = 0.5
    assert_mixed_equals_exact(encode(document))


@pytest.mark.parametrize("text", NUMBER_TEXTS)
@pytest.mark.parametrize("where", ["member", "nested member", "entry", "chain member"])
def test_number_texts_are_read_as_the_exact_path_reads_them(text: str, where: str) -> None:
    raw = encode(public_v3()).decode()
    if where == "member":
        raw = raw.replace('"session_metadata": {', f'"session_metadata": {{"n": {text}, ', 1)
    elif where == "nested member":
        raw = raw.replace('"session_metadata": {', f'"session_metadata": {{"n": [[{{"m": {text}}}]], ', 1)
    elif where == "entry":
        raw = raw.replace('"chain": [{', f'"chain": [{{"n": {text}, ', 1)
    else:
        raw = raw.replace('"chain": [', f'"chain": [{{"n": {text}}}, ', 1)
    assert raw != encode(public_v3()).decode()
    report = assert_mixed_equals_exact(raw.encode())
    if "400" in text and "e" in text.lower() and "-400" not in text:
        assert report["verdict"] == "ERROR" and "overflows a double" in report["error"]


def _duplicated(raw: str, anchor: str, key: str) -> str:
    """``raw`` with a ``key`` member added just after ``anchor`` (the opening of an
    object that already has that key)."""
    assert anchor in raw
    return raw.replace(anchor, f'{anchor}"{key}": 0, ', 1)


@pytest.mark.parametrize("where", ["in the float member", "in the exact chunk", "in a fast member",
                                   "in a fast chunk", "at the top level"])
def test_floats_and_duplicate_keys_are_rejected_as_the_exact_path_rejects(where: str) -> None:
    document = public_v3()
    document["session_metadata"]["f"] = 2.5
    document["chain"][0]["f"] = 0.5
    raw = encode(document).decode()
    if where == "in the float member":
        raw = _duplicated(raw, '"session_metadata": {', "f")
    elif where == "in the exact chunk":
        raw = _duplicated(raw, '"chain": [{', "f")
    elif where == "in a fast member":
        raw = _duplicated(raw, '"chain_head": {', "sequence")
    elif where == "in a fast chunk":  # a chain longer than a chunk, the float in the first
        long_doc = json.loads(raw)
        long_doc["chain"] = long_doc["chain"] + [{"a": 1}] * CHUNK
        raw = encode(long_doc).decode().replace('{"a": 1}', '{"a": 1, "a": 2}', 1)
    else:
        raw = _duplicated(raw, "{", "schema")
    report = assert_mixed_equals_exact(raw.encode())
    assert report["verdict"] == "ERROR" and report["error"].startswith("duplicate object key")


@pytest.mark.parametrize("where", ["member", "entry", "elsewhere"])
def test_floats_and_escaped_colons(where: str) -> None:
    document = public_v3()
    document["session_metadata"]["f"] = 2.5
    document["chain"][1]["f"] = 0.5
    raw = json.dumps(document)
    anchor = {"member": '"session_metadata": {', "entry": '"chain": [{',
              "elsewhere": '"chain_head": {'}[where]
    raw = raw.replace(anchor, anchor + '"c": "a\\u003Ab", ', 1)
    assert_mixed_equals_exact(raw.encode())


@pytest.mark.parametrize("extra", [0, 1])  # at the limit, and one beyond it
@pytest.mark.parametrize("where", ["member", "entry"])
def test_floats_at_the_depth_limit(extra: int, where: str) -> None:
    raw = encode(public_v3()).decode()
    if where == "member":  # the member's value is at depth 2, its member's value at 3
        levels = loader.MAX_DEPTH - 2 + extra
        raw = raw.replace('"session_metadata": {', '"session_metadata": {"d": '
                          + "[" * levels + "1.5" + "]" * levels + ", ", 1)
    else:  # the entry is at depth 3, its member's value at 4
        levels = loader.MAX_DEPTH - 3 + extra
        raw = raw.replace('"chain": [{', '"chain": [{"d": ' + "[" * levels + "1.5" + "]" * levels
                          + ", ", 1)
    report = assert_mixed_equals_exact(raw.encode())
    assert (report["verdict"] == "ERROR") == bool(extra)
    if extra:
        assert report["error"] == f"nesting deeper than the limit of {loader.MAX_DEPTH} levels"


def test_pure_mode_still_reads_everything_exactly(monkeypatch: pytest.MonkeyPatch,
                                                  strict_reads: list[int]) -> None:
    document = public_v3()
    document["session_metadata"]["x"] = 1.5
    data = encode(document)
    mixed = report_to_dict(verify_bytes(data, TRUST))
    strict_reads.clear()
    monkeypatch.setenv("KEEL_VERIFY_PURE", "1")
    assert report_to_dict(verify_bytes(data, TRUST)) == mixed
    assert strict_reads == [len(data)]


def test_a_float_signatures_member_counts_its_colons_exactly() -> None:
    document = public_v3()
    document["signatures"][0]["weight"] = 1e16
    report = assert_mixed_equals_exact(encode(document))
    assert report["verdict"] != "ERROR"


_keys = st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=6)
_floats = st.floats(allow_nan=False, allow_infinity=False)
_with_floats = st.recursive(
    _floats | st.none() | st.booleans() | st.integers(-(10**20), 10**20) | _keys,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(_keys, children, max_size=3),
    max_leaves=8,
)


@given(st.data())
@settings(max_examples=60, deadline=None)
def test_random_floats_anywhere_read_as_the_exact_path_reads_them(data: st.DataObject) -> None:
    document = public_v3()
    for _ in range(data.draw(st.integers(1, 4))):
        where = data.draw(st.sampled_from(["top", "member", "entry", "new entry"]))
        key = data.draw(_keys)
        value = data.draw(_floats | _with_floats)
        if where == "top":
            if key not in ("chain", "schema", "schema_version", "canonicalization_profile",
                           "verifier_compatibility"):
                document[key] = value
        elif where == "member":
            name = data.draw(st.sampled_from(sorted(k for k, v in document.items()
                                                    if isinstance(v, dict))))
            document[name][key] = value
        elif where == "entry":
            entry = data.draw(st.sampled_from([e for e in document["chain"] if isinstance(e, dict)]))
            entry[key] = value
        else:
            document["chain"].insert(data.draw(st.integers(0, len(document["chain"]))), value)
    assert_mixed_equals_exact(json.dumps(document, ensure_ascii=data.draw(st.booleans())).encode())


def portability(report: dict[str, Any]) -> dict[str, Any]:
    check: dict[str, Any] = next(c for c in report["checks"] if c["name"] == "canonical_portability")
    return check


def test_a_float_in_every_chunk_stays_on_the_fast_path(strict_reads: list[int]) -> None:
    count = 3 * CHUNK + 7
    data = hostile.float_in_every_chunk(count, every=CHUNK)
    artifact = loader.load_bytes(data)
    assert artifact.chain is not None
    chunks = list(artifact.chain.chunks(CHUNK, loader.MAX_DEPTH))
    assert len(chunks) == 4 and all(c.twin is not None and c.floats == 1 and c.floats_only
                                    for c in chunks)
    report = assert_mixed_equals_exact(data)
    assert strict_reads == [len(data)] * len(strict_reads)  # the exact path's readings only
    assert portability(report)["details"]["warning_count"] == 4
    assert [w["pointer"] for w in portability(report)["details"]["warnings"]] == [
        f"/chain/{index}/x" for index in range(0, count, CHUNK)]


def test_a_float_inside_a_big_array_member_stays_on_the_fast_path(strict_reads: list[int]) -> None:
    data = hostile.float_in_zeros_member(20_000)
    artifact = loader.load_bytes(data)
    member = artifact.float_members["padding"]
    assert member.floats == 1 and member.floats_only
    assert member.located == (("/padding/19999", "floating-point number 1.5"),)
    assert member.canonical == canonical_bytes(artifact.document["padding"])
    assert strict_reads == []
    report = assert_mixed_equals_exact(data)
    assert portability(report)["pointer"] == "/padding/19999"


@pytest.mark.parametrize("distinct", [False, True])
def test_every_entry_a_float(distinct: bool) -> None:
    data = hostile.float_entries(3 * CHUNK + 1, distinct=distinct)
    report = assert_mixed_equals_exact(data)
    details = portability(report)["details"]
    # Counted up to the chunk where the check stops examining entries (after 1,000).
    assert details["warning_count"] == 2 * CHUNK and details["warning_count_is_lower_bound"]


@pytest.mark.parametrize("levels", [1, accel.MAX_TYPED_NESTING - 1, accel.MAX_TYPED_NESTING + 2, 60])
@pytest.mark.parametrize("padding", [0, 300])  # long entries: depth not bounded by their size
def test_floats_nested_deep_in_entries(levels: int, padding: int) -> None:
    def nested(value: Any, index: int) -> Any:
        for level in range(levels):
            value = {"k": value, "n": index} if level % 2 else [value, -0.0]
        return value

    entries = [{"deep": nested(0.5 + index, index), "n": index, "pad": "x" * padding}
               for index in range(CHUNK + 3)]
    data = hostile.chain_of(entries)
    chunks = list(loader.load_bytes(data).chain.chunks(CHUNK, loader.MAX_DEPTH))  # type: ignore[union-attr]
    # However deep (walked when neither size nor typed decoder bounds it), the floats are
    # proven to be all that leaves the domain: no long integer, no key beyond the BMP.
    assert all(c.floats_only and c.floats == len(c.entries) * (1 + levels // 2 + levels % 2)
               for c in chunks)
    assert_mixed_equals_exact(data)


def test_v1_payloads_holding_floats() -> None:
    data = hostile.v1_float_payloads(CHUNK + 40)
    report = assert_mixed_equals_exact(data)
    outcomes = {c["name"]: c["outcome"] for c in report["checks"]}
    assert outcomes["payload_hashes"] == "pass" and outcomes["chain_integrity"] == "pass"
    twin = loader.load_bytes(data).chain.chunk_at(0, CHUNK, loader.MAX_DEPTH)  # type: ignore[union-attr]
    assert twin.twin is not None and twin.floats_only and twin.floats == 5 * CHUNK
    # Its float-free twin artifact: the same verdicts.
    plain = report_to_dict(verify_bytes(hostile.v1_float_payloads(CHUNK + 40, floats=False), TRUST))
    assert {c["name"]: c["outcome"] for c in plain["checks"]} == dict(
        outcomes, canonical_portability="pass")


@pytest.mark.parametrize("other", ["an unsafe integer", "a key outside the BMP"])
@pytest.mark.parametrize("where", ["member", "entry"])
def test_floats_with_other_divergences_are_looked_for(other: str, where: str) -> None:
    extra: dict[str, Any] = ({"big": 2**53} if other == "an unsafe integer"
                             else {"\U0001f600": 1})
    document = public_v3()
    if where == "member":
        document["session_metadata"].update(extra, f=[0.5, {"g": 1e300}])
    else:
        document["chain"][1].update(extra, f=[0.5, {"g": 1e300}])
    data = encode(document)
    artifact = loader.load_bytes(data)
    if where == "member":
        assert not artifact.float_members["session_metadata"].floats_only
    else:
        assert artifact.chain is not None
        assert not artifact.chain.chunk_at(0, CHUNK, loader.MAX_DEPTH).floats_only
    report = assert_mixed_equals_exact(data)
    assert portability(report)["details"]["warning_count"] == 3


@pytest.mark.parametrize("stated", [1.5, [1.5], {"content_hash": 2.5}])
def test_float_content_hashes(stated: Any) -> None:
    def change(index: int, entry: dict[str, Any]) -> None:
        if index % 3 == 0:
            entry["content_hash"] = stated
        entry["payload"] = {"content_hash": 0.25, "n": index}

    entries = hostile.sound_entries(CHUNK + 5)
    for index, entry in enumerate(entries):
        change(index, entry)
    assert_mixed_equals_exact(hostile.chain_of(entries))


_entries = st.lists(_with_floats | st.dictionaries(_keys, _with_floats, max_size=4), max_size=12)


@given(_entries, st.integers(1, 4))
@settings(deadline=None)
def test_random_chains_with_floats_in_small_chunks(entries: list[Any], chunk: int) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(chainpass, "CHUNK_ENTRIES", chunk)
        assert_mixed_equals_exact(hostile.chain_of(entries))


_dense_entries = st.lists(
    st.sampled_from([0, 1.5, -0.0, 0.0, 1e16, [0.5], {"x": 2.5}, {"x": 2}, {}, [], "1.5",
                     {"content_hash": 0.25}, [[[[[[[[1e-7]]]]]]]], 9007199254740993]),
    min_size=1, max_size=1_300)


@given(entries=_dense_entries, window=st.integers(1, 300))
@settings(deadline=None)
def test_dense_chains_holding_floats_report_as_the_exact_path(entries: list[Any], window: int) -> None:
    """A chain of tiny entries is read window by window (keel_verify.load.dense); a chunk
    straddling two windows joins their twins. -0.0 and 0.0 are equal in Python but not
    in canonical bytes: a chunk of both is never taken for one value repeated."""
    data = hostile.tiny_chain_entries(len(entries), tuple(json.dumps(e).encode() for e in entries))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(dense, "MIN_DENSE_BYTES", 0)
        patch.setattr(dense, "DENSE_BYTES_PER_COMMA", 10**9)
        patch.setattr(dense, "WINDOW_BYTES", window)
        artifact = loader.load_bytes(data)
        assert artifact.chain is not None and artifact.chain.dense is not None
        fast = report_to_dict(verify_bytes(data, TRUST))
        if fast["verdict"] != "ERROR":
            fast_hash = read_strictly(data)[1].content_hash
    assert fast == report_to_dict(verify_bytes(data, TRUST, exact=True))
    if fast["verdict"] != "ERROR":
        assert fast_hash == read_strictly(data, exact=True)[1].content_hash


@pytest.mark.parametrize("pattern", [[0.0, -0.0], [-0.0, 0.0, 0.0], [1.5], [{"x": 0.0}, {"x": -0.0}]])
def test_dense_zeros_of_both_signs(pattern: list[Any]) -> None:
    entries = (pattern * (3 * CHUNK))[: 3 * CHUNK + 1]
    data = hostile.tiny_chain_entries(len(entries), tuple(json.dumps(e).encode() for e in entries))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(dense, "MIN_DENSE_BYTES", 0)
        patch.setattr(dense, "DENSE_BYTES_PER_COMMA", 10**9)
        patch.setattr(dense, "WINDOW_BYTES", 700)
        fast = report_to_dict(verify_bytes(data, TRUST))
        fast_hash = read_strictly(data)[1].content_hash
    assert fast == report_to_dict(verify_bytes(data, TRUST, exact=True))
    assert fast_hash == read_strictly(data, exact=True)[1].content_hash


def test_a_large_member_holding_a_float_is_decoded_by_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    """Halving a batch of members down to a large one would decode it again at each step:
    a member larger than MEMBER_ALONE_BYTES is never batched, and is read once with its
    floats."""
    data = hostile.float_in_zeros_member(loader.MEMBER_ALONE_BYTES)
    batches: list[list[str]] = []
    reads: list[int] = []
    batch, read_floats = loader._MemberDecoder.batch, accel.read_floats

    def counting_batch(self: Any, keys: list[str], raws: list[Any]) -> None:
        batches.append(keys)
        batch(self, keys, raws)

    def counting_read(data: Any, outside: bytes | None = None) -> accel.FloatPart:
        reads.append(len(data))
        return read_floats(data, outside)

    monkeypatch.setattr(loader._MemberDecoder, "batch", counting_batch)
    monkeypatch.setattr(accel, "read_floats", counting_read)
    artifact = loader.load_bytes(data)
    assert batches[0] == ["padding"] and all("padding" not in keys for keys in batches[1:])
    assert reads == [len(hostile.encode(artifact.document["padding"]))]
    assert set(artifact.float_members) == {"padding"}
