"""The OpenAPI 3.1 document of ``keel-emit serve``, derived from the declared bodies.

Served at ``GET /openapi.json`` and shipped as ``schemas/keel-emit-openapi.json`` (a test
keeps the two equal, and checks the server's real answers against it). OpenAPI 3.1
schemas are JSON Schema 2020-12, so any JSON Schema validator can check a body with it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import msgspec

from keel_verify.emit import bodies as b

OPENAPI_VERSION = "3.1.0"
REF = "#/components/schemas/{name}"


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    name: str  # operationId; for POST routes also the engine call's name
    summary: str
    body: type | None
    answer: type
    errors: tuple[int, ...]
    authenticated: bool = True
    public: bool = True  # False: a keel-emit design where the guide publishes no members


SESSION_ERRORS = (400, 401, 404, 409, 413, 422)
OPERATIONS: tuple[Operation, ...] = (
    Operation("post", "/v1/sessions", "start", "Start a realtime voice session",
              b.StartBody, b.StartAnswer, (400, 401, 409, 413, 422)),
    Operation("post", "/v1/voice/sessions/{session_id}/events", "events",
              "Ingest a batch of at most 100 signed voice atoms", b.EventsBody, b.EventsAnswer,
              SESSION_ERRORS),
    Operation("post", "/v1/sessions/{session_id}/turns", "turns",
              "Evaluate a turn (and its optional tool call) against the locked policy",
              b.TurnBody, b.TurnAnswer, SESSION_ERRORS),
    Operation("post", "/v1/sessions/{session_id}/action-permits", "action_permits",
              "Request a child permit for a tool call outside a turn", b.ActionPermitBody,
              b.ActionPermitAnswer, SESSION_ERRORS, public=False),
    Operation("post", "/v1/sessions/{session_id}/interruption-events", "interruption_events",
              "Record signed interruption evidence", b.InterruptionBody, b.InterruptionAnswer,
              SESSION_ERRORS, public=False),
    Operation("post", "/v1/sessions/{session_id}/end", "end",
              "End the session; the answer carries the signed attestation artifact",
              b.EndBody, b.EndAnswer, SESSION_ERRORS),
    Operation("get", "/v1/sessions/{session_id}", "get_session",
              "The session's state and counters", None, b.SessionAnswer, (401, 404)),
    Operation("get", "/v1/sessions/{session_id}/attestation", "get_attestation",
              "The ended session's attestation artifact", None, b.AttestationArtifact,
              (401, 404, 409)),
    Operation("get", "/healthz", "health", "Liveness (no authentication)", None, b.Health, (),
              authenticated=False),
)


def document() -> dict[str, Any]:
    """The OpenAPI 3.1 document (a plain JSON value)."""
    types: list[Any] = [b.ErrorAnswer]
    for op in OPERATIONS:
        types.extend(t for t in (op.body, op.answer) if t is not None)
    _, components = msgspec.json.schema_components(types, ref_template=REF)
    paths: dict[str, Any] = {}
    for op in OPERATIONS:
        item: dict[str, Any] = {
            "operationId": op.name,
            "summary": op.summary,
            "responses": {"200": {"description": "OK", "content": {"application/json": {
                "schema": {"$ref": REF.format(name=op.answer.__name__)}}}}},
        }
        if not op.public:
            item["description"] = ("keel-emit's design: the public guide publishes no "
                                   "members for this route.")
        if op.body is not None:
            item["requestBody"] = {"required": True, "content": {"application/json": {
                "schema": {"$ref": REF.format(name=op.body.__name__)}}}}
        if "{session_id}" in op.path:
            item["parameters"] = [{"name": "session_id", "in": "path", "required": True,
                                   "schema": {"type": "string"}}]
        if not op.authenticated:
            item["security"] = []
        for status in op.errors:
            item["responses"][str(status)] = {
                "description": _ERROR_MEANING[status],
                "content": {"application/json": {"schema": {"$ref": REF.format(
                    name="ErrorAnswer")}}}}
        paths.setdefault(op.path, {})[op.method] = item
    paths["/openapi.json"] = {"get": {
        "operationId": "openapi", "summary": "This document", "security": [],
        "responses": {"200": {"description": "OK", "content": {"application/json": {
            "schema": {"type": "object"}}}}}}}
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "keel-emit: a local stand-in for the Keel realtime-voice API",
            "version": "1",
            "description": ("Routes, bodies and answers of `keel-emit serve`. Bodies are "
                            "strict: an unknown member is refused (422) and named."),
        },
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "description": "The server's --api-key."}},
        },
    }


_ERROR_MEANING = {
    400: "Not strict JSON, or a bad Content-Length",
    401: "Missing or wrong API key",
    404: "Unknown session",
    409: "Session ended, budget exhausted, or an idempotency key reused with another body",
    413: "Body over the size limit, or more than 100 atoms",
    422: "Well-formed JSON that breaks a rule (the message names the member)",
}


def document_bytes() -> bytes:
    """The document as shipped: indented, keys in declaration order, trailing newline."""
    return (json.dumps(document(), ensure_ascii=False, indent=2) + "\n").encode("utf-8")
