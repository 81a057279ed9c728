"""Reading trust files: bounded, strict JSON (no duplicate keys, no NaN), PEM certificates.

Every problem raises :class:`TrustConfigError` with one line naming the file (and the
JSON Pointer when there is one); the CLI turns that into exit code 2.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cryptography import x509

from keel_verify.errors import LoadError, TrustConfigError
from keel_verify.load.config_files import ConfigFileError, read_config_file
from keel_verify.load.loader import parse_json_fast as strict_json
from keel_verify.results import display_path

#: Trust files are small; anything larger is a mistake (or an attack on the verifier).
MAX_TRUST_FILE_BYTES = 8 * 1024 * 1024


def one_line(text: str, limit: int = 200) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def read_bounded(path: str | Path, what: str) -> bytes:
    """The bytes of a trust or configuration file (a regular file, a FIFO or a pipe such
    as ``<(cat trust-root.json)``), at most :data:`MAX_TRUST_FILE_BYTES`; a FIFO must
    deliver within :data:`~keel_verify.load.config_files.FIFO_WRITER_WAIT_SECONDS`.
    TrustConfigError (one line: ``what``, the path as :func:`display_path` shows it, why)
    otherwise."""
    try:
        data = read_config_file(path, MAX_TRUST_FILE_BYTES)
    except ConfigFileError as error:
        raise TrustConfigError(f"{what} {display_path(path)}: {error}") from None
    if len(data) > MAX_TRUST_FILE_BYTES:
        raise TrustConfigError(f"{what} {display_path(path)}: larger than {MAX_TRUST_FILE_BYTES} bytes")
    return data


def parse_json(data: bytes, label: str) -> Any:
    """Trust input read as strictly as an artifact (the loader's reader: UTF-8, no BOM,
    no duplicate keys, no NaN/Infinity, bounded depth, no lone surrogates);
    TrustConfigError naming ``label`` otherwise."""
    try:
        data.decode("utf-8")  # small files: say "not UTF-8 text" before any JSON wording
    except UnicodeDecodeError:
        raise TrustConfigError(f"{label}: not UTF-8 text") from None
    try:
        return strict_json(data)
    except LoadError as error:
        raise TrustConfigError(f"{label}: not valid JSON: {error}") from None


def pem_certificates(pem: str, where: str) -> tuple[x509.Certificate, ...]:
    try:
        return tuple(x509.load_pem_x509_certificates(pem.encode("utf-8")))
    except ValueError as error:
        raise TrustConfigError(
            f"{where}: not a valid PEM certificate ({one_line(str(error), 80)})"
        ) from None
