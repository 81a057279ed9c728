"""Trust-root files (``--trust-root PATH`` / ``KEEL_VERIFY_TRUST_ROOT``), TSA root PEM
files (``--tsa-roots PATH``) and TSA helper certificates (``--tsa-certs PATH``), loaded
into what a :class:`TrustPolicy` holds.

Our trust root lists issuer keys -- each with a purpose, an optional validity window and
revocation -- TSA root certificates (trust anchors) and TSA helper certificates (chain
building only, never anchors). Its format is ``schemas/trust-root-v1.schema.json``
(Draft 2020-12)::

    {
      "trust_root_version": 1,
      "issuer_keys": [
        {"public_key": "ed25519:BASE64", "key_id": "issuer-2026", "purpose": "export_signing",
         "not_before": "2026-01-01T00:00:00Z", "not_after": "2027-01-01T00:00:00Z",
         "status": "revoked", "revoked_at": "2026-09-01T00:00:00Z"}
      ],
      "tsa_roots": ["-----BEGIN CERTIFICATE-----\\n..."],
      "tsa_certs": ["-----BEGIN CERTIFICATE-----\\n..."]
    }

The same option also reads Keel's own formats (:mod:`keel_verify.trust.keel_manifest`,
:mod:`keel_verify.trust.keel_tsa_bundle`), told apart by their version members.
Whether a key vouches for a given signature (purpose, window, revocation, and on which
times) is decided in :func:`keel_verify.trust.key_decision.decide_key`; this module only
reads. Every problem raises :class:`TrustConfigError` with one line naming the file, the
JSON Pointer and the problem; the CLI turns that into exit code 2.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from cryptography import x509

from keel_verify.crypto.canonical import tagged_sha256
from keel_verify.errors import TrustConfigError
from keel_verify.load import accel
from keel_verify.load.access import parse_time
from keel_verify.results import display_path
from keel_verify.schemas import TRUST_ROOT_SCHEMA, first_errors, load_schema, python_validator
from keel_verify.trust import (
    ISSUER_KEY_PURPOSE,
    TrustedKey,
    TrustPolicy,
    parse_ed25519_public_key,
)
from keel_verify.trust.files import one_line as _one_line
from keel_verify.trust.files import parse_json as _parse_json
from keel_verify.trust.files import pem_certificates as _certificates
from keel_verify.trust.files import read_bounded as _read
from keel_verify.trust.policy import IssuerKeys, TrustFile
from keel_verify.trust.tsa_revocation import RevocationSnapshot


@dataclass(frozen=True)
class TrustRoot:
    """The contents of one trust file (ours, a Keel public key manifest or a Keel TSA
    trust bundle); :meth:`apply` merges it into a policy."""

    issuer_keys: Sequence[TrustedKey]  # IssuerKeys for our format: built when read
    tsa_roots: tuple[x509.Certificate, ...]
    source: str  # "trust root PATH"
    tsa_certs: tuple[x509.Certificate, ...] = ()  # chain-building helpers, never anchors
    tsa_revocation: tuple[RevocationSnapshot, ...] = ()
    notes: tuple[str, ...] = ()  # what loading established, in words (e.g. a verified manifest signature)
    files: tuple[TrustFile, ...] = ()  # the file(s) read, each with the SHA-256 of its bytes

    def apply(self, policy: TrustPolicy) -> TrustPolicy:
        """``policy`` plus this file's keys, TSA roots, helpers and revocation rules
        (nothing is removed)."""
        merged = replace(
            policy,
            issuer_keys=IssuerKeys.joined(policy.issuer_keys, self.issuer_keys),
            tsa_revocation=policy.tsa_revocation + self.tsa_revocation,
            notes=policy.notes + self.notes,
            trust_files=policy.trust_files + self.files,
        )
        if self.tsa_certs:
            merged = add_tsa_certs(merged, self.tsa_certs, self.source)
        return add_tsa_roots(merged, self.tsa_roots, self.source) if self.tsa_roots else merged


def add_tsa_roots(
    policy: TrustPolicy, roots: tuple[x509.Certificate, ...], source: str
) -> TrustPolicy:
    """``policy`` with ``roots`` added to its TSA roots, ``source`` named in reports."""
    sources = "; ".join(s for s in (policy.tsa_roots_source, source) if s)
    recorded = len(policy.tsa_root_sources) == len(policy.tsa_roots)
    return replace(
        policy,
        tsa_roots=policy.tsa_roots + roots,
        tsa_roots_source=sources,
        tsa_root_sources=policy.tsa_root_sources + (source,) * len(roots) if recorded else (),
    )


def add_tsa_certs(
    policy: TrustPolicy, certificates: tuple[x509.Certificate, ...], source: str
) -> TrustPolicy:
    """``policy`` with ``certificates`` added to its TSA chain-building helpers (never
    anchors), ``source`` named in reports."""
    sources = "; ".join(s for s in (policy.tsa_certs_source, source) if s)
    return replace(policy, tsa_certs=policy.tsa_certs + certificates, tsa_certs_source=sources)


@cache
def _validator() -> Any:
    return python_validator(load_schema(TRUST_ROOT_SCHEMA))


def _validate(document: Any, label: str) -> None:
    if accel.proven_valid(load_schema(TRUST_ROOT_SCHEMA), document):
        return
    from jsonschema.exceptions import best_match

    error = best_match(first_errors(_validator(), document))
    if error is None:
        return
    pointer = "".join(f"/{token}" for token in error.absolute_path) or "/"
    if error.validator == "anyOf" and not error.absolute_path:
        problem = "lists neither issuer_keys nor tsa_roots (nor tsa_certs)"
    elif error.validator == "pattern" and "public_key" in error.absolute_path:
        problem = "expected 'ed25519:' + base64 of a 32-byte key"
    elif error.validator == "pattern" and {"tsa_roots", "tsa_certs"} & set(error.absolute_path):
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


_TIMES = ("not_before", "not_after", "revoked_at")
#: The members of an issuer key entry that hold no time.
_UNTIMED = frozenset({"public_key", "key_id", "purpose", "status"})


def _times(entry: dict[str, Any], label: str, pointer: str) -> tuple[datetime | None, ...]:
    """(not_before, not_after, revoked_at) of a schema-valid issuer key entry."""
    times = tuple(_time(entry, key, label, pointer) for key in _TIMES)
    not_before, not_after, _ = times
    if not_before and not_after and not_after < not_before:
        raise TrustConfigError(f"{label}: at {pointer}: not_after is before not_before")
    return times


def _raw_key(entry: dict[str, Any], index: int, label: str) -> bytes:
    """The key bytes of ``issuer_keys[index]``, after every check made at load: the key's
    checks that need no square root (RFC 8032 5.1.3) and its times. TrustConfigError."""
    try:
        raw = parse_ed25519_public_key(entry["public_key"])
    except TrustConfigError as error:
        raise TrustConfigError(f"{label}: at /issuer_keys/{index}/public_key: {error}") from None
    if len(entry) > 1 and not _UNTIMED.issuperset(entry):
        _times(entry, label, f"/issuer_keys/{index}")
    return raw


@dataclass(frozen=True)
class _IssuerKeyEntries:
    """Builds the :class:`TrustedKey` of ``issuer_keys[index]`` of a loaded trust root
    (every entry already checked by :func:`_raw_key`)."""

    entries: list[dict[str, Any]]
    label: str  # "trust root PATH"
    shown: str  # PATH as reports name it

    def __call__(self, index: int) -> TrustedKey:
        entry = self.entries[index]
        not_before, not_after, revoked_at = _times(entry, self.label, f"/issuer_keys/{index}")
        key_id = entry.get("key_id")
        source = f"trust root {self.shown}, issuer_keys[{index}]"
        if key_id:
            source += f" ({json.dumps(key_id, ensure_ascii=False)})"
        return TrustedKey(
            public_key=parse_ed25519_public_key(entry["public_key"]),
            source=source,
            label=key_id,
            purpose=entry.get("purpose", ISSUER_KEY_PURPOSE),
            not_before=not_before,
            not_after=not_after,
            revoked_at=revoked_at,
            status=entry.get("status", "active"),
        )


def load_trust_root(path: str | Path, shown: str | None = None) -> TrustRoot:
    """Read, validate and load a trust file: ours (``trust_root_version``), a Keel
    ``keel.public_key_manifest.v1`` (detected by ``manifest_version``; its signature is
    verified) or a Keel ``keel.tsa_trust_bundle.v1`` (detected by ``id``; its files are
    read beside it). ``shown`` names the file in reports (default: the path). Raises
    TrustConfigError (one line)."""
    shown = shown or display_path(path)
    data = _read(path, "trust root")
    root = _trust_root_of(_parse_json(data, f"trust root {shown}"), Path(path), shown)
    return replace(root, files=(trust_file(shown, data, "trust root"),))


def trust_file(path: str, data: bytes, kind: str) -> TrustFile:
    """How reports identify a trust file: its path and the SHA-256 of ``data``."""
    return TrustFile(path=path, sha256=tagged_sha256(data), kind=kind)


def _trust_root_of(document: Any, path: Path, shown: str) -> TrustRoot:
    label = f"trust root {shown}"
    if isinstance(document, dict) and "manifest_version" in document:
        from keel_verify.trust.keel_manifest import load_manifest_document

        return load_manifest_document(document, label)
    if isinstance(document, dict) and "trust_root_version" not in document and "id" in document:
        from keel_verify.trust.keel_tsa_bundle import load_bundle_document

        return load_bundle_document(document, path, label, shown)
    _validate(document, label)
    entries = document.get("issuer_keys", [])
    keys = IssuerKeys(tuple(_raw_key(entry, index, label) for index, entry in enumerate(entries)),
                      _IssuerKeyEntries(entries, label, shown))
    roots: list[x509.Certificate] = []
    for index, pem in enumerate(document.get("tsa_roots", [])):
        roots.extend(_certificates(pem, f"{label}: at /tsa_roots/{index}"))
    helpers: list[x509.Certificate] = []
    for index, pem in enumerate(document.get("tsa_certs", [])):
        helpers.extend(_certificates(pem, f"{label}: at /tsa_certs/{index}"))
    return TrustRoot(
        issuer_keys=keys, tsa_roots=tuple(roots), source=label, tsa_certs=tuple(helpers)
    )


def load_tsa_roots(pem_path: str | Path, what: str = "TSA roots file") -> tuple[x509.Certificate, ...]:
    """The certificates of a PEM file (one or more). Raises TrustConfigError (one line)."""
    return read_pem_file(pem_path, what)[0]


def read_pem_file(
    pem_path: str | Path, what: str = "TSA roots file"
) -> tuple[tuple[x509.Certificate, ...], TrustFile]:
    """:func:`load_tsa_roots`, and the file as read (its SHA-256, for reports)."""
    data = _read(pem_path, what)
    shown = display_path(pem_path)
    return _pem_file_certificates(data, f"{what} {shown}"), trust_file(shown, data, what)


def _pem_file_certificates(data: bytes, label: str) -> tuple[x509.Certificate, ...]:
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        raise TrustConfigError(f"{label}: not a PEM text file") from None
    if "-----BEGIN CERTIFICATE-----" not in text:
        raise TrustConfigError(f"{label}: contains no PEM certificate")
    return _certificates(text, label)


def tsa_roots_source(pem_path: str | Path) -> str:
    """How reports name roots loaded with :func:`load_tsa_roots`."""
    return f"TSA roots file {display_path(pem_path)}"


TSA_CERTS_FILE = "TSA helper certificates file"


def tsa_certs_source(pem_path: str | Path) -> str:
    return f"{TSA_CERTS_FILE} {display_path(pem_path)}"
