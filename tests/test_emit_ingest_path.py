"""The pieces that make keel-emit's ingest fast give exactly what the plain ways give: the
msgspec body reading (value, or the same refusal), the canonical templates of chain
entries, and the SQLite store's background checkpoints (the WAL still gets checkpointed,
the writer checkpoints what is left once the WAL is long, and closing stops them)."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from keel_verify.emit import bodies
from keel_verify.emit.bodies import parse
from keel_verify.emit.chain import CanonicalTemplate, canonical_bytes
from keel_verify.emit.clock import RandomIds
from keel_verify.emit.errors import EmitError
from keel_verify.emit.sqlite_store import CHECKPOINT_PAGES, SQLiteStore
from keel_verify.emit.state import Commit
from keel_verify.errors import LoadError
from keel_verify.load.loader import _reject_duplicate_keys


def exact_reading(data: bytes) -> tuple[str, Any]:
    """The standard library's strict reading (what every body went through before)."""
    try:
        return "value", json.loads(data.decode("utf-8"), object_pairs_hook=_reject_duplicate_keys,
                                   parse_constant=bodies._no_constant)
    except (ValueError, RecursionError, LoadError):
        return "refused", None


def fast_reading(data: bytes) -> tuple[str, Any]:
    try:
        return "value", bodies._fast_parse(data)
    except bodies._NotFast:
        return "not vouched for", None


TRICKY = [
    b'{"a":1,"a":2}', b'{"a":{"b":1,"b":1}}', b'{"":1,"":2}', b'{"x:y":1,"x:y":1}',
    b'{"a\\u003a":1,"a":1,"a":2}', b'{"a\\u003A":1,"b":{"c":1,"c":2}}', b'{"k":"v:\\u003a"}',
    b'"\xed\xa0\x80"', b'"\xc0\x80"', b'"\xf4\x90\x80\x80"', b'"\xed\xbf\xbf"', b'"a\x00b"',
    b'"a\x1fb"', b'\x0c{}', b'{}\x0c', b'\xa0{}', b'01', b'-', b'1.', b'+1', b'.5', b'-0',
    b'1' * 5000, b'1e400', b'1.5', b'{"n":2.0}', b'[1,2,]', b'{"a":1,}', b'NaN', b'Infinity',
    b'-Infinity', b'nul', b'tru', b'{"a":[]} x', b'[' * 2000 + b']' * 2000, b'"\\ud800"',
    b'"\\ud83d\\ude00"', b'"\xf0\x9f\x98\x80"', b'{"a":"\\u0000"}', b' \t\r\n{"a": 1 }\n',
    b'12345678901234567890123', b'-12345678901234567890123', b'"\\/"', b'"\\x"', b'"\x7f"',
    b'"\xef\xbf\xbe"', b'', b'{"events":[{"a":1},{"a":1,"a":1}]}',
]


@pytest.mark.parametrize("data", TRICKY, ids=range(len(TRICKY)))
def test_the_fast_reading_gives_the_exact_value_or_steps_aside(data: bytes) -> None:
    fast = fast_reading(data)
    assert fast == exact_reading(data) or fast == ("not vouched for", None)
    if fast[0] == "value":
        assert type(fast[1]) is type(exact_reading(data)[1])


@pytest.mark.parametrize("data", TRICKY, ids=range(len(TRICKY)))
def test_parse_accepts_and_refuses_what_the_exact_reading_does(data: bytes) -> None:
    kind, value = exact_reading(data)
    if kind == "value" and b"\\ud800" not in data:
        assert parse(data) == value
    elif kind == "refused":
        with pytest.raises(EmitError) as refused:
            parse(data)
        assert refused.value.status == 400


def test_a_usual_batch_is_read_by_the_fast_path() -> None:
    body = json.dumps({"batch_idempotency_key": "b", "events": [
        {"atom_type": "transcript_span", "idempotency_key": f"k{i}", "captured_at_ns": i,
         "direction": "inbound", "payload": {"text": "Grüße: ok", "language": "de"},
         "signatures": [{"algorithm": "ed25519", "key_id": "k", "signature": "sig",
                         "signed_at": "2026-06-03T18:00:02Z"}]} for i in range(100)]})
    for data in (body.encode("utf-8"), body.replace(": ", ":").encode("utf-8")):
        assert fast_reading(data) == ("value", json.loads(data))


json_keys = st.sampled_from(["a", "b", "a:b", "", "é", "k\\u003a"]) | st.text(max_size=4)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.text(max_size=6)
    | st.sampled_from(["a:b", ":", "\\"]),
    lambda children: st.lists(children, max_size=4)
    | st.lists(st.tuples(json_keys, children), max_size=4),  # member lists: keys may repeat
    max_leaves=20)


def _text(value: Any, ascii_only: bool) -> str:
    """JSON text in which a list of pairs is an object, duplicates kept."""
    if isinstance(value, list) and value and all(isinstance(v, tuple) for v in value):
        return "{" + ",".join(f"{json.dumps(k, ensure_ascii=ascii_only)}:{_text(v, ascii_only)}"
                              for k, v in value) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_text(v, ascii_only) for v in value) + "]"
    return json.dumps(value, ensure_ascii=ascii_only)


@given(json_values, st.booleans())
def test_generated_bodies_read_the_same_duplicates_included(value: Any, ascii_only: bool) -> None:
    data = _text(value, ascii_only).encode("utf-8")
    fast = fast_reading(data)
    assert fast == exact_reading(data) or fast == ("not vouched for", None)


# -- templates -----------------------------------------------------------------------------

plain_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**53, 2**53) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(st.text(max_size=4), children, max_size=3),
    max_leaves=10)


@given(st.dictionaries(st.text(max_size=6), plain_values, max_size=6),
       st.dictionaries(st.text(min_size=1, max_size=6), plain_values, min_size=1, max_size=4))
def test_a_template_renders_the_canonical_bytes_of_the_whole_object(
        fixed: dict[str, Any], slots: dict[str, Any]) -> None:
    fixed = {k: v for k, v in fixed.items() if k not in slots}
    names = sorted(slots)
    template = CanonicalTemplate(fixed, names)
    assert template.slots == tuple(names)
    rendered = template.render([canonical_bytes(slots[name]) for name in names])
    assert rendered == canonical_bytes({**fixed, **slots})
    assert len(template.fragments) == len(names) + 1


def test_a_template_refuses_values_that_do_not_match_its_slots() -> None:
    template = CanonicalTemplate({"a": 1}, ("b", "c"))
    with pytest.raises(ValueError):
        template.render([b"1"])


def test_a_template_cannot_be_fooled_by_a_value_that_looks_like_a_marker() -> None:
    """The markers are random: a caller's key or value never splits the template."""
    fixed = {"m": {"keel-emit-slot-": "keel-emit-slot-x-chain"}, "z": "\x00slot chain\x00"}
    template = CanonicalTemplate(fixed, ("chain",))
    assert template.render([b"[1]"]) == canonical_bytes({**fixed, "chain": [1]})


# -- ids -------------------------------------------------------------------------------------


def test_random_ids_from_the_pool_are_well_formed_and_distinct() -> None:
    ids = RandomIds()
    made = [ids.new("evt") for _ in range(1000)]  # several refills of the pool
    assert all(re.fullmatch(r"evt_[0-9a-f]{24}", item) for item in made)
    assert len(set(made)) == len(made)
    assert RandomIds().new("evt") not in made


# -- background checkpoints ----------------------------------------------------------------


def _checkpoint_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "keel-emit-checkpoint"]


def test_checkpoints_happen_in_the_background_and_stop_on_close(tmp_path: Path) -> None:
    path = tmp_path / "emit.sqlite3"
    before = len(_checkpoint_threads())
    store = SQLiteStore(path)
    assert len(_checkpoint_threads()) == before + 1
    # Past CHECKPOINT_PAGES pages: with SQLite's own auto-checkpoint off, only a
    # checkpoint copies them into the database file.
    entry = b'"' + b"x" * 100_000 + b'"'
    commits = CHECKPOINT_PAGES * store._page_size // len(entry) + 2
    for number in range(commits):
        store.apply(Commit(entries=(("sess_a", entry),), atom_keys=(("sess_a", f"k{number}"),)))
    deadline = time.monotonic() + 30
    while os.path.getsize(path) < commits * len(entry) // 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert os.path.getsize(path) >= commits * len(entry) // 2
    store.close()
    assert len(_checkpoint_threads()) == before
    reopened = SQLiteStore(path)
    assert len(reopened.entry_bytes("sess_a")) == commits
    reopened.close()


def test_the_writer_checkpoints_itself_when_the_background_falls_behind(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "emit.sqlite3")
    assert store._checkpointer is not None
    store.apply(Commit(entries=(("sess_a", b'"' + b"y" * 200_000 + b'"'),)))
    store._checkpointer.behind = True  # what a checkpoint that left a long WAL reports
    store.apply(Commit(atom_keys=(("sess_a", "k"),)))
    assert store._checkpointer.behind is False
    busy, frames, checkpointed = store._connection.execute(
        "PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    assert (busy, frames) == (0, checkpointed)  # the writer's checkpoint left nothing behind
    store.close()


class _FailingCheckpoints:
    """A connection whose checkpoints fail (an I/O error), everything else as it was."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self.connection = connection

    def execute(self, sql: str, *args: Any) -> Any:
        if sql.startswith("PRAGMA wal_checkpoint"):
            raise sqlite3.OperationalError("disk I/O error")
        return self.connection.execute(sql, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.connection, name)


def test_a_failed_checkpoint_never_fails_the_committed_call(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "emit.sqlite3")
    assert store._checkpointer is not None
    connection = store._connection
    store._connection = _FailingCheckpoints(connection)  # type: ignore[assignment]
    store._checkpointer.behind = True
    store.apply(Commit(entries=(("sess_a", b"1"),)))  # committed; the checkpoint failed
    store._connection = connection
    assert store.entry_bytes("sess_a") == [b"1"]
    store.close()


def test_an_in_memory_store_has_no_checkpoints() -> None:
    before = len(_checkpoint_threads())
    store = SQLiteStore(":memory:")
    assert store._checkpointer is None and len(_checkpoint_threads()) == before
    store.apply(Commit(entries=(("sess_a", b"1"),)))
    assert store.entry_bytes("sess_a") == [b"1"]
    store.close()
