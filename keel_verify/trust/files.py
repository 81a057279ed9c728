"""Reading trust files: bounded, strict JSON (no duplicate keys, no NaN), PEM certificates.

Every problem raises :class:`TrustConfigError` with one line naming the file (and the
JSON Pointer when there is one); the CLI turns that into exit code 2.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cryptography import x509

from keel_verify.errors import TrustConfigError

#: Trust files are small; anything larger is a mistake (or an attack on the verifier).
MAX_TRUST_FILE_BYTES = 8 * 1024 * 1024


def one_line(text: str, limit: int = 200) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def read_bounded(path: str | Path, what: str) -> bytes:
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_TRUST_FILE_BYTES + 1)
    except FileNotFoundError:
        raise TrustConfigError(f"{what} {path}: no such file") from None
    except IsADirectoryError:
        raise TrustConfigError(f"{what} {path}: is a directory, not a file") from None
    except OSError as error:
        raise TrustConfigError(f"{what} {path}: cannot read: {error.strerror or error}") from None
    if len(data) > MAX_TRUST_FILE_BYTES:
        raise TrustConfigError(f"{what} {path}: larger than {MAX_TRUST_FILE_BYTES} bytes")
    return data


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        keys = [key for key, _ in pairs]
        duplicate = next(key for key in keys if keys.count(key) > 1)
        raise ValueError(f"duplicate object key {json.dumps(duplicate)}")
    return result


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def parse_json(data: bytes, label: str) -> Any:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise TrustConfigError(f"{label}: not UTF-8 text") from None
    try:
        return json.loads(
            text, object_pairs_hook=_no_duplicates, parse_constant=_reject_constant
        )
    except json.JSONDecodeError as error:
        raise TrustConfigError(
            f"{label}: not valid JSON: {error.msg} at line {error.lineno} column {error.colno}"
        ) from None
    except (ValueError, RecursionError) as error:
        raise TrustConfigError(f"{label}: not valid JSON: {one_line(str(error))}") from None


def pem_certificates(pem: str, where: str) -> tuple[x509.Certificate, ...]:
    try:
        return tuple(x509.load_pem_x509_certificates(pem.encode("utf-8")))
    except ValueError as error:
        raise TrustConfigError(
            f"{where}: not a valid PEM certificate ({one_line(str(error), 80)})"
        ) from None
