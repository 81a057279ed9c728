"""The OpenAPI 3.1 document: shipped file == served document == generated from the
declared bodies; every route's real answers (and error answers) validate against it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from keel_verify.emit import demo_scenario
from keel_verify.emit.openapi import OPERATIONS, document, document_bytes
from keel_verify.emit.server import ROUTES
from tests.test_emit_server import Running, make_engine
from tests.test_emit_support import ROOT

pytestmark = pytest.mark.loopback

SHIPPED = ROOT / "schemas" / "keel-emit-openapi.json"


def validator(schema_name: str) -> Draft202012Validator:
    doc = document()
    registry: Registry[Any] = Registry().with_resource(
        "urn:keel-emit:openapi", Resource.from_contents(doc, default_specification=DRAFT202012))
    schema = {"$ref": f"urn:keel-emit:openapi#/components/schemas/{schema_name}"}
    return Draft202012Validator(schema, registry=registry)


def check(schema_name: str, value: Any) -> None:
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in
              validator(schema_name).iter_errors(value)]
    assert errors == [], (schema_name, errors[:5])


def test_shipped_document_is_the_generated_one() -> None:
    assert SHIPPED.read_bytes() == document_bytes(), (
        "regenerate it: keel-emit openapi -o schemas/keel-emit-openapi.json")
    doc = json.loads(SHIPPED.read_bytes())
    assert doc["openapi"] == "3.1.0"
    Draft202012Validator.check_schema({"$defs": doc["components"]["schemas"]})


def test_every_route_is_documented() -> None:
    served = {(method.lower(), pattern.pattern) for method, pattern, _ in ROUTES}
    documented = {op.method for op in OPERATIONS}
    assert documented == {"get", "post"}
    names = {name for _, _, name in ROUTES}
    assert names == {op.name for op in OPERATIONS} | {"openapi"}
    assert len(served) == len(ROUTES)
    assert set(document()["paths"]) >= {op.path for op in OPERATIONS}


def test_real_answers_match_the_document(tmp_path: Path) -> None:
    server = Running(make_engine(tmp_path / "emit.db"))
    client = server.client
    try:
        status, _, served = client.raw("GET", "/openapi.json", None)
        assert status == 200 and served == document_bytes()
        answers: dict[str, list[Any]] = {}
        session_id = ""
        for step in demo_scenario(3):
            answer = client.ok(step["call"], step["body"], session_id)
            answers.setdefault(step["call"], []).append(answer)
            if step["call"] == "start":
                session_id = answer["session_id"]
        _, _, view = client.raw("GET", f"/v1/sessions/{session_id}", None)
        _, _, artifact = client.raw("GET", f"/v1/sessions/{session_id}/attestation", None)
        _, _, health = client.raw("GET", "/healthz", None)
        status, error = client.post("turns", {"input_tokens": "x"}, session_id)
    finally:
        server.stop()
    names = {"start": "StartAnswer", "events": "EventsAnswer", "turns": "TurnAnswer",
             "action_permits": "ActionPermitAnswer",
             "interruption_events": "InterruptionAnswer", "end": "EndAnswer"}
    for call, schema_name in names.items():
        for answer in answers[call]:
            check(schema_name, answer)
    check("SessionAnswer", json.loads(view))
    check("AttestationArtifact", json.loads(artifact))
    assert json.loads(artifact) == answers["end"][0]["attestation_artifact"]
    check("Health", json.loads(health))
    assert status == 422
    check("ErrorAnswer", error)


@pytest.mark.parametrize(("schema_name", "body"), [
    (op.body.__name__, step["body"]) for op in OPERATIONS if op.body is not None
    for step in demo_scenario(3) if step["call"] == op.name
])
def test_demo_bodies_match_the_document(schema_name: str, body: Any) -> None:
    check(schema_name, body)
