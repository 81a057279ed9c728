"""Human-readable output: rich on a terminal, plain text otherwise (or with NO_COLOR).

Text from artifacts is always rendered as literal text, never as rich markup.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import IO

from keel_verify.report.session_view import counters_summary, session_summary
from keel_verify.results import Outcome, Report, Verdict, printable

_VERDICT_STYLE = {
    Verdict.VERIFIED: "bold green",
    Verdict.FAILED: "bold red",
    Verdict.ERROR: "bold magenta",
    Verdict.UNTRUSTED: "bold yellow",
}
_OUTCOME_STYLE = {
    Outcome.PASS: "green",
    Outcome.WARN: "yellow",
    Outcome.FAIL: "red",
    Outcome.SKIP: "dim",
}


def _self_attested(report: Report) -> bool:
    return report.signer is not None and report.signer.trust_basis == "self-attested"


def verdict_text(report: Report) -> str:
    if report.verdict is Verdict.VERIFIED and _self_attested(report):
        return "VERIFIED (self-attested: internal consistency only, origin unproven)"
    if report.verdict is Verdict.UNTRUSTED:
        return "UNTRUSTED (nothing failed, but no trust source vouches for the signer)"
    return str(report.verdict.value)


def report_lines(report: Report) -> list[tuple[str, str]]:
    """(text, style) lines for one report; the plain and rich renderers share them."""
    lines: list[tuple[str, str]] = [
        (f"{verdict_text(report)}  {report.path}", _VERDICT_STYLE[report.verdict])
    ]
    if report.error is not None:
        lines.append((f"  error: {report.error}", ""))
        return lines
    lines.append((f"  session     {report.session_id or '?'} (schema_version {report.schema_version})", ""))
    lines.append((f"  chain head  {report.chain_head or '?'}", ""))
    lines.append((f"  signed      {report.signature_content_hash}", ""))
    if report.signer is not None:
        lines.append((
            f"  signer      key {report.signer.name}: {report.signer.trust_source}",
            "",
        ))
    else:
        lines.append(("  signer      none", ""))
    if report.session is not None:
        lines.append((f"  events      {printable(session_summary(report.session))}", ""))
        counters = counters_summary(report.session)
        if counters is not None:
            wrong = bool(report.session.disagreeing_counters)
            lines.append((f"  counters    {printable(counters)}", "red" if wrong else ""))
    width = max((len(check.name) for check in report.checks), default=0)
    for check in report.checks:
        flagged = check.outcome in (Outcome.FAIL, Outcome.WARN)
        where = f" at {check.pointer}" if flagged and check.pointer else ""
        lines.append((
            f"  {check.outcome.label:<6} {check.name:<{width}}  {check.reason}{where}",
            _OUTCOME_STYLE[check.outcome],
        ))
    if report.not_proven:
        lines.append(("  not proven:", "bold"))
        lines.extend((f"    - {gap}", "") for gap in report.not_proven)
    return lines


def summary_rows(reports: Sequence[Report]) -> list[tuple[str, str, str, str]]:
    rows = []
    for report in reports:
        failing = [c.name for c in report.checks if c.outcome is Outcome.FAIL]
        warning = [c.name for c in report.checks if c.outcome is Outcome.WARN]
        notes = report.error or "; ".join(
            part for part in (
                f"fail: {', '.join(failing)}" if failing else "",
                f"warn: {', '.join(warning)}" if warning else "",
            ) if part
        )
        verdict = report.verdict.value
        if report.verdict is Verdict.VERIFIED and _self_attested(report):
            verdict += " (self-attested)"  # never a plain VERIFIED for an unproven origin
        rows.append((report.path, verdict, report.session_id or "-", notes or "-"))
    return rows


def use_plain(stream: IO[str]) -> bool:
    return bool(os.environ.get("NO_COLOR")) or not stream.isatty()


def render(reports: Sequence[Report], stream: IO[str]) -> None:
    if use_plain(stream):
        _render_plain(reports, stream)
    else:
        _render_rich(reports, stream)


def _render_plain(reports: Sequence[Report], stream: IO[str]) -> None:
    for index, report in enumerate(reports):
        if index:
            stream.write("\n")
        for text, _ in report_lines(report):
            stream.write(text + "\n")
    if len(reports) > 1:
        rows = summary_rows(reports)
        headers = ("file", "verdict", "session", "notes")
        widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers[:3])]
        stream.write("\n")
        header_cells = (h.ljust(w) for h, w in zip(headers[:3], widths, strict=True))
        stream.write("  ".join(header_cells) + "  notes\n")
        for row in rows:
            cells = (c.ljust(w) for c, w in zip(row[:3], widths, strict=True))
            stream.write("  ".join(cells) + f"  {row[3]}\n")


def _render_rich(reports: Sequence[Report], stream: IO[str]) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = Console(file=stream, highlight=False, soft_wrap=True)
    for index, report in enumerate(reports):
        if index:
            console.print()
        for text, style in report_lines(report):
            console.print(Text(text, style=style))
    if len(reports) > 1:
        table = Table(title="summary", show_lines=False)
        for header in ("file", "verdict", "session", "notes"):
            table.add_column(header)
        for report, row in zip(reports, summary_rows(reports), strict=True):
            table.add_row(
                Text(row[0]), Text(row[1], style=_VERDICT_STYLE[report.verdict]), Text(row[2]),
                Text(row[3]),
            )
        console.print(table)
