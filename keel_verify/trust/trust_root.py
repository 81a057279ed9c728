"""Trust-root files (``--trust-root PATH`` / ``KEEL_VERIFY_TRUST_ROOT``) and TSA root PEM
files (``--tsa-roots PATH``), loaded into what a :class:`TrustPolicy` holds.

A trust root lists issuer keys -- each with a purpose, an optional validity window and
revocation -- and TSA root certificates. Its format is
``schemas/trust-root-v1.schema.json`` (Draft 2020-12)::

    {
      "trust_root_version": 1,
      "issuer_keys": [
        {"public_key": "ed25519:BASE64", "key_id": "issuer-2026", "purpose": "export_signing",
         "not_before": "2026-01-01T00:00:00Z", "not_after": "2027-01-01T00:00:00Z",
         "status": "revoked", "revoked_at": "2026-09-01T00:00:00Z"}
      ],
      "tsa_roots": ["-----BEGIN CERTIFICATE-----\\n..."]
    }

Whether a key vouches for a given signature (purpose, window, revocation, and on which
times) is decided in :func:`keel_verify.trust.key_decision.decide_key`; this module only reads.
Every problem raises :class:`TrustConfigError` with one line naming the file, the JSON
Pointer and the problem; the CLI turns that into exit code 2.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from cryptography import x509

from keel_verify.errors import TrustConfigError
from keel_verify.load import accel
from keel_verify.load.access import parse_time
from keel_verify.schemas import TRUST_ROOT_SCHEMA, load_schema
from keel_verify.trust import (
    ISSUER_KEY_PURPOSE,
    TrustedKey,
    TrustPolicy,
    parse_ed25519_public_key,
)

#: Trust files are small; anything larger is a mistake (or an attack on the verifier).
MAX_TRUST_FILE_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True)
class TrustRoot:
    """The contents of one trust-root file; :meth:`apply` merges it into a policy."""

    issuer_keys: tuple[TrustedKey, ...]
    tsa_roots: tuple[x509.Certificate, ...]
    source: str  # "trust root PATH"

    def apply(self, policy: TrustPolicy) -> TrustPolicy:
        """``policy`` plus this file's keys and TSA roots (nothing is removed)."""
        merged = replace(policy, issuer_keys=policy.issuer_keys + self.issuer_keys)
        return add_tsa_roots(merged, self.tsa_roots, self.source) if self.tsa_roots else merged


def add_tsa_roots(
    policy: TrustPolicy, roots: tuple[x509.Certificate, ...], source: str
) -> TrustPolicy:
    """``policy`` with ``roots`` added to its TSA roots, ``source`` named in reports."""
    sources = "; ".join(s for s in (policy.tsa_roots_source, source) if s)
    return replace(policy, tsa_roots=policy.tsa_roots + roots, tsa_roots_source=sources)


def _one_line(text: str, limit: int = 200) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def _read(path: str | Path, what: str) -> bytes:
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


def _parse_json(data: bytes, label: str) -> Any:
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
        raise TrustConfigError(f"{label}: not valid JSON: {_one_line(str(error))}") from None


@cache
def _validator() -> Any:
    from jsonschema import Draft202012Validator  # deferred: costly import

    return Draft202012Validator(load_schema(TRUST_ROOT_SCHEMA))


def _validate(document: Any, label: str) -> None:
    if accel.proven_valid(load_schema(TRUST_ROOT_SCHEMA), document):
        return
    from jsonschema.exceptions import best_match

    error = best_match(_validator().iter_errors(document))
    if error is None:
        return
    pointer = "".join(f"/{token}" for token in error.absolute_path) or "/"
    if error.validator == "anyOf" and not error.absolute_path:
        problem = "lists neither issuer_keys nor tsa_roots"
    elif error.validator == "pattern" and "public_key" in error.absolute_path:
        problem = "expected 'ed25519:' + base64 of a 32-byte key"
    elif error.validator == "pattern" and "tsa_roots" in error.absolute_path:
        problem = "expected a PEM certificate ('-----BEGIN CERTIFICATE-----')"
    else:
        problem = error.message
    raise TrustConfigError(f"{label}: at {pointer}: {_one_line(problem)}")


def _time(entry: dict[str, Any], key: str, label: str, pointer: str) -> datetime | None:
    if key not in entry:
        return None
    parsed = parse_time(entry[key])
    if parsed is None:
        raise TrustConfigError(f"{label}: at {pointer}/{key}: not a valid date and time")
    return parsed


def _issuer_key(entry: dict[str, Any], index: int, label: str, path: str) -> TrustedKey:
    pointer = f"/issuer_keys/{index}"
    try:
        raw = parse_ed25519_public_key(entry["public_key"])
    except TrustConfigError as error:
        raise TrustConfigError(f"{label}: at {pointer}/public_key: {error}") from None
    not_before = _time(entry, "not_before", label, pointer)
    not_after = _time(entry, "not_after", label, pointer)
    revoked_at = _time(entry, "revoked_at", label, pointer)
    if not_before and not_after and not_after < not_before:
        raise TrustConfigError(f"{label}: at {pointer}: not_after is before not_before")
    key_id = entry.get("key_id")
    source = f"trust root {path}, issuer_keys[{index}]"
    if key_id:
        source += f" ({json.dumps(key_id, ensure_ascii=False)})"
    return TrustedKey(
        public_key=raw,
        source=source,
        label=key_id,
        purpose=entry.get("purpose", ISSUER_KEY_PURPOSE),
        not_before=not_before,
        not_after=not_after,
        revoked_at=revoked_at,
        status=entry.get("status", "active"),
    )


def _certificates(pem: str, where: str) -> tuple[x509.Certificate, ...]:
    try:
        return tuple(x509.load_pem_x509_certificates(pem.encode("utf-8")))
    except ValueError as error:
        raise TrustConfigError(
            f"{where}: not a valid PEM certificate ({_one_line(str(error), 80)})"
        ) from None


def load_trust_root(path: str | Path) -> TrustRoot:
    """Read, validate and load a trust-root file. Raises TrustConfigError (one line)."""
    shown = str(path)
    label = f"trust root {shown}"
    document = _parse_json(_read(path, "trust root"), label)
    _validate(document, label)
    keys = tuple(
        _issuer_key(entry, index, label, shown)
        for index, entry in enumerate(document.get("issuer_keys", []))
    )
    roots: list[x509.Certificate] = []
    for index, pem in enumerate(document.get("tsa_roots", [])):
        roots.extend(_certificates(pem, f"{label}: at /tsa_roots/{index}"))
    return TrustRoot(issuer_keys=keys, tsa_roots=tuple(roots), source=label)


def load_tsa_roots(pem_path: str | Path) -> tuple[x509.Certificate, ...]:
    """The certificates of a PEM file (one or more). Raises TrustConfigError (one line)."""
    label = f"TSA roots file {pem_path}"
    data = _read(pem_path, "TSA roots file")
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        raise TrustConfigError(f"{label}: not a PEM text file") from None
    if "-----BEGIN CERTIFICATE-----" not in text:
        raise TrustConfigError(f"{label}: contains no PEM certificate")
    return _certificates(text, label)


def tsa_roots_source(pem_path: str | Path) -> str:
    """How reports name roots loaded with :func:`load_tsa_roots`."""
    return f"TSA roots file {pem_path}"
