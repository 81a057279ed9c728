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
