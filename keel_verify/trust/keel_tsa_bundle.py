"""Keel's TSA trust bundle, ``keel.tsa_trust_bundle.v1``, read as a trust source.

Format facts: ``id`` (``keel.tsa_trust_bundle.v1``), ``version``, ``generated_at``,
``files[]`` and ``validation``. Each file entry has ``kind`` (``root``,
``intermediate``, ``crl``), ``provider``, ``path`` (relative to the bundle file),
``sha256`` (``sha256:`` + hex of the file), and descriptive names and dates.
``validation`` states the bundle's rules: verification at the token's genTime; a CRL
from each non-root certificate's issuer must cover genTime; revocation at or before
genTime invalidates the chain; past ``crl_refresh_required_before`` the snapshots are
stale and revocation is *not validated* (``stale_crl_reason_code``).

Roots become TSA trust anchors, intermediates chain-building helpers (never anchors),
and the CRLs one :class:`RevocationSnapshot` for chains ending at these roots. Every file
is read beside the bundle, must stay inside its folder and must match its ``sha256``.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path, PurePosixPath
from typing import Any

from cryptography import x509

from keel_verify.errors import TrustConfigError
from keel_verify.load.access import parse_time
from keel_verify.results import counted, display_path
from keel_verify.trust.files import one_line, pem_certificates, read_bounded
from keel_verify.trust.trust_root import TrustRoot
from keel_verify.trust.tsa_revocation import STALE_REASON_CODE, RevocationSnapshot

BUNDLE_ID = "keel.tsa_trust_bundle.v1"
KINDS = ("root", "intermediate", "crl")
#: A bundle names a handful of files; more is a mistake (or an attack on the verifier).
MAX_BUNDLE_FILES = 256


def _fail(label: str, pointer: str, problem: str) -> TrustConfigError:
    return TrustConfigError(f"{label}: at {pointer}: {problem}")


def _file_path(folder: Path, entry: dict[str, Any], label: str, pointer: str) -> Path:
    relative = entry.get("path")
    if not isinstance(relative, str) or not relative:
        raise _fail(label, f"{pointer}/path", "expected a relative path")
    parts = PurePosixPath(relative)
    if parts.is_absolute() or ".." in parts.parts or "\\" in relative:
        raise _fail(label, f"{pointer}/path", "must stay inside the bundle's folder")
    return folder.joinpath(*parts.parts)


def _checked_bytes(folder: Path, entry: dict[str, Any], label: str, pointer: str) -> bytes:
    path = _file_path(folder, entry, label, pointer)
    data = read_bounded(path, f"{label}: file")
    expected = entry.get("sha256")
    actual = "sha256:" + hashlib.sha256(data).hexdigest()
    if expected != actual:
        raise _fail(label, f"{pointer}/sha256",
                    f"{display_path(path.name)} has {actual}, not the bundle's value")
    return data


def _crl(data: bytes, label: str, pointer: str) -> x509.CertificateRevocationList:
    try:
        return x509.load_pem_x509_crl(data)
    except ValueError as error:
        raise _fail(label, pointer, f"not a PEM CRL ({one_line(str(error), 80)})") from None


def load_bundle_document(
    document: dict[str, Any], path: Path, label: str, shown_path: str | None = None
) -> TrustRoot:
    """Roots, intermediates and CRL snapshots of a parsed bundle found at ``path``.
    TrustConfigError (one line, with a JSON Pointer) for anything that does not hold."""
    label = f"{label} (Keel TSA trust bundle)"
    if document.get("id") != BUNDLE_ID:
        raise _fail(label, "/id", f"unsupported trust file; expected {BUNDLE_ID!r}")
    files = document.get("files")
    if not isinstance(files, list) or not files or len(files) > MAX_BUNDLE_FILES:
        raise _fail(label, "/files", f"expected an array of 1 to {MAX_BUNDLE_FILES} entries")
    validation = document.get("validation", {})
    if not isinstance(validation, dict):
        raise _fail(label, "/validation", "expected an object")
    deadline = None
    if "crl_refresh_required_before" in validation:
        deadline = parse_time(validation["crl_refresh_required_before"])
        if deadline is None:
            raise _fail(label, "/validation/crl_refresh_required_before",
                        "expected an RFC 3339 UTC timestamp ending in 'Z'")
    code = validation.get("stale_crl_reason_code", STALE_REASON_CODE)
    folder = path.parent
    shown = f"Keel TSA trust bundle {shown_path or display_path(path)}"
    found: dict[str, list[Any]] = {kind: [] for kind in KINDS}
    for index, entry in enumerate(files):
        pointer = f"/files/{index}"
        if not isinstance(entry, dict) or entry.get("kind") not in KINDS:
            raise _fail(label, f"{pointer}/kind", f"expected one of {', '.join(KINDS)}")
        data = _checked_bytes(folder, entry, label, pointer)
        if entry["kind"] == "crl":
            found["crl"].append(_crl(data, label, pointer))
        else:
            text = data.decode("ascii", errors="replace")
            found[entry["kind"]].extend(pem_certificates(text, f"{label}: at {pointer}"))
    if not found["root"]:
        raise _fail(label, "/files", "names no root certificate")
    roots = tuple(found["root"])
    snapshot = RevocationSnapshot(
        anchors=roots,
        crls=tuple(found["crl"]),
        refresh_required_before=deadline,
        source=shown,
        stale_reason_code=code if isinstance(code, str) else STALE_REASON_CODE,
    )
    return TrustRoot(
        issuer_keys=(),
        tsa_roots=roots,
        source=shown,
        tsa_certs=tuple(found["intermediate"]),
        tsa_revocation=(snapshot,),
        notes=(
            f"{shown}: {counted(len(roots), 'root')}, "
            f"{counted(len(found['intermediate']), 'intermediate')}, "
            f"{counted(len(found['crl']), 'CRL snapshot')} (sha256 of every file checked); revocation "
            f"rule applies, snapshots to be refreshed before "
            f"{json.dumps(validation.get('crl_refresh_required_before'))}",
        ),
    )
