"""``--format junit``: JUnit XML as CI systems read it (the Jenkins/Ant ``junit-10.xsd``
shape that GitLab, Jenkins, Azure and GitHub test reporters accept).

One ``<testsuite>`` per file, one ``<testcase>`` per check: a failed check is a
``<failure>``, a skipped one ``<skipped>``, a warning stays a passing test case whose
``<system-out>`` carries the warning so it is visible. Each suite ends with a
``verdict`` test case (a failure when the file is not VERIFIED, so an UNTRUSTED file is
not green) and, under a policy, a ``policy`` test case. An unreadable file is a suite
with one ``input`` test case in ``<error>``. Suites are written as files arrive.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import IO

from keel_verify.report.sink import PieceSink, RenderContext
from keel_verify.results import Outcome, Report, Totals, Verdict

# XML 1.0 allows no C0 control character but tab, line feed and carriage return, no
# surrogate and not U+FFFE/U+FFFF: such characters (from file names, say) are escaped.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_text(text: str) -> str:
    return _NOT_XML.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def _case(suite: ET.Element, classname: str, name: str) -> ET.Element:
    return ET.SubElement(suite, "testcase", {"classname": classname, "name": name, "time": "0"})


def _suite(report: Report) -> ET.Element:
    path = xml_text(report.path)
    suite = ET.Element("testsuite", {"name": path})
    properties = ET.SubElement(suite, "properties")
    facts = {
        "verdict": report.verdict.value,
        "indication": report.indication.value,
        # what vouches for the signer: a self-attested VERIFIED never reads as trusted
        "trust_basis": report.signer.trust_basis if report.signer is not None else "none",
        "exit_code": str(report.exit_code),
        "session_id": report.session_id or "",
        "input_sha256": report.input_sha256 or "",
    }
    if report.policy:
        facts["policy"] = report.policy
    for name, value in facts.items():
        ET.SubElement(properties, "property", {"name": name, "value": xml_text(value)})
    failures = errors = skipped = 0
    if report.verdict is Verdict.ERROR:
        case = _case(suite, path, "input")
        message = xml_text(report.error or "unreadable input")
        ET.SubElement(case, "error", {"message": message, "type": "input_error"}).text = message
        errors += 1
    for check in report.checks:
        case = _case(suite, path, check.name)
        message = xml_text(f"{check.code}: {check.reason}")
        where = check.where
        if check.outcome is Outcome.FAIL:
            element = ET.SubElement(case, "failure", {"message": message, "type": check.code})
            element.text = message + xml_text(where)
            failures += 1
        elif check.outcome is Outcome.SKIP:
            ET.SubElement(case, "skipped", {"message": message})
            skipped += 1
        elif check.outcome is Outcome.WARN:
            ET.SubElement(case, "system-out").text = f"[WARN] {message}{xml_text(where)}"
    if report.policy is not None and report.verdict is not Verdict.ERROR:
        case = _case(suite, path, "policy")
        for violation in report.policy_violations:
            message = xml_text(f"{violation.code}: {violation.reason}")
            ET.SubElement(case, "failure", {"message": message, "type": violation.code}).text = (
                f"{message} (rule {xml_text(violation.rule)})")
        failures += bool(report.policy_violations)
    if report.verdict is not Verdict.ERROR:
        case = _case(suite, path, "verdict")
        if report.verdict is not Verdict.VERIFIED:
            message = xml_text(f"{report.verdict.value}: {report.problem}")
            ET.SubElement(case, "failure", {"message": message, "type": report.verdict.value}).text = message
            failures += 1
    suite.set("tests", str(len(suite.findall("testcase"))))
    suite.set("failures", str(failures))
    suite.set("errors", str(errors))
    suite.set("skipped", str(skipped))
    return suite


def suite_text(report: Report) -> str:
    """One file's ``<testsuite>``, indented for its place in ``<testsuites>``."""
    suite = _suite(report)
    ET.indent(suite, space="  ", level=1)
    return "  " + ET.tostring(suite, encoding="unicode") + "\n"


class JunitSink(PieceSink):
    def __init__(self, stream: IO[str], _context: RenderContext) -> None:
        self.stream = stream
        self.renderer = suite_text
        stream.write('<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="keel-verify">\n')

    def write(self, piece: str) -> None:
        self.stream.write(piece)

    def close(self, totals: Totals) -> None:
        self.stream.write(f"  <!-- {xml_text(totals.line())} -->\n</testsuites>\n")
