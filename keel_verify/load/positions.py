"""Where a JSON Pointer's member sits in a JSON text: line and column, for reports that
point into files (SARIF regions, GitHub annotations).

Only the pointers a report names are located, each by one forward scan that skips every
sibling value without building it. Lines and columns are 1-based; columns count Unicode
code points (SARIF ``columnKind: unicodeCodePoints``).
"""

from __future__ import annotations

import json.decoder
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

# The standard library's JSON string scanner (C-accelerated), which typeshed does not declare.
_scanstring = cast(Callable[[str, int], tuple[str, int]], vars(json.decoder)["scanstring"])

_WHITESPACE = re.compile(r"[ \t\n\r]*")
_STRUCTURE = re.compile(r'[\[\]{}"]')
_SCALAR_END = re.compile(r"[,\]} \t\n\r]")


@dataclass(frozen=True)
class Position:
    line: int
    column: int
    exact: bool  # False: the member does not exist; this is its nearest existing parent


def _unescape(token: str) -> str:
    """RFC 6901, 4: ``~1`` is ``/`` and ``~0`` is ``~`` (in that order)."""
    return token.replace("~1", "/").replace("~0", "~")


def _skip_ws(text: str, pos: int) -> int:
    match = _WHITESPACE.match(text, pos)
    return match.end() if match else pos


def _skip_string(text: str, pos: int) -> int:
    return _scanstring(text, pos + 1)[1]


def _skip_value(text: str, pos: int) -> int:
    """The index just after the JSON value starting at ``pos``."""
    opener = text[pos]
    if opener == '"':
        return _skip_string(text, pos)
    if opener not in "[{":
        found = _SCALAR_END.search(text, pos)
        return found.start() if found else len(text)
    depth = 0
    while True:
        found = _STRUCTURE.search(text, pos)
        if found is None:
            return len(text)
        char = found.group()
        if char == '"':
            pos = _skip_string(text, found.start())
            continue
        depth += 1 if char in "[{" else -1
        pos = found.end()
        if depth == 0:
            return pos


def _child(text: str, pos: int, token: str) -> tuple[int, int] | None:
    """(where to point, where the value starts) of member ``token`` of the container at
    ``pos``; None when there is no such member."""
    opener = text[pos]
    if opener == "{":
        pos = _skip_ws(text, pos + 1)
        while pos < len(text) and text[pos] == '"':
            key, after_key = _scanstring(text, pos + 1)
            value = _skip_ws(text, _skip_ws(text, after_key) + 1)  # past the colon
            if key == token:
                return pos, value
            pos = _skip_ws(text, _skip_value(text, value))
            if pos < len(text) and text[pos] == ",":
                pos = _skip_ws(text, pos + 1)
            else:
                return None
        return None
    if opener == "[" and token.isdigit() and (token == "0" or not token.startswith("0")):
        index = int(token)
        pos = _skip_ws(text, pos + 1)
        current = 0
        while pos < len(text) and text[pos] != "]":
            if current == index:
                return pos, pos
            pos = _skip_ws(text, _skip_value(text, pos))
            if pos < len(text) and text[pos] == ",":
                pos = _skip_ws(text, pos + 1)
            current += 1
        return None
    return None


def _line_column(text: str, offset: int) -> tuple[int, int]:
    line_start = text.rfind("\n", 0, offset) + 1
    return text.count("\n", 0, offset) + 1, offset - line_start + 1


def locate(text: str, pointer: str) -> Position:
    """The position of the member ``pointer`` names in the JSON ``text``: of its key for
    an object member, of the value for an array element, of the document for ``""``.
    When the member is missing, the deepest existing parent's position (``exact`` False).
    The text is expected to be valid JSON (the verifier has already read it)."""
    start = _skip_ws(text, 0)
    point = value = start
    exact = True
    if pointer:
        for raw in pointer.split("/")[1:]:
            found = _child(text, value, _unescape(raw)) if value < len(text) else None
            if found is None:
                exact = False
                break
            point, value = found
    line, column = _line_column(text, point)
    return Position(line, column, exact)
