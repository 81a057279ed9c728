"""Stable reason codes: every result carries a listed code with its listed outcome, the
list is the one ``--list-checks`` prints and the report schema enumerates, and no code is
ever renamed, removed or given another outcome (tests/data/reason_codes.txt)."""

from __future__ import annotations

import ast
import copy
import json
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from keel_verify import Outcome, TrustedKey, TrustPolicy, verify_bytes
from keel_verify.checks import ALL_CHECKS, CHECK_CATALOGUE, reason_codes
from keel_verify.checks.base import INTERNAL_ERROR, Check, passed
from keel_verify.context import CheckContext
from keel_verify.emit.demo import build_demo_artifact
from keel_verify.emit.keys import DEMO_TSA_SEED, demo_issuer_key
from keel_verify.emit.signing import raw_public_key
from keel_verify.emit.tsa_authority import TestTimestampAuthority
from keel_verify.load.chainpass import read_strictly
from keel_verify.pipeline import run_check
from keel_verify.policy import POLICY_INFO
from keel_verify.results import Indication, ReasonCode, Report, Verdict, main_indication
from keel_verify.schemas import REPORT_SCHEMA, load_schema
from tests.helpers import DATA, PUBLIC_V1, PUBLIC_V3, PUBLIC_V3_KEY, resign, to_bytes

GOLDEN = DATA / "reason_codes.txt"
CHECKS_DIR = Path(__file__).parent.parent / "keel_verify" / "checks"
ISSUER = demo_issuer_key()
ROOT = TestTimestampAuthority.from_seed(DEMO_TSA_SEED).root_certificate


def _golden() -> list[tuple[str, str]]:
    lines = GOLDEN.read_text(encoding="utf-8").splitlines()
    return [(code, outcome) for code, outcome in (line.split() for line in lines if not line.startswith("#"))]


def _published() -> tuple[ReasonCode, ...]:
    """Every code a report can carry: the checks' and the gate policy's."""
    return (*reason_codes(), *POLICY_INFO.codes)


def test_codes_are_stable_against_the_published_list() -> None:
    listed = [(code.code, code.outcome.value) for code in _published()]
    published = _golden()
    gone = [entry for entry in published if entry not in listed]
    assert not gone, f"published reason codes renamed, removed or given another outcome: {gone}"
    unpublished = [entry for entry in listed if entry not in published]
    assert not unpublished, f"new codes: append them to {GOLDEN.name}: {unpublished}"
    assert len({code for code, _ in listed}) == len(listed)


def test_every_code_is_named_for_its_check_in_snake_case() -> None:
    for info in (*CHECK_CATALOGUE, POLICY_INFO):
        for code in info.codes:
            check, _, suffix = code.code.partition(".")
            assert check == info.name and suffix.replace("_", "").isalnum() and suffix.islower()
            assert code.meaning


def test_the_report_schema_enumerates_every_code() -> None:
    schema = load_schema(REPORT_SCHEMA)
    assert schema["$defs"]["reason_code"]["enum"] == [code.code for code in _published()]


def test_list_checks_prints_every_code_with_its_outcome() -> None:
    shown = subprocess.run(
        [sys.executable, "-m", "keel_verify", "--list-checks"], capture_output=True, text=True,
        check=True,
    ).stdout
    rows = {tuple(line.split()[:2]) for line in shown.splitlines() if line.startswith("  ")}
    assert rows == {(code.code, code.outcome.value) for code in _published()}


def _literal_codes(module: Path) -> set[str]:
    """Every string literal passed as ``code=``, ``ok_code=`` or ``warn_code=`` in a module."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(module.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call):
            for keyword in node.keywords:
                if keyword.arg in {"code", "ok_code", "warn_code"}:
                    found.update(
                        sub.value for sub in ast.walk(keyword.value)
                        if isinstance(sub, ast.Constant) and isinstance(sub.value, str)
                    )
    return found


@pytest.mark.parametrize("check", ALL_CHECKS, ids=lambda check: check.name)
def test_every_code_written_in_a_check_module_is_listed_by_it(check: Check) -> None:
    module = sys.modules[check.run.__module__]
    assert module.__file__ is not None
    literal = _literal_codes(Path(module.__file__))
    assert literal, f"{check.name} names no reason code"
    assert literal <= set(check.codes), literal - set(check.codes)


def test_an_unlisted_code_becomes_an_internal_error_never_a_pass() -> None:
    def rogue(_context: CheckContext) -> Any:
        return passed("rogue", "looks fine", code="not_listed")

    check = Check("rogue", rogue, "a check that gives a code it does not list")
    artifact, chain = read_strictly(PUBLIC_V3.read_bytes(), {})
    result = run_check(check, CheckContext(artifact, TrustPolicy(), chain))
    assert result.outcome is Outcome.FAIL
    assert result.code == f"rogue.{INTERNAL_ERROR}"
    assert "not_listed" in result.reason

    listed = Check("rogue", rogue, "listed as a failure, given as a pass",
                   codes={"not_listed": (Outcome.FAIL, "x")})
    assert run_check(listed, CheckContext(artifact, TrustPolicy(), chain)).code == "rogue.internal_error"


def _demo(version: int, witnessed: bool = True) -> dict[str, Any]:
    document: dict[str, Any] = build_demo_artifact(version, tsa="local" if witnessed else None)
    return document


def _corpus() -> list[tuple[str, bytes, TrustPolicy]]:
    """Artifacts under trust policies that between them reach most outcomes."""
    pinned = TrustedKey(public_key=raw_public_key(ISSUER), source="pinned demo key")
    anchored = TrustPolicy(issuer_keys=(pinned,), tsa_roots=(ROOT,), tsa_roots_source="demo root")
    revoked = TrustPolicy(issuer_keys=(replace(
        pinned, status="revoked", revoked_at=datetime(2020, 1, 1, tzinfo=UTC)),), tsa_roots=(ROOT,))
    expired = TrustPolicy(issuer_keys=(replace(pinned, not_after=datetime(2020, 1, 1, tzinfo=UTC)),))
    early = TrustPolicy(issuer_keys=(replace(pinned, not_before=datetime(2040, 1, 1, tzinfo=UTC)),))
    purpose = TrustPolicy(issuer_keys=(replace(pinned, purpose="audit_export"),))
    public_v3 = PUBLIC_V3.read_bytes()
    corpus = [
        ("public v3, no trust", public_v3, TrustPolicy()),
        ("public v3, self-attested", public_v3, TrustPolicy.self_attested_only()),
        ("public v3, other key", public_v3, TrustPolicy.pinned(
            "ed25519:La7wanEjRdscOGZ3HJQdabcMAy9Oqbk8QLjkeNU9Qws=")),
        ("public v3, pinned", public_v3, TrustPolicy.pinned(PUBLIC_V3_KEY)),
        ("public v1", PUBLIC_V1.read_bytes(), TrustPolicy.self_attested_only()),
    ]
    for version in (1, 3):
        good = _demo(version)
        corpus += [
            (f"v{version} anchored", to_bytes(good), anchored),
            (f"v{version} unanchored", to_bytes(good), TrustPolicy(issuer_keys=(pinned,))),
            (f"v{version} revoked", to_bytes(good), revoked),
            (f"v{version} expired", to_bytes(good), expired),
            (f"v{version} not yet valid", to_bytes(good), early),
            (f"v{version} purpose", to_bytes(good), purpose),
            (f"v{version} degraded", to_bytes(_demo(version, witnessed=False)), anchored),
        ]
        tampered = copy.deepcopy(good)
        tampered["chain"][0]["content_hash"] = "sha256:" + "0" * 64
        corpus.append((f"v{version} chain tampered", to_bytes(tampered), anchored))
        snapshot = copy.deepcopy(good)
        snapshot["policy_snapshot"]["tampered"] = True
        corpus.append((f"v{version} snapshot tampered", to_bytes(resign(snapshot, ISSUER)), anchored))
        unsigned = copy.deepcopy(good)
        unsigned["signatures"] = []
        corpus.append((f"v{version} no signature", to_bytes(unsigned), anchored))
        no_receipt = copy.deepcopy(good)
        no_receipt["timestamp_receipts"] = []
        no_receipt["rfc3161_timestamp_receipt"] = None
        corpus.append((f"v{version} receipt removed", to_bytes(no_receipt), anchored))
        not_array = copy.deepcopy(good)
        not_array["signatures"] = {}
        corpus.append((f"v{version} signatures not an array", to_bytes(not_array), anchored))
    return corpus


def test_every_code_emitted_over_a_corpus_is_listed_with_its_outcome() -> None:
    listed = {code.code: code.outcome for code in reason_codes()}
    emitted: set[str] = set()
    for label, data, trust in _corpus():
        report = verify_bytes(data, trust, path=label)
        assert report.verdict is not Verdict.ERROR, (label, report.error)
        for result in report.checks:
            assert listed.get(result.code) is result.outcome, (label, result)
            assert not result.code.endswith(".internal_error"), (label, result)
            emitted.add(result.code)
        if report.verdict is not Verdict.VERIFIED:
            assert report.failing_codes and set(report.failing_codes) <= emitted, label
            assert report.problem
    for expected in (
        "issuer_signature.trusted_key", "issuer_signature.self_attested",
        "issuer_signature.self_attested_accepted", "issuer_signature.key_not_trusted",
        "issuer_signature.key_revoked", "issuer_signature.key_expired",
        "issuer_signature.key_not_yet_valid", "issuer_signature.key_purpose_mismatch",
        "issuer_signature.no_signature", "issuer_signature.signatures_malformed",
        "timestamp_witness.anchored", "timestamp_witness.token_unsigned",
        "timestamp_witness.token_unanchored", "timestamp_witness.degraded_no_receipt",
        "timestamp_witness.no_receipt", "rfc3161_timestamp_receipt.degraded_no_receipt",
        "chain_integrity.chain_broken", "policy_snapshot_hash.hash_mismatch",
    ):
        assert expected in emitted, expected


@pytest.mark.parametrize(
    ("verdict", "trust_source", "trusted", "indication"),
    [
        (Verdict.VERIFIED, "trust root sample, issuer_keys[0]", True, Indication.TOTAL_PASSED),
        (Verdict.VERIFIED, "self-attested (accepted with --self-attested)", True,
         Indication.INDETERMINATE),
        (Verdict.FAILED, "trust root sample, issuer_keys[0]", True, Indication.TOTAL_FAILED),
        (Verdict.UNTRUSTED, "self-attested (no trust source vouches for the key)", False,
         Indication.INDETERMINATE),
        (Verdict.ERROR, None, False, Indication.INDETERMINATE),
    ],
)
def test_main_indication_follows_the_documented_mapping(
    verdict: Verdict, trust_source: str | None, trusted: bool, indication: Indication
) -> None:
    from keel_verify.results import SignerSummary

    signer = None if trust_source is None else SignerSummary("k", None, trust_source, trusted)
    report = Report(path="x", input_sha256=None, verdict=verdict, signer=signer)
    assert main_indication(report) is indication


def test_json_report_carries_codes_indication_and_why_not_verified() -> None:
    from keel_verify.report.json_report import reports_to_document

    tampered = json.loads(PUBLIC_V3.read_bytes())
    tampered["chain"][0]["content_hash"] = "sha256:" + "0" * 64
    reports = [
        verify_bytes(PUBLIC_V3.read_bytes(), TrustPolicy.self_attested_only(), path="good"),
        verify_bytes(to_bytes(tampered), TrustPolicy.self_attested_only(), path="tampered"),
        verify_bytes(PUBLIC_V3.read_bytes(), TrustPolicy(), path="untrusted"),
        verify_bytes(b"{", TrustPolicy(), path="broken"),
    ]
    document = reports_to_document(reports, {"issuer_keys": [], "self_attested": True,
                                             "tsa_roots": [], "strict": False})
    import jsonschema

    jsonschema.Draft202012Validator(load_schema(REPORT_SCHEMA)).validate(document)
    good, bad, untrusted, broken = document["files"]
    assert good["indication"] == "INDETERMINATE" and good["error"] is None  # self-attested
    assert bad["indication"] == "TOTAL-FAILED"
    assert "chain_integrity.chain_broken" in bad["failing_codes"]
    assert bad["error"].startswith(bad["failing_codes"][0])
    assert untrusted["failing_codes"] == ["issuer_signature.self_attested"]
    assert untrusted["error"] == "no trust source vouches for the signer"
    assert broken["error"] and broken["failing_codes"] == []
    assert all(check["code"].startswith(check["name"] + ".") for check in bad["checks"])
    assert document["totals"] == {"files": 4, "verified": 1, "failed": 1, "error": 1, "untrusted": 1}
