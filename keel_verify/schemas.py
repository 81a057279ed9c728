"""Locating and loading the project's JSON Schemas.

They live in the repository's top-level ``schemas/``; a wheel carries them as
``keel_verify/_schemas`` (see pyproject.toml).
"""

from __future__ import annotations

import json
import re
from functools import cache
from itertools import islice
from pathlib import Path
from typing import Any

_PACKAGED = Path(__file__).resolve().parent / "_schemas"
_REPOSITORY = Path(__file__).resolve().parent.parent / "schemas"

ARTIFACT_SCHEMAS = {1: "attestation-v1.schema.json", 3: "attestation-v3.schema.json"}
REPORT_SCHEMA = "report-v2.schema.json"
TRUST_ROOT_SCHEMA = "trust-root-v1.schema.json"
POLICY_SCHEMA = "policy-v1.schema.json"
ROW_SCHEMA = "row-v1.schema.json"


def schema_directory() -> Path:
    return _PACKAGED if _PACKAGED.is_dir() else _REPOSITORY


@cache
def load_schema(file_name: str) -> dict[str, Any]:
    with open(schema_directory() / file_name, encoding="utf-8") as handle:
        schema: dict[str, Any] = json.load(handle)
    return schema


#: ECMA-262 "." matches anything but a line terminator (Python's spares only "\n").
_ECMA_DOT = "[^\n\r\u2028\u2029]"


@cache
def ecma_regex(pattern: str) -> re.Pattern[str]:
    """``pattern`` compiled so that Python's ``re`` judges it as ECMA-262 (the dialect JSON
    Schema's ``pattern`` uses, Draft 2020-12 §6.3.3) where the dialects differ on the
    patterns our schemas use:

    * ``$`` outside a character class matches only at the very end (Python's ``$`` also
      matches before a final newline, so ``"^x$"`` would accept ``"x\\n"``): it becomes
      ``\\Z``;
    * ``.`` outside a class matches no line terminator (``\\n \\r`` U+2028 U+2029);
    * ``\\d``, ``\\w`` and ``\\b`` are ASCII-only (``re.ASCII``).
    """
    translated: list[str] = []
    in_class = False
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\":
            translated.append(pattern[index : index + 2])
            index += 2
            continue
        if in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
        elif char == "$":
            translated.append(r"\Z")
            index += 1
            continue
        elif char == ".":
            translated.append(_ECMA_DOT)
            index += 1
            continue
        translated.append(char)
        index += 1
    return re.compile("".join(translated), re.ASCII)


@cache
def _ecma_draft_2020_12() -> Any:
    from jsonschema import Draft202012Validator, validators  # deferred: costly import
    from jsonschema.exceptions import ValidationError

    def pattern(validator: Any, expected: str, instance: Any, _schema: Any) -> Any:
        if validator.is_type(instance, "string") and not ecma_regex(expected).search(instance):
            yield ValidationError(f"{instance!r} does not match {expected!r}")

    return validators.extend(Draft202012Validator, {"pattern": pattern})


def python_validator(schema: dict[str, Any]) -> Any:
    """A jsonschema Draft 2020-12 validator for ``schema`` whose ``pattern`` keyword has
    ECMA-262 semantics (:func:`ecma_regex`), agreeing with jsonschema-rs."""
    return _ecma_draft_2020_12()(schema)


#: Schema errors looked at when choosing the one a refusal reports: the most precise among
#: the first 64, not among all of them. A hostile file can hold millions (an 8 MiB trust
#: root of 2.8 million empty arrays took 46 s when every error was built).
ERRORS_CONSIDERED = 64


def first_errors(validator: Any, document: Any) -> list[Any]:
    """At most :data:`ERRORS_CONSIDERED` of ``validator``'s errors on ``document``, in the
    order jsonschema finds them (each a ``jsonschema.ValidationError``)."""
    return list(islice(validator.iter_errors(document), ERRORS_CONSIDERED))
