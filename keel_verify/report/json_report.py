"""The machine-readable report (``--json`` / ``--format json``); its shape is
``schemas/report-v2.schema.json`` (what changed since v1: docs/report-format.md)."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from keel_verify.report.session_view import session_to_dict
from keel_verify.results import Report, Totals, combined_exit_code
from keel_verify.version import __version__

REPORT_FORMAT = "keel-verify.report.v2"


def _jsonable(value: Any) -> Any:
    """Check details may hold datetimes or bytes; the report holds only JSON."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def report_to_dict(report: Report) -> dict[str, Any]:
    signer = report.signer
    return {
        "path": report.path,
        "input_sha256": report.input_sha256,
        "verdict": report.verdict.value,
        "indication": report.indication.value,
        "exit_code": report.exit_code,
        "error": report.problem,
        "failing_codes": list(report.failing_codes),
        "schema_version": report.schema_version,
        "session_id": report.session_id,
        "chain_head": report.chain_head,
        "signature_content_hash": report.signature_content_hash,
        "trust_basis": signer.trust_basis if signer is not None else "none",
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
        "session": None if report.session is None else _jsonable(session_to_dict(report.session)),
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


def reports_to_document(reports: Sequence[Report], trust: Mapping[str, Any]) -> dict[str, Any]:
    tally = Totals()
    for report in reports:
        tally.add(report)
    return {
        "report_format": REPORT_FORMAT,
        "verifier": {"name": "keel-verify", "version": __version__},
        "exit_code": combined_exit_code([r.verdict for r in reports]),
        "totals": tally.as_dict(),
        "trust": _jsonable(trust),
        "files": [report_to_dict(r) for r in reports],
    }


def dumps(document: Mapping[str, Any]) -> str:
    return json.dumps(document, ensure_ascii=False, indent=2, sort_keys=False)
