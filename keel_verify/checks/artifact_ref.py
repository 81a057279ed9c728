"""``artifact_ref``: the optional top-level URN identity of newer Keel bundles.

When present it lies inside the signed bytes and must be well formed: ``schema_version``
``"artifact_ref.v1"``; ``type`` one of :data:`ARTIFACT_TYPES`; ``id`` non-empty without
upper-case letters; ``urn`` exactly ``urn:x-keel:artifact:<type>:<id>`` (five
colon-separated segments); ``region`` a string; ``path`` starting with ``/``;
``canonical_url`` an absolute http(s) URL; ``digest`` ``sha256:`` + 64 lower-case hex.
An invalid one fails (as the reference does); one naming another artifact type than a
voice session attestation warns; an absent one passes, reported as a legacy bundle
without URN identity (the format makes it optional; the reference does not fail it).
The ``digest`` is carried, not recomputed: no rule defines it for voice artifacts.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from keel_verify.checks.base import Check, failed, passed, warned
from keel_verify.context import CheckContext
from keel_verify.results import CheckResult, Outcome, shown

NAME = "artifact_ref"
SCHEMA_VERSION = "artifact_ref.v1"
URN_PREFIX = "urn:x-keel:artifact:"
VOICE_TYPE = "voice_session_attestation"
ARTIFACT_TYPES = (
    "compliance_export", "checkpoint_envelope", VOICE_TYPE, "decision_evidence", "rail_evidence",
)
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
MEMBERS = ("schema_version", "type", "id", "urn", "region", "path", "canonical_url", "digest")


def problems(ref: dict[str, Any]) -> list[tuple[str, str]]:
    """(member, problem) for every rule ``ref`` breaks, in member order."""
    found: list[tuple[str, str]] = []
    missing = [member for member in MEMBERS if member not in ref]
    found.extend((member, "is missing") for member in missing)
    kind, ident = ref.get("type"), ref.get("id")
    if "schema_version" in ref and ref["schema_version"] != SCHEMA_VERSION:
        found.append(("schema_version", f"is {shown(ref['schema_version'])}, not {SCHEMA_VERSION!r}"))
    if "type" in ref and kind not in ARTIFACT_TYPES:
        found.append(("type", f"{shown(kind)} is not one of {', '.join(ARTIFACT_TYPES)}"))
    if "id" in ref and not (isinstance(ident, str) and ident and ident == ident.lower()):
        found.append(("id", f"{shown(ident)} is not a non-empty string without upper-case letters"))
    if "urn" in ref:
        urn = ref["urn"]
        if not (isinstance(kind, str) and isinstance(ident, str)):  # no URN to expect
            found.append(("urn", f"{shown(urn)} cannot be checked: type and id are not both strings"))
        elif not isinstance(urn, str) or urn != f"{URN_PREFIX}{kind}:{ident}" or urn.count(":") != 4:
            expected = f"{URN_PREFIX}{kind}:{ident}"
            found.append(("urn", f"{shown(urn)} is not {expected!r} (five colon-separated segments)"))
    if "region" in ref and not isinstance(ref["region"], str):
        found.append(("region", f"{shown(ref['region'])} is not a string"))
    if "path" in ref and not (isinstance(ref["path"], str) and ref["path"].startswith("/")):
        found.append(("path", f"{shown(ref['path'])} does not start with '/'"))
    if "canonical_url" in ref:
        url = ref["canonical_url"]
        parts = urlsplit(url) if isinstance(url, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
            found.append(("canonical_url", f"{shown(url)} is not an absolute http or https URL"))
    if "digest" in ref and not (isinstance(ref["digest"], str) and _DIGEST.fullmatch(ref["digest"])):
        found.append(("digest", f"{shown(ref['digest'])} is not 'sha256:' + 64 lower-case hex digits"))
    return found


def run(context: CheckContext) -> CheckResult:
    document = context.artifact.document
    if "artifact_ref" not in document:
        return passed(NAME, "absent: a legacy bundle without URN identity", code="absent")
    ref = document["artifact_ref"]
    if not isinstance(ref, dict):
        return failed(NAME, f"artifact_ref is {type(ref).__name__}, not an object", "/artifact_ref",
                      code="invalid")
    found = problems(ref)
    if found:
        member, problem = found[0]
        more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
        return failed(
            NAME, f"invalid artifact_ref: {member} {problem}{more}", f"/artifact_ref/{member}",
            code="invalid", problems=[{"member": m, "problem": p} for m, p in found],
        )
    details = {"urn": ref["urn"], "type": ref["type"], "id": ref["id"], "digest": ref["digest"],
               "canonical_url": ref["canonical_url"], "digest_recomputed": False}
    if ref["type"] != VOICE_TYPE:
        return warned(
            NAME, f"{ref['urn']} names a {ref['type']}, but this artifact is a voice session "
            "attestation", "/artifact_ref/type", code="type_mismatch", **details,
        )
    return passed(NAME, f"{ref['urn']} (type {ref['type']}; digest carried, not recomputed)",
                  "/artifact_ref", **details)


CHECK = Check(
    NAME, run, "the optional artifact_ref URN identity is well formed (absent: a legacy bundle)",
    codes={
        "ok": (Outcome.PASS, "artifact_ref is well formed and names a voice session attestation"),
        "absent": (Outcome.PASS, "no artifact_ref: a legacy bundle without URN identity"),
        "invalid": (Outcome.FAIL, "artifact_ref breaks a rule of artifact_ref.v1"),
        "type_mismatch": (Outcome.WARN, "a well-formed artifact_ref names another artifact type"),
    },
)
