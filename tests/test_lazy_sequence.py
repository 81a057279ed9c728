"""LazySequence behaves as a list of its items and builds each item once."""

from __future__ import annotations

import pytest

from keel_verify.lazy_sequence import LazySequence


class Squares(LazySequence[int]):
    def __init__(self, length: int) -> None:
        super().__init__(length)
        self.calls: list[int] = []

    def _build(self, index: int) -> int:
        self.calls.append(index)
        return index * index


def test_it_reads_as_a_list_and_builds_each_item_once() -> None:
    squares = Squares(6)
    as_list = [i * i for i in range(6)]
    assert len(squares) == 6
    assert squares[-1] == as_list[-1] and squares[2] == 4
    assert squares[1:5:2] == as_list[1:5:2] and squares[::-1] == as_list[::-1]
    assert list(squares) == as_list and 9 in squares and squares.index(16) == 4
    assert sorted(squares.calls) == sorted(set(squares.calls)) == list(range(6))
    for index in (6, -7):
        with pytest.raises(IndexError):
            squares[index]
    assert list(Squares(0)) == []


class Nones(LazySequence[None]):
    def __init__(self, length: int) -> None:
        super().__init__(length)
        self.calls = 0

    def _build(self, index: int) -> None:
        self.calls += 1


def test_an_item_that_is_none_is_built_once_too() -> None:
    """None is an item like any other (a JSON null chain entry), not "not built yet"."""
    nones = Nones(3)
    assert [nones[0], nones[0], nones[-3], *nones] == [None] * 6
    assert nones.calls == 3
