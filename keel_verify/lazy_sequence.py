"""A read-only sequence whose items are built when first asked for, then kept.

For per-entry results of which a report reads a few: a file may carry 100,000 junk
``signatures[]`` entries, and a report lists 50 of them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar, overload

Item = TypeVar("Item")


class LazySequence(Sequence[Item]):
    """``length`` items; item ``i`` is :meth:`_build` ``(i)``, built once. Negative
    indices and slices behave as a list's; an index out of range raises IndexError."""

    def __init__(self, length: int) -> None:
        self._length = length
        self._built: dict[int, Item] = {}

    def _build(self, index: int) -> Item:
        raise NotImplementedError

    def __len__(self) -> int:
        return self._length

    @overload
    def __getitem__(self, index: int) -> Item: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[Item]: ...

    def __getitem__(self, index: int | slice) -> Item | Sequence[Item]:
        if isinstance(index, slice):
            return [self[at] for at in range(self._length)[index]]
        if index < 0:
            index += self._length
        if not 0 <= index < self._length:
            raise IndexError(index)
        if index not in self._built:  # (an item may be None: a JSON null entry)
            self._built[index] = self._build(index)
        return self._built[index]
