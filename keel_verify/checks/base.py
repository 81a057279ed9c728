"""The contract every check follows: a name and a pure function of the check context."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from keel_verify.context import CheckContext
from keel_verify.load.access import Malformed
from keel_verify.load.chainpass import EntryVisitor
from keel_verify.load.loader import Artifact
from keel_verify.results import CheckResult, Outcome


@dataclass(frozen=True)
class Check:
    """A check: a pure function of the context, plus -- for checks that look at chain
    entries -- a visitor the single chain pass feeds (:mod:`keel_verify.load.chainpass`)."""

    name: str
    run: Callable[[CheckContext], CheckResult]
    summary: str  # one line for --help and the README
    visitor: Callable[[Artifact], EntryVisitor] | None = None


def chain_length(artifact: Artifact) -> int:
    """The number of chain entries; Malformed when ``chain`` is missing or not an array."""
    if artifact.chain is None:
        if "chain" not in artifact.document:
            raise Malformed("/chain", "member is missing")
        raise Malformed("/chain", "expected an array")
    return len(artifact.chain)


def counted(count: int, noun: str, plural: str | None = None) -> str:
    """``"1 receipt"``, ``"2 receipts"``: a count with its noun in the right number."""
    return f"{count} {noun if count == 1 else plural or noun + 's'}"


def passed(name: str, reason: str, pointer: str = "", **details: Any) -> CheckResult:
    return CheckResult(name, Outcome.PASS, reason, pointer, details)


def warned(name: str, reason: str, pointer: str = "", **details: Any) -> CheckResult:
    return CheckResult(name, Outcome.WARN, reason, pointer, details)


def failed(name: str, reason: str, pointer: str = "", **details: Any) -> CheckResult:
    return CheckResult(name, Outcome.FAIL, reason, pointer, details)


def skipped(name: str, reason: str, pointer: str = "", **details: Any) -> CheckResult:
    return CheckResult(name, Outcome.SKIP, reason, pointer, details)


def first_problem(
    name: str, problems: list[tuple[str, str]], ok_reason: str, **details: Any
) -> CheckResult:
    """FAIL naming the first (pointer, problem) and counting the rest, else PASS."""
    if not problems:
        return passed(name, ok_reason, **details)
    pointer, problem = problems[0]
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    listed: Mapping[str, Any] = {
        "problems": [{"pointer": p, "problem": m} for p, m in problems[:50]],
        "problem_count": len(problems),
    }
    return failed(name, problem + more, pointer, **details, **listed)
