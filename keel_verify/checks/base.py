"""The contract every check follows: a name, a pure function of the check context, and
the stable reason codes it can give.

Reason codes are a public contract (``<check>.<suffix>``): each result a check returns
names one of the codes its :class:`Check` lists, with the outcome listed for it. A code
is never renamed, removed or given another outcome; new ones may be added.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from keel_verify.checks.entry_problems import MAX_LISTED, EntryProblems, count_details, more_text
from keel_verify.context import CheckContext
from keel_verify.load.access import Malformed
from keel_verify.load.chainpass import EntryVisitor
from keel_verify.load.loader import Artifact
from keel_verify.results import CheckInfo, CheckResult, Outcome, ReasonCode
from keel_verify.results import counted as counted  # re-exported: the checks count with it

CODE_SUFFIX = re.compile(r"^[a-z0-9]+(_[a-z0-9]+)*$")

# Codes every check can give: the pipeline turns a malformed shape, a too-deep artifact
# or a bug into that check's FAIL (keel_verify/pipeline.py).
MALFORMED = "malformed"
TOO_DEEP = "too_deep"
INTERNAL_ERROR = "internal_error"
PASS_CODE = "ok"
COMMON_CODES: tuple[tuple[str, Outcome, str], ...] = (
    (MALFORMED, Outcome.FAIL, "a member the check needs is missing or of the wrong type"),
    (TOO_DEEP, Outcome.FAIL, "the artifact is nested too deeply to check"),
    (INTERNAL_ERROR, Outcome.FAIL, "the check itself failed (a bug in keel-verify): never a pass"),
)


@dataclass(frozen=True)
class Check:
    """A check: a pure function of the context, plus -- for checks that look at chain
    entries -- a visitor the single chain pass feeds (:mod:`keel_verify.load.chainpass`).

    ``codes`` maps each reason-code suffix the check gives to (outcome, meaning); the
    codes shared by every check (:data:`COMMON_CODES`) are added by :attr:`info`.
    """

    name: str
    run: Callable[[CheckContext], CheckResult]
    summary: str  # one line for --help and the README
    visitor: Callable[[Artifact], EntryVisitor] | None = None
    codes: Mapping[str, tuple[Outcome, str]] = field(default_factory=dict)
    _listed: dict[str, Outcome] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        listed = {f"{self.name}.{suffix}": outcome for suffix, (outcome, _) in self.codes.items()}
        listed.update((f"{self.name}.{suffix}", outcome) for suffix, outcome, _ in COMMON_CODES)
        object.__setattr__(self, "_listed", listed)

    def lists(self, result: CheckResult) -> bool:
        """True when ``result``'s code is one this check lists, with its listed outcome."""
        return self._listed.get(result.code) is result.outcome

    @property
    def info(self) -> CheckInfo:
        listed = [(suffix, outcome, meaning) for suffix, (outcome, meaning) in self.codes.items()]
        return CheckInfo(
            self.name,
            self.summary,
            tuple(
                ReasonCode(f"{self.name}.{suffix}", outcome, meaning)
                for suffix, outcome, meaning in [*listed, *COMMON_CODES]
            ),
        )


def chain_length(artifact: Artifact) -> int:
    """The number of chain entries; Malformed when ``chain`` is missing or not an array."""
    if artifact.chain is None:
        if "chain" not in artifact.document:
            raise Malformed("/chain", "member is missing")
        raise Malformed("/chain", "expected an array")
    return len(artifact.chain)



def result(
    name: str, outcome: Outcome, code: str, reason: str, pointer: str = "",
    details: Mapping[str, Any] | None = None,
) -> CheckResult:
    """A result with the stable code ``<name>.<code>``."""
    if not CODE_SUFFIX.match(code):
        raise ValueError(f"reason code suffix {code!r} is not snake_case")
    return CheckResult(name, outcome, reason, pointer, details or {}, f"{name}.{code}")


def passed(name: str, reason: str, pointer: str = "", *, code: str = PASS_CODE,
           **details: Any) -> CheckResult:
    return result(name, Outcome.PASS, code, reason, pointer, details)


def warned(name: str, reason: str, pointer: str = "", *, code: str, **details: Any) -> CheckResult:
    return result(name, Outcome.WARN, code, reason, pointer, details)


def failed(name: str, reason: str, pointer: str = "", *, code: str, **details: Any) -> CheckResult:
    return result(name, Outcome.FAIL, code, reason, pointer, details)


def skipped(name: str, reason: str, pointer: str = "", *, code: str, **details: Any) -> CheckResult:
    return result(name, Outcome.SKIP, code, reason, pointer, details)


def first_problem(
    name: str, problems: list[tuple[str, str]], ok_reason: str, *, code: str,
    ok_code: str = PASS_CODE, entry_problems: EntryProblems | None = None, **details: Any
) -> CheckResult:
    """FAIL (reason code ``code``) naming the first (pointer, problem) and counting the
    rest, else PASS (``ok_code``). ``problems`` holds the listed problems of ``entry_problems``
    (the check's problems on chain entries, when it has a chain visitor); those it
    counted without listing are counted here too, and when it stopped examining chain
    entries early, the reason and details say that the count is a lower bound."""
    if not problems:
        return passed(name, ok_reason, code=ok_code, **details)
    pointer, problem = problems[0]
    total = len(problems) + (entry_problems.unlisted if entry_problems is not None else 0)
    listed: Mapping[str, Any] = {
        "problems": [{"pointer": p, "problem": m} for p, m in problems[:MAX_LISTED]],
        **count_details(total, entry_problems),
    }
    return failed(name, problem + more_text(total, entry_problems), pointer, code=code, **details,
                  **listed)
