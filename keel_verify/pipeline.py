"""Runs every check, independently, and derives the verdict from their results."""

from __future__ import annotations

from dataclasses import replace

from keel_verify.checks import ALL_CHECKS
from keel_verify.checks.base import INTERNAL_ERROR, MALFORMED, TOO_DEEP, Check, result
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
        found = check.run(context)
    except Malformed as malformed:
        return result(check.name, Outcome.FAIL, MALFORMED, malformed.problem, malformed.pointer)
    except RecursionError:
        return result(check.name, Outcome.FAIL, TOO_DEEP, "artifact too deeply nested to check")
    except Exception as error:  # a bug must not pass an artifact or crash a CI gate
        return result(
            check.name,
            Outcome.FAIL,
            INTERNAL_ERROR,
            f"internal error while checking ({type(error).__name__}: {error}); please report it",
        )
    if not check.lists(found):  # reason codes are a contract: an unlisted one is a bug
        return result(
            check.name,
            Outcome.FAIL,
            INTERNAL_ERROR,
            f"internal error: the check gave reason code {found.code!r} with outcome "
            f"{found.outcome.value}, which it does not list; please report it",
        )
    return found


def run_checks(
    context: CheckContext, checks: tuple[Check, ...] = ALL_CHECKS
) -> tuple[CheckResult, ...]:
    """All checks run and all are reported: one failure never hides another."""
    return tuple(run_check(check, context) for check in checks)


def decide_verdict(context: CheckContext, results: tuple[CheckResult, ...]) -> Verdict:
    return decide(context, results)[0]


def decide(
    context: CheckContext, results: tuple[CheckResult, ...]
) -> tuple[Verdict, tuple[str, ...]]:
    """The verdict, and the reason codes that kept it from VERIFIED: every failed check's
    (and under ``strict`` every warning's) code; for UNTRUSTED the issuer signature's."""
    blocking = tuple(
        r.code for r in results
        if r.outcome is Outcome.FAIL or (context.trust.strict and r.outcome is Outcome.WARN)
    )
    if blocking:
        return Verdict.FAILED, blocking
    if not context.signatures.vouched:
        signer = [r.code for r in results if r.name == "issuer_signature"]
        return Verdict.UNTRUSTED, tuple(signer)
    return Verdict.VERIFIED, ()
