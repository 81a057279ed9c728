"""Request bodies -> typed, validated values (pure; no state is read here).

Every rule a body can break is checked here, before the engine looks at any state, and
each failure is one :class:`EmitError` naming the member (``atoms[3].duration_ms``).
The bodies are documented in ``keel_verify/emit/README.md``.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import Any

from keel_verify.crypto.canonical import JCS_MAX_SAFE_INTEGER, canonical_bytes, jcs_divergences
from keel_verify.emit.errors import PAYLOAD_TOO_LARGE, UNPROCESSABLE, EmitError

MAX_BATCH_ATOMS = 100
MAX_TEXT = 64 * 1024  # one transcript span
MAX_LABEL = 200  # ids, names, keys
MAX_METADATA_BYTES = 16 * 1024
MAX_NS_DIGITS = 20  # epoch nanoseconds fit in 19 digits until the year 2262

ATOM_TYPES = (
    "audio_chunk",
    "transcript_span",
    "tool_invocation_attempt",
    "lifecycle_marker",
    "interruption",
    "provider_opaque_marker",
)
DIRECTIONS = ("inbound", "outbound", "internal")
SIGNATURE_LABELS = ("ed25519", "sidecar-session-cert", "ml-dsa-65")
ACTION_VERBS = ("ai.generate", "mpp.payment")
SESSION_OPERATION = "realtime.session"
TERMINAL_STATUSES = ("ended", "failed")

_HASH = re.compile(r"sha256:[0-9a-f]{64}")
_DIGITS = re.compile(r"[0-9]+")
_CURRENCY = re.compile(r"[A-Za-z]{3}")
_COMMON_ATOM_MEMBERS = ("type", "idempotency_key", "captured_at_ns", "direction",
                        "sidecar_signature", "provider_ref")
_ATOM_MEMBERS: dict[str, tuple[str, ...]] = {
    "audio_chunk": ("content_hash", "format", "duration_ms", "byte_count"),
    "transcript_span": ("text", "speaker", "language", "is_final"),
    "tool_invocation_attempt": ("tool_name", "call_id", "arguments_hash", "approval_status",
                                "approved_by"),
    "lifecycle_marker": ("marker", "jurisdiction_codes", "text_hash"),
    "interruption": ("interrupted_turn_index", "reason", "delivered_ms", "withheld_ms"),
    "provider_opaque_marker": ("provider_event_type", "marker_hash"),
}
#: What a tool attempt says about its approval (provider adapters record MCP approvals and
#: confirmations; ``missing``: a tool that needed approval ran without one).
APPROVAL_STATUSES = ("not_required", "requested", "approved", "denied", "missing")
MAX_PROVIDER_REF_BYTES = 2048
_MEDIA_MEMBERS = ("audio", "audio_base64", "bytes", "data", "media", "pcm", "samples")


def fail(message: str) -> EmitError:
    return EmitError(UNPROCESSABLE, message)


# -- primitive readers -------------------------------------------------------------------


def require_object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise fail(f"{where} must be a JSON object")
    return value


def reject_unknown(obj: dict[str, Any], allowed: tuple[str, ...], where: str) -> None:
    unknown = sorted(set(obj) - set(allowed))
    if unknown:
        raise fail(f"{where}: unknown member {unknown[0]!r} (allowed: {', '.join(allowed)})")


def text(obj: dict[str, Any], key: str, where: str, *, required: bool = True,
         limit: int = MAX_LABEL, default: str | None = None) -> str | None:
    if key not in obj or obj[key] is None:
        if required:
            raise fail(f"{where}.{key} is required")
        return default
    value = obj[key]
    if not isinstance(value, str) or not value:
        raise fail(f"{where}.{key} must be a non-empty string")
    if len(value) > limit:
        raise fail(f"{where}.{key} is longer than {limit} characters")
    _no_lone_surrogates(value, f"{where}.{key}")
    return value


def required_text(obj: dict[str, Any], key: str, where: str, *, limit: int = MAX_LABEL) -> str:
    value = text(obj, key, where, limit=limit)
    assert value is not None
    return value


def integer(obj: dict[str, Any], key: str, where: str, *, required: bool = True,
            minimum: int = 0, maximum: int = JCS_MAX_SAFE_INTEGER,
            default: int | None = None) -> int | None:
    """An integer given as a JSON integer or a string of decimal digits.

    Booleans, fractions, exponents and signs are malformed. The default maximum keeps
    every stored number inside the JCS domain (|n| <= 2^53 - 1), so the artifacts stay
    portable (SPEC A.1).
    """
    if key not in obj or obj[key] is None:
        if required:
            raise fail(f"{where}.{key} is required")
        return default
    value = parse_integer(obj[key], f"{where}.{key}")
    if value < minimum:
        raise fail(f"{where}.{key} must be at least {minimum}")
    if value > maximum:
        raise fail(f"{where}.{key} must be at most {maximum}")
    return value


def required_integer(obj: dict[str, Any], key: str, where: str, *, minimum: int = 0,
                     maximum: int = JCS_MAX_SAFE_INTEGER) -> int:
    value = integer(obj, key, where, minimum=minimum, maximum=maximum)
    assert value is not None
    return value


def parse_integer(value: Any, where: str) -> int:
    if type(value) is int:
        return value
    if isinstance(value, str) and _DIGITS.fullmatch(value) and len(value) <= MAX_NS_DIGITS:
        return int(value)
    shown = repr(value) if not isinstance(value, (dict, list)) else type(value).__name__
    raise fail(f"{where} must be an integer or a string of decimal digits, got {shown:.60}")


def boolean(obj: dict[str, Any], key: str, where: str) -> bool | None:
    if key not in obj or obj[key] is None:
        return None
    if not isinstance(obj[key], bool):
        raise fail(f"{where}.{key} must be true or false")
    value: bool = obj[key]
    return value


def tagged_hash(obj: dict[str, Any], key: str, where: str, *, required: bool = True) -> str | None:
    if key not in obj or obj[key] is None:
        if required:
            raise fail(f"{where}.{key} is required")
        return None
    value = obj[key]
    if not isinstance(value, str) or not _HASH.fullmatch(value):
        raise fail(f"{where}.{key} must be 'sha256:' followed by 64 lowercase hex digits")
    return value


def json_value(value: Any, where: str, *, limit: int = MAX_METADATA_BYTES) -> Any:
    """Free-form JSON the artifact will carry: it must stay inside the JCS domain (no
    floats, no integer beyond 2^53-1, no key outside the BMP) and be small."""
    for pointer, what in jcs_divergences(value):
        raise fail(f"{where}{pointer}: {what} is not allowed (keeps the artifact JCS-portable)")
    try:
        size = len(canonical_bytes(value))
    except (UnicodeEncodeError, ValueError):
        raise fail(f"{where} contains a lone UTF-16 surrogate") from None
    if size > limit:
        raise fail(f"{where} is {size} bytes canonicalised; the limit is {limit}")
    return value


def _no_lone_surrogates(value: str, where: str) -> None:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise fail(f"{where} contains a lone UTF-16 surrogate") from None


def _choice(obj: dict[str, Any], key: str, where: str, choices: tuple[str, ...], *,
            default: str | None = None) -> str:
    value = text(obj, key, where, required=default is None, default=default)
    assert value is not None
    if value not in choices:
        raise fail(f"{where}.{key} must be one of {', '.join(choices)}; got {value!r:.60}")
    return value


def _string_list(obj: dict[str, Any], key: str, where: str) -> tuple[str, ...] | None:
    if key not in obj or obj[key] is None:
        return None
    value = obj[key]
    if not isinstance(value, list) or len(value) > 50:
        raise fail(f"{where}.{key} must be an array of at most 50 strings")
    for index, item in enumerate(value):
        if not isinstance(item, str) or not item or len(item) > MAX_LABEL:
            raise fail(f"{where}.{key}[{index}] must be a non-empty string")
        _no_lone_surrogates(item, f"{where}.{key}[{index}]")
    return tuple(value)


# -- start ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SidecarKey:
    key_id: str
    public_key: bytes  # raw 32-byte Ed25519 key


@dataclass(frozen=True)
class StartRequest:
    project_id: str
    idempotency_key: str
    subject: Any  # a string or an object, as the caller identifies the end user
    action: str
    provider: str
    model: str
    operation: str
    execution_mode: str
    metadata: dict[str, Any]
    risk_budget_total_micros: int | None
    region_code: str | None
    schema_version: int | None
    sidecar_keys: tuple[SidecarKey, ...]


def parse_start(body: Any) -> StartRequest:
    where = "body"
    body = require_object(body, where)
    reject_unknown(body, ("project_id", "idempotency_key", "subject", "action", "resource",
                          "metadata", "risk_budget_total_micros", "region_code",
                          "schema_version", "sidecar_keys"), where)
    subject = body.get("subject")
    if isinstance(subject, str):
        text(body, "subject", where)
    elif isinstance(subject, dict) and subject:
        json_value(subject, "body.subject", limit=4096)
    else:
        raise fail("body.subject is required: a non-empty string or object naming the end user")
    resource = require_object(body.get("resource"), "body.resource")
    reject_unknown(resource, ("provider", "model", "operation", "execution_mode"),
                   "body.resource")
    operation = required_text(resource, "operation", "body.resource")
    if operation != SESSION_OPERATION:
        raise fail(f"body.resource.operation must be {SESSION_OPERATION!r}; got {operation!r:.60}")
    metadata = body.get("metadata", {})
    if metadata is None:
        metadata = {}
    json_value(require_object(metadata, "body.metadata"), "body.metadata")
    schema_version = integer(body, "schema_version", where, required=False, minimum=1, maximum=3)
    if schema_version not in (None, 1, 3):
        raise fail("body.schema_version must be 3 (hash-only entries) or 1 (embedded payloads)")
    return StartRequest(
        project_id=required_text(body, "project_id", where),
        idempotency_key=required_text(body, "idempotency_key", where),
        subject=subject,
        action=required_text(body, "action", where),
        provider=required_text(resource, "provider", "body.resource"),
        model=required_text(resource, "model", "body.resource"),
        operation=operation,
        execution_mode=required_text(resource, "execution_mode", "body.resource"),
        metadata=metadata,
        risk_budget_total_micros=integer(body, "risk_budget_total_micros", where, required=False),
        region_code=text(body, "region_code", where, required=False),
        schema_version=schema_version,
        sidecar_keys=_sidecar_keys(body.get("sidecar_keys")),
    )


def _sidecar_keys(value: Any) -> tuple[SidecarKey, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or len(value) > 16:
        raise fail("body.sidecar_keys must be an array of at most 16 {key_id, public_key} objects")
    keys: list[SidecarKey] = []
    for index, item in enumerate(value):
        where = f"body.sidecar_keys[{index}]"
        item = require_object(item, where)
        reject_unknown(item, ("key_id", "public_key"), where)
        key_id = required_text(item, "key_id", where)
        encoded = required_text(item, "public_key", where)
        raw = _decode_prefixed(encoded, "ed25519:", 32, f"{where}.public_key")
        if any(k.key_id == key_id for k in keys):
            raise fail(f"{where}.key_id {key_id!r} is registered twice")
        keys.append(SidecarKey(key_id, raw))
    return tuple(keys)


def _decode_prefixed(value: str, prefix: str, length: int | None, where: str) -> bytes:
    body = value.removeprefix(prefix)
    if prefix and not value.startswith(prefix):
        raise fail(f"{where} must look like '{prefix}BASE64'")
    try:
        raw = base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        raise fail(f"{where} is not valid base64") from None
    if length is not None and len(raw) != length:
        raise fail(f"{where} is {len(raw)} bytes; expected {length}")
    return raw


# -- events --------------------------------------------------------------------------------


@dataclass(frozen=True)
class SidecarSignature:
    label: str
    key_id: str | None
    value: bytes


@dataclass(frozen=True)
class Atom:
    """One voice atom. ``fields`` holds the type-specific members, already validated."""

    index: int
    atom_type: str
    idempotency_key: str
    captured_at_ns: str  # decimal digits: exact, and a string keeps the artifact in JCS
    direction: str
    fields: dict[str, Any]
    signature: SidecarSignature | None
    signed_message: bytes  # C(atom without "sidecar_signature"): what a sidecar signs


@dataclass(frozen=True)
class EventBatch:
    batch_idempotency_key: str
    atoms: tuple[Atom, ...]


def parse_events(body: Any) -> EventBatch:
    body = require_object(body, "body")
    reject_unknown(body, ("batch_idempotency_key", "atoms"), "body")
    key = required_text(body, "batch_idempotency_key", "body")
    atoms = body.get("atoms")
    if not isinstance(atoms, list) or not atoms:
        raise fail("body.atoms must be a non-empty array")
    if len(atoms) > MAX_BATCH_ATOMS:
        raise EmitError(
            PAYLOAD_TOO_LARGE,
            f"batch has {len(atoms)} atoms; at most {MAX_BATCH_ATOMS} are accepted per batch",
        )
    parsed = tuple(parse_atom(atom, index) for index, atom in enumerate(atoms))
    seen: set[str] = set()
    for atom in parsed:
        if atom.idempotency_key in seen:
            raise fail(f"atoms[{atom.index}].idempotency_key {atom.idempotency_key!r:.60} "
                       "appears twice in this batch")
        seen.add(atom.idempotency_key)
    return EventBatch(key, parsed)


def parse_atom(value: Any, index: int) -> Atom:
    where = f"atoms[{index}]"
    atom = require_object(value, where)
    atom_type = atom.get("type")
    if atom_type not in ATOM_TYPES:
        raise fail(f"{where}.type {atom_type!r:.60} is not an atom type "
                   f"(one of {', '.join(ATOM_TYPES)})")
    media = [m for m in _MEDIA_MEMBERS if m in atom]
    if media:
        raise fail(f"{where} carries media bytes ({media[0]!r}); send the audio's "
                   "content_hash, never the media itself")
    reject_unknown(atom, _COMMON_ATOM_MEMBERS + _ATOM_MEMBERS[atom_type], where)
    captured = required_integer(atom, "captured_at_ns", where, maximum=2**64 - 1)
    needs_direction = atom_type in ("audio_chunk", "transcript_span")
    direction = _choice(atom, "direction", where, DIRECTIONS,
                        default=None if needs_direction else "internal")
    fields = _atom_fields(atom_type, atom, where)
    signature = _sidecar_signature(atom.get("sidecar_signature"), f"{where}.sidecar_signature")
    unsigned = {k: v for k, v in atom.items() if k != "sidecar_signature"}
    return Atom(
        index=index,
        atom_type=atom_type,
        idempotency_key=required_text(atom, "idempotency_key", where),
        captured_at_ns=str(captured),
        direction=direction,
        fields=fields,
        signature=signature,
        signed_message=canonical_bytes(unsigned) if signature else b"",
    )


def _atom_fields(atom_type: str, atom: dict[str, Any], where: str) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    if atom_type == "audio_chunk":
        fields["content_hash"] = tagged_hash(atom, "content_hash", where)
        fields["format"] = required_text(atom, "format", where)
        fields["duration_ms"] = required_integer(atom, "duration_ms", where)
        fields["byte_count"] = integer(atom, "byte_count", where, required=False)
    elif atom_type == "transcript_span":
        fields["text"] = required_text(atom, "text", where, limit=MAX_TEXT)
        fields["speaker"] = text(atom, "speaker", where, required=False)
        fields["language"] = text(atom, "language", where, required=False)
        fields["is_final"] = boolean(atom, "is_final", where)
    elif atom_type == "tool_invocation_attempt":
        fields["tool_name"] = required_text(atom, "tool_name", where)
        fields["call_id"] = text(atom, "call_id", where, required=False)
        fields["arguments_hash"] = tagged_hash(atom, "arguments_hash", where, required=False)
        if atom.get("approval_status") is not None:
            fields["approval_status"] = _choice(atom, "approval_status", where,
                                                APPROVAL_STATUSES)
        fields["approved_by"] = text(atom, "approved_by", where, required=False)
    elif atom_type == "lifecycle_marker":
        fields["marker"] = required_text(atom, "marker", where)
        fields["jurisdiction_codes"] = _string_list(atom, "jurisdiction_codes", where)
        fields["text_hash"] = tagged_hash(atom, "text_hash", where, required=False)
    elif atom_type == "interruption":
        fields["interrupted_turn_index"] = integer(atom, "interrupted_turn_index", where,
                                                   required=False, minimum=1)
        fields["reason"] = text(atom, "reason", where, required=False)
        fields["delivered_ms"] = integer(atom, "delivered_ms", where, required=False)
        fields["withheld_ms"] = integer(atom, "withheld_ms", where, required=False)
    else:  # provider_opaque_marker
        fields["provider_event_type"] = required_text(atom, "provider_event_type", where)
        fields["marker_hash"] = tagged_hash(atom, "marker_hash", where, required=False)
    if atom.get("provider_ref") is not None:  # the provider's own ids for this atom
        fields["provider_ref"] = json_value(require_object(atom["provider_ref"],
                                                           f"{where}.provider_ref"),
                                            f"{where}.provider_ref", limit=MAX_PROVIDER_REF_BYTES)
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in fields.items()
            if v is not None}


def _sidecar_signature(value: Any, where: str) -> SidecarSignature | None:
    if value is None:
        return None
    signature = require_object(value, where)
    reject_unknown(signature, ("label", "key_id", "value"), where)
    label = _choice(signature, "label", where, SIGNATURE_LABELS)
    raw = _decode_prefixed(required_text(signature, "value", where, limit=16384), "", None,
                           f"{where}.value")
    if label == "ed25519" and len(raw) != 64:
        raise fail(f"{where}.value is {len(raw)} bytes; an Ed25519 signature has 64")
    return SidecarSignature(label, text(signature, "key_id", where, required=False), raw)


# -- turns, tool calls, action permits -------------------------------------------------------


@dataclass(frozen=True)
class SpendAuthority:
    authority_id: str
    amount_max: int
    currency: str
    ttl_seconds: int
    cadence: str


@dataclass(frozen=True)
class Payment:
    amount: int  # minor units (cents)
    currency: str
    authority: SpendAuthority


@dataclass(frozen=True)
class ActionRequest:
    """A permit request: a turn's tool call, or a standalone action permit."""

    name: str  # tool_name / action_name
    call_id: str | None
    action_verb: str
    arguments_hash: str | None
    payment: Payment | None
    request_hash_source: dict[str, Any]  # the body member, for binding_request_hash


def parse_action(value: Any, where: str, *, name_key: str) -> ActionRequest:
    obj = require_object(value, where)
    extra = ("call_id",) if name_key == "tool_name" else ("resource_id",)
    reject_unknown(obj, (name_key, "action_verb", "arguments_hash", "payment", *extra), where)
    verb = _choice(obj, "action_verb", where, ACTION_VERBS, default="ai.generate")
    payment = None
    if verb == "mpp.payment":
        payment = _payment(obj.get("payment"), f"{where}.payment")
    elif obj.get("payment") is not None:
        raise fail(f"{where}.payment is only allowed with action_verb 'mpp.payment'")
    call_id = text(obj, extra[0], where, required=False)
    return ActionRequest(
        name=required_text(obj, name_key, where),
        call_id=call_id,
        action_verb=verb,
        arguments_hash=tagged_hash(obj, "arguments_hash", where, required=False),
        payment=payment,
        request_hash_source=obj,
    )


def _currency(obj: dict[str, Any], key: str, where: str) -> str:
    value = required_text(obj, key, where)
    if not _CURRENCY.fullmatch(value):
        raise fail(f"{where}.{key} must be a three-letter ISO 4217 code")
    return value.lower()


def _payment(value: Any, where: str) -> Payment:
    obj = require_object(value, where)
    reject_unknown(obj, ("amount", "currency", "spend_authority"), where)
    authority_where = f"{where}.spend_authority"
    authority = require_object(obj.get("spend_authority"), authority_where)
    reject_unknown(authority, ("authority_id", "amount_max", "currency", "ttl_seconds",
                               "cadence"), authority_where)
    cadence = _choice(authority, "cadence", authority_where, ("one_shot",), default="one_shot")
    return Payment(
        amount=required_integer(obj, "amount", where, minimum=1),
        currency=_currency(obj, "currency", where),
        authority=SpendAuthority(
            authority_id=required_text(authority, "authority_id", authority_where),
            amount_max=required_integer(authority, "amount_max", authority_where, minimum=1),
            currency=_currency(authority, "currency", authority_where),
            ttl_seconds=required_integer(authority, "ttl_seconds", authority_where,
                                         minimum=1, maximum=86400),
            cadence=cadence,
        ),
    )


@dataclass(frozen=True)
class TurnRequest:
    idempotency_key: str
    input_tokens: int
    output_tokens: int
    risk_budget_used_micros: int
    tool_call: ActionRequest | None


def parse_turn(body: Any) -> TurnRequest:
    body = require_object(body, "body")
    reject_unknown(body, ("idempotency_key", "input_tokens", "output_tokens",
                          "risk_budget_used_micros", "tool_call"), "body")
    tool_call = body.get("tool_call")
    return TurnRequest(
        idempotency_key=required_text(body, "idempotency_key", "body"),
        input_tokens=required_integer(body, "input_tokens", "body"),
        output_tokens=required_integer(body, "output_tokens", "body"),
        risk_budget_used_micros=integer(body, "risk_budget_used_micros", "body",
                                        required=False, default=0) or 0,
        tool_call=None if tool_call is None else parse_action(
            tool_call, "body.tool_call", name_key="tool_name"),
    )


@dataclass(frozen=True)
class ActionPermitRequest:
    idempotency_key: str
    action: ActionRequest


def parse_action_permit(body: Any) -> ActionPermitRequest:
    body = require_object(body, "body")
    key = required_text(body, "idempotency_key", "body")
    rest = {k: v for k, v in body.items() if k != "idempotency_key"}
    return ActionPermitRequest(key, parse_action(rest, "body", name_key="action_name"))


@dataclass(frozen=True)
class InterruptionRequest:
    idempotency_key: str
    interrupted_turn_index: int | None
    reason: str | None
    captured_at_ns: str | None


def parse_interruption(body: Any) -> InterruptionRequest:
    body = require_object(body, "body")
    reject_unknown(body, ("idempotency_key", "interrupted_turn_index", "reason",
                          "captured_at_ns"), "body")
    captured = integer(body, "captured_at_ns", "body", required=False, maximum=2**64 - 1)
    return InterruptionRequest(
        idempotency_key=required_text(body, "idempotency_key", "body"),
        interrupted_turn_index=integer(body, "interrupted_turn_index", "body", required=False,
                                       minimum=1),
        reason=text(body, "reason", "body", required=False),
        captured_at_ns=None if captured is None else str(captured),
    )


# -- end -----------------------------------------------------------------------------------

USAGE_METRICS = ("input_tokens", "output_tokens", "audio_input_ms", "audio_output_ms",
                 "duration_ms")


@dataclass(frozen=True)
class EndRequest:
    idempotency_key: str | None
    status: str
    failure_reason: str | None
    usage: dict[str, int]


def parse_end(body: Any) -> EndRequest:
    body = require_object({} if body is None else body, "body")
    reject_unknown(body, ("idempotency_key", "status", "failure_reason", "usage"), "body")
    usage_obj = require_object(body.get("usage", {}), "body.usage")
    reject_unknown(usage_obj, USAGE_METRICS, "body.usage")
    usage = {key: required_integer(usage_obj, key, "body.usage")
             for key in USAGE_METRICS if key in usage_obj}
    status = _choice(body, "status", "body", TERMINAL_STATUSES, default="ended")
    reason = text(body, "failure_reason", "body", required=False, limit=1000)
    if reason is not None and status != "failed":
        raise fail("body.failure_reason is only allowed with status 'failed'")
    return EndRequest(
        idempotency_key=text(body, "idempotency_key", "body", required=False),
        status=status,
        failure_reason=reason,
        usage=usage,
    )
