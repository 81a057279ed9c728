"""Small helpers shared by the cross-binding checks (docs/format.md §9.4).

They collect ``(pointer, problem)`` pairs instead of raising, so that a binding check
reports every broken binding at once. Structural members the checks cannot work without
(the session's id, the chain array) are still read with :mod:`keel_verify.load.access`, whose
:class:`~keel_verify.load.access.Malformed` the pipeline turns into a FAIL with the pointer.
"""

from __future__ import annotations

from typing import Any

from keel_verify.checks.base import first_problem, passed, warned
from keel_verify.checks.entry_problems import MAX_LISTED as MAX_LISTED  # re-exported
from keel_verify.checks.entry_problems import EntryProblems
from keel_verify.checks.entry_problems import Problems as Problems  # re-exported
from keel_verify.load.access import child, type_name
from keel_verify.results import CheckResult, shown


def show(value: Any, limit: int = 80) -> str:
    """A short, one-line rendering of an untrusted JSON value for a reason text, in JSON's
    terms (:func:`keel_verify.results.shown`)."""
    return shown(value, limit)


def text(value: str, limit: int = 80) -> str:
    """An untrusted string for a reason: as is when printable and short, otherwise its
    escaped, truncated ``repr`` -- so an artifact can never write a line break, a control
    character or a screenful into a report."""
    if len(value) <= limit and value.isprintable():
        return value
    return show(value, limit)


def strict_int(
    obj: dict[str, Any], key: str, pointer: str, what: str, problems: Problems
) -> int | None:
    """``obj[key]`` when it is an integer; otherwise record why (missing, boolean, string,
    number with a fraction or an exponent) and return None."""
    where = child(pointer, key)
    if key not in obj:
        problems.append((where, f"{what} is missing"))
        return None
    value = obj[key]
    if value is None:
        problems.append((where, f"{what} is null, not an integer"))
        return None
    if type(value) is not int:
        problems.append((where, f"{what} is {type_name(value)} ({show(value, 40)}), not an integer"))
        return None
    return value


def same_text(obj: dict[str, Any], key: str, pointer: str, expected: str, what: str,
              problems: Problems) -> None:
    """Record a problem unless ``obj[key]`` is exactly the string ``expected``."""
    where = child(pointer, key)
    if key not in obj:
        problems.append((where, f"{what} is missing (expected {show(expected)})"))
    elif obj[key] != expected:
        problems.append((where, f"{what} is {show(obj[key])}, expected {show(expected)}"))


def problems_then_warnings(
    name: str, problems: Problems, warnings: Problems, ok_reason: str, *, code: str,
    warn_code: str | None = None, entry_problems: EntryProblems | None = None, **details: Any
) -> CheckResult:
    """FAIL (reason code ``code``) on the first problem; else WARN (``warn_code``) on the
    first warning; else PASS. ``entry_problems``: as for :func:`first_problem`.

    Warnings are listed in the details either way, so a FAIL never hides them.
    """
    if warnings and warn_code is None:
        raise ValueError(f"{name}: a warning needs a reason code")
    listed: dict[str, Any] = {
        "warnings": [{"pointer": p, "warning": m} for p, m in warnings[:MAX_LISTED]],
        "warning_count": len(warnings),
    } if warnings else {}
    if problems:
        return first_problem(name, problems, ok_reason, code=code, entry_problems=entry_problems, **details,
                             **listed)
    if warnings:
        pointer, warning = warnings[0]
        more = f" (and {len(warnings) - 1} more)" if len(warnings) > 1 else ""
        assert warn_code is not None
        return warned(name, warning + more, pointer, code=warn_code, **details, **listed)
    return passed(name, ok_reason, **details)

