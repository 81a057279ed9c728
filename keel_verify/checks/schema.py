"""``artifact_schema`` (reference name): the artifact matches the JSON Schema of its
version (``schemas/attestation-v{1,3}.schema.json``, Draft 2020-12).

Chain entries are validated in the chain pass, a chunk at a time: jsonschema-rs (when
installed) says whether a chunk is valid, and only a chunk it rejects is run through
jsonschema, which words the errors. The rest of the document is validated against the
same schema with the chain's items left to the pass.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import signal
from functools import cache
from itertools import islice
from typing import Any

from keel_verify.checks.base import Check, failed, passed
from keel_verify.context import CheckContext
from keel_verify.load import accel
from keel_verify.load.access import escape_token
from keel_verify.load.chainpass import CHUNK_ENTRIES, Chunk
from keel_verify.load.loader import Artifact
from keel_verify.results import CheckResult, Outcome
from keel_verify.schemas import ARTIFACT_SCHEMAS, load_schema

NAME = "artifact_schema"
MAX_LISTED_ERRORS = 50
#: Errors collected before stopping: a hostile 100 KB chain of empty objects otherwise
#: yields half a million errors and ten seconds of work (linear in the input, but steep).
MAX_COLLECTED_ERRORS = 1000


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
    from jsonschema import Draft202012Validator  # deferred: costly import

    return Draft202012Validator(_schemas(schema_version)[part])


@cache
def _fast_entries_validator(schema_version: int) -> Any:
    return accel.schema_validator(_schemas(schema_version)[2])


def _pointer(path: Any) -> str:
    return "".join(f"/{escape_token(token)}" for token in path)


def _message(error: Any) -> str:
    # {"not": {}} is how the schemas forbid a member (a bare `false` subschema would lose
    # the member's path in jsonschema's errors); say so plainly.
    if error.validator == "not" and error.validator_value == {}:
        return "member is not allowed here"
    return str(error.message)[:300]


class EntrySchema:
    """Folds over the chain: every entry against ``$defs/chain_entry``.

    A long chain read on the fast path is validated in a forked child instead, in
    parallel with the rest of the pass: the child shares the input bytes (copy on
    write), decodes and validates every chunk, and sends back only the capped error
    list. If the child cannot deliver, the entries are validated here after all."""

    def __init__(self, artifact: Artifact) -> None:
        self.version = artifact.schema_version
        self.fast = accel.fast_schema_available()
        self.errors_found: list[tuple[str, str, str]] = []  # (sort key, pointer, problem)
        self.child: ChildValidation | None = None
        # The chain's raw slices (fast path only): what the child, or the fallback, decodes.
        self.raw_items = artifact.chain.raw_items if artifact.chain is not None else None
        if self.fast and self.raw_items is not None and len(self.raw_items) >= PARALLEL_MIN_ENTRIES:
            self.child = ChildValidation.start(self)

    @property
    def errors(self) -> list[tuple[str, str, str]]:
        if self.child is not None:
            found = self.child.collect()
            self.child = None
            if found is None:  # the child failed: nothing was judged, judge here
                self.fallback_chunks()
            else:
                self.errors_found = found
        return self.errors_found

    def chunk_is_valid(self, entries: list[Any]) -> bool:
        if not self.fast:
            return False
        try:
            return bool(_fast_entries_validator(self.version).is_valid(entries))
        except Exception:  # e.g. an integer beyond 64 bits: let jsonschema judge it
            return False

    def visit(self, chunk: Chunk) -> None:
        if self.child is None:
            self.judge(chunk.first, chunk.entries)

    def judge(self, first: int, entries: list[Any]) -> None:
        if len(self.errors_found) >= MAX_COLLECTED_ERRORS or self.chunk_is_valid(entries):
            return
        validator = _python_validator(self.version, 1)
        for offset, entry in enumerate(entries):
            prefix = f"/chain/{first + offset}"
            room = MAX_COLLECTED_ERRORS - len(self.errors_found)
            for error in islice(validator.iter_errors(entry), room):
                pointer = prefix + _pointer(error.absolute_path)
                self.errors_found.append((pointer, pointer, _message(error)))
            if len(self.errors_found) >= MAX_COLLECTED_ERRORS:
                return

    def fallback_chunks(self) -> None:
        assert self.raw_items is not None
        decoder = accel.decoder("any")
        for first in range(0, len(self.raw_items), CHUNK_ENTRIES):
            joined = b"[" + b",".join(self.raw_items[first : first + CHUNK_ENTRIES]) + b"]"
            self.judge(first, decoder.decode(joined))


#: Below this many entries a child process costs more than it saves.
PARALLEL_MIN_ENTRIES = 8192


class ChildValidation:
    """A forked child validating the chain's entries; see :class:`EntrySchema`."""

    def __init__(self, pid: int, reader: int) -> None:
        self.pid = pid
        self.reader = reader
        self.collected = False

    def __del__(self) -> None:
        # Abandoned (the pass restarted on the exact path, or failed): stop and reap it.
        if not self.collected:
            with contextlib.suppress(OSError):
                os.kill(self.pid, signal.SIGKILL)
                os.close(self.reader)
                os.waitpid(self.pid, 0)

    @classmethod
    def start(cls, schema: EntrySchema) -> ChildValidation | None:
        if not hasattr(os, "fork"):
            return None
        reader, writer = os.pipe()
        try:
            pid = os.fork()
        except OSError:
            os.close(reader)
            os.close(writer)
            return None
        if pid == 0:  # the child: validate, report, and leave without running anything else
            status = 1
            try:
                os.close(reader)
                schema.child = None
                schema.fallback_chunks()
                payload = json.dumps(schema.errors_found).encode("utf-8")
                with os.fdopen(writer, "wb") as out:
                    out.write(payload)
                status = 0
            finally:
                os._exit(status)
        os.close(writer)
        return cls(pid, reader)

    def collect(self) -> list[tuple[str, str, str]] | None:
        """The child's errors, or None when it did not deliver them."""
        self.collected = True
        try:
            with os.fdopen(self.reader, "rb") as incoming:
                payload = incoming.read()
            _, status = os.waitpid(self.pid, 0)
            if status != 0:
                return None
            return [(str(a), str(b), str(c)) for a, b, c in json.loads(payload)]
        except (OSError, ValueError, TypeError):
            return None


def run(context: CheckContext) -> CheckResult:
    artifact = context.artifact
    schema_file = ARTIFACT_SCHEMAS[artifact.schema_version]
    document = artifact.document
    if artifact.chain is not None:  # its items are judged in the pass
        document = {**document, "chain": []}
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
