"""Assembling, witnessing, signing and writing the attestation artifact (docs/format.md §2-§8).

Order matters: the artifact's content is fixed first, then the project chain head is
timestamped (the receipts are part of what is signed), then the issuer signs
``C(artifact without "signatures")``.
"""

from __future__ import annotations

import base64
import json
import os
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from keel_verify.crypto.canonical import PROFILE, hash_hex, tagged_sha256
from keel_verify.emit.chain import SESSION_OPERATION, CanonicalTemplate, chain_head
from keel_verify.emit.signing import signature_over
from keel_verify.emit.state import ArtifactEnvelope, SessionState
from keel_verify.emit.timestamping import WITNESS_TYPE, Timestamper, TimestampError
from keel_verify.load.loader import SCHEMA, SUPPORTED_VERSIONS
from keel_verify.load.receipts import DEGRADED_NO_RECEIPT

VERIFIER_COMPATIBILITY = {"atoms_layer": False, "format_version": "1.0"}


@dataclass(frozen=True)
class Witness:
    receipts: list[dict[str, Any]]
    attempts: list[dict[str, Any]]

    @property
    def degraded(self) -> bool:
        return not self.receipts


def witness(timestamper: Timestamper, project_head: dict[str, Any], at: datetime,
            received_at: str) -> Witness:
    """Timestamp the project chain head: one receipt, or none and the failed attempt."""
    head_hash: str = project_head["content_hash"]
    try:
        token, tsa, provider = timestamper.timestamp(bytes.fromhex(hash_hex(head_hash)), at)
    except TimestampError as error:
        if not error.attempted:
            return Witness([], [])
        return Witness([], [{"error": str(error), "provider": error.provider,
                             "status": "failed", "url": error.tsa,
                             "witness_type": WITNESS_TYPE}])
    receipt = {
        "covers_chain_head_at_sequence": project_head["sequence"],
        "covers_chain_head_hash": head_hash,
        "provider": provider,
        "receipt_hash": tagged_sha256(token),
        "received_at": received_at,
        "request_hash": head_hash,
        "tsa": tsa,
        "tsa_response_base64": base64.b64encode(token).decode("ascii"),
        "witness_type": WITNESS_TYPE,
    }
    attempt = {"provider": provider, "status": "granted", "url": tsa,
               "witness_type": WITNESS_TYPE}
    return Witness([receipt], [attempt])


def session_metadata(session: SessionState) -> dict[str, Any]:
    counters = session.counters
    metadata: dict[str, Any] = {
        "end_metadata": session.end_metadata,
        "ended_at": session.ended_at,
        "execution_mode": session.execution_mode,
        "modality": "voice",
        "model": session.model,
        "operation": SESSION_OPERATION,
        "parent_permit_id": session.parent_permit["permit_id"],
        "policy_snapshot_hash": hash_hex(session.snapshot_hash),  # bare hex, as the samples
        "policy_snapshot_id": session.policy_snapshot["snapshot_id"],
        "project_id": session.project_id,
        "provider": session.provider,
        "region_code": session.region_code,
        "risk_budget_remaining_micros": session.budget_remaining,
        "risk_budget_total_micros": session.risk_budget_total_micros,
        "risk_budget_used_micros": session.risk_budget_used_micros,
        "session_counters": {
            "atom_count": counters.atom_count,
            "denied_tool_call_count": counters.denied_tool_call_count,
            "denied_turn_count": counters.denied_turn_count,
            "event_count": session.event_count,
            "input_tokens": counters.input_tokens,
            "interruption_count": counters.interruption_count,
            "output_tokens": counters.output_tokens,
            "tool_call_count": counters.tool_call_count,
            "turn_count": counters.turn_count,
        },
        "session_id": session.session_id,
        "started_at": session.started_at,
        "status": session.status,
        "usage": dict(session.usage),
    }
    if session.failure_reason is not None:
        metadata["failure_reason"] = session.failure_reason
    return metadata


def split_around(document: dict[str, Any], member: str) -> tuple[bytes, bytes]:
    """The canonical bytes of ``document`` before and after the value of ``member``:
    whatever goes between the two halves takes the member's place byte for byte."""
    head, tail = CanonicalTemplate({k: v for k, v in document.items() if k != member},
                                   (member,)).fragments
    return head, tail


def build_artifact(
    session: SessionState,
    chain: bytes,
    project_head: dict[str, Any],
    witnessed: Witness,
    *,
    issued_at: str,
    issuer_key: Ed25519PrivateKey,
    key_id: str | None = None,
) -> ArtifactEnvelope:
    """The signed artifact of an ended session, around ``chain`` (the chain array's
    canonical bytes, :func:`keel_verify.emit.store.chain_array`).

    The artifact is never built as one JSON tree: its canonical bytes are the envelope's
    around the entries' stored canonical bytes, and the issuer signs those bytes."""
    receipts = witnessed.receipts
    document: dict[str, Any] = {
        "artifact_version": SUPPORTED_VERSIONS[session.schema_version],
        "canonicalization_profile": PROFILE,
        "chain_head": chain_head(session),
        "issued_at": issued_at,
        "permits": {
            "child_tool_call_permits": list(session.child_permits),
            "parent_session_permit": session.parent_permit,
        },
        "policy_snapshot": session.policy_snapshot,
        "project_chain_head": project_head,
        "region_anchor": session.region_code,
        "rfc3161_timestamp_attempts": witnessed.attempts,
        "rfc3161_timestamp_receipt": dict(receipts[0]) if receipts else None,
        "schema": SCHEMA,
        "schema_version": session.schema_version,
        "session_metadata": session_metadata(session),
        "timestamp_receipts": receipts,
        "verifier_compatibility": dict(VERIFIER_COMPATIBILITY),
    }
    if witnessed.degraded:
        document["tsa_status"] = DEGRADED_NO_RECEIPT
    head, tail = split_around(document, "chain")
    message = b"".join((head, chain, tail))
    signature = signature_over(message, issuer_key, signed_at=issued_at, key_id=key_id)
    return ArtifactEnvelope(*split_around({**document, "signatures": [signature]}, "chain"))


def dump_artifact(artifact: dict[str, Any], *, indent: int | None = 2) -> bytes:
    """UTF-8 JSON, non-ASCII as itself. ``indent=None`` writes compact JSON, several
    times faster for very large artifacts (any formatting verifies the same)."""
    if indent is None:
        text = json.dumps(artifact, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    else:
        text = json.dumps(artifact, ensure_ascii=False, sort_keys=True, indent=indent)
    return (text + "\n").encode("utf-8")


def write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file in the same directory and a
    rename: a reader never sees a partial file, and a failure leaves the old file."""
    directory = path.parent if str(path.parent) else Path(".")
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, 0o644)  # mkstemp makes 0600; an artifact is not a secret
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
