"""``session_counters``: the counters an artifact states agree with its chain.

``session_metadata.session_counters`` (turns, denied turns, tool calls, interruptions,
atoms, events, tokens), the risk-budget totals (total, used, remaining) and ``usage``
are the issuer's signed summary of the session; the chain is the signed record it
summarises. A summary that contradicts the record (say, a turn count of 0 beside three
``voice.turn.evaluated`` entries) is the issuer contradicting itself, and fails. How each
value is derived from the chain is in :mod:`keel_verify.facts.counters`.

* absent counters are not an error: only the members the artifact states are compared;
* a member the chain does not determine (token sums in a hash-only chain) is listed in
  the details as not comparable, never guessed;
* ``usage`` is the provider's metering: a disagreement there warns (its token totals
  should equal the turns', its audio totals must be at least the chunks recorded).
"""

from __future__ import annotations

from typing import Any

from keel_verify.checks.base import Check, counted, passed
from keel_verify.checks.binding_support import problems_then_warnings, show
from keel_verify.context import CheckContext
from keel_verify.results import CheckResult, Outcome

NAME = "session_counters"


def run(context: CheckContext) -> CheckResult:
    counters = context.session_facts.counters
    if not counters:
        return passed(NAME, "the artifact states no session counters, usage or budget totals; "
                            "nothing to compare", code="none_stated", compared=0)
    problems: list[tuple[str, str]] = []
    warnings: list[tuple[str, str]] = []
    comparable = 0
    for counter in counters:
        agrees = counter.agrees
        if agrees is None:
            continue
        comparable += 1
        if agrees:
            continue
        stated = (show(counter.stated, 40) if type(counter.stated) is int
                  else f"{counter.stated} (not an integer)")
        relation = "at least " if counter.relation == "at least" else ""
        message = (f"{counter.name} is {stated}, but the chain holds {relation}{counter.derived} "
                   f"({counter.basis})")
        (problems if counter.binding else warnings).append((counter.pointer, message))
    details: dict[str, Any] = {
        "compared": comparable,
        "not_comparable": [c.name for c in counters if c.agrees is None],
        "counters": [
            {"name": c.name, "pointer": c.pointer, "stated": c.stated, "chain": c.derived,
             "agrees": c.agrees, "basis": c.basis}
            for c in counters[:100]
        ],
    }
    if comparable == 0:
        return passed(NAME, f"{counted(len(counters), 'stated counter')}, none determined by the chain "
                            "(hash-only payloads)", code="not_comparable", **details)
    return problems_then_warnings(
        NAME, problems, warnings,
        f"{counted(comparable, 'stated counter')} in agreement with the chain",
        code="counter_mismatch", warn_code="usage_mismatch", **details,
    )


CHECK = Check(
    name=NAME,
    run=run,
    summary="session counters, usage and risk-budget totals agree with the chain's events",
    codes={
        "ok": (Outcome.PASS, "every stated counter the chain determines agrees with it"),
        "none_stated": (Outcome.PASS, "the artifact states no counters, usage or budget totals"),
        "not_comparable": (Outcome.PASS, "counters are stated, but the hash-only chain "
                                         "determines none of them"),
        "counter_mismatch": (Outcome.FAIL, "a session counter or risk-budget total contradicts "
                                           "the chain"),
        "usage_mismatch": (Outcome.WARN, "a usage (metering) total contradicts the chain"),
    },
)
