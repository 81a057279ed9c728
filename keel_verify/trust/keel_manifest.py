"""Keel's public key manifest, ``keel.public_key_manifest.v1``, read as a trust source.

Format facts (the file Keel publishes verifies this way):

* members ``manifest_version``, ``schema_version`` (1), ``canonicalization_profile``
  (``keel.canonical_json.payload.v1``: the same canonical bytes as the attestation
  profile), ``generated_at``, ``keys[]``, ``sources``, ``manifest_signature``;
* each key: ``algorithm`` (``ed25519``), ``key_id`` (a label; one key appears once per
  purpose), ``public_key`` (``ed25519:`` + base64), ``purpose``, ``status`` (``active``,
  ``retired``, ``revoked``), ``valid_from``, ``valid_to`` (null when open). Older
  manifests spell these ``public_key_b64``, ``active_from``, ``active_to``;
* ``manifest_signature``: ``signature_type`` ``ed25519.content_hash.v1``, ``purpose``
  ``export_signing``, ``key_id``, ``content_hash`` = H(C({manifest_version,
  canonicalization_profile, keys})), and an Ed25519 ``signature`` over the UTF-8 bytes of
  that ``content_hash`` string, by the ``export_signing`` key the manifest lists under
  that ``key_id``, valid at ``generated_at``.

The signature is verified before any key is used, and a manifest whose signature does
not verify is refused. It proves the manifest is intact and consistent with its own
export key; it cannot prove who published it: that rests on where the caller got the
file (e.g. the copy shipped in this package, ``--trust keel-production``).
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from keel_verify.crypto import ed25519 as strict_ed25519
from keel_verify.crypto.canonical import canonical_bytes, tagged_sha256
from keel_verify.crypto.ed25519 import ED25519_PREFIX, SIGNATURE_BYTES
from keel_verify.crypto.signatures import decode_prefixed
from keel_verify.errors import TrustConfigError
from keel_verify.trust.policy import TrustedKey, parse_ed25519_public_key
from keel_verify.trust.trust_root import TrustRoot

MANIFEST_VERSION = "keel.public_key_manifest.v1"
CANONICALIZATION_PROFILE = "keel.canonical_json.payload.v1"
SIGNATURE_TYPE = "ed25519.content_hash.v1"
SIGNING_PURPOSE = "export_signing"
STATUSES = ("active", "retired", "revoked")
#: The members the content hash covers, in the manifest's own words.
SIGNED_MEMBERS = ("manifest_version", "canonicalization_profile", "keys")

# RFC 3339 with a "Z" or numeric offset (the manifest writes "+00:00"), fractions allowed.
_RFC3339 = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?(Z|[+-][0-9]{2}:[0-9]{2})"
)


class _Reader:
    """Field access that names the file and JSON Pointer in every error."""

    def __init__(self, label: str) -> None:
        self.label = label

    def fail(self, pointer: str, problem: str) -> TrustConfigError:
        return TrustConfigError(f"{self.label}: at {pointer or '/'}: {problem}")

    def member(self, obj: dict[str, Any], key: str, pointer: str) -> Any:
        if key not in obj:
            raise self.fail(pointer, f"missing member {json.dumps(key)}")
        return obj[key]

    def text(self, obj: dict[str, Any], key: str, pointer: str) -> str:
        value = self.member(obj, key, pointer)
        if not isinstance(value, str) or not value:
            raise self.fail(f"{pointer}/{key}", "expected a non-empty string")
        return value

    def time(self, value: Any, pointer: str) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, str) or not _RFC3339.fullmatch(value):
            raise self.fail(pointer, "expected an RFC 3339 date and time, or null")
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
        except ValueError:
            raise self.fail(pointer, "not a valid date and time") from None


def _public_key(entry: dict[str, Any], read: _Reader, pointer: str) -> bytes:
    if "public_key" in entry:
        try:
            return parse_ed25519_public_key(entry["public_key"])
        except TrustConfigError as error:
            raise read.fail(f"{pointer}/public_key", str(error)) from None
    legacy = read.member(entry, "public_key_b64", pointer)  # older manifests
    if not isinstance(legacy, str):
        raise read.fail(f"{pointer}/public_key_b64", "expected a base64 string")
    try:  # bare base64 or with the prefix: the same reader as every other key
        return parse_ed25519_public_key(ED25519_PREFIX + legacy.removeprefix(ED25519_PREFIX))
    except TrustConfigError as error:
        raise read.fail(f"{pointer}/public_key_b64", str(error)) from None


def _window(entry: dict[str, Any], read: _Reader, pointer: str) -> tuple[datetime | None, datetime | None]:
    start_key = "valid_from" if "valid_from" in entry else "active_from"
    end_key = "valid_to" if "valid_to" in entry else "active_to"
    start = read.time(entry.get(start_key), f"{pointer}/{start_key}")
    end = read.time(entry.get(end_key), f"{pointer}/{end_key}")
    if start and end and end < start:
        raise read.fail(pointer, f"{end_key} is before {start_key}")
    return start, end


def _trusted_key(
    entry: Any, index: int, read: _Reader, generated_at: datetime, path_label: str
) -> TrustedKey:
    pointer = f"/keys/{index}"
    if not isinstance(entry, dict):
        raise read.fail(pointer, "expected an object")
    if entry.get("algorithm") != "ed25519":
        raise read.fail(f"{pointer}/algorithm", "only 'ed25519' keys are supported")
    raw = _public_key(entry, read, pointer)
    key_id = read.text(entry, "key_id", pointer)
    purpose = read.text(entry, "purpose", pointer)
    status = read.member(entry, "status", pointer)
    if status not in STATUSES:
        raise read.fail(f"{pointer}/status", f"expected one of {', '.join(STATUSES)}")
    not_before, not_after = _window(entry, read, pointer)
    revoked_at = None
    if status == "revoked":
        revoked_at = not_after  # the manifest's end of validity, when it gives one
    elif status == "retired" and not_after is None:
        # Retired with an open window: by generated_at it no longer signed, so the
        # manifest vouches for it no later than that.
        not_after = generated_at
    return TrustedKey(
        public_key=raw,
        source=f"{path_label}, keys[{index}] ({json.dumps(key_id, ensure_ascii=False)}, {purpose})",
        label=key_id,
        purpose=purpose,
        not_before=not_before,
        not_after=not_after,
        revoked_at=revoked_at,
        status=status,
    )


def _verify_signature(
    document: dict[str, Any], keys: list[TrustedKey], read: _Reader, generated_at: datetime
) -> str:
    """Check ``manifest_signature``; returns the signing key's label."""
    pointer = "/manifest_signature"
    signature = read.member(document, "manifest_signature", "")
    if not isinstance(signature, dict):
        raise read.fail(pointer, "expected an object")
    if signature.get("signature_type") != SIGNATURE_TYPE:
        raise read.fail(f"{pointer}/signature_type", f"expected {SIGNATURE_TYPE!r}")
    if signature.get("purpose") != SIGNING_PURPOSE:
        raise read.fail(f"{pointer}/purpose", f"expected {SIGNING_PURPOSE!r}")
    key_id = read.text(signature, "key_id", pointer)
    content_hash = tagged_sha256(canonical_bytes({m: document[m] for m in SIGNED_MEMBERS}))
    if signature.get("content_hash") != content_hash:
        raise read.fail(
            f"{pointer}/content_hash",
            f"does not name the manifest's signed members (recomputed {content_hash})",
        )
    signers = [k for k in keys if k.label == key_id and k.purpose == SIGNING_PURPOSE]
    if not signers:
        raise read.fail(f"{pointer}/key_id", f"no {SIGNING_PURPOSE} key in keys[] has this key_id")
    usable = [
        k for k in signers
        if k.status != "revoked"
        and (k.not_before is None or k.not_before <= generated_at)
        and (k.not_after is None or generated_at <= k.not_after)
    ]
    if not usable:
        raise read.fail(f"{pointer}/key_id", "the signing key is revoked or not valid at generated_at")
    raw_signature, _ = decode_prefixed(signature.get("signature"), SIGNATURE_BYTES, "signature")
    if raw_signature is None:
        raise read.fail(f"{pointer}/signature", "expected 'ed25519:' + base64 of 64 bytes")
    message = content_hash.encode("utf-8")
    faults = []
    for key in usable:
        try:  # the key's first use: only now is it decoded onto the curve
            strict_ed25519.decode_public_key(key.public_key)
        except strict_ed25519.Ed25519KeyError as error:
            faults.append(f"the signing key ({key.source}) {error}: it can verify nothing")
            continue
        if strict_ed25519.verify(key.public_key, raw_signature, message):
            return key_id
    raise read.fail(f"{pointer}/signature",
                    "; ".join(faults) or "the Ed25519 signature does not verify")


def load_manifest_document(document: dict[str, Any], label: str) -> TrustRoot:
    """Keys of a parsed manifest, after its signature is verified. TrustConfigError
    (one line, with a JSON Pointer) for anything that does not hold."""
    read = _Reader(f"{label} (Keel public key manifest)")
    if document.get("manifest_version") != MANIFEST_VERSION:
        raise read.fail("/manifest_version", f"unsupported; expected {MANIFEST_VERSION!r}")
    if document.get("schema_version", 1) != 1:
        raise read.fail("/schema_version", "unsupported; expected 1")
    if document.get("canonicalization_profile") != CANONICALIZATION_PROFILE:
        raise read.fail("/canonicalization_profile", f"expected {CANONICALIZATION_PROFILE!r}")
    generated_at = read.time(read.member(document, "generated_at", ""), "/generated_at")
    if generated_at is None:
        raise read.fail("/generated_at", "expected an RFC 3339 date and time")
    entries = read.member(document, "keys", "")
    if not isinstance(entries, list) or not entries:
        raise read.fail("/keys", "expected a non-empty array")
    path_label = label.replace("trust root", "Keel key manifest", 1)
    keys = [_trusted_key(e, i, read, generated_at, path_label) for i, e in enumerate(entries)]
    signer = _verify_signature(document, keys, read, generated_at)
    note = (
        f"{path_label}: manifest_signature verified with its own {SIGNING_PURPOSE} key "
        f"{signer} (integrity, not provenance)"
    )
    return TrustRoot(issuer_keys=tuple(keys), tsa_roots=(), source=path_label, notes=(note,))
