"""The public request bodies and answers of the Keel realtime-voice API, declared once.

Each body is a msgspec ``Struct``: decoding a JSON value into it *is* the validation
(types, ranges, patterns, required members, unknown members refused), and
:mod:`keel_verify.emit.openapi` derives the published OpenAPI 3.1 document from the same
declarations, so the documentation cannot drift from what the server accepts.

Members the public guide names keep its names and shapes (``permit``, ``events`` with
``atom_type`` / ``payload`` / ``signatures``, ``tool_call``, ``usage_metrics``, ...).
Where the guide publishes no members (the payloads of some atom types, action permits,
interruption events, most answers), the members below are keel-emit's design in the same
style; ``keel_verify/emit/README.md`` says which are which.

Free-form objects (``metadata``, ``arguments``, ``verb_context``, ``attributes``) must stay
inside the JCS domain (no floats, no integer beyond 2^53-1, no key outside the BMP), so
that every artifact built from them canonicalises the same way under RFC 8785.
"""

from __future__ import annotations

import base64
import json
import re
from typing import Annotated, Any, Literal, TypeVar, Union

import msgspec
from msgspec import Meta, Struct

from keel_verify.crypto.canonical import JCS_MAX_SAFE_INTEGER, canonical_bytes, jcs_divergences
from keel_verify.crypto.ed25519 import Ed25519KeyError, decode_public_key
from keel_verify.emit.errors import BAD_REQUEST, PAYLOAD_TOO_LARGE, UNPROCESSABLE, EmitError

MAX_BATCH_ATOMS = 100
MAX_OBJECT_BYTES = 16 * 1024  # a free-form object, canonicalised
MAX_ATTRIBUTES_BYTES = 4 * 1024  # an atom payload's provider attributes
MAX_EPOCH_NS = 2**63 - 1  # epoch nanoseconds until the year 2262
MAX_FREE_FORM_DEPTH = 16  # nesting inside a free-form object
SESSION_OPERATION = "realtime.session"
AI_GENERATE = "ai.generate"
MPP_PAYMENT = "mpp.payment"

# -- member types ----------------------------------------------------------------------------

Label = Annotated[str, Meta(min_length=1, max_length=200, description="A non-empty name or id.")]
LongText = Annotated[str, Meta(min_length=1, max_length=64 * 1024)]
Count = Annotated[int, Meta(ge=0, le=JCS_MAX_SAFE_INTEGER,
                            description="A non-negative integer up to 2^53-1.")]
PositiveCount = Annotated[int, Meta(ge=1, le=JCS_MAX_SAFE_INTEGER)]
Sha256 = Annotated[str, Meta(pattern=r"^sha256:[0-9a-f]{64}$",
                             description="'sha256:' and 64 lowercase hex digits.")]
Rfc3339 = Annotated[str, Meta(
    pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?(Z|[+-][0-9]{2}:[0-9]{2})$",
    description="An RFC 3339 date-time, e.g. 2026-06-03T18:00:00Z.")]
Currency = Annotated[str, Meta(pattern=r"^[a-z]{3}$",
                               description="An ISO 4217 code in lowercase, e.g. usd.")]
EpochNs = Union[  # noqa: UP007 - a runtime type for msgspec
    Annotated[int, Meta(ge=0, le=MAX_EPOCH_NS)],
    Annotated[str, Meta(pattern=r"^[0-9]{1,19}$",
                        description="Epoch nanoseconds as a decimal string (JavaScript clients).")],
]
Direction = Literal["inbound", "outbound", "internal"]
SignatureAlgorithm = Literal["ed25519", "sidecar-session-cert", "ml-dsa-65"]
JsonObject = dict[str, Any]


def _portable(value: Any, where: str, limit: int = MAX_OBJECT_BYTES) -> None:
    """Free-form JSON inside the JCS domain, at most :data:`MAX_FREE_FORM_DEPTH` deep and
    under ``limit`` canonical bytes."""
    _check_depth(value, where)
    for pointer, what in jcs_divergences(value):
        raise ValueError(f"{where}{pointer}: {what} is not allowed (keeps the artifact "
                         "JCS-portable)")
    size = len(canonical_bytes(value))
    if size > limit:
        raise ValueError(f"{where} is {size} bytes canonicalised; the limit is {limit}")


def _check_depth(value: Any, where: str) -> None:
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_FREE_FORM_DEPTH:
            raise ValueError(f"{where} nests deeper than {MAX_FREE_FORM_DEPTH} levels")
        if isinstance(node, dict):
            stack.extend((child, depth + 1) for child in node.values())
        elif isinstance(node, list):
            stack.extend((child, depth + 1) for child in node)


def sidecar_key_bytes(encoded: str) -> bytes:
    """The raw 32-byte key of an ``ed25519:BASE64`` public key (pattern-checked)."""
    return base64.b64decode(encoded.removeprefix("ed25519:"))


def epoch_ns_text(value: int | str) -> str:
    """``captured_at_ns`` as the decimal string the chain stores (integer and string
    forms of one instant give the same text). Raises ValueError beyond 2^63-1."""
    number = int(value)
    if number > MAX_EPOCH_NS:
        raise ValueError(f"captured_at_ns {value} is beyond {MAX_EPOCH_NS}")
    return str(number)


# -- start: POST /v1/sessions -------------------------------------------------------------------


class Subject(Struct, forbid_unknown_fields=True, omit_defaults=True, kw_only=True):
    """Who the session acts for (the guide: ``{"type": "user", "id": "usr_..."}``)."""

    type: Label
    id: Label


class PermitAction(Struct, forbid_unknown_fields=True, omit_defaults=True, kw_only=True):
    name: Literal["realtime.session"]


class ResourceAttributes(Struct, forbid_unknown_fields=True, omit_defaults=True, kw_only=True):
    provider: Label
    model: Label
    operation: Literal["realtime.session"]
    execution_mode: Label
    estimated_input_tokens: Count = 0
    estimated_output_tokens: Count = 0


class PermitResource(Struct, forbid_unknown_fields=True, omit_defaults=True, kw_only=True):
    type: Label
    id: Label
    attributes: ResourceAttributes


class PermitRequest(Struct, forbid_unknown_fields=True, omit_defaults=True, kw_only=True):
    """The session-start permit request. (``project_id``, ``idempotency_key``) makes the
    start idempotent."""

    project_id: Label
    idempotency_key: Label
    subject: Subject
    action: PermitAction
    resource: PermitResource


class SidecarKey(Struct, forbid_unknown_fields=True, omit_defaults=True, kw_only=True):
    """keel-emit extension: an Ed25519 key whose atom signatures are verified."""

    key_id: Label
    public_key: Annotated[str, Meta(pattern=r"^ed25519:[A-Za-z0-9+/]{43}=$",
                                    description="'ed25519:' and the base64 raw public key.")]


class StartBody(Struct, forbid_unknown_fields=True, omit_defaults=True, kw_only=True):
    permit: PermitRequest
    metadata: JsonObject = {}
    risk_budget_total_micros: Count | None = None
    # keel-emit extensions (not in the public guide)
    schema_version: Literal[1, 3] | None = None
    region_code: Label | None = None
    sidecar_keys: Annotated[list[SidecarKey], Meta(max_length=16)] = []

    def __post_init__(self) -> None:
        _portable(self.metadata, "metadata")
        ids = [key.key_id for key in self.sidecar_keys]
        if len(set(ids)) != len(ids):
            raise ValueError("sidecar_keys: a key_id is registered twice")
        for index, key in enumerate(self.sidecar_keys):
            try:  # a small-order key would "verify" any sidecar signature
                decode_public_key(sidecar_key_bytes(key.public_key))
            except Ed25519KeyError as error:
                raise ValueError(f"sidecar_keys[{index}].public_key {error}") from None


# -- events: POST /v1/voice/sessions/{id}/events ------------------------------------------------


class SidecarSignature(Struct, forbid_unknown_fields=True, omit_defaults=True, kw_only=True):
    """A sidecar's signature over an atom. An ``ed25519`` signature by a key registered at
    start is verified (``signature`` is then base64 of 64 bytes); any other is recorded as
    unverified (the guide's placeholders such as ``"sig_example_started"`` included)."""

    algorithm: SignatureAlgorithm
    key_id: Label
    signature: Annotated[str, Meta(min_length=1, max_length=16 * 1024)]
    signed_at: Rfc3339


class _Payload(Struct, forbid_unknown_fields=True, omit_defaults=True, kw_only=True):
    attributes: JsonObject | None = None  # keel-emit: provider facts, at most 4 KiB

    def __post_init__(self) -> None:
        if self.attributes is not None:
            _portable(self.attributes, "payload.attributes", MAX_ATTRIBUTES_BYTES)


class AudioChunkPayload(_Payload):
    content_hash: Sha256
    format: Label
    duration_ms: Count
    sample_rate_hz: PositiveCount | None = None


class TranscriptSpanPayload(_Payload):
    text: LongText
    language: Label | None = None
    is_final: bool | None = None
    speaker: Label | None = None


class LifecycleMarkerPayload(_Payload):
    marker_type: Label
    jurisdiction_codes: Annotated[list[Label], Meta(max_length=50)] | None = None
    text_hash: Sha256 | None = None


class ToolInvocationAttemptPayload(_Payload):
    tool_name: Label
    call_id: Label | None = None
    arguments_hash: Sha256 | None = None
    approval: Label | None = None  # e.g. requested / approved / denied
    approved_by: Label | None = None


class InterruptionPayload(_Payload):
    reason: Label | None = None
    interrupted_turn_index: PositiveCount | None = None
    delivered_ms: Count | None = None
    withheld_ms: Count | None = None


class ProviderOpaqueMarkerPayload(_Payload):
    provider_event_type: Label
    marker_hash: Sha256 | None = None


class _Atom(Struct, tag_field="atom_type", forbid_unknown_fields=True, omit_defaults=True,
            kw_only=True):
    idempotency_key: Label
    captured_at_ns: EpochNs
    direction: Direction | None = None
    signatures: Annotated[list[SidecarSignature], Meta(max_length=8)] = []

    def __post_init__(self) -> None:
        epoch_ns_text(self.captured_at_ns)


class _DirectedAtom(_Atom):
    def __post_init__(self) -> None:
        super().__post_init__()
        if self.direction is None:
            raise ValueError("direction is required for this atom type")


class AudioChunkAtom(_DirectedAtom, tag="audio_chunk"):
    payload: AudioChunkPayload


class TranscriptSpanAtom(_DirectedAtom, tag="transcript_span"):
    payload: TranscriptSpanPayload


class ToolInvocationAttemptAtom(_Atom, tag="tool_invocation_attempt"):
    payload: ToolInvocationAttemptPayload


class LifecycleMarkerAtom(_Atom, tag="lifecycle_marker"):
    payload: LifecycleMarkerPayload


class InterruptionAtom(_Atom, tag="interruption"):
    payload: InterruptionPayload


class ProviderOpaqueMarkerAtom(_Atom, tag="provider_opaque_marker"):
    payload: ProviderOpaqueMarkerPayload


Atom = Union[  # noqa: UP007 - a runtime type for msgspec
    AudioChunkAtom, TranscriptSpanAtom, ToolInvocationAttemptAtom, LifecycleMarkerAtom,
    InterruptionAtom, ProviderOpaqueMarkerAtom,
]


class EventsBody(Struct, forbid_unknown_fields=True, omit_defaults=True, kw_only=True):
    batch_idempotency_key: Label
    events: Annotated[list[Atom], Meta(min_length=1, max_length=MAX_BATCH_ATOMS)]

    def __post_init__(self) -> None:
        seen: set[str] = set()
        for index, atom in enumerate(self.events):
            if atom.idempotency_key in seen:
                raise ValueError(f"events[{index}].idempotency_key "
                                 f"{atom.idempotency_key!r:.60} appears twice in this batch")
            seen.add(atom.idempotency_key)


def atom_type(atom: Any) -> str:
    """The ``atom_type`` tag of a decoded atom."""
    tag: str = type(atom).__struct_config__.tag
    return tag


# -- turns and tool calls -------------------------------------------------------------------------


class SharedPaymentToken(Struct, forbid_unknown_fields=True, omit_defaults=True, kw_only=True):
    id: Label
    valid_until: Rfc3339


class SpendRequestPayload(Struct, forbid_unknown_fields=True, omit_defaults=True, kw_only=True):
    id: Label
    amount: PositiveCount
    currency: Currency
    status: Label
    credential_type: Label
    shared_payment_token: SharedPaymentToken | None = None
    merchant_name: Label | None = None
    merchant_url: Annotated[str, Meta(max_length=2048)] | None = None
    context: LongText | None = None


class SpendAuthority(Struct, forbid_unknown_fields=True, omit_defaults=True, kw_only=True):
    amount_max: Annotated[str, Meta(pattern=r"^[0-9]{1,15}$",
                                    description="Minor units, as a decimal string.")]
    currency_class: Label
    cadence: Literal["one_shot"]
    ttl_seconds: Annotated[int, Meta(ge=1, le=86400)]
    purpose_binding: Label | None = None


class MppContext(Struct, forbid_unknown_fields=True, omit_defaults=True, kw_only=True):
    """The ``mpp.payment`` verb context: ``tool_call.verb_context``, else its ``arguments``."""

    requested_amount: PositiveCount
    requested_currency: Currency
    mpp_target_url: Annotated[str, Meta(min_length=1, max_length=2048)]
    spend_request_payload: SpendRequestPayload
    authority: SpendAuthority


class ToolCall(Struct, forbid_unknown_fields=True, omit_defaults=True, kw_only=True):
    tool_name: Label
    call_id: Label | None = None
    action_verb: Label = AI_GENERATE
    arguments: JsonObject = {}
    verb_context: JsonObject | None = None

    def __post_init__(self) -> None:
        _portable(self.arguments, "arguments")
        if self.verb_context is not None:
            _portable(self.verb_context, "verb_context")
        if self.action_verb == MPP_PAYMENT:
            self.mpp_context()  # malformed payment context: refused now

    def mpp_context(self) -> MppContext:
        """The payment context (``verb_context`` when present, else ``arguments``)."""
        source = self.verb_context if self.verb_context is not None else self.arguments
        try:
            return msgspec.convert(source, MppContext)
        except msgspec.ValidationError as error:
            where = "verb_context" if self.verb_context is not None else "arguments"
            raise ValueError(f"{where}: {_reword(str(error))}") from None


class TurnBody(Struct, forbid_unknown_fields=True, omit_defaults=True, kw_only=True):
    input_tokens: Count
    output_tokens: Count
    risk_budget_used_micros: Count = 0
    metadata: JsonObject = {}
    tool_call: ToolCall | None = None
    idempotency_key: Label | None = None  # keel-emit: makes a retried turn safe

    def __post_init__(self) -> None:
        _portable(self.metadata, "metadata")


class ActionPermitBody(ToolCall):
    """keel-emit design (the guide publishes no members): a tool call outside a turn."""

    idempotency_key: Label | None = None
    target: Annotated[str, Meta(min_length=1, max_length=2048)] | None = None


class InterruptionBody(Struct, forbid_unknown_fields=True, omit_defaults=True, kw_only=True):
    """keel-emit design (the guide publishes no members): signed interruption state."""

    idempotency_key: Label | None = None
    captured_at_ns: EpochNs | None = None
    interrupted_turn_index: PositiveCount | None = None
    reason: Label | None = None
    delivered_digest: Sha256 | None = None
    withheld_digest: Sha256 | None = None
    replacement_digest: Sha256 | None = None
    delivered_ms: Count | None = None
    withheld_ms: Count | None = None
    cutoff_offset_ms: Count | None = None
    provider_cancel_ack: Label | None = None
    redaction_profile_id: Label | None = None
    retention_profile_id: Label | None = None
    signatures: Annotated[list[SidecarSignature], Meta(max_length=8)] = []

    def __post_init__(self) -> None:
        if self.captured_at_ns is not None:
            epoch_ns_text(self.captured_at_ns)


# -- end ----------------------------------------------------------------------------------------


class UsageMetric(Struct, forbid_unknown_fields=True, omit_defaults=True, kw_only=True):
    meter: Label  # realtime_minutes, input_tokens, output_tokens, ...
    quantity: Count


class EndBody(Struct, forbid_unknown_fields=True, omit_defaults=True, kw_only=True):
    usage_metrics: Annotated[list[UsageMetric], Meta(max_length=32)] = []
    metadata: JsonObject = {}
    # keel-emit extensions
    status: Literal["ended", "failed"] = "ended"
    failure_reason: Annotated[str, Meta(min_length=1, max_length=1000)] | None = None

    def __post_init__(self) -> None:
        _portable(self.metadata, "metadata")
        meters = [metric.meter for metric in self.usage_metrics]
        if len(set(meters)) != len(meters):
            raise ValueError("usage_metrics: a meter is listed twice")
        if self.failure_reason is not None and self.status != "failed":
            raise ValueError("failure_reason is only allowed with status 'failed'")


# -- answers (documented in the OpenAPI document; a test checks real answers against them) -------


class ErrorDetail(Struct, kw_only=True):
    message: str
    status: int


class ErrorAnswer(Struct, kw_only=True):
    error: ErrorDetail


class ChainHead(Struct, kw_only=True):
    content_hash: Sha256
    event_count: int
    sequence: int | None


class StartAnswer(Struct, kw_only=True):
    session_id: str
    permit_id: str
    status: Literal["active", "ended", "failed"]
    started_at: Rfc3339
    schema_version: Literal[1, 3]
    policy_snapshot_id: str
    policy_snapshot_hash: Sha256
    risk_budget_total_micros: int | None
    permit: JsonObject
    chain_head: ChainHead


class RecordedEvent(Struct, kw_only=True):
    idempotency_key: str
    event_id: str
    sequence: int
    content_hash: Sha256


class EventsAnswer(Struct, kw_only=True):
    session_id: str
    batch_idempotency_key: str
    accepted: int
    duplicates: list[str]
    events: list[RecordedEvent]
    chain_head: ChainHead


class ToolCallOutcome(Struct, kw_only=True):
    call_id: str
    action_verb: str
    decision: Literal["allow", "deny"]
    user_facing_reason: str | None = None
    permit_id: str | None = None
    permit: JsonObject | None = None


class TurnAnswer(Struct, kw_only=True):
    session_id: str
    turn_index: int
    decision: Literal["allow", "deny"]
    user_facing_reason: str | None = None
    risk_budget_remaining_micros: int | None
    tool_call: ToolCallOutcome | None = None
    chain_head: ChainHead


class ActionPermitAnswer(ToolCallOutcome, kw_only=True):
    session_id: str
    chain_head: ChainHead


class InterruptionAnswer(Struct, kw_only=True):
    session_id: str
    event_id: str
    interruption_count: int
    chain_head: ChainHead


class RiskBudget(Struct, kw_only=True):
    total_micros: int | None
    used_micros: int
    remaining_micros: int | None


class CumulativeUsage(Struct, kw_only=True):
    input_tokens: int  # summed over the turns
    output_tokens: int
    usage_metrics: list[UsageMetric]  # as reported at the end


class SessionAnswer(Struct, kw_only=True):
    """``GET /v1/sessions/{id}``: the session's state and counters."""

    session_id: str
    project_id: str
    permit_id: str
    status: Literal["active", "ended", "failed"]
    schema_version: Literal[1, 3]
    started_at: Rfc3339
    ended_at: Rfc3339 | None
    policy_snapshot_id: str
    policy_snapshot_hash: Sha256
    turn_count: int
    event_count: int
    atom_count: int
    tool_call_count: int
    interruption_count: int
    cumulative_usage: CumulativeUsage
    risk_budget: RiskBudget
    chain_head: ChainHead
    attestation_available: bool


class AttestationArtifact(Struct, kw_only=True, forbid_unknown_fields=False):
    """The ``keel.voice.attestation.phase_a`` artifact (its full schema ships as
    ``schemas/attestation-v3.schema.json`` and ``attestation-v1.schema.json``)."""

    schema: Literal["keel.voice.attestation.phase_a"]
    schema_version: Literal[1, 3]
    signatures: list[JsonObject]
    chain: list[JsonObject]


class EndAnswer(Struct, kw_only=True):
    session_id: str
    permit_id: str
    status: Literal["ended", "failed"]
    policy_snapshot_id: str
    policy_snapshot_hash: Sha256
    turn_count: int
    cumulative_usage: CumulativeUsage
    risk_budget: RiskBudget
    attestation_artifact: AttestationArtifact


class Health(Struct, kw_only=True):
    status: Literal["ok"]


# -- decoding -----------------------------------------------------------------------------------

B = TypeVar("B")
_FIELD_WORDS = (
    (re.compile(r"Object contains unknown field `([^`]*)`"), r"unknown member '\1'"),
    (re.compile(r"Object missing required field `([^`]*)`"), r"missing required member '\1'"),
    (re.compile(r" - at `\$\.?([^`]*)`"), r" (at \1)"),
    (re.compile(r" \(at \)"), ""),
)


def _reword(message: str) -> str:
    """msgspec's wording in the API's terms (JSON members, not fields)."""
    for pattern, replacement in _FIELD_WORDS:
        message = pattern.sub(replacement, message)
    return message


_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
_COLON_ESCAPE = re.compile(rb"\\u003[aA]")


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


class _NotFast(Exception):
    """The fast reading cannot vouch for this body: read it the exact way."""


def _refuse_float(_literal: str) -> Any:
    raise _NotFast


_fast_decode = msgspec.json.Decoder(float_hook=_refuse_float).decode
_compact = msgspec.json.Encoder().encode


def _fast_parse(data: bytes) -> Any:
    """The value the exact reading gives, from msgspec's C decoder, or :class:`_NotFast`.

    msgspec refuses what the exact reading refuses (its errors send the body down the
    exact path, which words them) except two things: floats, which the hook refuses here,
    and duplicate members, which it drops. Those are excluded by counting colons: with no
    escaped colon in the input, every ``:`` there is a member separator or a character of
    a string, and re-encoding the value (msgspec never escapes ``:``) gives as many colons
    if and only if no member was dropped."""
    if _COLON_ESCAPE.search(data):
        raise _NotFast
    try:
        value = _fast_decode(data)
    except Exception:  # anything it refuses (or a float): the exact path decides
        raise _NotFast from None
    if _compact(value).count(b":") != data.count(b":"):
        raise _NotFast  # a duplicate member: the exact reading names it
    return value


def parse(data: bytes, *, max_depth: int = 32) -> Any:
    """A request body's JSON value, parsed strictly: UTF-8 only, no duplicate member, no
    NaN or Infinity. Raises :class:`EmitError` 400.

    The common case is read by msgspec (:func:`_fast_parse`, which proves it gives the
    same value); anything else by the standard library's C parser with a duplicate-member
    hook, and bodies with surrogate escapes by the verifier's own strict loader, which
    also refuses lone surrogates. Depth needs no walk here: declared members have a fixed
    depth, free-form objects are limited where they are declared, and anything deeper
    than the parser's recursion limit is refused by the parser."""
    from keel_verify.errors import LoadError
    from keel_verify.load.loader import _reject_duplicate_keys, parse_json

    try:
        if _SURROGATE_ESCAPE.search(data) or data.startswith(b"\xef\xbb\xbf"):
            return parse_json(data, max_depth=max_depth)
        try:
            return _fast_parse(data)
        except _NotFast:
            pass
        return json.loads(data.decode("utf-8"), object_pairs_hook=_reject_duplicate_keys,
                          parse_constant=_no_constant)
    except LoadError as error:  # the loader's words, duplicate members included
        message = str(error)
    except UnicodeDecodeError as error:
        message = f"invalid UTF-8 at byte {error.start}"
    except json.JSONDecodeError as error:
        message = f"invalid JSON: {error.msg} (line {error.lineno}, column {error.colno})"
    except RecursionError:
        message = "nesting too deep"
    except ValueError as error:  # NaN / Infinity, an integer beyond CPython's digit limit
        message = str(error).splitlines()[0]
    raise EmitError(BAD_REQUEST, f"body is not acceptable JSON: {message}")


def decode(value: Any, body_type: type[B]) -> B:
    """``value`` (parsed JSON) as ``body_type``; :class:`EmitError` 422 naming the member
    when it is not one, 413 for a batch of more than 100 atoms."""
    if body_type is EventsBody and isinstance(value, dict):
        events = value.get("events")
        if isinstance(events, list) and len(events) > MAX_BATCH_ATOMS:
            raise EmitError(PAYLOAD_TOO_LARGE, f"batch has {len(events)} events; at most "
                                               f"{MAX_BATCH_ATOMS} are accepted per batch")
    if value is None:
        value = {}
    try:
        return msgspec.convert(value, body_type)
    except msgspec.ValidationError as error:
        raise EmitError(UNPROCESSABLE, _reword(str(error))) from None


def to_json(value: Any) -> Any:
    """A declared value back to plain JSON (members at their default left out)."""
    return msgspec.to_builtins(value)
