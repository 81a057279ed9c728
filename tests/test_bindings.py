"""The cross-binding checks (docs/format.md §9.4, §9.6).

Each tampering below is re-signed with the trusted test key and, where chain entries are
touched, re-linked (``rechain``), so the signature, the chain and every other check stay
valid: only the binding under test can catch it. ``_only_binding_failure`` proves that
twice -- no core check and no other binding check fails, and a run of every core and
binding check *except* the one under test would have VERIFIED the artifact.
"""

from __future__ import annotations

import base64
import copy
from collections.abc import Callable
from typing import Any

import pytest
from asn1crypto import cms, tsp

from keel_verify import Outcome, Report, TrustPolicy, Verdict, verify_bytes
from keel_verify.checks import ALL_CHECKS, CORE_CHECK_NAMES
from keel_verify.context import CheckContext
from keel_verify.crypto.canonical import GENESIS_HASH, canonical_hash, tagged_sha256
from keel_verify.crypto.format import snapshot_hash_hex
from keel_verify.crypto.rfc3161 import decode_base64_der, parse_token
from keel_verify.load.loader import load_bytes
from keel_verify.pipeline import decide_verdict, run_checks
from tests.helpers import TEST_ISSUER_PUBLIC, public_v1, public_v3, rechain, resign, to_bytes

TRUST = TrustPolicy.pinned(TEST_ISSUER_PUBLIC)
STRICT = TrustPolicy.pinned(TEST_ISSUER_PUBLIC, strict=True)
BINDING_NAMES = (
    "session_binding",
    "payload_hashes",
    "policy_binding",
    "permit_linkage",
    "receipt_coverage",
    "canonical_portability",
)
CHILD = "/permits/child_tool_call_permits/0"
OTHER_HASH = "sha256:" + "ab" * 32
Doc = dict[str, Any]
SAMPLES = pytest.mark.parametrize("make", [public_v1, public_v3], ids=["v1", "v3"])


def _signed(document: Doc, trust: TrustPolicy = TRUST) -> tuple[bytes, Report]:
    data = to_bytes(resign(document))
    return data, verify_bytes(data, trust)


def _verify(document: Doc, trust: TrustPolicy = TRUST) -> Report:
    return _signed(document, trust)[1]


def _verdict_with_only(data: bytes, names: set[str]) -> Verdict:
    """The verdict a pipeline running only the named checks would reach."""
    context = CheckContext(load_bytes(data, exact=True), TRUST)
    checks = tuple(check for check in ALL_CHECKS if check.name in names)
    assert {check.name for check in checks} == names
    return decide_verdict(context, run_checks(context, checks))


def _failing(report: Report) -> set[str]:
    return {c.name for c in report.checks if c.outcome is Outcome.FAIL}


def _only_binding_failure(document: Doc, name: str, pointer: str) -> Report:
    data, report = _signed(document)
    assert report.verdict is Verdict.FAILED
    result = report.check(name)
    assert result.outcome is Outcome.FAIL, result
    assert result.pointer == pointer, result
    assert "\n" not in result.reason
    assert _failing(report) & set(CORE_CHECK_NAMES) == set(), report.checks
    assert _failing(report) & set(BINDING_NAMES) == {name}, report.checks
    others = set(CORE_CHECK_NAMES) | set(BINDING_NAMES)
    assert _verdict_with_only(data, others - {name}) is Verdict.VERIFIED
    assert _verdict_with_only(data, others) is Verdict.FAILED
    return report


def _fails_at(document: Doc, name: str, pointer: str) -> Report:
    """For tamperings another check (usually the JSON Schema) also catches."""
    report = _verify(document)
    assert report.verdict is Verdict.FAILED
    result = report.check(name)
    assert result.outcome is Outcome.FAIL, result
    assert result.pointer == pointer, result
    return report


def _receipts(document: Doc) -> list[Doc]:
    return [*document["timestamp_receipts"], document["rfc3161_timestamp_receipt"]]


# --- the public samples -----------------------------------------------------------------


def test_public_v1_passes_every_binding() -> None:
    report = _verify(public_v1())
    assert _failing(report) & (set(CORE_CHECK_NAMES) | set(BINDING_NAMES)) == set()
    for name in BINDING_NAMES:
        assert report.check(name).outcome is Outcome.PASS, report.check(name)
    assert "(recomputed)" in report.check("payload_hashes").reason
    assert report.check("canonical_portability").reason == (
        "within the RFC 8785 (JCS) domain: a JCS verifier computes the same bytes"
    )
    assert report.check("permit_linkage").details["confirmed_bindings"] == 1


def test_public_v3_warns_only_on_the_unconfirmable_permit_binding() -> None:
    report = _verify(public_v3())
    for name in BINDING_NAMES:
        expected = Outcome.WARN if name == "permit_linkage" else Outcome.PASS
        assert report.check(name).outcome is expected, report.check(name)
    linkage = report.check("permit_linkage")
    assert linkage.pointer == f"{CHILD}/binding_session_event_hash"
    assert "cannot be confirmed" in linkage.reason and "hash-only" in linkage.reason
    assert "carried, not recomputed" in report.check("payload_hashes").reason


def test_unconfirmable_v3_binding_fails_only_under_strict() -> None:
    data = to_bytes(resign(public_v3()))
    names = set(CORE_CHECK_NAMES) | set(BINDING_NAMES)
    assert _verdict_with_only(data, names) is Verdict.VERIFIED
    context = CheckContext(load_bytes(data), STRICT)
    checks = tuple(check for check in ALL_CHECKS if check.name in names)
    assert decide_verdict(context, run_checks(context, checks)) is Verdict.FAILED


@SAMPLES
def test_rechain_reproduces_the_untouched_samples(make: Callable[[], Doc]) -> None:
    assert rechain(make(), payloads=True) == make()


# --- session_binding --------------------------------------------------------------------


def test_session_binding_catches_an_entry_from_another_session_v1() -> None:
    document = public_v1()
    document["chain"][1]["session_id"] = "sess_someone_else"
    report = _only_binding_failure(rechain(document), "session_binding", "/chain/1/session_id")
    assert "sess_someone_else" in report.check("session_binding").reason


def test_session_binding_catches_an_entry_from_another_project_v3() -> None:
    document = public_v3()
    document["chain"][0]["chain_scope"] = "project:proj_other"
    _only_binding_failure(rechain(document), "session_binding", "/chain/0/chain_scope")


@pytest.mark.parametrize("sequences", [(102, 101), (102, 102)], ids=["decreasing", "equal"])
def test_session_binding_catches_unordered_sequences(sequences: tuple[int, int]) -> None:
    document = public_v1()
    for entry, sequence in zip(document["chain"], sequences, strict=True):
        entry["sequence"] = sequence
    document["chain_head"]["sequence"] = sequences[1]
    report = _only_binding_failure(rechain(document), "session_binding", "/chain/1/sequence")
    assert "strictly increase" in report.check("session_binding").reason


@SAMPLES
def test_session_binding_catches_a_wrong_chain_head_sequence(make: Callable[[], Doc]) -> None:
    document = make()
    document["chain_head"]["sequence"] = 101
    _only_binding_failure(document, "session_binding", "/chain_head/sequence")


def test_session_binding_catches_a_project_head_not_after_the_session() -> None:
    document = public_v3()
    document["project_chain_head"]["sequence"] = 102
    for receipt in _receipts(document):
        receipt["covers_chain_head_at_sequence"] = 102
    report = _only_binding_failure(document, "session_binding", "/project_chain_head/sequence")
    assert "not above" in report.check("session_binding").reason


def test_session_binding_catches_a_project_head_of_another_project() -> None:
    document = public_v1()
    document["project_chain_head"]["chain_scope"] = "project:proj_other"
    _only_binding_failure(document, "session_binding", "/project_chain_head/chain_scope")


def test_session_binding_reads_a_sequence_written_as_a_float_strictly() -> None:
    # A JSON Schema "integer" accepts 102.0; the format's sequences are integers.
    document = public_v1()
    document["chain"][1]["sequence"] = 102.0
    report = _only_binding_failure(rechain(document), "session_binding", "/chain/1/sequence")
    assert "a number (102.0), not an integer" in report.check("session_binding").reason
    assert report.check("canonical_portability").outcome is Outcome.WARN


@pytest.mark.parametrize("value", [True, "102", 102.5, None], ids=["bool", "string", "fraction",
                                                                    "null"])
@pytest.mark.parametrize(
    ("path", "pointer"),
    [
        (("chain_head", "event_count"), "/chain_head/event_count"),
        (("chain_head", "sequence"), "/chain_head/sequence"),
        (("chain", 0, "sequence"), "/chain/0/sequence"),
        (("chain", 0, "artifact_sequence"), "/chain/0/artifact_sequence"),
        (("project_chain_head", "sequence"), "/project_chain_head/sequence"),
        (("timestamp_receipts", 0, "covers_chain_head_at_sequence"),
         "/timestamp_receipts/0/covers_chain_head_at_sequence"),
    ],
)
def test_session_binding_requires_integers(path: tuple[Any, ...], pointer: str, value: Any) -> None:
    document = public_v3()
    target: Any = document
    for token in path[:-1]:
        target = target[token]
    target[path[-1]] = value
    if path[0] == "timestamp_receipts":
        document["rfc3161_timestamp_receipt"] = None
    report = _verify(rechain(document))
    result = report.check("session_binding")
    assert result.outcome is Outcome.FAIL
    assert any(p["pointer"] == pointer and "integer" in p["problem"]
               for p in result.details["problems"]), result


def test_session_binding_empty_chain_needs_a_null_head_sequence() -> None:
    document = public_v3()
    document["chain"] = []
    document["chain_head"] = {"content_hash": GENESIS_HASH, "event_count": 0, "sequence": None}
    document["permits"]["child_tool_call_permits"] = []
    report = _verify(document)
    assert report.check("session_binding").outcome is Outcome.PASS
    assert "chain is empty" in report.check("session_binding").reason
    del document["chain_head"]["sequence"]
    assert _verify(document).check("session_binding").outcome is Outcome.PASS
    document["chain_head"]["sequence"] = 102
    report = _only_binding_failure(document, "session_binding", "/chain_head/sequence")
    assert "empty" in report.check("session_binding").reason


# --- payload_hashes ---------------------------------------------------------------------


def test_payload_hashes_catches_an_edited_v1_payload() -> None:
    document = public_v1()
    document["chain"][0]["canonicalized_payload"]["jurisdiction_codes"] = []
    report = _only_binding_failure(
        rechain(document), "payload_hashes", "/chain/0/canonicalized_payload_hash"
    )
    assert "recomputed" in report.check("payload_hashes").reason


def test_payload_hashes_catches_a_substituted_v1_payload_hash() -> None:
    document = public_v1()
    document["chain"][1]["canonicalized_payload_hash"] = OTHER_HASH
    _only_binding_failure(rechain(document), "payload_hashes", "/chain/1/canonicalized_payload_hash")


def test_rechain_with_payloads_heals_an_edited_v1_payload() -> None:
    document = public_v1()
    document["chain"][0]["canonicalized_payload"]["jurisdiction_codes"] = []
    report = _verify(rechain(document, payloads=True))
    assert report.check("payload_hashes").outcome is Outcome.PASS


@pytest.mark.parametrize(
    ("edit", "pointer"),
    [
        (lambda e: e.update(canonicalized_payload={"leak": 1}), "/chain/0/canonicalized_payload"),
        (lambda e: e.update(payload_materialization="embedded"),
         "/chain/0/payload_materialization"),
        (lambda e: e.pop("payload_materialization"), "/chain/0/payload_materialization"),
        (lambda e: e.update(canonicalized_payload_hash="sha256:ABC"),
         "/chain/0/canonicalized_payload_hash"),
    ],
    ids=["embedded-payload", "materialization", "no-materialization", "bad-hash"],
)
def test_payload_hashes_v3_entries_must_be_hash_only(
    edit: Callable[[Doc], object], pointer: str
) -> None:
    document = public_v3()
    edit(document["chain"][0])
    _fails_at(rechain(document), "payload_hashes", pointer)  # the v3 schema agrees


def test_payload_hashes_v1_entries_must_embed_their_payload() -> None:
    document = public_v1()
    del document["chain"][1]["canonicalized_payload"]
    _fails_at(rechain(document), "payload_hashes", "/chain/1/canonicalized_payload")


# --- policy_binding ---------------------------------------------------------------------


def test_policy_binding_catches_a_wrong_snapshot_hash_member() -> None:
    # snapshot_hash is excluded from the snapshot's own hash: the core check cannot see it.
    document = public_v3()
    document["policy_snapshot"]["snapshot_hash"] = OTHER_HASH
    _only_binding_failure(document, "policy_binding", "/policy_snapshot/snapshot_hash")


def test_policy_binding_catches_another_snapshot_id() -> None:
    document = public_v1()
    document["session_metadata"]["policy_snapshot_id"] = "ps_other"
    _only_binding_failure(document, "policy_binding", "/session_metadata/policy_snapshot_id")


@SAMPLES
def test_policy_binding_catches_a_permit_under_another_policy(make: Callable[[], Doc]) -> None:
    document = make()
    document["permits"]["child_tool_call_permits"][0]["policy_snapshot_hash"] = OTHER_HASH
    _only_binding_failure(document, "policy_binding", f"{CHILD}/policy_snapshot_hash")


def test_policy_binding_catches_a_permit_of_another_project() -> None:
    document = public_v3()
    document["permits"]["child_tool_call_permits"][0]["project_id"] = "proj_other"
    _only_binding_failure(document, "policy_binding", f"{CHILD}/project_id")


def test_policy_binding_catches_a_snapshot_of_another_project() -> None:
    document = public_v1()
    snapshot = document["policy_snapshot"]
    snapshot["project_id"] = "proj_other"
    recomputed = snapshot_hash_hex(snapshot)  # every hash follows: only the project differs
    snapshot["snapshot_hash"] = "sha256:" + recomputed
    document["session_metadata"]["policy_snapshot_hash"] = recomputed
    document["permits"]["child_tool_call_permits"][0]["policy_snapshot_hash"] = "sha256:" + recomputed
    _only_binding_failure(document, "policy_binding", "/policy_snapshot/project_id")


def test_policy_binding_accepts_either_hash_form() -> None:
    document = public_v3()
    bare = document["session_metadata"]["policy_snapshot_hash"]
    document["session_metadata"]["policy_snapshot_hash"] = "sha256:" + bare
    document["policy_snapshot"]["snapshot_hash"] = bare
    document["permits"]["child_tool_call_permits"][0]["policy_snapshot_hash"] = bare
    assert _verify(document).check("policy_binding").outcome is Outcome.PASS


def _with_parent_permit(document: Doc) -> Doc:
    parent = copy.deepcopy(document["permits"]["child_tool_call_permits"][0])
    parent.update(permit_id="perm_session_parent", binding_session_event_hash=None)
    document["permits"]["parent_session_permit"] = parent
    return document


def test_policy_binding_covers_the_parent_permit() -> None:
    document = _with_parent_permit(public_v1())
    report = _verify(document)
    assert report.check("policy_binding").outcome is Outcome.PASS
    assert report.check("policy_binding").details["permits"] == 2
    document["permits"]["parent_session_permit"]["policy_snapshot_hash"] = OTHER_HASH
    _only_binding_failure(
        document, "policy_binding", "/permits/parent_session_permit/policy_snapshot_hash"
    )


# --- permit_linkage ---------------------------------------------------------------------


def test_permit_linkage_catches_a_binding_to_another_entry_v1() -> None:
    document = public_v1()
    permit = document["permits"]["child_tool_call_permits"][0]
    permit["binding_session_event_hash"] = document["chain"][0]["content_hash"]
    report = _only_binding_failure(document, "permit_linkage", f"{CHILD}/binding_session_event_hash")
    assert "names /chain/0" in report.check("permit_linkage").reason


def test_permit_linkage_fails_an_unknown_binding_in_v1() -> None:
    document = public_v1()
    document["permits"]["child_tool_call_permits"][0]["binding_session_event_hash"] = OTHER_HASH
    _only_binding_failure(document, "permit_linkage", f"{CHILD}/binding_session_event_hash")


def test_permit_linkage_v3_binding_to_another_entry_fails_not_warns() -> None:
    document = public_v3()
    permit = document["permits"]["child_tool_call_permits"][0]
    permit["binding_session_event_hash"] = document["chain"][0]["content_hash"]
    _only_binding_failure(document, "permit_linkage", f"{CHILD}/binding_session_event_hash")


def test_permit_linkage_v3_confirms_a_binding_to_the_v3_entry() -> None:
    document = public_v3()
    permit = document["permits"]["child_tool_call_permits"][0]
    permit["binding_session_event_hash"] = document["chain"][1]["content_hash"]
    result = _verify(document).check("permit_linkage")
    assert result.outcome is Outcome.PASS and result.details["confirmed_bindings"] == 1


@pytest.mark.parametrize("member", ["session_id", "binding_session_id"])
@SAMPLES
def test_permit_linkage_catches_a_permit_of_another_session(
    make: Callable[[], Doc], member: str
) -> None:
    document = make()
    document["permits"]["child_tool_call_permits"][0][member] = "sess_someone_else"
    _only_binding_failure(document, "permit_linkage", f"{CHILD}/{member}")


def test_permit_linkage_catches_an_entry_naming_an_absent_permit() -> None:
    document = public_v1()
    document["chain"][0]["permit_id"] = "perm_nowhere"
    report = _only_binding_failure(rechain(document), "permit_linkage", "/chain/0/permit_id")
    assert "perm_nowhere" in report.check("permit_linkage").reason


def test_permit_linkage_catches_duplicate_permit_ids() -> None:
    document = public_v1()
    children = document["permits"]["child_tool_call_permits"]
    children.append(copy.deepcopy(children[0]))
    report = _only_binding_failure(
        document, "permit_linkage", "/permits/child_tool_call_permits/1/permit_id"
    )
    assert "used twice" in report.check("permit_linkage").reason


def test_permit_linkage_catches_a_parent_and_child_sharing_an_id() -> None:
    document = _with_parent_permit(public_v1())
    document["permits"]["parent_session_permit"]["permit_id"] = "perm_voice_sample_lookup"
    _only_binding_failure(document, "permit_linkage", f"{CHILD}/permit_id")


def test_permit_linkage_catches_a_used_permit_that_binds_nothing() -> None:
    document = public_v1()
    document["permits"]["child_tool_call_permits"][0]["binding_session_event_hash"] = None
    report = _only_binding_failure(document, "permit_linkage", f"{CHILD}/binding_session_event_hash")
    assert "/chain/1" in report.check("permit_linkage").reason


def test_permit_linkage_accepts_an_unused_permit_with_no_binding() -> None:
    document = public_v1()
    spare = copy.deepcopy(document["permits"]["child_tool_call_permits"][0])
    spare.update(permit_id="perm_unused", binding_session_event_hash=None)
    document["permits"]["child_tool_call_permits"].append(spare)
    result = _verify(document).check("permit_linkage")
    assert result.outcome is Outcome.PASS, result
    assert result.details == {"child_permits": 2, "confirmed_bindings": 1, "entry_references": 1}


def test_permit_linkage_catches_a_binding_to_an_event_no_entry_claims() -> None:
    document = public_v1()
    document["chain"][1]["permit_id"] = None
    report = _only_binding_failure(
        rechain(document), "permit_linkage", f"{CHILD}/binding_session_event_hash"
    )
    assert "no chain entry carries its permit id" in report.check("permit_linkage").reason


def test_permit_linkage_child_must_name_the_parent_permit() -> None:
    document = _with_parent_permit(public_v1())
    child = document["permits"]["child_tool_call_permits"][0]
    child["parent_permit_id"] = "perm_session_parent"
    assert _verify(document).check("permit_linkage").outcome is Outcome.PASS
    child["parent_permit_id"] = "perm_session_other"
    report = _only_binding_failure(document, "permit_linkage", f"{CHILD}/parent_permit_id")
    assert "perm_session_parent" in report.check("permit_linkage").reason


def test_permit_linkage_session_metadata_must_name_the_parent_permit() -> None:
    document = _with_parent_permit(public_v3())
    document["session_metadata"]["parent_permit_id"] = "perm_session_other"
    _only_binding_failure(document, "permit_linkage", "/session_metadata/parent_permit_id")


def test_permit_linkage_parent_permit_must_be_this_sessions() -> None:
    document = _with_parent_permit(public_v1())
    document["permits"]["parent_session_permit"]["session_id"] = "sess_someone_else"
    _only_binding_failure(document, "permit_linkage", "/permits/parent_session_permit/session_id")


def test_permit_linkage_warns_about_a_parent_permit_it_cannot_see() -> None:
    document = public_v1()
    document["permits"]["child_tool_call_permits"][0]["parent_permit_id"] = "perm_elsewhere"
    result = _verify(document).check("permit_linkage")
    assert result.outcome is Outcome.WARN
    assert result.pointer == f"{CHILD}/parent_permit_id"
    assert "no parent session permit" in result.reason


# --- receipt_coverage -------------------------------------------------------------------


@SAMPLES
def test_receipt_coverage_catches_another_covered_sequence(make: Callable[[], Doc]) -> None:
    document = make()
    for receipt in _receipts(document):
        receipt["covers_chain_head_at_sequence"] = 104
    _only_binding_failure(
        document, "receipt_coverage", "/timestamp_receipts/0/covers_chain_head_at_sequence"
    )


def test_receipt_coverage_catches_a_wrong_receipt_hash() -> None:
    document = public_v1()
    for receipt in _receipts(document):
        receipt["receipt_hash"] = OTHER_HASH
    report = _only_binding_failure(document, "receipt_coverage", "/timestamp_receipts/0/receipt_hash")
    assert "time-stamp token's DER" in report.check("receipt_coverage").reason


def test_receipt_coverage_checks_the_separate_single_receipt_too() -> None:
    document = public_v3()
    document["rfc3161_timestamp_receipt"]["receipt_hash"] = OTHER_HASH
    _only_binding_failure(document, "receipt_coverage", "/rfc3161_timestamp_receipt/receipt_hash")


def test_receipt_coverage_catches_a_covered_hash_of_another_head() -> None:
    document = public_v3()
    for receipt in _receipts(document):
        receipt["covers_chain_head_hash"] = OTHER_HASH
    _fails_at(document, "receipt_coverage", "/timestamp_receipts/0/covers_chain_head_hash")


def _as_time_stamp_resp(document: Doc) -> tuple[str, bytes]:
    token_der = decode_base64_der(document["timestamp_receipts"][0]["tsa_response_base64"])
    response = tsp.TimeStampResp({
        "status": {"status": "granted"},
        "time_stamp_token": cms.ContentInfo.load(token_der),
    }).dump()
    assert parse_token(response).token_der == token_der
    return base64.b64encode(response).decode("ascii"), response


def test_receipt_coverage_hashes_the_token_inside_a_time_stamp_resp() -> None:
    document = public_v1()
    encoded, response = _as_time_stamp_resp(document)
    for receipt in _receipts(document):
        receipt["tsa_response_base64"] = encoded
    assert _verify(document).check("receipt_coverage").outcome is Outcome.PASS
    for receipt in _receipts(document):
        receipt["receipt_hash"] = tagged_sha256(response)  # the response, not the token
    _only_binding_failure(document, "receipt_coverage", "/timestamp_receipts/0/receipt_hash")


def test_receipt_coverage_warns_about_a_duplicated_receipt() -> None:
    document = public_v3()
    document["timestamp_receipts"].append(copy.deepcopy(document["timestamp_receipts"][0]))
    report = _verify(document)
    result = report.check("receipt_coverage")
    assert result.outcome is Outcome.WARN, result
    assert result.pointer == "/timestamp_receipts/1"
    assert "same time-stamp token as /timestamp_receipts/0" in result.reason
    assert result.details["receipts"] == 2 and result.details["distinct_tokens"] == 1


def test_receipt_coverage_fails_a_degraded_declaration_beside_receipts() -> None:
    document = public_v1()
    document["tsa_status"] = "degraded_no_receipt"
    report = _only_binding_failure(document, "receipt_coverage", "/tsa_status")
    assert "carries 1 timestamp receipt" in report.check("receipt_coverage").reason


def test_receipt_coverage_no_receipts_must_be_declared() -> None:
    document = public_v3()
    document["timestamp_receipts"] = []
    document["rfc3161_timestamp_receipt"] = None
    _fails_at(document, "receipt_coverage", "/timestamp_receipts")  # so does the core check
    document["tsa_status"] = "degraded_no_receipt"
    result = _verify(document).check("receipt_coverage")
    assert result.outcome is Outcome.PASS
    assert "nothing witnesses the chain head" in result.reason


def test_receipt_coverage_warns_about_an_unknown_tsa_status() -> None:
    document = public_v3()
    document["tsa_status"] = "fine"
    result = _verify(document).check("receipt_coverage")
    assert result.outcome is Outcome.WARN and result.pointer == "/tsa_status"


# --- canonical_portability --------------------------------------------------------------


@pytest.mark.parametrize(
    ("edit", "pointer", "what"),
    [
        (lambda d: d["session_metadata"].update(budget_usd=1.5), "/session_metadata/budget_usd",
         "floating-point number 1.5"),
        (lambda d: d["session_metadata"].update(budget_micros=2**60),
         "/session_metadata/budget_micros", "beyond +/-(2^53-1)"),
        (lambda d: d["policy_snapshot"]["policies"][0]["policy_json"].update({"\U0001f600": True}),
         "/policy_snapshot/policies/0/policy_json/\U0001f600", "Basic Multilingual Plane"),
    ],
    ids=["float", "big-integer", "astral-key"],
)
def test_canonical_portability_warns_outside_the_jcs_domain(
    edit: Callable[[Doc], object], pointer: str, what: str
) -> None:
    document = public_v3()
    edit(document)
    if pointer.startswith("/policy_snapshot"):
        recomputed = snapshot_hash_hex(document["policy_snapshot"])
        document["session_metadata"]["policy_snapshot_hash"] = recomputed
        document["policy_snapshot"]["snapshot_hash"] = "sha256:" + recomputed
        document["permits"]["child_tool_call_permits"][0]["policy_snapshot_hash"] = (
            "sha256:" + recomputed
        )
    data, report = _signed(document)
    result = report.check("canonical_portability")
    assert result.outcome is Outcome.WARN, result
    assert result.pointer == pointer
    assert what in result.reason and "JCS" in result.reason
    names = set(CORE_CHECK_NAMES) | set(BINDING_NAMES) - {"permit_linkage"}
    assert _verdict_with_only(data, names) is Verdict.VERIFIED  # a finding, not a failure
    context = CheckContext(load_bytes(data), STRICT)
    checks = tuple(check for check in ALL_CHECKS if check.name in names)
    assert decide_verdict(context, run_checks(context, checks)) is Verdict.FAILED


def test_canonical_portability_lists_findings_in_document_order() -> None:
    document = public_v3()
    document["session_metadata"]["extra"] = [0.5] * 12
    result = _verify(document).check("canonical_portability")
    assert result.pointer == "/session_metadata/extra/0"
    assert result.details["warning_count"] == 12
    assert [w["pointer"] for w in result.details["warnings"]][:3] == [
        "/session_metadata/extra/0", "/session_metadata/extra/1", "/session_metadata/extra/2"
    ]
    assert "(and 11 more)" in result.reason


# --- hostile shapes ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("edit", "pointer"),
    [
        (lambda d: d.update(session_metadata=[]), "/session_metadata"),
        (lambda d: d["session_metadata"].pop("session_id"), "/session_metadata/session_id"),
        (lambda d: d.update(chain="none"), "/chain"),
        (lambda d: d.update(permits={"child_tool_call_permits": {}}),
         "/permits/parent_session_permit"),
    ],
    ids=["metadata-array", "no-session-id", "chain-string", "permits-shape"],
)
def test_binding_checks_report_wrong_shapes_with_a_pointer(
    edit: Callable[[Doc], object], pointer: str
) -> None:
    document = public_v1()
    edit(document)
    report = _verify(document)
    failing = {c.name: c for c in report.checks if c.outcome is Outcome.FAIL}
    bindings = [c for name, c in failing.items() if name in BINDING_NAMES]
    assert bindings, report.checks
    assert all(c.pointer == pointer for c in bindings if c.name != "receipt_coverage"), bindings
    assert not any("internal error" in c.reason for c in report.checks)


def test_binding_checks_survive_non_object_entries_and_permits() -> None:
    document = public_v1()
    document["chain"].append(7)
    document["permits"]["child_tool_call_permits"].append("perm")
    document["timestamp_receipts"].append(None)
    report = _verify(document)
    assert report.check("session_binding").pointer == "/chain/2"
    assert report.check("payload_hashes").pointer == "/chain/2"
    assert report.check("policy_binding").pointer == "/permits/child_tool_call_permits/1"
    assert report.check("receipt_coverage").pointer == "/timestamp_receipts/1"
    assert not any("internal error" in c.reason for c in report.checks)


def test_recomputed_payload_hash_matches_the_helper() -> None:
    entry = public_v1()["chain"][0]
    assert canonical_hash(entry["canonicalized_payload"]) == entry["canonicalized_payload_hash"]
