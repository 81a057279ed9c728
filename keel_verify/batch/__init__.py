"""Verification as a row mapper, for data engines: (path or bytes, policy) -> one flat
JSON row (``schemas/row-v1.schema.json``), the same row ``keel-verify --format jsonl``
prints for that file.

Verification is a pure function of the artifact's bytes and the caller's policy (trust
sources, gate policy, and -- for ``max_artifact_age`` only -- the time of judgement), so a
:class:`RowMapper` can run anywhere, in any order, any number of times::

    from keel_verify.batch import RowMapper
    from keel_verify.trust.sources import TrustSpec

    mapper = RowMapper(TrustSpec((), False, "trust-root.json", (), False))
    mapper.row_from_path("export.json")             # {"verdict": "VERIFIED", ...}
    mapper.row_from_bytes(data, path="s3://b/x.json")
    mapper({"bytes": data, "path": "x.json"})        # Ray Data's read_binary_files rows

The mapper holds only picklable values (paths and options, never parsed certificates);
each process builds its trust policy once, on first use, from the same sources, so trust
files must be readable where the mapper runs. :mod:`keel_verify.batch.ray_pipeline` runs
it on Ray Data (``pip install 'keel-verify[ray]'``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from keel_verify.policy import GatePolicy, apply_policy
from keel_verify.report.rows import report_to_row
from keel_verify.results import Report
from keel_verify.trust.policy import TrustPolicy
from keel_verify.trust.sources import TrustSpec, build_policy


class RowMapper:
    """``(path or bytes) -> row`` under fixed trust sources and an optional gate policy.

    ``now`` is the time ``max_artifact_age`` is judged at (default: when the mapper was
    made), fixed so that every row of a run is judged at the same instant.
    """

    def __init__(self, spec: TrustSpec, gate: GatePolicy | None = None,
                 now: datetime | None = None) -> None:
        self.spec = spec
        self.gate = gate
        self.now = now or datetime.now(UTC)
        self._trust: TrustPolicy | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {"spec": self.spec, "gate": self.gate, "now": self.now}  # never the parsed trust

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.spec, self.gate, self.now = state["spec"], state["gate"], state["now"]
        self._trust = None

    @property
    def trust(self) -> TrustPolicy:
        if self._trust is None:
            self._trust = build_policy(self.spec)
        return self._trust

    def judge(self, report: Report) -> Report:
        return report if self.gate is None else apply_policy(report, self.gate, self.now)

    def report_from_path(self, path: str) -> Report:
        from keel_verify.verifier import verify_path

        return self.judge(verify_path(path, self.trust))

    def report_from_bytes(self, data: bytes, path: str = "<bytes>") -> Report:
        from keel_verify.verifier import verify_bytes

        return self.judge(verify_bytes(data, self.trust, path=path))

    def row_from_path(self, path: str) -> dict[str, Any]:
        """The row of the file at ``path`` (never raises for bad input: verdict ERROR)."""
        return report_to_row(self.report_from_path(path))

    def row_from_bytes(self, data: bytes, path: str = "<bytes>") -> dict[str, Any]:
        """The row of an artifact's bytes; ``path`` is only how the row names it."""
        return report_to_row(self.report_from_bytes(data, path))

    def __call__(self, item: dict[str, Any]) -> dict[str, Any]:
        """A Ray Data row ``{"bytes": ..., "path": ...}`` -> the verification row."""
        return self.row_from_bytes(bytes(item["bytes"]), str(item["path"]))


__all__ = ["RowMapper"]
