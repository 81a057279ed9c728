"""Typed, pointer-aware access to an untrusted JSON document.

Checks read the artifact through these helpers. When a member is missing or of the wrong
type they raise :class:`Malformed`, which the pipeline turns into a FAIL of that check
with the exact JSON Pointer -- so a hostile shape can never crash a check.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

_HASH = re.compile(r"sha256:[0-9a-f]{64}")
_BARE_HASH = re.compile(r"(?:sha256:)?[0-9a-f]{64}")
_RFC3339_UTC = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?Z")


class Malformed(Exception):
    def __init__(self, pointer: str, problem: str) -> None:
        super().__init__(f"{pointer or '/'}: {problem}")
        self.pointer = pointer
        self.problem = problem


def escape_token(token: str | int) -> str:
    return str(token).replace("~", "~0").replace("/", "~1")


def child(pointer: str, token: str | int) -> str:
    return f"{pointer}/{escape_token(token)}"


def member(obj: Any, key: str, pointer: str) -> Any:
    """``obj[key]`` where ``obj`` must be an object that has ``key``."""
    if not isinstance(obj, dict):
        raise Malformed(pointer, "expected an object")
    if key not in obj:
        raise Malformed(child(pointer, key), "member is missing")
    return obj[key]


def obj_at(obj: Any, key: str, pointer: str) -> dict[str, Any]:
    value = member(obj, key, pointer)
    if not isinstance(value, dict):
        raise Malformed(child(pointer, key), "expected an object")
    return value


def list_at(obj: Any, key: str, pointer: str) -> list[Any]:
    value = member(obj, key, pointer)
    if not isinstance(value, list):
        raise Malformed(child(pointer, key), "expected an array")
    return value


def str_at(obj: Any, key: str, pointer: str) -> str:
    value = member(obj, key, pointer)
    if not isinstance(value, str):
        raise Malformed(child(pointer, key), "expected a string")
    return value


def hash_at(obj: Any, key: str, pointer: str) -> str:
    value = str_at(obj, key, pointer)
    if not _HASH.fullmatch(value):
        raise Malformed(child(pointer, key), "expected 'sha256:' followed by 64 lowercase hex digits")
    return value


def hex_hash_at(obj: Any, key: str, pointer: str) -> str:
    """A hash in either bare-hex or ``sha256:`` form; returns the bare hex."""
    value = str_at(obj, key, pointer)
    if not _BARE_HASH.fullmatch(value):
        raise Malformed(child(pointer, key), "expected a SHA-256 hash (64 lowercase hex digits)")
    return value.removeprefix("sha256:")


def is_tagged_hash(value: Any) -> bool:
    return isinstance(value, str) and _HASH.fullmatch(value) is not None


_TAG = b"sha256:"
_TAGGED_LENGTH = len(_TAG) + 64
_HEX_DIGITS = b"0123456789abcdef"
_TAG_LESS_HEX = bytes(_TAG).translate(None, _HEX_DIGITS)  # b"sh:"


def all_tagged_hashes(values: list[Any]) -> bool:
    """``is_tagged_hash`` of every value, in a few C-level passes over their concatenation
    instead of a match per value. Proven when every value is a str of 71 characters whose
    concatenation is ASCII (71 bytes each), each begins with "sha256:" (seven strided
    slices), and deleting the hex digits from it all leaves only each tag's non-hex bytes
    ("sh:"), so the 64 characters after each tag are hex digits; anything else is judged
    value by value."""
    count = len(values)
    if set(map(type, values)) == {str} and set(map(len, values)) == {_TAGGED_LENGTH}:
        text = "".join(values).encode("utf-8", "surrogatepass")  # never raises
        if (len(text) == _TAGGED_LENGTH * count
                and all(text[at::_TAGGED_LENGTH].count(byte) == count for at, byte in enumerate(_TAG))
                and text.translate(None, _HEX_DIGITS) == _TAG_LESS_HEX * count):
            return True
    return all(map(is_tagged_hash, values))


def parse_time(value: Any) -> datetime | None:
    """An RFC 3339 UTC timestamp (``...Z``) as an aware datetime, or None if not one."""
    if not isinstance(value, str) or not _RFC3339_UTC.fullmatch(value):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def time_at(obj: Any, key: str, pointer: str) -> datetime:
    value = member(obj, key, pointer)
    parsed = parse_time(value)
    if parsed is None:
        raise Malformed(child(pointer, key), "expected an RFC 3339 UTC timestamp ending in 'Z'")
    return parsed


def type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"
