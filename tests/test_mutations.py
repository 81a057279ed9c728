"""Property tests over real emitter artifacts (``keel_verify.emit``): v1 and v3, with a
signed test-TSA receipt and without one (``tsa_status: "degraded_no_receipt"``).

(a) Any single change to the signed content, left unsigned, is never VERIFIED under the
    trust the original verifies under. Inside ``signatures`` every change is reported,
    and the artifact's own (unsigned) ``signed_at`` never decides a key's validity window
    when a verified witness gives an authenticated time.
(b) Any change to one side of a binding, re-signed by the trusted issuer key (and with the
    chain re-linked), is FAILED -- by exactly the check that owns that binding.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import cache
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from keel_verify import Outcome, Report, TrustedKey, TrustPolicy, Verdict, verify_bytes
from keel_verify.crypto.canonical import canonical_bytes
from keel_verify.crypto.rfc3161 import decode_base64_der, parse_token
from keel_verify.emit.artifact import dump_artifact
from keel_verify.emit.demo import build_demo_artifact
from keel_verify.emit.keys import DEMO_TSA_SEED, demo_issuer_key
from keel_verify.emit.signing import raw_public_key, sign_document
from keel_verify.emit.tsa_authority import TestTimestampAuthority
from keel_verify.trust.signer import ISSUED_AT_BASIS
from tests.helpers import OTHER_PUBLIC, json_paths, rechain

ISSUER = demo_issuer_key()
ROOT = TestTimestampAuthority.from_seed(DEMO_TSA_SEED).root_certificate
PINNED = TrustedKey(public_key=raw_public_key(ISSUER), source="pinned demo issuer key")
TRUST = TrustPolicy(issuer_keys=(PINNED,), tsa_roots=(ROOT,), tsa_roots_source="demo TSA root")
VARIANTS = [(1, True), (1, False), (3, True), (3, False)]
VARIANT_IDS = ["v1-tsa", "v1-degraded", "v3-tsa", "v3-degraded"]
Doc = dict[str, Any]
Draw = Callable[[st.SearchStrategy[Any]], Any]  # hypothesis' data.draw

PROPERTY = settings(
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                           HealthCheck.large_base_example],
)


@cache
def _built(version: int, witnessed: bool) -> str:
    return json.dumps(build_demo_artifact(version, tsa="local" if witnessed else None))


def artifact(version: int, witnessed: bool) -> Doc:
    """A fresh copy of the emitter's deterministic demo artifact."""
    document: Doc = json.loads(_built(version, witnessed))
    return document


def verify(document: Any, trust: TrustPolicy = TRUST, now: datetime | None = None) -> Report:
    return verify_bytes(dump_artifact(document), trust, now=now)


def signed(document: Doc) -> Doc:
    return sign_document(document, ISSUER, signed_at=document["signatures"][0]["signed_at"],
                         key_id=document["signatures"][0]["key_id"])


def failing(report: Report) -> set[str]:
    return {result.name for result in report.checks if result.outcome is Outcome.FAIL}


def unsigned_bytes(document: Any) -> bytes:
    if not isinstance(document, dict):
        return canonical_bytes(document)
    return canonical_bytes({k: v for k, v in document.items() if k != "signatures"})


def gen_time(document: Doc) -> Any:
    token = parse_token(decode_base64_der(document["timestamp_receipts"][0]["tsa_response_base64"]))
    return token.gen_time


@pytest.mark.parametrize(("version", "witnessed"), VARIANTS, ids=VARIANT_IDS)
def test_emitter_artifacts_verify_under_the_original_trust(version: int, witnessed: bool) -> None:
    report = verify(artifact(version, witnessed))
    assert report.verdict is Verdict.VERIFIED, [c for c in report.checks if c.outcome is not
                                                Outcome.PASS]
    not_passing = {c.name: c.outcome for c in report.checks if c.outcome is not Outcome.PASS}
    if witnessed:
        assert not_passing == {}
        assert report.signer is not None and "witnessed genTime" in str(report.signer.time_basis)
    else:
        assert not_passing == {"rfc3161_timestamp_receipt": Outcome.SKIP,
                               "timestamp_witness": Outcome.WARN}


# --- (a) unsigned changes ---------------------------------------------------------------

json_scalars = (
    st.none() | st.booleans() | st.integers(-(2**64), 2**64)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=16)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner,
                                                                  max_size=3),
    max_leaves=8,
)




def _retyped(value: Any) -> Any:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str):
        return [value]
    if value is None:
        return "null"
    if isinstance(value, list):
        return dict(enumerate(map(str, range(len(value)))))
    return list(value.values())


def _mutate_structure(draw: Draw, document: Doc) -> str:
    """One change anywhere outside ``signatures``; returns a description."""
    lists = [p for p in json_paths(document) if p and p[0] != "signatures"
             and isinstance(_at(document, p), list) and _at(document, p)]
    operation = draw(st.sampled_from(["replace", "delete", "add", "retype", "reorder",
                                      "duplicate", "drop", "swap"]))
    if operation in ("reorder", "duplicate", "drop", "swap"):
        path = draw(st.sampled_from(lists))
        items: list[Any] = _at(document, path)
        if operation == "reorder":
            items[:] = draw(st.permutations(items))
        elif operation == "duplicate":
            index = draw(st.integers(0, len(items) - 1))
            items.insert(draw(st.integers(0, len(items))), copy.deepcopy(items[index]))
        elif operation == "drop":
            del items[draw(st.integers(0, len(items) - 1))]
        else:
            first = draw(st.integers(0, len(items) - 1))
            second = draw(st.integers(0, len(items) - 1))
            items[first], items[second] = items[second], items[first]
        return f"{operation} {path}"
    places = [p for p in json_paths(document) if p and p[0] != "signatures"]
    path = draw(st.sampled_from(places))
    parent = _at(document, path[:-1])
    if operation == "replace":
        parent[path[-1]] = draw(json_values)
    elif operation == "delete":
        del parent[path[-1]]
    elif operation == "retype":
        parent[path[-1]] = _retyped(parent[path[-1]])
    elif isinstance(parent, dict):
        parent[draw(st.text(max_size=10))] = draw(json_values)
    else:
        parent.insert(path[-1], draw(json_values))
    return f"{operation} {path}"


def _at(document: Any, path: tuple[Any, ...]) -> Any:
    for token in path:
        document = document[token]
    return document


@PROPERTY
@given(st.sampled_from(VARIANTS), st.data())
def test_any_unsigned_change_is_never_verified(variant: tuple[int, bool], data: st.DataObject) -> None:
    original = artifact(*variant)
    document = artifact(*variant)
    what = _mutate_structure(data.draw, document)
    changed = unsigned_bytes(document) != unsigned_bytes(original)
    report = verify(document)
    if changed:
        assert report.verdict is not Verdict.VERIFIED, what
        if report.verdict is not Verdict.ERROR:  # e.g. an unsupported schema_version
            assert report.verdict is Verdict.FAILED, what
            assert report.check("issuer_signature").outcome is Outcome.FAIL, what
    else:  # e.g. two equal entries swapped: the signed bytes are the same
        assert report.verdict is Verdict.VERIFIED, what


# --- (a) changes inside signatures ------------------------------------------------------

SIGNATURE_FIELDS = ["signature", "public_key", "content_hash", "algorithm"]


@PROPERTY
@given(st.sampled_from(VARIANTS), st.sampled_from(SIGNATURE_FIELDS), st.data())
def test_a_changed_signature_field_is_reported_and_fails(
    variant: tuple[int, bool], field: str, data: st.DataObject
) -> None:
    document = artifact(*variant)
    entry = document["signatures"][0]
    replacement = data.draw(
        st.sampled_from([OTHER_PUBLIC, "sha256:" + "0" * 64, "ed25519:" + "A" * 86 + "==", ""])
        | json_scalars
    )
    assume(replacement != entry[field])
    entry[field] = replacement
    report = verify(document)
    assert report.verdict is Verdict.FAILED
    result = report.check("issuer_signature")
    assert result.outcome is Outcome.FAIL
    assert result.pointer == "/signatures/0"
    assert result.details["signatures"][0]["valid"] is False


@PROPERTY
@given(st.sampled_from(VARIANTS), st.sampled_from(["key_purpose", "signed_at"]),
       st.text(max_size=30) | json_scalars)
def test_a_changed_unsigned_claim_changes_nothing(
    variant: tuple[int, bool], field: str, replacement: Any
) -> None:
    # key_purpose and signed_at lie outside the signed bytes: purpose comes from the trust
    # policy and time from what bounds the signing, so no rewrite of them decides anything.
    document = artifact(*variant)
    before = verify(document).check("issuer_signature").outcome
    document["signatures"][0][field] = replacement
    assert verify(document).check("issuer_signature").outcome is before


@PROPERTY
@given(st.sampled_from(VARIANTS), st.text(max_size=40))
def test_a_changed_key_id_is_only_a_label_and_is_reported(
    variant: tuple[int, bool], key_id: str
) -> None:
    document = artifact(*variant)
    document["signatures"][0]["key_id"] = key_id
    report = verify(document)
    assert report.check("issuer_signature").outcome is Outcome.PASS
    assert report.signer is not None
    assert report.signer.claimed_key_id == key_id  # shown, as a claim only
    assert report.signer.label is None and report.signer.fingerprint is not None
    assert report.check("issuer_signature").details["signatures"][0]["claimed_key_id"] == key_id


@PROPERTY
@given(st.sampled_from(VARIANTS), st.sampled_from(["drop", "empty", "not-a-list", "extra"]))
def test_removed_or_extra_signatures_are_reported(variant: tuple[int, bool], how: str) -> None:
    document = artifact(*variant)
    if how == "drop":
        document["signatures"] = [copy.deepcopy(document["signatures"][0])]
        document["signatures"][0]["signature"] = "ed25519:" + "A" * 86 + "=="
    elif how == "empty":
        document["signatures"] = []
    elif how == "not-a-list":
        document["signatures"] = document["signatures"][0]
    else:
        bogus = copy.deepcopy(document["signatures"][0])
        bogus["signature"] = "ed25519:" + "A" * 86 + "=="
        document["signatures"].append(bogus)
    report = verify(document)
    result = report.check("issuer_signature")
    if how == "extra":
        assert result.outcome is Outcome.PASS and "not counted" in result.reason
        assert [s["valid"] for s in result.details["signatures"]] == [True, False]
    else:
        assert result.outcome is Outcome.FAIL and report.verdict is Verdict.FAILED


timestamps = st.datetimes().map(lambda moment: moment.strftime("%Y-%m-%dT%H:%M:%SZ"))


@PROPERTY
@given(st.sampled_from([1, 3]), timestamps | st.text(max_size=30) | st.none())
def test_unsigned_signed_at_never_decides_a_witnessed_keys_window(
    version: int, signed_at: Any
) -> None:
    document = artifact(version, True)
    witnessed = gen_time(document)
    document["signatures"][0]["signed_at"] = signed_at
    # A key valid only for two seconds around the witnessed genTime ...
    around = TrustedKey(public_key=PINNED.public_key, source="window around genTime",
                        not_before=witnessed - timedelta(seconds=1),
                        not_after=witnessed + timedelta(seconds=1))
    policy = TrustPolicy(issuer_keys=(around,), tsa_roots=(ROOT,))
    result = verify(document, policy, now=witnessed).check("issuer_signature")
    assert result.outcome is Outcome.PASS, result.reason
    assert "witnessed genTime" in str(result.details["time_basis"])
    # Verified later, once the window has closed, only issued_at keeps it inside: a warning.
    later = verify(document, policy).check("issuer_signature")
    assert later.outcome is Outcome.WARN, later.reason
    assert "rests only on issued_at" in later.reason
    # ... and one that expired a second before it: no signed_at can revive it.
    expired = TrustedKey(public_key=PINNED.public_key, source="expired before genTime",
                         not_after=witnessed - timedelta(seconds=1))
    report = verify(document, TrustPolicy(issuer_keys=(expired,), tsa_roots=(ROOT,)))
    assert report.check("issuer_signature").outcome is Outcome.FAIL
    assert report.verdict is Verdict.FAILED


def test_without_a_witness_the_report_says_what_decided() -> None:
    # No receipt: nothing authenticates a time, and the report must say what decided.
    report = verify(artifact(3, False))
    assert report.signer is not None
    assert report.signer.time_basis == ISSUED_AT_BASIS


@PROPERTY
@given(st.sampled_from([1, 3]), timestamps | st.text(max_size=30) | st.none())
def test_unsigned_signed_at_never_decides_an_unwitnessed_keys_window(
    version: int, signed_at: Any
) -> None:
    document = artifact(version, False)
    issued = datetime.fromisoformat(document["issued_at"])
    document["signatures"][0]["signed_at"] = signed_at
    # Valid only around the signed issued_at: whatever signed_at says, it passes ...
    around = TrustedKey(public_key=PINNED.public_key, source="window around issued_at",
                        not_before=issued - timedelta(seconds=1),
                        not_after=issued + timedelta(seconds=1))
    result = verify(document, TrustPolicy(issuer_keys=(around,)), now=issued).check(
        "issuer_signature")
    assert result.outcome is Outcome.PASS, result.reason
    # ... and a key revoked before issued_at fails, whatever signed_at says.
    revoked = TrustedKey(public_key=PINNED.public_key, source="revoked before issued_at",
                         status="revoked", revoked_at=issued - timedelta(seconds=1))
    report = verify(document, TrustPolicy(issuer_keys=(revoked,)))
    assert report.check("issuer_signature").outcome is Outcome.FAIL


# --- (b) bindings, re-signed by the trusted key -----------------------------------------

# Identifiers without control characters (the schema's "project:.+" excludes a newline).
texts = st.text(st.characters(exclude_categories=("Cc", "Cs")), min_size=1, max_size=24)
hashes = st.binary(min_size=32, max_size=32).map(lambda raw: "sha256:" + raw.hex())
Mutation = Callable[[Draw, Doc], tuple[str, str]]


def _other(draw: Draw, strategy: st.SearchStrategy[Any], current: Any) -> Any:
    return draw(strategy.filter(lambda value: value != current))


def _entry(draw: Draw, document: Doc, start: int = 0) -> int:
    index: int = draw(st.integers(start, len(document["chain"]) - 1))
    return index


def _receipts(document: Doc) -> list[Doc]:
    single = document["rfc3161_timestamp_receipt"]
    return [*document["timestamp_receipts"], *([single] if single is not None else [])]


def _permits(document: Doc) -> list[tuple[str, Doc]]:
    permits = document["permits"]
    found = [("/permits/parent_session_permit", permits["parent_session_permit"])]
    found += [(f"/permits/child_tool_call_permits/{i}", p)
              for i, p in enumerate(permits["child_tool_call_permits"])]
    return found


def entry_session(draw: Draw, document: Doc) -> tuple[str, str]:
    i = _entry(draw, document)
    entry = document["chain"][i]
    entry["session_id"] = _other(draw, texts, entry["session_id"])
    rechain(document)
    return "session_binding", f"/chain/{i}/session_id"


def entry_scope(draw: Draw, document: Doc) -> tuple[str, str]:
    i = _entry(draw, document)
    entry = document["chain"][i]
    entry["chain_scope"] = "project:" + _other(draw, texts, entry["chain_scope"][8:])
    rechain(document)
    return "session_binding", f"/chain/{i}/chain_scope"


def entry_sequence(draw: Draw, document: Doc) -> tuple[str, str]:
    i = _entry(draw, document, start=1)
    chain = document["chain"]
    chain[i]["sequence"] = draw(st.integers(1, chain[i - 1]["sequence"]))
    rechain(document)
    return "session_binding", f"/chain/{i}/sequence"


def head_sequence(draw: Draw, document: Doc) -> tuple[str, str]:
    head = document["chain_head"]
    head["sequence"] = _other(draw, st.integers(0, 10**6), head["sequence"])
    return "session_binding", "/chain_head/sequence"


def project_head_sequence(draw: Draw, document: Doc) -> tuple[str, str]:
    sequence = draw(st.integers(1, document["chain_head"]["sequence"]))
    document["project_chain_head"]["sequence"] = sequence
    for receipt in _receipts(document):
        receipt["covers_chain_head_at_sequence"] = sequence
    return "session_binding", "/project_chain_head/sequence"


def project_head_scope(draw: Draw, document: Doc) -> tuple[str, str]:
    head = document["project_chain_head"]
    head["chain_scope"] = "project:" + _other(draw, texts, head["chain_scope"][8:])
    return "session_binding", "/project_chain_head/chain_scope"


def payload(draw: Draw, document: Doc) -> tuple[str, str]:
    i = _entry(draw, document)
    document["chain"][i]["canonicalized_payload"]["injected"] = draw(json_scalars)
    rechain(document)
    return "payload_hashes", f"/chain/{i}/canonicalized_payload_hash"


def payload_hash(draw: Draw, document: Doc) -> tuple[str, str]:
    i = _entry(draw, document)
    entry = document["chain"][i]
    entry["canonicalized_payload_hash"] = _other(draw, hashes, entry["canonicalized_payload_hash"])
    rechain(document)
    return "payload_hashes", f"/chain/{i}/canonicalized_payload_hash"


def snapshot_hash(draw: Draw, document: Doc) -> tuple[str, str]:
    snapshot = document["policy_snapshot"]
    snapshot["snapshot_hash"] = _other(draw, hashes, snapshot["snapshot_hash"])
    return "policy_binding", "/policy_snapshot/snapshot_hash"


def snapshot_id(draw: Draw, document: Doc) -> tuple[str, str]:
    metadata = document["session_metadata"]
    metadata["policy_snapshot_id"] = _other(draw, texts, metadata["policy_snapshot_id"])
    return "policy_binding", "/session_metadata/policy_snapshot_id"


def permit_policy(draw: Draw, document: Doc) -> tuple[str, str]:
    pointer, permit = draw(st.sampled_from(_permits(document)))
    permit["policy_snapshot_hash"] = _other(draw, hashes, permit["policy_snapshot_hash"])
    return "policy_binding", f"{pointer}/policy_snapshot_hash"


def permit_project(draw: Draw, document: Doc) -> tuple[str, str]:
    pointer, permit = draw(st.sampled_from(_permits(document)))
    permit["project_id"] = _other(draw, texts, permit["project_id"])
    return "policy_binding", f"{pointer}/project_id"


def child_session(draw: Draw, document: Doc) -> tuple[str, str]:
    pointer, permit = draw(st.sampled_from(_permits(document)[1:]))
    member = draw(st.sampled_from(["session_id", "binding_session_id"]))
    permit[member] = _other(draw, texts, permit[member])
    return "permit_linkage", f"{pointer}/{member}"


def child_binding_to_another_entry(draw: Draw, document: Doc) -> tuple[str, str]:
    pointer, permit = draw(st.sampled_from(_permits(document)[1:]))
    others = [e["content_hash"] for e in document["chain"] if e["permit_id"] != permit["permit_id"]]
    permit["binding_session_event_hash"] = draw(st.sampled_from(others))
    return "permit_linkage", f"{pointer}/binding_session_event_hash"


def child_binding_unknown(draw: Draw, document: Doc) -> tuple[str, str]:
    pointer, permit = draw(st.sampled_from(_permits(document)[1:]))
    known = {e["content_hash"] for e in document["chain"]}
    permit["binding_session_event_hash"] = draw(hashes.filter(lambda h: h not in known))
    return "permit_linkage", f"{pointer}/binding_session_event_hash"


def entry_permit(draw: Draw, document: Doc) -> tuple[str, str]:
    free = [i for i, e in enumerate(document["chain"]) if e["permit_id"] is None]
    i = draw(st.sampled_from(free))
    known = {p["permit_id"] for _, p in _permits(document)}
    document["chain"][i]["permit_id"] = draw(texts.filter(lambda t: t not in known))
    rechain(document)
    return "permit_linkage", f"/chain/{i}/permit_id"


def duplicate_permit(draw: Draw, document: Doc) -> tuple[str, str]:
    children = document["permits"]["child_tool_call_permits"]
    children.append(copy.deepcopy(draw(st.sampled_from(children))))
    return "permit_linkage", f"/permits/child_tool_call_permits/{len(children) - 1}/permit_id"


def parent_reference(draw: Draw, document: Doc) -> tuple[str, str]:
    pointer, permit = draw(st.sampled_from(_permits(document)[1:]))
    permit["parent_permit_id"] = _other(draw, texts, permit["parent_permit_id"])
    return "permit_linkage", f"{pointer}/parent_permit_id"


def covered_sequence(draw: Draw, document: Doc) -> tuple[str, str]:
    current = document["project_chain_head"]["sequence"]
    sequence = _other(draw, st.integers(1, 10**6), current)
    for receipt in _receipts(document):
        receipt["covers_chain_head_at_sequence"] = sequence
    return "receipt_coverage", "/timestamp_receipts/0/covers_chain_head_at_sequence"


def receipt_hash(draw: Draw, document: Doc) -> tuple[str, str]:
    value = _other(draw, hashes, document["timestamp_receipts"][0]["receipt_hash"])
    for receipt in _receipts(document):
        receipt["receipt_hash"] = value
    return "receipt_coverage", "/timestamp_receipts/0/receipt_hash"


def degraded_with_receipts(draw: Draw, document: Doc) -> tuple[str, str]:
    document["tsa_status"] = "degraded_no_receipt"
    return "receipt_coverage", "/tsa_status"


EVERYWHERE: list[Mutation] = [
    entry_session, entry_scope, entry_sequence, head_sequence, project_head_sequence,
    project_head_scope, snapshot_hash, snapshot_id, permit_policy, permit_project,
    child_session, child_binding_to_another_entry, entry_permit, duplicate_permit,
    parent_reference,
]
EMBEDDED_ONLY: list[Mutation] = [payload, payload_hash, child_binding_unknown]
WITNESSED_ONLY: list[Mutation] = [covered_sequence, receipt_hash, degraded_with_receipts]


def _mutations(version: int, witnessed: bool) -> list[Mutation]:
    return [*EVERYWHERE, *(EMBEDDED_ONLY if version == 1 else []),
            *(WITNESSED_ONLY if witnessed else [])]


#: Every (variant, mutation) pair runs; each gets a share of the profile's examples.
PER_PAIR = settings(PROPERTY, max_examples=max(2, settings().max_examples // 8))
PAIRS = [
    pytest.param(version, witnessed, mutation, id=f"{variant_id}-{mutation.__name__}")
    for (version, witnessed), variant_id in zip(VARIANTS, VARIANT_IDS, strict=True)
    for mutation in _mutations(version, witnessed)
]


@pytest.mark.parametrize(("version", "witnessed", "mutation"), PAIRS)
@PER_PAIR
@given(data=st.data())
def test_a_broken_binding_is_failed_by_its_owner(
    version: int, witnessed: bool, mutation: Mutation, data: st.DataObject
) -> None:
    document = artifact(version, witnessed)
    owner, pointer = mutation(data.draw, document)
    report = verify(signed(document))
    assert report.verdict is Verdict.FAILED
    result = report.check(owner)
    assert result.outcome is Outcome.FAIL, result
    assert result.pointer == pointer, result
    assert failing(report) == {owner}, report.checks
