"""``artifact_schema`` (reference name): the artifact matches the JSON Schema of its
version (``schemas/attestation-v{1,3}.schema.json``, Draft 2020-12).

Chain entries are validated in the chain pass, a chunk at a time (for a long chain,
partly in its worker process): jsonschema-rs (when installed) says whether a chunk is
valid, and only a chunk it rejects is run through jsonschema, which words the errors.
The rest of the document is validated against the same schema with the chain's items
left to the pass.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from functools import cache
from itertools import islice
from typing import Any

from keel_verify.checks.base import Check, failed, passed
from keel_verify.checks.entry_problems import MAX_ENTRY_PROBLEMS
from keel_verify.context import CheckContext
from keel_verify.load import accel
from keel_verify.load.access import escape_token
from keel_verify.load.chainpass import Chunk
from keel_verify.load.loader import Artifact
from keel_verify.results import CheckResult, Outcome, shown
from keel_verify.schemas import ARTIFACT_SCHEMAS, load_schema, python_validator

NAME = "artifact_schema"
MAX_LISTED_ERRORS = 50
#: Errors collected before stopping: a hostile 100 KB chain of empty objects otherwise
#: yields half a million errors and ten seconds of work (linear in the input, but steep).
#: The bound every chain visitor shares (the entries' errors are a prefix in chain order,
#: so stopping even inside a chunk reports the same however the pass is made).
MAX_COLLECTED_ERRORS = MAX_ENTRY_PROBLEMS


@cache
def _schemas(schema_version: int) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """(document without chain items, one chain entry, an array of chain entries)."""
    full = load_schema(ARTIFACT_SCHEMAS[schema_version])
    document = copy.deepcopy(full)
    document["properties"]["chain"] = {"type": "array"}
    base = {"$schema": full["$schema"], "$defs": full["$defs"]}
    entry = {**base, "$ref": "#/$defs/chain_entry"}
    entries = {**base, "type": "array", "items": {"$ref": "#/$defs/chain_entry"}}
    return document, entry, entries


@cache
def _python_validator(schema_version: int, part: int) -> Any:
    return python_validator(_schemas(schema_version)[part])


@cache
def _fast_entries_validator(schema_version: int) -> Any:
    return accel.schema_validator(_schemas(schema_version)[2])


@cache
def _only_type_judges_non_objects(schema_version: int) -> bool:
    """Whether the chain entry schema's ``type: object`` is all that judges a value that
    is not an object (its other keywords, ``required`` and ``properties``, apply to
    objects only): then such an entry has exactly one error, worded as :func:`_message`
    words jsonschema's (else jsonschema judges every entry)."""
    entry = _schemas(schema_version)[0]["$defs"]["chain_entry"]
    judged = set(entry) - {"title", "description"}
    return judged <= {"type", "required", "properties"} and entry.get("type") == "object"


def _type_message(instance: Any, types: Any) -> str:
    """jsonschema's "type" message (``<repr> is not of type 't1', 't2'``) with the value
    in JSON terms for null, true, false, arrays and objects (:func:`shown`), written no
    further than shown, and its Python repr otherwise, as jsonschema writes it (for a
    string or number, whole: Python picks a string's quotes from all of it)."""
    written = (shown(instance) if instance is None or isinstance(instance, (bool, list, dict))
               else repr(instance))
    kinds = types if isinstance(types, list) else [types]
    return (written + " is not of type " + ", ".join(repr(kind) for kind in kinds))[:300]


def _not_an_object(entry: Any) -> str:
    """The reason for an entry that is not an object (see
    :func:`_only_type_judges_non_objects`)."""
    return _type_message(entry, "object")


def _pointer(path: Any) -> str:
    return "".join(f"/{escape_token(token)}" for token in path)


def _message(error: Any) -> str:
    # {"not": {}} is how the schemas forbid a member (a bare `false` subschema would lose
    # the member's path in jsonschema's errors); say so plainly.
    if error.validator == "not" and error.validator_value == {}:
        return "member is not allowed here"
    message = str(error.message)
    # jsonschema starts some messages with the instance's Python repr: say null, true,
    # false, arrays and objects as JSON does (shortened). The repr of an array or object is
    # longer than its item count and starts with its bracket, so a message that is shorter
    # or starts otherwise cannot start with it: a huge entry is not written out again for
    # every error about it ("type" errors, which do start with it, are worded here).
    instance = error.instance
    if error.validator == "type" and isinstance(instance, (list, dict)):
        return _type_message(instance, error.validator_value)
    opening = "[" if isinstance(instance, list) else "{"
    if instance is None or isinstance(instance, bool) or (
            isinstance(instance, (list, dict)) and len(message) > len(instance)
            and message.startswith(opening)):
        written = repr(instance)
        if message.startswith(written):
            message = shown(instance) + message[len(written):]
    return message[:300]


class EntrySchema:
    """Folds over the chain: every entry against ``$defs/chain_entry``."""

    def __init__(self, artifact: Artifact) -> None:
        self.version = artifact.schema_version
        self.fast = accel.fast_schema_available()
        self.errors: list[tuple[str, str, str]] = []  # (sort key, pointer, problem)

    def chunk_is_valid(self, entries: Sequence[Any]) -> bool:
        if not self.fast:
            return False
        try:  # the validator takes a list (entries decoded when asked for are decoded)
            listed = entries if isinstance(entries, list) else list(entries)
            return bool(_fast_entries_validator(self.version).is_valid(listed))
        except Exception:  # e.g. an integer beyond 64 bits: let jsonschema judge it
            return False

    def visit(self, chunk: Chunk) -> None:
        if len(self.errors) >= MAX_COLLECTED_ERRORS or self.chunk_is_valid(chunk.entries):
            return
        validator = _python_validator(self.version, 1)
        only_type = _only_type_judges_non_objects(self.version)
        for offset, entry in enumerate(chunk.entries):
            prefix = f"/chain/{chunk.first + offset}"
            if only_type and type(entry) is not dict:  # its one error, worded directly
                self.errors.append((prefix, prefix, _not_an_object(entry)))
                if len(self.errors) >= MAX_COLLECTED_ERRORS:
                    return
                continue
            room = MAX_COLLECTED_ERRORS - len(self.errors)
            for error in islice(validator.iter_errors(entry), room):
                pointer = prefix + _pointer(error.absolute_path)
                self.errors.append((pointer, pointer, _message(error)))
            if len(self.errors) >= MAX_COLLECTED_ERRORS:
                return

    def stops_before(self, _first: int) -> bool:
        return len(self.errors) >= MAX_COLLECTED_ERRORS

    # Sharding (keel_verify.load.shards): nothing carries over between chunks.
    def carried(self) -> object:
        return None

    def seed(self, previous: Any) -> None:
        pass

    def absorb(self, later: EntrySchema) -> None:
        self.errors = (self.errors + later.errors)[:MAX_COLLECTED_ERRORS]


def run(context: CheckContext) -> CheckResult:
    artifact = context.artifact
    schema_file = ARTIFACT_SCHEMAS[artifact.schema_version]
    document = artifact.document
    if artifact.chain is not None:  # its items are judged in the pass
        # A clone (copy() clones even a dict with a hole where the loader took the chain
        # out; {**document} would re-insert a million members one by one).
        document = document.copy()
        document["chain"] = []
    entry_errors: list[tuple[str, str, str]] = context.chain.visitor(NAME).errors
    document_errors = [] if accel.proven_valid(_schemas(artifact.schema_version)[0], document) else [
        (_pointer(error.absolute_path), _pointer(error.absolute_path), _message(error))
        for error in islice(_python_validator(artifact.schema_version, 0).iter_errors(document),
                            MAX_COLLECTED_ERRORS)
    ]
    errors = sorted(document_errors + entry_errors)[:MAX_COLLECTED_ERRORS]
    if not errors:
        return passed(NAME, f"matches {schema_file}", schema=schema_file)
    listed = [{"pointer": pointer, "problem": problem} for _, pointer, problem in errors]
    first = listed[0]
    capped = len(errors) == MAX_COLLECTED_ERRORS
    more = f" (and {'at least ' if capped else ''}{len(errors) - 1} more)" if len(errors) > 1 else ""
    return failed(
        NAME,
        f"does not match {schema_file}: at {first['pointer'] or '/'}: {first['problem']}{more}",
        first["pointer"],
        code="invalid",
        schema=schema_file,
        errors=listed[:MAX_LISTED_ERRORS],
        error_count=len(errors),
        error_count_capped=capped,
    )


CHECK = Check(
    NAME, run, "structure matches the JSON Schema of the artifact's version", EntrySchema,
    codes={
        "ok": (Outcome.PASS, "the artifact matches the JSON Schema of its schema_version"),
        "invalid": (Outcome.FAIL, "the artifact does not match the JSON Schema of its schema_version"),
    },
)
