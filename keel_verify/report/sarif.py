"""``--format sarif``: SARIF 2.1.0 (OASIS), as code-scanning services read it.

One run; one rule per check (its summary, and as help every reason code it can give)
plus three rules for what is not a check: ``input`` (the file could not be read as an
attestation), ``trust`` (nothing failed, but no trust source vouches for the signer)
and ``policy`` (a gate-policy violation). One result per non-passing check: ``error``
for a failure, ``warning`` for a warning, ``note`` for a skip; it is located in the
artifact file at the line and column of the member its JSON Pointer names (computed
only for those pointers), with the pointer itself as a logical location. Results are
written as files arrive.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import IO, Any
from urllib.parse import quote

from keel_verify.load.positions import locate
from keel_verify.report.sink import PieceSink, RenderContext
from keel_verify.results import CheckInfo, Outcome, Report, Totals, Verdict
from keel_verify.version import __version__

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
INFORMATION_URI = "https://pypi.org/project/keel-verify/"
_LEVEL = {Outcome.FAIL: "error", Outcome.WARN: "warning", Outcome.SKIP: "note"}
INPUT_RULE = "input"
TRUST_RULE = "trust"
POLICY_RULE = "policy"
_EXTRA_RULES = (
    (INPUT_RULE, "the file could not be read as a Keel attestation (exit code 2)"),
    (TRUST_RULE, "nothing failed, but no trust source vouches for the signer (exit code 3)"),
)


def _pascal(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


def _rule(info: CheckInfo) -> dict[str, Any]:
    codes = "\n".join(f"- {c.code} ({c.outcome.value}): {c.meaning}" for c in info.codes)
    markdown = "\n".join(f"- `{c.code}` ({c.outcome.value}): {c.meaning}" for c in info.codes)
    failing = any(c.outcome is Outcome.FAIL for c in info.codes)
    return {
        "id": info.name,
        "name": _pascal(info.name),
        "shortDescription": {"text": info.summary},
        "fullDescription": {"text": f"keel-verify check {info.name}: {info.summary}."},
        "help": {
            "text": f"{info.summary}.\nReason codes:\n{codes}",
            "markdown": f"{info.summary}.\n\nReason codes:\n\n{markdown}",
        },
        "defaultConfiguration": {"level": "error" if failing else "warning"},
        "properties": {"reason_codes": [c.code for c in info.codes]},
    }


def rules(catalogue: tuple[CheckInfo, ...]) -> list[dict[str, Any]]:
    """Every check's rule, the policy's when the catalogue holds it, then input and trust."""
    found = [_rule(info) for info in catalogue]
    for rule_id, text in _EXTRA_RULES:
        found.append({
            "id": rule_id,
            "name": _pascal(rule_id),
            "shortDescription": {"text": text},
            "help": {"text": text},
            "defaultConfiguration": {"level": "error"},
        })
    return found


def artifact_uri(path: str) -> str:
    """A relative path as a relative URI reference (what code scanning matches against
    the repository); an absolute one as a file URI."""
    if os.path.isabs(path):
        return "file://" + quote(path.replace(os.sep, "/"))
    return quote(path.replace(os.sep, "/"))


@dataclass(frozen=True)
class SarifResults:
    """One report -> its SARIF results, each as compact JSON text (a worker process may
    run this: it holds only the rule indexes and the function that reads an input's
    text to locate pointers)."""

    rule_index: Mapping[str, int]
    source: Callable[[str], str | None]

    def __call__(self, report: Report) -> list[str]:
        return [json.dumps(result, ensure_ascii=False) for result in self._results(report)]

    def _results(self, report: Report) -> Iterator[dict[str, Any]]:
        if report.verdict is Verdict.ERROR:
            yield self._result(report, INPUT_RULE, "error", report.error or "unreadable input",
                               None, "input.unreadable")
            return
        text: str | None = None
        pointers_read = False
        for check in report.checks:
            if check.outcome is Outcome.PASS:
                continue
            if not pointers_read:  # read the file only when something is to be located
                text, pointers_read = self.source(report.path), True
            yield self._result(report, check.name, _LEVEL[check.outcome],
                               f"{check.code}: {check.reason}", check.pointer, check.code, text)
        for violation in report.policy_violations:
            yield self._result(report, POLICY_RULE, "error", f"{violation.code}: {violation.reason}",
                               None, violation.code)
        if report.verdict is Verdict.UNTRUSTED:
            yield self._result(report, TRUST_RULE, "error", f"UNTRUSTED: {report.problem}", None,
                               ",".join(report.failing_codes))

    def _result(self, report: Report, rule_id: str, level: str, message: str,
                pointer: str | None, code: str, text: str | None = None) -> dict[str, Any]:
        physical: dict[str, Any] = {"artifactLocation": {"uri": artifact_uri(report.path)}}
        if pointer is not None and text is not None:
            position = locate(text, pointer)
            physical["region"] = {"startLine": position.line, "startColumn": position.column}
        location: dict[str, Any] = {"physicalLocation": physical}
        if pointer is not None:
            location["logicalLocations"] = [{
                "fullyQualifiedName": pointer or "/", "kind": "member",
            }]
        result: dict[str, Any] = {
            "ruleId": rule_id,
            "level": level,
            "message": {"text": message},
            "locations": [location],
            "partialFingerprints": {"keelReasonCode/v1": f"{code}:{pointer or ''}"},
            "properties": {"reason_code": code, "verdict": report.verdict.value,
                           "input_sha256": report.input_sha256},
        }
        if rule_id in self.rule_index:
            result["ruleIndex"] = self.rule_index[rule_id]
        return result


class SarifSink(PieceSink):
    def __init__(self, stream: IO[str], context: RenderContext) -> None:
        self.stream = stream
        all_rules = rules(context.catalogue)
        self.renderer = SarifResults({rule["id"]: index for index, rule in enumerate(all_rules)},
                                     context.source)
        self.count = 0
        run = {
            "tool": {"driver": {
                "name": "keel-verify",
                "version": __version__,
                "semanticVersion": __version__,
                "informationUri": INFORMATION_URI,
                "rules": all_rules,
            }},
            "columnKind": "unicodeCodePoints",
            "results": [],
        }
        head = json.dumps({"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]},
                          ensure_ascii=False)
        self.stream.write(head[: head.rindex("[") + 1] + "\n")  # open "results"

    def write(self, piece: list[str]) -> None:
        for result in piece:
            self.stream.write(("," if self.count else "") + result + "\n")
            self.count += 1

    def close(self, totals: Totals) -> None:
        invocation = {
            "executionSuccessful": True,
            "exitCode": totals.exit_code,
            "properties": {"totals": totals.as_dict(), "summary": totals.line()},
        }
        self.stream.write("], \"invocations\": [" + json.dumps(invocation) + "]}]}\n")
