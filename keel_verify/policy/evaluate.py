"""Judging one report against a gate policy: pure functions of (report, policy, now).

The rules, each with its stable ``policy.*`` reason code:

- ``require``: the named check reached the outcome (``pass``, or ``pass_or_warn``);
  otherwise ``policy.requirement_not_met``.
- ``require_anchored_witness``: timestamp_witness gave ``timestamp_witness.anchored``;
  otherwise ``policy.witness_not_anchored``.
- ``severity: error``: a warning or skip of that check fails (``policy.severity_error``).
- ``allowed_warnings``: a warning whose code is not listed fails
  (``policy.warning_not_allowed``), unless its check's severity is ``warning``.
- ``max_artifact_age``: the age, measured from the earlier of the signed ``issued_at``
  and a trusted witness's genTime, is at most the limit (``policy.artifact_too_old``;
  ``policy.artifact_age_unknown`` when neither time is known).
- ``schema_versions``: the artifact's schema_version is listed
  (``policy.schema_version_not_allowed``).
- ``all_of``: every member holds; ``any_of``: at least one member holds
  (``policy.any_of_not_met``, naming each member's first violation).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from keel_verify.policy.model import PASS, SEVERITY_ERROR, SEVERITY_WARNING, GatePolicy, Requirements
from keel_verify.results import CheckInfo, Outcome, PolicyViolation, ReasonCode, Report, Verdict

REQUIREMENT_NOT_MET = "policy.requirement_not_met"
WITNESS_NOT_ANCHORED = "policy.witness_not_anchored"
SEVERITY_ERROR_CODE = "policy.severity_error"
WARNING_NOT_ALLOWED = "policy.warning_not_allowed"
ARTIFACT_TOO_OLD = "policy.artifact_too_old"
ARTIFACT_AGE_UNKNOWN = "policy.artifact_age_unknown"
SCHEMA_VERSION_NOT_ALLOWED = "policy.schema_version_not_allowed"
ANY_OF_NOT_MET = "policy.any_of_not_met"
ANCHORED_CODE = "timestamp_witness.anchored"

POLICY_CODES: tuple[tuple[str, str], ...] = (
    (REQUIREMENT_NOT_MET, "a check the policy requires did not reach the required outcome"),
    (WITNESS_NOT_ANCHORED, "the policy requires a witness anchored in a trusted TSA root"),
    (SEVERITY_ERROR_CODE, "a check the policy gives severity \"error\" warned or was skipped"),
    (WARNING_NOT_ALLOWED, "a warning whose code the policy's allowed_warnings does not list"),
    (ARTIFACT_TOO_OLD, "the artifact is older than the policy's max_artifact_age"),
    (ARTIFACT_AGE_UNKNOWN, "max_artifact_age is set, but no signed or witnessed time dates the artifact"),
    (SCHEMA_VERSION_NOT_ALLOWED, "the artifact's schema_version is not one the policy allows"),
    (ANY_OF_NOT_MET, "no member of an any_of holds"),
)

#: The policy's codes as a catalogue entry (--list-checks, SARIF rules, JUnit).
POLICY_INFO = CheckInfo(
    "policy",
    "the gate policy's requirements (--policy); a violation fails the file",
    tuple(ReasonCode(code, Outcome.FAIL, meaning) for code, meaning in POLICY_CODES),
)


def _where(rule: str, key: str) -> str:
    return f"{rule}/{key}" if rule else key


def policy_violations(
    requirements: Requirements, report: Report, now: datetime, rule: str = ""
) -> list[PolicyViolation]:
    """Every requirement ``report`` does not meet, in policy order (empty: it holds)."""
    found: list[PolicyViolation] = []
    results = {check.name: check for check in report.checks}
    for name, wanted in requirements.require.items():
        check = results.get(name)
        allowed = {Outcome.PASS} if wanted == PASS else {Outcome.PASS, Outcome.WARN}
        if check is None or check.outcome not in allowed:
            got = "did not run" if check is None else f"gave {check.code} ({check.outcome.value})"
            found.append(PolicyViolation(
                REQUIREMENT_NOT_MET, f"{name} must {wanted.replace('_', ' ')}, but {got}",
                _where(rule, f"require/{name}")))
    if requirements.require_anchored_witness:
        witness = results.get("timestamp_witness")
        if witness is None or witness.code != ANCHORED_CODE:
            got = "did not run" if witness is None else f"gave {witness.code}"
            found.append(PolicyViolation(
                WITNESS_NOT_ANCHORED,
                f"an RFC 3161 witness chained to a trusted TSA root is required, but "
                f"timestamp_witness {got}",
                _where(rule, "require_anchored_witness")))
    for check in report.checks:
        severity = requirements.severity.get(check.name)
        if check.outcome in (Outcome.WARN, Outcome.SKIP) and severity == SEVERITY_ERROR:
            found.append(PolicyViolation(
                SEVERITY_ERROR_CODE,
                f"{check.name} has severity \"error\", and gave {check.code} ({check.outcome.value})",
                _where(rule, f"severity/{check.name}")))
        elif (check.outcome is Outcome.WARN and requirements.allowed_warnings is not None
              and severity != SEVERITY_WARNING and check.code not in requirements.allowed_warnings):
            found.append(PolicyViolation(
                WARNING_NOT_ALLOWED, f"warning {check.code} is not in allowed_warnings",
                _where(rule, "allowed_warnings")))
    if requirements.max_artifact_age is not None:
        found.extend(_age_violations(requirements, report, now, rule))
    if requirements.schema_versions is not None and report.schema_version not in requirements.schema_versions:
        listed = ", ".join(str(v) for v in sorted(requirements.schema_versions))
        found.append(PolicyViolation(
            SCHEMA_VERSION_NOT_ALLOWED,
            f"schema_version {report.schema_version} is not allowed (allowed: {listed})",
            _where(rule, "schema_versions")))
    for index, member in enumerate(requirements.all_of):
        found.extend(policy_violations(member, report, now, _where(rule, f"all_of/{index}")))
    if requirements.any_of:
        alternatives = [
            policy_violations(member, report, now, _where(rule, f"any_of/{index}"))
            for index, member in enumerate(requirements.any_of)
        ]
        if all(alternatives):
            firsts = "; ".join(
                f"[{_label(member, index)}] {violations[0].reason}"
                for index, (member, violations) in enumerate(zip(requirements.any_of, alternatives,
                                                                 strict=True))
            )
            found.append(PolicyViolation(
                ANY_OF_NOT_MET, f"no alternative holds: {firsts}", _where(rule, "any_of")))
    return found


def _label(member: Requirements, index: int) -> str:
    return member.name or f"any_of/{index}"


def _age_violations(
    requirements: Requirements, report: Report, now: datetime, rule: str
) -> list[PolicyViolation]:
    assert requirements.max_artifact_age is not None
    times = [t for t in (report.issued_at, report.witnessed_at) if t is not None]
    where = _where(rule, "max_artifact_age")
    if not times:
        return [PolicyViolation(
            ARTIFACT_AGE_UNKNOWN, "no signed issued_at or witnessed genTime dates the artifact", where)]
    oldest = min(times)
    age = now - oldest
    limit = requirements.max_artifact_age
    if age > limit:
        return [PolicyViolation(
            ARTIFACT_TOO_OLD,
            f"the artifact dates from {oldest.isoformat().replace('+00:00', 'Z')}, "
            f"{_days(age)} ago; the policy allows {_days(limit)}",
            where)]
    return []


def _days(span: timedelta) -> str:
    return f"{span.total_seconds() / 86400:.2f} days"


def apply_policy(report: Report, policy: GatePolicy, now: datetime) -> Report:
    """``report`` judged under ``policy``: the policy named, its violations listed, and a
    VERIFIED or UNTRUSTED file that violates it made FAILED. An ERROR stays an ERROR (there
    is nothing to judge); a FAILED file stays FAILED, with the violations added."""
    if report.verdict is Verdict.ERROR:
        return replace(report, policy=policy.name)
    found = tuple(policy_violations(policy.requirements, report, now))
    if not found:
        return replace(report, policy=policy.name)
    verdict = Verdict.FAILED
    blocking = report.failing_codes if report.verdict is Verdict.FAILED else ()
    codes = blocking + tuple(dict.fromkeys(v.code for v in found if v.code not in blocking))
    return replace(report, verdict=verdict, failing_codes=codes, policy=policy.name,
                   policy_violations=found)
