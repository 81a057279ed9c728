"""``artifact_schema`` (reference name): the artifact matches the JSON Schema of its
version (``schemas/attestation-v{1,3}.schema.json``, Draft 2020-12)."""

from __future__ import annotations

from functools import cache
from itertools import islice
from typing import Any

from keel_verify.access import escape_token
from keel_verify.checks.base import Check, failed, passed
from keel_verify.context import CheckContext
from keel_verify.results import CheckResult
from keel_verify.schemas import ARTIFACT_SCHEMAS, load_schema

NAME = "artifact_schema"
MAX_LISTED_ERRORS = 50
#: Errors collected before stopping: a hostile 100 KB chain of empty objects otherwise
#: yields half a million errors and ten seconds of work (linear in the input, but steep).
MAX_COLLECTED_ERRORS = 1000


@cache
def _validator(schema_version: int) -> Any:
    from jsonschema import Draft202012Validator  # deferred: costly import

    return Draft202012Validator(load_schema(ARTIFACT_SCHEMAS[schema_version]))


def _pointer(path: Any) -> str:
    return "".join(f"/{escape_token(token)}" for token in path)


def _message(error: Any) -> str:
    # {"not": {}} is how the schemas forbid a member (a bare `false` subschema would lose
    # the member's path in jsonschema's errors); say so plainly.
    if error.validator == "not" and error.validator_value == {}:
        return "member is not allowed here"
    return str(error.message)[:300]


def run(context: CheckContext) -> CheckResult:
    artifact = context.artifact
    schema_file = ARTIFACT_SCHEMAS[artifact.schema_version]
    errors = sorted(
        islice(_validator(artifact.schema_version).iter_errors(artifact.document),
               MAX_COLLECTED_ERRORS),
        key=lambda error: (list(map(str, error.absolute_path)), error.message),
    )
    if not errors:
        return passed(NAME, f"matches {schema_file}", schema=schema_file)
    listed = [
        {"pointer": _pointer(error.absolute_path), "problem": _message(error)}
        for error in errors[:MAX_LISTED_ERRORS]
    ]
    first = listed[0]
    capped = len(errors) == MAX_COLLECTED_ERRORS
    more = f" (and {'at least ' if capped else ''}{len(errors) - 1} more)" if len(errors) > 1 else ""
    return failed(
        NAME,
        f"does not match {schema_file}: at {first['pointer'] or '/'}: {first['problem']}{more}",
        first["pointer"],
        schema=schema_file,
        errors=listed,
        error_count=len(errors),
        error_count_capped=capped,
    )


CHECK = Check(NAME, run, "structure matches the JSON Schema of the artifact's version")
