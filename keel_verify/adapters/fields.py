"""Tolerant readers for provider event members: a provider event is untrusted input, so
a member of the wrong type reads as absent instead of raising."""

from __future__ import annotations

from typing import Any


def string(value: Any) -> str | None:
    """A non-empty string, else None."""
    return value if isinstance(value, str) and value else None


def obj(value: Any) -> dict[str, Any]:
    """An object, else an empty one."""
    return value if isinstance(value, dict) else {}


def count(value: Any) -> int | None:
    """A non-negative integer given as a JSON integer or a string of at most 12 digits."""
    if type(value) is int and value >= 0:
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 12:
        return int(value)
    return None


def array(value: Any) -> list[Any]:
    """An array, else an empty one."""
    return value if isinstance(value, list) else []
