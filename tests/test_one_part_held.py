"""A dense chain's reader holds one part of the chain at a time: when a window is decoded,
nothing holds the entries of the window before it (they were checked, hashed and let go),
so a chain of entries near the value limit peaks at one such part, not two."""

from __future__ import annotations

import gc
import sys
from typing import Any

import pytest

from keel_verify import TrustPolicy, verify_bytes
from keel_verify.load import accel, budget, dense
from keel_verify.load.chainpass import read_strictly
from keel_verify.report.json_report import report_to_dict
from tests import hostile_inputs as hostile

pytestmark = pytest.mark.skipif(
    not accel.fast_json_available(), reason="msgspec not installed: only the exact path exists"
)

TRUST = TrustPolicy.self_attested_only()
MEMBERS = 3000  # each entry's members: two entries together are over the lowered limit


def _holders_at_each_decode(monkeypatch: pytest.MonkeyPatch,
                            kept: list[Any]) -> list[int]:
    """At each window decoded, how many references besides this spy's (``kept``) the last
    entry of the window before it still has (0: let go). Wide entries only: each is a
    part."""
    holders: list[int] = []
    decode_window = dense._decode_window

    def spying(text: bytes, max_depth: int, counted: int | None = None) -> Any:
        if kept:
            gc.collect()
            holders.append(sys.getrefcount(kept[0]) - 2)  # less ``kept`` and the argument
            kept.clear()
        window = decode_window(text, max_depth, counted)
        if window is not None and window[0] and len(text) >= MEMBERS:  # a wide entry's
            kept.append(window[0][-1])
        return window

    monkeypatch.setattr(dense, "_decode_window", spying)
    return holders


@pytest.mark.parametrize("nested", [False, True], ids=["wide entries", "wide objects inside"])
def test_the_entries_of_a_window_are_let_go_before_the_next_is_decoded(
        monkeypatch: pytest.MonkeyPatch, nested: bool) -> None:
    data = hostile.wide_object_entries(6, MEMBERS, nested=nested)
    # The exact path's reading, at the real limit (the lowered one refuses it there).
    exact_hash = read_strictly(data, exact=True)[1].content_hash
    exact_report = report_to_dict(verify_bytes(data, TRUST, exact=True))
    monkeypatch.setattr(dense, "MIN_DENSE_BYTES", 0)
    monkeypatch.setattr(dense, "WINDOW_BYTES", 1 << 12)
    monkeypatch.setattr(budget, "MAX_VALUES", 4 * MEMBERS // 3)
    kept: list[Any] = []
    holders = _holders_at_each_decode(monkeypatch, kept)
    artifact, chain_pass = read_strictly(data)
    assert artifact.chain is not None and artifact.chain.dense is not None
    assert holders == [0] * 5
    assert chain_pass.content_hash == exact_hash
    holders.clear()
    kept.clear()  # the last window's entry: kept by that reading's chain (see below)
    assert report_to_dict(verify_bytes(data, TRUST)) == exact_report
    assert holders == [0] * 5


def test_the_last_chunk_is_kept_for_the_last_entry(monkeypatch: pytest.MonkeyPatch) -> None:
    """The chain's last chunk is still kept (a check that stopped early asks for the last
    entry after the pass), without reading the chain again."""
    monkeypatch.setattr(dense, "MIN_DENSE_BYTES", 0)
    monkeypatch.setattr(dense, "WINDOW_BYTES", 1 << 12)
    monkeypatch.setattr(budget, "MAX_VALUES", 4 * MEMBERS // 3)
    data = hostile.wide_object_entries(4, MEMBERS)
    artifact, _ = read_strictly(data)
    assert artifact.chain is not None and artifact.chain.dense is not None
    chain = artifact.chain.dense
    list(chain.chunks(512, 64))
    assert chain.last_chunk is not None and chain.last_chunk.first == 3
    read: list[int] = []
    windows = chain._windows_told

    def counting(max_depth: int, announce: bool = True) -> Any:
        read.append(max_depth)
        return windows(max_depth, announce)

    monkeypatch.setattr(chain, "_windows_told", counting)
    assert chain.chunk_at(3, 1, 64).entries == [dict.fromkeys((f"m{i}" for i in range(MEMBERS)), 3)]
    assert read == []
