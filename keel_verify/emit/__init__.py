"""keel-emit: a minimal server-side emitter of real, verifiable voice-session attestations.

It stands in for the Keel service locally: sessions, signed voice atoms, turns, tool-call
and action permits, interruptions, and at the end a signed, RFC 3161-timestamped
``keel.voice.attestation.phase_a`` artifact (schema version 3 by default, or 1).

Python API::

    from keel_verify.emit import build_demo_artifact, dump_artifact

    artifact = build_demo_artifact(3, tsa="local", events=10_000, text="Grüße 🎙")
    open("a.json", "wb").write(dump_artifact(artifact))

A voice sidecar talks to ``keel-emit serve`` (or the Keel service) with
:class:`SidecarClient` (``keel_verify.emit.sidecar``). See ``keel_verify/emit/README.md``
for the HTTP API, every body and answer, the client and the CLI.
"""

from keel_verify.emit.artifact import dump_artifact, write_atomically
from keel_verify.emit.clock import DEMO_START, RandomIds, SeededIds, SteppingClock, SystemClock
from keel_verify.emit.demo import (
    build_demo_artifact,
    demo_engine,
    demo_entry_count,
    demo_scenario,
    make_timestamper,
    run_scenario,
)
from keel_verify.emit.engine import Engine, EngineConfig
from keel_verify.emit.errors import EmitError
from keel_verify.emit.keys import DEMO_ISSUER_SEED, DEMO_TSA_SEED, demo_issuer_key
from keel_verify.emit.sidecar import (
    EngineTransport,
    HttpTransport,
    KeelApiError,
    SidecarClient,
    SidecarSigner,
)
from keel_verify.emit.sqlite_store import SQLiteStore
from keel_verify.emit.store import MemoryStore, Store
from keel_verify.emit.timestamping import (
    HttpTimestamper,
    LocalTestTimestamper,
    NoTimestamper,
    Timestamper,
    TimestampError,
)

__all__ = [
    "DEMO_ISSUER_SEED",
    "DEMO_START",
    "DEMO_TSA_SEED",
    "EmitError",
    "Engine",
    "EngineConfig",
    "EngineTransport",
    "HttpTimestamper",
    "HttpTransport",
    "KeelApiError",
    "LocalTestTimestamper",
    "MemoryStore",
    "NoTimestamper",
    "RandomIds",
    "SQLiteStore",
    "SeededIds",
    "SidecarClient",
    "SidecarSigner",
    "SteppingClock",
    "Store",
    "SystemClock",
    "TimestampError",
    "Timestamper",
    "build_demo_artifact",
    "demo_engine",
    "demo_entry_count",
    "demo_issuer_key",
    "demo_scenario",
    "dump_artifact",
    "make_timestamper",
    "run_scenario",
    "write_atomically",
]
