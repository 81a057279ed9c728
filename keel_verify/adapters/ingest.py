"""``keel-emit ingest``: a provider recording -> a signed Keel voice-session attestation.

In process (the default): the recording's plan runs through the keel-emit engine in
memory, with a clock that follows the recording (each call happens at the gateway time of
its last event, in whole seconds, never going back) and ids seeded by the recording's
hash, so the same recording always gives the same artifact bytes.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from keel_verify.adapters import ADAPTERS
from keel_verify.adapters.plan import SessionPlan
from keel_verify.adapters.recording import RecordingError, parse_recording_bytes
from keel_verify.adapters.scenario import Call, IngestOptions, plan_calls
from keel_verify.emit.clock import SeededIds
from keel_verify.emit.demo import TsaChoice, make_timestamper
from keel_verify.emit.engine import Engine, EngineConfig
from keel_verify.emit.keys import demo_issuer_key
from keel_verify.emit.store import MemoryStore

MAX_RECORDING_BYTES = 1024 * 1024 * 1024  # 1 GiB of JSON Lines


@dataclass
class RecordingClock:
    """The engine's clock during an ingest: the recording time of the current call,
    truncated to whole seconds and never earlier than a previous reading."""

    _current: datetime = field(default=datetime(1970, 1, 1, tzinfo=UTC))
    _last: datetime = field(default=datetime(1970, 1, 1, tzinfo=UTC))

    def at(self, ns: int) -> None:
        self._current = datetime.fromtimestamp(ns // 1_000_000_000, tz=UTC)

    def now(self) -> datetime:
        self._last = max(self._last, self._current)
        return self._last


@dataclass(frozen=True)
class Ingested:
    plan: SessionPlan
    calls: tuple[Call, ...]
    responses: tuple[dict[str, Any], ...]
    artifact: dict[str, Any]


def recording_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def ingest_bytes(provider: str, data: bytes, *, options: IngestOptions | None = None,
                 issuer_key: Ed25519PrivateKey | None = None,
                 tsa: TsaChoice = "local") -> Ingested:
    """Adapt a recording and run it through an in-memory engine.

    ``provider`` is a key of :data:`keel_verify.adapters.ADAPTERS`. Raises
    :class:`~keel_verify.adapters.recording.RecordingError` for an unreadable recording and
    :class:`~keel_verify.emit.errors.EmitError` when the engine refuses a call.
    """
    digest = recording_digest(data)
    base = options or IngestOptions()
    options = IngestOptions(project_id=base.project_id, subject=base.subject,
                            schema_version=base.schema_version, sidecar_key=base.sidecar_key,
                            sidecar_key_id=base.sidecar_key_id, recording_sha256=digest)
    plan = ADAPTERS[provider](parse_recording_bytes(data))
    calls = plan_calls(plan, options)
    clock = RecordingClock()
    engine = Engine(MemoryStore(), issuer_key=issuer_key or demo_issuer_key(), clock=clock,
                    ids=SeededIds(f"{provider}\x00{digest}"), timestamper=make_timestamper(tsa),
                    config=EngineConfig(schema_version=options.schema_version))
    responses: list[dict[str, Any]] = []
    session_id: str | None = None
    for call in calls:
        clock.at(call.at_ns)
        response = engine.call(call.name, session_id, call.body)
        if call.name == "start":
            session_id = response["session_id"]
        responses.append(response)
    return Ingested(plan, tuple(calls), tuple(responses), responses[-1])


def load_recording(path: str) -> bytes:
    """The recording's bytes (``-``: standard input), bounded by :data:`MAX_RECORDING_BYTES`."""
    import sys

    from keel_verify.load.loader import read_input

    source = sys.stdin.buffer if path == "-" else path
    return read_input(source, max_bytes=MAX_RECORDING_BYTES)


def ledger_document(plan: SessionPlan) -> dict[str, Any]:
    """The accounting of every recording line, as JSON: what became of each event."""
    return {
        "provider": plan.provider,
        "lines": {str(line): [{"kind": d.kind, "target": d.target, "rule": d.rule}
                              for d in dispositions]
                  for line, dispositions in plan.accounting.items()},
    }


def ingest_recording(provider: str, path: str, *, schema_version: int, timestamper: Any,
                     issuer_key: Ed25519PrivateKey, sidecar_key: Ed25519PrivateKey | None,
                     project_id: str) -> tuple[dict[str, Any], bytes]:
    """The ``keel-emit ingest`` command: (artifact, ledger JSON bytes).

    Every failure is an :class:`~keel_verify.emit.errors.EmitError` with one line.
    """
    import json

    from keel_verify.emit.errors import EmitError
    from keel_verify.errors import LoadError

    try:
        data = load_recording(path)
        result = ingest_bytes(provider, data, issuer_key=issuer_key, tsa=timestamper,
                              options=IngestOptions(project_id=project_id,
                                                    schema_version=schema_version,
                                                    sidecar_key=sidecar_key))
    except (LoadError, RecordingError) as error:
        raise EmitError(1, f"{path}: {error}") from None
    except EmitError as error:
        raise EmitError(error.status, f"{path}: the engine refused the session: "
                                      f"{error.message}") from None
    ledger = json.dumps(ledger_document(result.plan), indent=1, sort_keys=True) + "\n"
    return result.artifact, ledger.encode("utf-8")
