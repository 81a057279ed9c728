"""A voice sidecar's client for the Keel realtime-voice API (keel-emit or the service).

It builds atoms, signs them with the sidecar's Ed25519 key (the signed bytes are in
:mod:`keel_verify.emit.atom_signing`), sends them in batches of at most 100 with
idempotency keys derived from their content, retries safely, and ends the session::

    from keel_verify.emit.sidecar import HttpTransport, SidecarClient, SidecarSigner, atom

    signer = SidecarSigner.generate("sidecar-1")
    client = SidecarClient(HttpTransport("http://127.0.0.1:8787", api_key="..."), signer)
    client.start(start_body)                   # registers the sidecar key with the session
    client.send([atom("transcript_span", "evt-1", 1780513202000000000,
                      {"text": "Hello", "language": "en"}, direction="inbound")])
    client.turn({"input_tokens": 280, "output_tokens": 120, "risk_budget_used_micros": 4500})
    artifact = client.end({"usage_metrics": [{"meter": "realtime_minutes", "quantity": 3}]})
    # artifact["attestation_artifact"] is the signed keel.voice.attestation.phase_a

Safe retries: every call it makes carries an idempotency key derived from its content
(a batch's key from its atoms' keys; a turn's from its ordinal and body), so repeating a
call whose answer was lost returns the first answer and appends nothing. ``end`` is
retried with the same body, which the API answers with the same artifact.
"""

from __future__ import annotations

import hashlib
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from keel_verify.emit import atom_signing
from keel_verify.emit.bodies import MAX_BATCH_ATOMS
from keel_verify.emit.clock import format_time
from keel_verify.emit.signing import ed25519_key_from_seed, encoded_public_key

ROUTES = {
    "start": "/v1/sessions",
    "events": "/v1/voice/sessions/{id}/events",
    "turns": "/v1/sessions/{id}/turns",
    "action_permits": "/v1/sessions/{id}/action-permits",
    "interruption_events": "/v1/sessions/{id}/interruption-events",
    "end": "/v1/sessions/{id}/end",
}
#: Statuses worth retrying: the request may not have been applied, or was, and the
#: idempotency key makes the retry harmless.
RETRYABLE = frozenset({408, 429, 500, 502, 503, 504})


class KeelApiError(Exception):
    """A refused call: ``status`` (HTTP) and ``message`` (the answer's error.message)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.message = message


class Transport(Protocol):
    def call(self, name: str, session_id: str | None, body: dict[str, Any]) -> dict[str, Any]:
        """Run API call ``name`` (a key of :data:`ROUTES`); raise :class:`KeelApiError`."""
        ...


@dataclass
class HttpTransport:
    """JSON over HTTP(S) with ``Authorization: Bearer``; retries connection failures and
    the :data:`RETRYABLE` statuses up to ``attempts`` times with exponential backoff."""

    base_url: str
    api_key: str
    timeout: float = 60.0
    attempts: int = 4
    backoff: float = 0.25
    sleep: Callable[[float], None] = time.sleep

    def call(self, name: str, session_id: str | None, body: dict[str, Any]) -> dict[str, Any]:
        path = ROUTES[name].format(id=session_id or "")
        data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        for attempt in range(1, self.attempts + 1):
            try:
                return self._post(path, data)
            except KeelApiError as error:
                if error.status not in RETRYABLE or attempt == self.attempts:
                    raise
            except OSError:  # refused, reset, timed out: the call may or may not have run
                if attempt == self.attempts:
                    raise
            self.sleep(self.backoff * 2 ** (attempt - 1))
        raise AssertionError("unreachable")  # pragma: no cover

    def _post(self, path: str, data: bytes) -> dict[str, Any]:
        request = urllib.request.Request(
            self.base_url.rstrip("/") + path, data=data, method="POST",
            headers={"Content-Type": "application/json",
                     "Authorization": f"Bearer {self.api_key}"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as reply:
                answer: dict[str, Any] = json.loads(reply.read())
                return answer
        except urllib.error.HTTPError as error:
            raw = error.read()
            try:
                message = json.loads(raw)["error"]["message"]
            except (ValueError, KeyError, TypeError):
                message = raw[:200].decode("utf-8", "replace") or str(error.reason)
            raise KeelApiError(error.code, str(message)) from None


@dataclass
class EngineTransport:
    """Calls an in-process :class:`~keel_verify.emit.engine.Engine` (demo, replay, tests)."""

    engine: Any

    def call(self, name: str, session_id: str | None, body: dict[str, Any]) -> dict[str, Any]:
        from keel_verify.emit.errors import EmitError

        try:
            answer: dict[str, Any] = self.engine.call(name, session_id, body)
            return answer
        except EmitError as error:
            raise KeelApiError(error.status, error.message) from None


@dataclass(frozen=True)
class SidecarSigner:
    """The sidecar's Ed25519 key and the ``key_id`` it is registered under."""

    key: Ed25519PrivateKey
    key_id: str

    @classmethod
    def generate(cls, key_id: str) -> SidecarSigner:
        return cls(Ed25519PrivateKey.generate(), key_id)

    @classmethod
    def from_seed(cls, seed: bytes, key_id: str) -> SidecarSigner:
        """A deterministic key (SHA-256 of ``seed``): for tests and demos only."""
        return cls(ed25519_key_from_seed(seed), key_id)

    def registration(self) -> dict[str, str]:
        """The start body's ``sidecar_keys`` entry."""
        return {"key_id": self.key_id, "public_key": encoded_public_key(self.key)}

    def sign(self, atom_json: dict[str, Any], *, session_id: str, signed_at: str
             ) -> dict[str, Any]:
        """``atom_json`` with this key's signature appended to its ``signatures``."""
        entry = atom_signing.sign(atom_json, self.key, key_id=self.key_id,
                                  session_id=session_id, signed_at=signed_at)
        return {**atom_json, "signatures": [*atom_json.get("signatures", []), entry]}


def atom(atom_type: str, idempotency_key: str, captured_at_ns: int | str,
         payload: dict[str, Any], *, direction: str | None = None) -> dict[str, Any]:
    """One voice atom in the public shape (no signatures yet)."""
    built: dict[str, Any] = {"atom_type": atom_type, "idempotency_key": idempotency_key,
                             "captured_at_ns": captured_at_ns, "payload": payload}
    if direction is not None:
        built["direction"] = direction
    return built


def start_body(project_id: str, idempotency_key: str, *, user_id: str, request_id: str,
               provider: str = "openai", model: str = "gpt-4o-realtime-preview",
               execution_mode: str = "realtime", metadata: dict[str, Any] | None = None,
               risk_budget_total_micros: int | None = None) -> dict[str, Any]:
    """A ``POST /v1/sessions`` body in the public shape (the session-start permit)."""
    body: dict[str, Any] = {
        "permit": {
            "project_id": project_id,
            "idempotency_key": idempotency_key,
            "subject": {"type": "user", "id": user_id},
            "action": {"name": "realtime.session"},
            "resource": {"type": "request", "id": request_id, "attributes": {
                "provider": provider, "model": model, "operation": "realtime.session",
                "execution_mode": execution_mode}},
        },
        "metadata": metadata or {},
    }
    if risk_budget_total_micros is not None:
        body["risk_budget_total_micros"] = risk_budget_total_micros
    return body


def signed_at_of(captured_at_ns: int | str) -> str:
    """The default ``signed_at``: the capture time, whole seconds (deterministic)."""
    return format_time(datetime.fromtimestamp(int(captured_at_ns) // 1_000_000_000, UTC))


def batch_key(session_id: str, atoms: list[dict[str, Any]]) -> str:
    """A batch's idempotency key, derived from the session and its atoms' keys: the same
    batch always gets the same key, so a retry is recognised."""
    digest = hashlib.sha256("\x00".join([session_id, *(a["idempotency_key"] for a in atoms)])
                            .encode("utf-8")).hexdigest()
    return f"batch_{digest[:32]}"


def batches(atoms: Iterable[dict[str, Any]], size: int = MAX_BATCH_ATOMS
            ) -> Iterator[list[dict[str, Any]]]:
    """``atoms`` in lists of at most ``size`` (the API takes at most 100 per batch)."""
    if not 1 <= size <= MAX_BATCH_ATOMS:
        raise ValueError(f"batch size must be 1..{MAX_BATCH_ATOMS}")
    batch: list[dict[str, Any]] = []
    for item in atoms:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


@dataclass
class SidecarClient:
    """One session at a time: :meth:`start`, then :meth:`send` / :meth:`turn` /
    :meth:`action_permit` / :meth:`interruption`, then :meth:`end`."""

    transport: Transport
    signer: SidecarSigner | None = None
    signed_at: Callable[[int | str], str] = signed_at_of
    session_id: str | None = None
    _ordinal: int = field(default=0, init=False)

    def _call(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        return self.transport.call(name, self.session_id, body)

    def _keyed(self, kind: str, body: dict[str, Any]) -> dict[str, Any]:
        """``body`` with a deterministic ``idempotency_key`` unless it has one."""
        if "idempotency_key" in body:
            return body
        self._ordinal += 1
        digest = hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False)
                                .encode("utf-8")).hexdigest()[:16]
        return {**body, "idempotency_key": f"{kind}_{self._ordinal:06d}_{digest}"}

    def start(self, body: dict[str, Any]) -> dict[str, Any]:
        """Start a session; the signer's key is added to ``sidecar_keys``."""
        if self.signer is not None:
            keys = [k for k in body.get("sidecar_keys", []) if k["key_id"] != self.signer.key_id]
            body = {**body, "sidecar_keys": [*keys, self.signer.registration()]}
        self.session_id = None
        answer = self.transport.call("start", None, body)
        self.session_id = answer["session_id"]
        self._ordinal = 0
        return answer

    def sign(self, atom_json: dict[str, Any]) -> dict[str, Any]:
        if self.signer is None or self.session_id is None:
            return atom_json
        return self.signer.sign(atom_json, session_id=self.session_id,
                                signed_at=self.signed_at(atom_json["captured_at_ns"]))

    def send(self, atoms: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
        """Sign and send ``atoms`` in batches of at most 100; the batches' answers."""
        answers = []
        for batch in batches(self.sign(a) for a in atoms):
            answers.append(self.send_batch(batch))
        return answers

    def send_batch(self, atoms: list[dict[str, Any]], key: str | None = None
                   ) -> dict[str, Any]:
        """One batch as given (already signed), under ``key`` or the derived key."""
        assert self.session_id is not None, "start a session first"
        return self._call("events", {"batch_idempotency_key": key or batch_key(
            self.session_id, atoms), "events": atoms})

    def turn(self, body: dict[str, Any]) -> dict[str, Any]:
        return self._call("turns", self._keyed("turn", body))

    def action_permit(self, body: dict[str, Any]) -> dict[str, Any]:
        return self._call("action_permits", self._keyed("action", body))

    def interruption(self, body: dict[str, Any]) -> dict[str, Any]:
        return self._call("interruption_events", self._keyed("interruption", body))

    def end(self, body: dict[str, Any] | None = None) -> dict[str, Any]:
        """End the session; the answer carries ``attestation_artifact``."""
        return self._call("end", body or {})

    def call(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        """Any call by name with ``body`` as given (scenario replay)."""
        if name == "start":
            return self.start(body)
        return self._call(name, body)
