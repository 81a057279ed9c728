"""Runs every check, independently, and derives the verdict from their results."""

from __future__ import annotations

from dataclasses import replace

from keel_verify.checks import ALL_CHECKS
from keel_verify.checks.base import Check
from keel_verify.context import CheckContext
from keel_verify.load.access import Malformed
from keel_verify.results import CheckResult, Outcome, Verdict, printable


def run_check(check: Check, context: CheckContext) -> CheckResult:
    """One check; a malformed shape becomes that check's FAIL, never an exception."""
    result = _run_check(check, context)
    if result.reason.isprintable():
        return result
    return replace(result, reason=printable(result.reason))


def _run_check(check: Check, context: CheckContext) -> CheckResult:
    try:
        return check.run(context)
    except Malformed as malformed:
        return CheckResult(check.name, Outcome.FAIL, malformed.problem, malformed.pointer)
    except RecursionError:
        return CheckResult(check.name, Outcome.FAIL, "artifact too deeply nested to check")
    except Exception as error:  # a bug must not pass an artifact or crash a CI gate
        return CheckResult(
            check.name,
            Outcome.FAIL,
            f"internal error while checking ({type(error).__name__}: {error}); please report it",
        )


def run_checks(
    context: CheckContext, checks: tuple[Check, ...] = ALL_CHECKS
) -> tuple[CheckResult, ...]:
    """All checks run and all are reported: one failure never hides another."""
    return tuple(run_check(check, context) for check in checks)


def decide_verdict(context: CheckContext, results: tuple[CheckResult, ...]) -> Verdict:
    outcomes = {result.outcome for result in results}
    if Outcome.FAIL in outcomes or (context.trust.strict and Outcome.WARN in outcomes):
        return Verdict.FAILED
    if not context.signatures.vouched:
        return Verdict.UNTRUSTED
    return Verdict.VERIFIED
