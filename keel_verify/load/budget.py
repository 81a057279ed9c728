"""How many JSON values one part of the input may hold as Python objects at once
(docs/format.md §11, "Input limits").

Decoded JSON costs far more memory than its text: a member name with its value and its
dict slot takes about 300 bytes, an empty array 64, against as little as 2 or 3 bytes of
input (measured on CPython 3.11). The input size alone therefore bounds memory only
loosely (a 4 GiB input could decode to tens of GiB), so every part that is decoded whole
-- the members outside the chain, a chunk of chain entries, and the whole document on
the exact reading path -- is first counted on its bytes, before anything is decoded.

The count is an upper bound of the values in a JSON text: 1 + its commas + its opening
brackets. Every value inside a container except the first follows a comma, and every
non-empty container holds a first value; so values <= 1 + commas + containers. Commas
and brackets inside strings are counted too: the bound can only over-count. Each count
is a C scan of the bytes (about 4 GiB/s).
"""

from __future__ import annotations

from keel_verify.errors import LoadError

#: At most this many values (by :func:`value_bound`) in one part decoded whole: up to
#: about 300 MiB for a million member names, about 600 MiB when each value is a float (a
#: part holding floats is decoded twice: its values and its twin).
MAX_VALUES = 2**20


#: A buffer that is not ``bytes`` (a raw slice of the input) is counted this many bytes
#: at a time, each copied out: never a copy of the whole.
_PIECE_BYTES = 1 << 20


class TooManyValues(LoadError):
    """A part of the input bounds more values than it may hold in memory; the message
    names the part (see :func:`too_many_values`)."""


def value_bound(data: bytes | bytearray, start: int = 0, end: int | None = None) -> int:
    """An upper bound of the JSON values in ``data[start:end]`` (see the module docstring).
    ``start``/``end``: byte offsets, as for :meth:`bytes.count`."""
    stop = len(data) if end is None else end
    return (1 + data.count(b",", start, stop) + data.count(b"[", start, stop)
            + data.count(b"{", start, stop))


def marks_in(buffer: bytes | memoryview) -> int:
    """The commas and opening brackets in ``buffer`` (``value_bound - 1``); a buffer
    that is not ``bytes`` is copied out :data:`_PIECE_BYTES` at a time."""
    if isinstance(buffer, bytes):
        return value_bound(buffer) - 1
    view = memoryview(buffer)
    return sum(value_bound(view[start : start + _PIECE_BYTES].tobytes()) - 1
               for start in range(0, len(view), _PIECE_BYTES))


def too_many_values(part: str, limit: int) -> str:
    """The one-line refusal for ``part`` (e.g. "chain entry 3") whose bytes bound more
    than ``limit`` values (an upper bound: it may hold fewer)."""
    return (f"{part} may hold more than {limit:,} JSON values (bounded on its bytes by its "
            "commas and opening brackets, strings included), the most that one part may "
            "hold in memory")


__all__ = ["MAX_VALUES", "TooManyValues", "marks_in", "too_many_values", "value_bound"]
