"""Locating and loading the project's JSON Schemas.

They live in the repository's top-level ``schemas/``; a wheel carries them as
``keel_verify/_schemas`` (see pyproject.toml).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

_PACKAGED = Path(__file__).resolve().parent / "_schemas"
_REPOSITORY = Path(__file__).resolve().parent.parent / "schemas"

ARTIFACT_SCHEMAS = {1: "attestation-v1.schema.json", 3: "attestation-v3.schema.json"}
REPORT_SCHEMA = "report-v2.schema.json"
TRUST_ROOT_SCHEMA = "trust-root-v1.schema.json"


def schema_directory() -> Path:
    return _PACKAGED if _PACKAGED.is_dir() else _REPOSITORY


@cache
def load_schema(file_name: str) -> dict[str, Any]:
    with open(schema_directory() / file_name, encoding="utf-8") as handle:
        schema: dict[str, Any] = json.load(handle)
    return schema
