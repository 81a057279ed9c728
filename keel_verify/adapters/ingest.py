"""``keel-emit ingest``: a provider recording -> a signed Keel voice-session attestation.

The recording's plan is sent through the sidecar client
(:class:`keel_verify.emit.sidecar.SidecarClient`), which signs the atoms when a sidecar
key is given, batches them and derives batch keys:

* in process (the default), to a keel-emit engine in memory, with a clock that follows
  the recording (each call happens at the recording time of its events, in whole
  seconds, never going back) and ids seeded by the recording's hash, so the same
  recording always gives the same artifact bytes. With a remote TSA (an ``http(s)`` URL)
  the end happens at the system time instead, since the TSA stamps the real time;
* with an endpoint, over HTTP to any Keel-compatible API (keel-emit serve or the service).
"""

from __future__ import annotations

import hashlib
import json
import sys
from dataclasses import dataclass, field, replace
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
from keel_verify.emit.errors import EmitError
from keel_verify.emit.keys import demo_issuer_key
from keel_verify.emit.sidecar import (
    EngineTransport,
    HttpTransport,
    KeelApiError,
    SidecarClient,
    SidecarSigner,
    Transport,
)
from keel_verify.emit.store import MemoryStore
from keel_verify.errors import LoadError
from keel_verify.load.loader import read_input

MAX_RECORDING_BYTES = 1024 * 1024 * 1024  # 1 GiB of JSON Lines
SIDECAR_KEY_ID = "ingest-sidecar"


@dataclass
class RecordingClock:
    """The engine's clock during an ingest: the recording time of the current call,
    truncated to whole seconds and never earlier than a previous reading."""

    _current: datetime = field(default=datetime(1970, 1, 1, tzinfo=UTC))
    _last: datetime = field(default=datetime(1970, 1, 1, tzinfo=UTC))

    def at(self, ns: int) -> None:
        self._current = datetime.fromtimestamp(ns // 1_000_000_000, tz=UTC)

    def at_system_time(self) -> None:
        self._current = datetime.now(UTC).replace(microsecond=0)

    def now(self) -> datetime:
        self._last = max(self._last, self._current)
        return self._last


@dataclass(frozen=True)
class Ingested:
    plan: SessionPlan
    calls: tuple[Call, ...]
    end_answer: dict[str, Any]

    @property
    def artifact(self) -> dict[str, Any]:
        artifact: dict[str, Any] = self.end_answer["attestation_artifact"]
        return artifact


def recording_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def run_calls(calls: list[Call], client: SidecarClient,
              clock: RecordingClock | None = None, *, end_now: bool = False
              ) -> dict[str, Any]:
    """Send ``calls`` through ``client`` in order; the end call's answer. ``end_now``:
    the end happens at the system time (a remote TSA stamps the real time)."""
    answer: dict[str, Any] = {}
    for call in calls:
        if clock is not None and end_now and call.name == "end":
            clock.at_system_time()
        elif clock is not None:
            clock.at(call.at_ns)
        if call.name == "events":
            client.send(call.body["atoms"])
        elif call.name == "start":
            client.start(call.body)
        elif call.name == "turns":
            client.turn(call.body)
        elif call.name == "action_permits":
            client.action_permit(call.body)
        elif call.name == "interruption_events":
            client.interruption(call.body)
        else:
            answer = client.end(call.body)
    return answer


def ingest_bytes(provider: str, data: bytes, *, options: IngestOptions | None = None,
                 issuer_key: Ed25519PrivateKey | None = None, tsa: TsaChoice = "local",
                 sidecar_key: Ed25519PrivateKey | None = None,
                 transport: Transport | None = None) -> Ingested:
    """Adapt a recording and record it as one Keel session.

    Without ``transport``, an in-memory engine signs with ``issuer_key`` (default: the
    public TEST key) and witnesses with ``tsa``. ``provider`` is a key of
    :data:`keel_verify.adapters.ADAPTERS`. Raises
    :class:`~keel_verify.adapters.recording.RecordingError` for an unreadable recording,
    and :class:`~keel_verify.emit.sidecar.KeelApiError` when the API refuses a call.
    """
    digest = recording_digest(data)
    options = replace(options or IngestOptions(), recording_sha256=digest)
    plan = ADAPTERS[provider](parse_recording_bytes(data))
    calls = plan_calls(plan, options)
    clock = None
    if transport is None:
        clock = RecordingClock()
        transport = EngineTransport(Engine(
            MemoryStore(), issuer_key=issuer_key or demo_issuer_key(), clock=clock,
            ids=SeededIds(f"{provider}\x00{digest}"), timestamper=make_timestamper(tsa),
            config=EngineConfig(schema_version=options.schema_version)))
    signer = None if sidecar_key is None else SidecarSigner(sidecar_key, SIDECAR_KEY_ID)
    remote_tsa = isinstance(tsa, str) and tsa.startswith(("http://", "https://"))
    answer = run_calls(calls, SidecarClient(transport, signer), clock, end_now=remote_tsa)
    return Ingested(plan, tuple(calls), answer)


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
                     project_id: str, endpoint: str | None = None,
                     api_key: str | None = None) -> tuple[dict[str, Any], bytes]:
    """The ``keel-emit ingest`` command: (artifact, ledger JSON bytes).

    Every failure is an :class:`~keel_verify.emit.errors.EmitError` with one line.
    """
    transport = None if endpoint is None else HttpTransport(endpoint, api_key or "")
    try:
        data = read_input(sys.stdin.buffer if path == "-" else path,
                          max_bytes=MAX_RECORDING_BYTES, json_object=False)  # JSON Lines
        result = ingest_bytes(provider, data, issuer_key=issuer_key, tsa=timestamper,
                              sidecar_key=sidecar_key, transport=transport,
                              options=IngestOptions(project_id=project_id,
                                                    schema_version=schema_version))
    except (LoadError, RecordingError) as error:
        raise EmitError(1, f"{path}: {error}") from None
    except KeelApiError as error:
        where = endpoint or "the engine"
        raise EmitError(1, f"{path}: {where} refused the session: {error}") from None
    except OSError as error:  # the endpoint did not answer
        raise EmitError(1, f"{endpoint}: {error.strerror or error}") from None
    ledger = json.dumps(ledger_document(result.plan), indent=1, sort_keys=True) + "\n"
    return result.artifact, ledger.encode("utf-8")
