"""The machine-readable report (``--json`` / ``--format json``); its shape is
``schemas/report-v2.schema.json`` (what changed since v1: docs/report-format.md).

The document is written as files arrive: ``files`` first, then ``trust`` (the applied
policy, listing first the keys the files were signed with), ``totals`` and the combined
``exit_code``, so a long batch never sits in memory.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import IO, Any

from keel_verify.report.session_view import session_to_dict
from keel_verify.report.sink import (
    FeaturedKeys,
    PieceSink,
    RenderContext,
    ReportKeys,
    report_keys,
    trust_featuring,
)
from keel_verify.results import Report, Totals
from keel_verify.version import __version__

REPORT_FORMAT = "keel-verify.report.v2"


def _jsonable(value: Any) -> Any:
    """Check details may hold datetimes or bytes; the report holds only JSON."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return iso_time(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def iso_time(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")


def file_facts(report: Report) -> dict[str, Any]:
    """The per-file members the JSON report and the flat row share, in their order."""
    return {
        "path": report.path,
        "input_sha256": report.input_sha256,
        "verdict": report.verdict.value,
        "indication": report.indication.value,
        "exit_code": report.exit_code,
        "error": report.problem,
        "failing_codes": list(report.failing_codes),
    }


def session_facts(report: Report) -> dict[str, Any]:
    """What the artifact says about itself and when, shared likewise."""
    return {
        "schema_version": report.schema_version,
        "session_id": report.session_id,
        "chain_head": report.chain_head,
        "signature_content_hash": report.signature_content_hash,
        "issued_at": iso_time(report.issued_at),
        "witnessed_at": iso_time(report.witnessed_at),
        "trust_basis": report.signer.trust_basis if report.signer is not None else "none",
    }


def report_to_dict(report: Report) -> dict[str, Any]:
    signer = report.signer
    return {
        **file_facts(report),
        **session_facts(report),
        "signer": None if signer is None else {
            "fingerprint": signer.fingerprint,
            "label": signer.label,
            "claimed_key_id": signer.claimed_key_id,
            "public_key": signer.public_key,
            "trust_basis": signer.trust_basis,
            "trust_source": signer.trust_source,
            "trusted": signer.trusted,
            "time_basis": signer.time_basis,
        },
        "not_proven": list(report.not_proven),
        "promoted_warnings": list(report.promoted_warnings),
        "session": None if report.session is None else _jsonable(session_to_dict(report.session)),
        "policy": report.policy,
        "policy_violations": [
            {"code": v.code, "reason": v.reason, "rule": v.rule} for v in report.policy_violations
        ],
        "checks": [
            {
                "name": check.name,
                "code": check.code,
                "outcome": check.outcome.value,
                "reason": check.reason,
                "pointer": check.pointer,
                "details": _jsonable(check.details),
            }
            for check in report.checks
        ],
    }


def _header(context: RenderContext) -> dict[str, Any]:
    return {
        "report_format": REPORT_FORMAT,
        "verifier": {"name": "keel-verify", "version": __version__},
        "policy": None if context.policy is None else _jsonable(context.policy),
    }


def _tail(trust: Mapping[str, Any], featured: FeaturedKeys, totals: Totals) -> dict[str, Any]:
    # The trust policy follows the files: a policy listed in part lists their signers first.
    return {"trust": _jsonable(trust_featuring(trust, featured.ordered())), "totals": totals.as_dict(),
            "exit_code": totals.exit_code}


def reports_to_document(
    reports: Sequence[Report], trust: Mapping[str, Any], policy: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The whole document at once (for callers holding a few reports)."""
    tally = Totals()
    for report in reports:
        tally.add(report)
    return {
        **_header(RenderContext((), trust, policy)),
        "files": [report_to_dict(r) for r in reports],
        **_tail(trust, FeaturedKeys.of(reports), tally),
    }


def dumps(document: Mapping[str, Any]) -> str:
    return json.dumps(document, ensure_ascii=False, indent=2, sort_keys=False)


def json_piece(report: Report) -> tuple[str, ReportKeys]:
    """One file's member of ``files`` (indented for its place) and the keys it features."""
    return dumps(report_to_dict(report)).replace("\n", "\n    "), report_keys(report)


class JsonSink(PieceSink):
    """The report-v2 document, written file by file (same bytes as :func:`dumps` of
    :func:`reports_to_document`)."""

    def __init__(self, stream: IO[str], context: RenderContext) -> None:
        self.stream = stream
        self.renderer = json_piece
        self.count = 0
        self.trust = context.trust
        self.featured = FeaturedKeys()  # one key per signer: never more than the files
        head = dumps({**_header(context), "files": []})
        self.stream.write(head[: head.rindex("[") + 1])  # up to the opening of "files"

    def write(self, piece: tuple[str, ReportKeys]) -> None:
        body, keys = piece
        self.stream.write(("," if self.count else "") + "\n    " + body)
        self.count += 1
        self.featured.add_keys(keys)

    def close(self, totals: Totals) -> None:
        self.stream.write("\n  ]" if self.count else "]")
        tail = dumps(_tail(self.trust, self.featured, totals))
        self.stream.write(",\n" + tail[2:] + "\n")
