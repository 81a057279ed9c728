"""Human-readable output: rich on a terminal, plain text otherwise (or with NO_COLOR).

Text from artifacts is always rendered as literal text, never as rich markup.
"""

from __future__ import annotations

import os
import re
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from typing import IO, Any

from keel_verify.report.session_view import counters_summary, session_summary
from keel_verify.report.sink import PieceSink, RenderContext, render_all
from keel_verify.results import Outcome, Report, Totals, Verdict, printable

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
    if report.promoted_warnings:
        count = len(report.promoted_warnings)
        return f"FAILED (strict: {count} warning{'' if count == 1 else 's'})"
    return str(report.verdict.value)


def report_lines(report: Report, *, brief: bool = False) -> list[tuple[str, str]]:
    """(text, style) lines for one report; the plain and rich renderers share them.
    ``brief`` (for --quiet): the verdict, then only what did not pass."""
    lines: list[tuple[str, str]] = [
        (f"{verdict_text(report)}  {report.path}", _VERDICT_STYLE[report.verdict])
    ]
    if report.error is not None:
        lines.append((f"  error: {report.error}", ""))
        return lines
    if brief:
        return lines + _check_lines(report, brief=True) + _policy_lines(report)
    lines.append((f"  session     {report.session_id or '?'} (schema_version {report.schema_version})", ""))
    lines.append((f"  chain head  {report.chain_head or '?'}", ""))
    lines.append((f"  signed      {report.signature_content_hash}", ""))
    if report.signer is not None:
        # "key" only names a key that verified; otherwise the name already says so.
        key = "key " if report.signer.fingerprint else ""
        lines.append((
            f"  signer      {key}{report.signer.name}: {report.signer.trust_source}",
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
    lines += _check_lines(report) + _policy_lines(report)
    if report.not_proven:
        lines.append(("  not proven:", "bold"))
        lines.extend((f"    - {gap}", "") for gap in report.not_proven)
    return lines


def _check_lines(report: Report, *, brief: bool = False) -> list[tuple[str, str]]:
    lines = []
    width = max((len(check.name) for check in report.checks), default=0)
    for check in report.checks:
        if brief and check.outcome is Outcome.PASS:
            continue
        flagged = check.outcome in (Outcome.FAIL, Outcome.WARN)
        where = check.where if flagged else ""
        code = f" [{check.code}]" if check.outcome is not Outcome.PASS else ""
        lines.append((
            f"  {check.outcome.label:<6} {check.name:<{width}}  {check.reason}{where}{code}",
            _OUTCOME_STYLE[check.outcome],
        ))
    return lines


def _policy_lines(report: Report) -> list[tuple[str, str]]:
    if report.policy is None:
        return []
    held = "not met" if report.policy_violations else "met"
    lines = [(f"  policy      {report.policy}: {held}", "bold" if report.policy_violations else "")]
    lines.extend(
        (f"    - {v.reason} [{v.code}] ({v.rule})", _OUTCOME_STYLE[Outcome.FAIL])
        for v in report.policy_violations
    )
    return lines


#: A summary table row: file, verdict, session, notes.
SummaryRow = tuple[str, str, str, str]


def summary_rows(reports: Sequence[Report]) -> list[SummaryRow]:
    rows = []
    for report in reports:
        failing = list(report.failing_codes) if report.verdict is Verdict.FAILED else []
        warning = [c.code for c in report.checks
                   if c.outcome is Outcome.WARN and c.code not in report.failing_codes]
        notes = report.error or "; ".join(
            part for part in (
                f"fail: {', '.join(failing)}" if failing else "",
                f"warn: {', '.join(warning)}" if warning else "",
            ) if part
        )
        verdict = report.verdict.value
        if report.verdict is Verdict.VERIFIED and _self_attested(report):
            verdict += " (self-attested)"  # never a plain VERIFIED for an unproven origin
        rows.append((printable(report.path), verdict, printable(report.session_id or "-"),
                     printable(notes or "-")))
    return rows


_COLUMN_GAP = re.compile(r"\S( {2,})\S")


def wrapped(text: str, width: int) -> list[str]:
    """``text`` (one report line) folded at word boundaries to ``width`` columns, the
    continuation lines indented to where the line's value column starts (after the label
    and the padded check name), so a long reason reads as one aligned paragraph. When
    that column lies past half the width, the label and name keep the first line and the
    whole value goes below them, indented two more columns than the line, whatever its
    first word (a PASS line and a FAIL line fold alike)."""
    if len(text) <= width:
        return [text]
    gap = _COLUMN_GAP.search(text)
    lead = len(text) - len(text.lstrip(" "))
    indent = gap.end(1) if gap else lead + 2
    if gap and indent > width // 2:
        below = " " * (lead + 2)
        return [text[:gap.start(1)], *textwrap.wrap(
            text[indent:], width, initial_indent=below, subsequent_indent=below,
            break_on_hyphens=False)]
    return textwrap.wrap(
        text[indent:] if gap else text.lstrip(" "),
        width,
        initial_indent=text[:indent] if gap else " " * lead,
        subsequent_indent=" " * indent,
        break_on_hyphens=False,
    ) or [text]


def use_plain(stream: IO[str]) -> bool:
    return bool(os.environ.get("NO_COLOR")) or not stream.isatty()


def render(reports: Sequence[Report], stream: IO[str], *, quiet: bool = False) -> None:
    """All of ``reports`` as text (the streaming :class:`TextSink` does the work)."""
    render_all(TextSink(stream, quiet=quiet), reports)


@dataclass(frozen=True)
class TextPiece:
    """One file's text: ``block`` (plain output: its lines, each ending in a line break)
    or ``lines`` ((text, style) pairs for a terminal), and its summary table row."""

    verdict: Verdict
    row: SummaryRow
    block: str | None = None
    lines: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class TextBlocks:
    """One report -> its :class:`TextPiece`, or None when ``quiet`` hides a VERIFIED
    file. ``plain``: lines joined for a stream that is not a terminal."""

    plain: bool
    quiet: bool

    def __call__(self, report: Report) -> TextPiece | None:
        if self.quiet and report.verdict is Verdict.VERIFIED:
            return None
        lines = report_lines(report, brief=self.quiet)
        row = summary_rows([report])[0]
        if self.plain:  # the block in one write (a batch writes thousands)
            return TextPiece(report.verdict, row, block="".join(printable(text) + "\n" for text, _ in lines))
        return TextPiece(report.verdict, row, lines=tuple(lines))


class TextSink(PieceSink):
    """Human output, streamed: each file's block as it is verified (with ``quiet`` only
    files that are not VERIFIED), then with several files a summary table (of the files
    shown, at most MAX_SUMMARY_ROWS rows) and the totals line."""

    MAX_SUMMARY_ROWS = 1000

    def __init__(self, stream: IO[str], context: RenderContext | None = None, *,
                 quiet: bool = False) -> None:
        self.stream = stream
        self.quiet = quiet or (context is not None and context.quiet)
        self.plain = use_plain(stream)
        self.renderer = TextBlocks(self.plain, self.quiet)
        self.shown = 0
        self.rows: list[tuple[Verdict, SummaryRow]] = []
        self.unlisted = 0
        self.console: Any = None
        if not self.plain:
            from rich.console import Console

            self.console = Console(file=stream, highlight=False, soft_wrap=True)

    def write(self, piece: TextPiece | None) -> None:
        if piece is None:
            return
        if piece.block is not None:
            self.stream.write("\n" + piece.block if self.shown else piece.block)
        else:
            for text, style in ((("", ""),) if self.shown else ()) + piece.lines:
                self._line(text, style)
        self.shown += 1
        if len(self.rows) < self.MAX_SUMMARY_ROWS:
            self.rows.append((piece.verdict, piece.row))
        else:
            self.unlisted += 1

    def _line(self, text: str, style: str) -> None:
        # Every line quotes artifact text somewhere (session id, key label, reasons): one
        # escape here, where lines leave, so no field can drive the terminal.
        text = printable(text)
        if self.console is None:
            self.stream.write(text + "\n")
        else:
            from rich.text import Text

            for line in wrapped(text, self.console.width):  # reasons wrap under their column
                self.console.print(Text(line, style=style))

    def close(self, totals: Totals) -> None:
        tabled = totals.files > 1 and len(self.rows) > 1
        if tabled:
            self._summary()  # the totals line closes the table
        if totals.files > 1 or self.quiet:
            if self.shown and not tabled:
                self._line("", "")
            self._line(totals.line(), "bold")

    def _summary(self) -> None:
        rows = [row for _, row in self.rows]
        if self.console is None:
            headers = ("file", "verdict", "session", "notes")
            widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers[:3])]
            self.stream.write("\n")
            header_cells = (h.ljust(w) for h, w in zip(headers[:3], widths, strict=True))
            self.stream.write("  ".join(header_cells) + "  notes\n")
            for row in rows:
                cells = (c.ljust(w) for c, w in zip(row[:3], widths, strict=True))
                self.stream.write("  ".join(cells) + f"  {row[3]}\n")
        else:
            from rich.table import Table
            from rich.text import Text

            table = Table(title="summary", show_lines=False)
            for header in ("file", "verdict", "session", "notes"):
                table.add_column(header)
            for verdict, row in self.rows:
                table.add_row(
                    Text(row[0]), Text(row[1], style=_VERDICT_STYLE[verdict]), Text(row[2]),
                    Text(row[3]),
                )
            self.console.print()
            self.console.print(table)
        if self.unlisted:
            files = "file" if self.unlisted == 1 else "files"
            self._line(f"({self.unlisted} more {files} not in the summary table)", "")
