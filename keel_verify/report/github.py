"""``--format github``: GitHub Actions workflow commands, so each problem shows as an
annotation on the artifact file (``::error file=…,line=…,col=…,title=…::message``).

A failed check, a policy violation, an unreadable file and an UNTRUSTED file are
``error``; a warning is ``warning``; a skip is ``notice``. The totals end the output as
a plain line. Lines and columns are those of the member the check's JSON Pointer names.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import IO

from keel_verify.load.positions import locate
from keel_verify.report.sink import PieceSink, RenderContext
from keel_verify.results import Outcome, Report, Totals, Verdict

_COMMAND = {Outcome.FAIL: "error", Outcome.WARN: "warning", Outcome.SKIP: "notice"}


def _data(text: str) -> str:
    """Escape a command's message (GitHub's workflow-command encoding)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _property(text: str) -> str:
    """Escape a command property's value: also ':' and ','."""
    return _data(text).replace(":", "%3A").replace(",", "%2C")


def annotation(command: str, path: str, message: str, title: str,
               line: int | None = None, column: int | None = None) -> str:
    where = f"file={_property(path)}"
    if line is not None:
        where += f",line={line}"
        if column is not None:
            where += f",col={column}"
    return f"::{command} {where},title={_property(title)}::{_data(message)}"


@dataclass(frozen=True)
class Annotations:
    """One report -> its workflow-command lines (``source`` reads an input's text, to
    locate pointers)."""

    source: Callable[[str], str | None]

    def __call__(self, report: Report) -> list[str]:
        return self.lines(report)

    def lines(self, report: Report) -> list[str]:
        if report.verdict is Verdict.ERROR:
            return [annotation("error", report.path, report.error or "unreadable input",
                               "keel-verify: unreadable input")]
        found: list[str] = []
        text: str | None = None
        read = False
        for check in report.checks:
            if check.outcome is Outcome.PASS:
                continue
            if not read:
                text, read = self.source(report.path), True
            line = column = None
            if text is not None:
                position = locate(text, check.pointer)
                line, column = position.line, position.column
            where = check.where
            found.append(annotation(_COMMAND[check.outcome], report.path, f"{check.reason}{where}",
                                    f"keel-verify {check.code}", line, column))
        for violation in report.policy_violations:
            found.append(annotation("error", report.path, violation.reason,
                                    f"keel-verify {violation.code}"))
        if report.verdict is Verdict.UNTRUSTED:
            found.append(annotation("error", report.path, report.problem or "untrusted",
                                    "keel-verify UNTRUSTED"))
        return found


class GithubSink(PieceSink):
    def __init__(self, stream: IO[str], context: RenderContext) -> None:
        self.stream = stream
        self.renderer = Annotations(context.source)

    def write(self, piece: list[str]) -> None:
        for line in piece:
            self.stream.write(line + "\n")

    def close(self, totals: Totals) -> None:
        self.stream.write(totals.line() + "\n")
