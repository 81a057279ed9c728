"""One flat row per file (``schemas/row-v1.schema.json``): the shape of ``--format
jsonl`` lines and of :mod:`keel_verify.batch` rows, ready for a table (Parquet, a data
warehouse). Flat means every column is a scalar or a list of scalars; per-check columns
are parallel lists in check order."""

from __future__ import annotations

import json
from typing import IO, Any

from keel_verify.report.json_report import file_facts, session_facts
from keel_verify.report.sink import PieceSink, RenderContext
from keel_verify.results import Outcome, Report, Totals
from keel_verify.version import __version__

ROW_FORMAT = "keel-verify.row.v1"


def report_to_row(report: Report) -> dict[str, Any]:
    """The flat row of one report (every member always present; null when unknown)."""
    signer = report.signer
    checks = report.checks
    return {
        "row_format": ROW_FORMAT,
        "verifier_version": __version__,
        **file_facts(report),
        "warning_codes": [c.code for c in checks if c.outcome is Outcome.WARN],
        **session_facts(report),
        "signer_fingerprint": None if signer is None else signer.fingerprint,
        "signer_label": None if signer is None else signer.label,
        "signer_claimed_key_id": None if signer is None else signer.claimed_key_id,
        "signer_public_key": None if signer is None else signer.public_key,
        "signer_trust_source": None if signer is None else signer.trust_source,
        "signer_trusted": None if signer is None else signer.trusted,
        "policy": report.policy,
        "policy_violation_codes": [v.code for v in report.policy_violations],
        "policy_violation_reasons": [v.reason for v in report.policy_violations],
        "not_proven": list(report.not_proven),
        "check_names": [c.name for c in checks],
        "check_codes": [c.code for c in checks],
        "check_outcomes": [c.outcome.value for c in checks],
        "check_reasons": [c.reason for c in checks],
        "check_pointers": [c.pointer for c in checks],
    }


def dumps_row(row: dict[str, Any]) -> str:
    """One JSON line (compact, UTF-8 text kept as is)."""
    return json.dumps(row, ensure_ascii=False, separators=(",", ":"))


def row_line(report: Report) -> str:
    return dumps_row(report_to_row(report)) + "\n"


class JsonlSink(PieceSink):
    """``--format jsonl``: one row per line, written as each file is verified."""

    def __init__(self, stream: IO[str], _context: RenderContext) -> None:
        self.stream = stream
        self.renderer = row_line

    def write(self, piece: str) -> None:
        self.stream.write(piece)

    def close(self, totals: Totals) -> None:
        """Rows only: a JSONL consumer counts them itself."""
