"""TSA chains as RFC 3161 2.3 and RFC 5280 define them, and TSA trust bundles.

* every case of ``tests/data/rfc3161-tokens/cases.json`` (real public tokens) gives its
  expected exit code through the command line;
* a CA certificate (cA=TRUE or keyCertSign) never signs a token that verifies;
* ``--tsa-certs`` / ``tsa_certs`` help build a chain and never anchor one;
* a bundle's revocation rule: revoked at or before genTime fails, a stale snapshot is
  "revocation not validated" (never a verified witness), a fresh one validates.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from hypothesis import given, settings
from hypothesis import strategies as st

from keel_verify import Outcome, TrustPolicy, Verdict
from keel_verify.cli import main
from keel_verify.crypto.witness import STEP_CHAIN, STEP_REVOCATION, STEP_SIGNER_CERTIFICATE
from keel_verify.emit.tsa_authority import (
    LeafProfile,
    TestTimestampAuthority,
    TokenOptions,
    derive_p256_key,
    make_ca_certificate,
    make_tsa_certificate,
)
from keel_verify.errors import TrustConfigError
from keel_verify.trust.trust_root import load_trust_root
from keel_verify.trust.tsa_decision import TokenVerification, WitnessStatus, verify_token
from keel_verify.trust.tsa_revocation import RevocationSnapshot
from tests.helpers import DATA, public_v3
from tests.tsa_support import GEN_TIME, SERIAL, authority, head_digest, other_authority, witnessed_v3
from tests.tsa_support import policy as trusting
from tests.tsa_support import verify as verify_document

CASES_DIR = DATA / "rfc3161-tokens"
CASES = json.loads((CASES_DIR / "cases.json").read_text("utf-8"))["cases"]
DIGEST = head_digest(public_v3())
NOW = datetime(2026, 11, 30, tzinfo=UTC)


def run_cli(args: list[str], monkeypatch: pytest.MonkeyPatch, folder: Path) -> int:
    monkeypatch.chdir(folder)
    monkeypatch.delenv("KEEL_VERIFY_TRUST_ROOT", raising=False)
    with pytest.raises(SystemExit) as done:
        main(args)
    code = done.value.code
    assert isinstance(code, int)
    return code


@pytest.mark.parametrize(
    "case", CASES, ids=[f"{c['file'].removesuffix('.artifact.json')}-{i}" for i, c in enumerate(CASES)]
)
def test_every_public_token_case_gives_its_expected_exit_code(
    case: dict[str, Any], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run_cli([*case["args"], case["file"]], monkeypatch, CASES_DIR)
    output = capsys.readouterr()
    assert code in case["expect"], f"{case['why']}\n{output.out}{output.err}"
    assert "Traceback" not in output.out + output.err


def test_the_report_names_the_real_anchor_not_a_helper(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # A token without certificates, its TSA certificate given only as a helper: the
    # anchor named is the root, and the TSA certificate is not it.
    case = "sigstore-python_issue1482"
    args = ["--json", "--public-key", CASES[0]["args"][1], "--tsa-roots", f"{case}.roots.pem",
            "--tsa-certs", f"{case}.untrusted.pem", f"{case}.artifact.json"]
    assert run_cli(args, monkeypatch, CASES_DIR) == 0
    report = json.loads(capsys.readouterr().out)
    witness = next(c for c in report["files"][0]["checks"] if c["name"] == "timestamp_witness")
    receipt = witness["details"]["receipts"][0]
    roots = x509.load_pem_x509_certificates((CASES_DIR / f"{case}.roots.pem").read_bytes())
    assert receipt["root_subject"] == roots[0].subject.rfc4514_string()
    assert receipt["root_sha256"] == roots[0].fingerprint(hashes.SHA256()).hex()
    assert receipt["chain"][0] == receipt["tsa_subject"] != receipt["root_subject"]
    assert witness["details"]["tsa_certs_source"] == f"TSA helper certificates file {case}.untrusted.pem"
    assert report["trust"]["tsa_certs"]  # the policy lists its helpers apart from its roots


# -- the TSA certificate must be an end entity (RFC 3161 2.3, RFC 5280 4.2.1.3/4.2.1.9) ----


_OTHER_EKUS = (ExtendedKeyUsageOID.CODE_SIGNING, ExtendedKeyUsageOID.SERVER_AUTH,
               ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE)


def _signer_tsa(
    *, ca: bool, key_cert_sign: bool, digital_signature: bool = True,
    content_commitment: bool = False, eku_critical: bool = True,
    extra_ekus: tuple[x509.ObjectIdentifier, ...] = (),
) -> TestTimestampAuthority:
    """A TSA whose token-signing certificate has the given basicConstraints cA, key usage
    and EKU (by default a perfect TSA profile: critical EKU exactly timeStamping),
    issued by the trusted test root."""
    root = authority()
    key = derive_p256_key(b"keel-verify TEST ONLY CA-as-TSA", b"tsa")
    certificate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "TEST CA acting as TSA")]))
        .issuer_name(root.root_certificate.subject)
        .public_key(key.public_key())
        .serial_number(4242)
        .not_valid_before(datetime(2021, 1, 1, tzinfo=UTC))
        .not_valid_after(datetime(2045, 1, 1, tzinfo=UTC))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=digital_signature, content_commitment=content_commitment,
                key_encipherment=False, data_encipherment=False, key_agreement=False,
                key_cert_sign=key_cert_sign, crl_sign=False, encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING, *extra_ekus]),
            critical=eku_critical,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(root.root_key.public_key()),
            critical=False,
        )
        .sign(root.root_key, hashes.SHA256())
    )
    return TestTimestampAuthority(
        root_key=root.root_key, root_certificate=root.root_certificate,
        tsa_key=key, tsa_certificate=certificate,
    )


def _token(tsa: TestTimestampAuthority, options: TokenOptions | None = None) -> bytes:
    return tsa.timestamp(DIGEST, gen_time=GEN_TIME, serial=SERIAL, options=options)


@pytest.mark.parametrize(
    ("ca", "key_cert_sign", "words"),
    [
        (True, False, "basicConstraints cA=TRUE"),
        (False, True, "keyCertSign"),
        (True, True, "basicConstraints cA=TRUE"),
    ],
)
def test_a_certificate_signing_key_never_signs_a_valid_token(
    ca: bool, key_cert_sign: bool, words: str
) -> None:
    tsa = _signer_tsa(ca=ca, key_cert_sign=key_cert_sign)
    result = verify_token(_token(tsa), expected_digest=DIGEST, tsa_roots=[authority().root_certificate])
    assert result.status is WitnessStatus.INVALID, result
    assert result.step == STEP_SIGNER_CERTIFICATE
    assert words in (result.problem or "")
    # Nor does pinning that CA certificate itself as a root make its tokens good.
    pinned = verify_token(_token(tsa), expected_digest=DIGEST, tsa_roots=[tsa.tsa_certificate])
    assert pinned.status is WitnessStatus.INVALID and pinned.step == STEP_SIGNER_CERTIFICATE


@settings(deadline=None)
@given(
    ca=st.booleans(), key_cert_sign=st.booleans(), digital_signature=st.booleans(),
    content_commitment=st.booleans(), eku_critical=st.booleans(),
    extra_ekus=st.lists(st.sampled_from(_OTHER_EKUS), unique=True, max_size=2).map(tuple),
)
def test_only_an_rfc3161_end_entity_profile_ever_verifies(
    ca: bool, key_cert_sign: bool, digital_signature: bool, content_commitment: bool,
    eku_critical: bool, extra_ekus: tuple[x509.ObjectIdentifier, ...],
) -> None:
    tsa = _signer_tsa(
        ca=ca, key_cert_sign=key_cert_sign, digital_signature=digital_signature,
        content_commitment=content_commitment, eku_critical=eku_critical, extra_ekus=extra_ekus,
    )
    result = verify_token(_token(tsa), expected_digest=DIGEST, tsa_roots=[authority().root_certificate])
    conforming = (
        not ca and not key_cert_sign and eku_critical and not extra_ekus
        and (digital_signature or content_commitment)
    )
    assert (result.status is WitnessStatus.VERIFIED) is conforming, result.reason
    if not conforming:
        assert result.step == STEP_SIGNER_CERTIFICATE


def test_the_same_profile_as_an_end_entity_verifies() -> None:
    tsa = _signer_tsa(ca=False, key_cert_sign=False)
    result = verify_token(_token(tsa), expected_digest=DIGEST, tsa_roots=[authority().root_certificate])
    assert result.status is WitnessStatus.VERIFIED, result.reason


def test_an_artifact_witnessed_by_a_ca_signed_token_fails() -> None:
    document = witnessed_v3(_token(_signer_tsa(ca=True, key_cert_sign=True)))
    report = verify_document(document, trusting())
    result = report.check("timestamp_witness")
    assert result.outcome is Outcome.FAIL and "not an end entity" in result.reason
    assert report.verdict is Verdict.FAILED


# -- helpers build chains, never anchor them ---------------------------------------------


def _bare_token(tsa: TestTimestampAuthority | None = None) -> bytes:
    return _token(tsa or authority(), TokenOptions(include_certificates=False))


def test_helper_tsa_certificate_identifies_the_signer_of_a_token_without_certificates() -> None:
    result = verify_token(
        _bare_token(), expected_digest=DIGEST, tsa_roots=(authority().root_certificate,),
        tsa_certs=(authority().tsa_certificate,),
    )
    assert result.status is WitnessStatus.VERIFIED, result.reason
    assert result.root_subject == authority().root_certificate.subject.rfc4514_string()
    assert result.chain_subjects == (
        authority().tsa_certificate.subject.rfc4514_string(),
        authority().root_certificate.subject.rfc4514_string(),
    )


def test_helpers_alone_anchor_nothing() -> None:
    # The whole chain given as helpers and no root: signed and valid, but not anchored.
    alone = verify_token(
        _bare_token(), expected_digest=DIGEST, tsa_roots=(),
        tsa_certs=(authority().tsa_certificate, authority().root_certificate),
    )
    assert alone.status is WitnessStatus.UNANCHORED
    # With another root configured, the helper root still does not anchor the chain.
    elsewhere = verify_token(
        _bare_token(), expected_digest=DIGEST, tsa_roots=(other_authority().root_certificate,),
        tsa_certs=(authority().tsa_certificate, authority().root_certificate),
    )
    assert elsewhere.status is WitnessStatus.INVALID and elsewhere.step == STEP_CHAIN


def _tsa_under_intermediate(seed: bytes, serial: int) -> tuple[TestTimestampAuthority, x509.Certificate]:
    """Test root -> intermediate (``serial``) -> TSA certificate, keys derived from ``seed``;
    the authority's "root" fields hold the intermediate that issues its TSA certificate."""
    root = authority()
    inter_key = derive_p256_key(seed, b"ca")
    intermediate = make_ca_certificate(
        inter_key,
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"TEST intermediate {serial}")]),
        serial=serial, not_before=datetime(2021, 1, 1, tzinfo=UTC),
        not_after=datetime(2045, 1, 1, tzinfo=UTC), issuer_key=root.root_key,
        issuer=root.root_certificate,
    )
    leaf_key = derive_p256_key(seed, b"tsa")
    leaf = make_tsa_certificate(leaf_key, inter_key, intermediate, LeafProfile())
    tsa = TestTimestampAuthority(
        root_key=inter_key, root_certificate=intermediate, tsa_key=leaf_key, tsa_certificate=leaf
    )
    return tsa, intermediate


_CANDIDATES = {
    "tsa": lambda: authority().tsa_certificate,
    "root": lambda: authority().root_certificate,
    "other root": lambda: other_authority().root_certificate,
    "other tsa": lambda: other_authority().tsa_certificate,
}


@settings(deadline=None)
@given(
    helpers=st.lists(st.sampled_from(sorted(_CANDIDATES)), unique=True, max_size=4),
    roots=st.lists(st.sampled_from(["other root", "other tsa"]), unique=True, max_size=2),
    embedded=st.booleans(),
)
def test_helpers_never_anchor_whatever_they_are(
    helpers: list[str], roots: list[str], embedded: bool
) -> None:
    # Roots that cannot anchor this TSA: whatever the helpers hold (its own root among
    # them), the token never verifies.
    token = _token(authority(), TokenOptions(include_certificates=embedded))
    result = verify_token(
        token, expected_digest=DIGEST,
        tsa_roots=tuple(_CANDIDATES[name]() for name in roots),
        tsa_certs=tuple(_CANDIDATES[name]() for name in helpers),
    )
    assert result.status is not WitnessStatus.VERIFIED
    assert result.root_subject is None


def test_helper_intermediate_completes_a_chain_the_token_left_out() -> None:
    root = authority()
    tsa, intermediate = _tsa_under_intermediate(b"keel-verify TEST ONLY helper intermediate", 78)
    token = _token(tsa)  # carries only the TSA certificate
    roots = (root.root_certificate,)
    without = verify_token(token, expected_digest=DIGEST, tsa_roots=roots)
    assert without.status is WitnessStatus.INVALID and without.step == STEP_CHAIN
    helped = verify_token(token, expected_digest=DIGEST, tsa_roots=roots, tsa_certs=(intermediate,))
    assert helped.status is WitnessStatus.VERIFIED, helped.reason
    assert len(helped.chain_subjects) == 3


def test_trust_root_file_tsa_certs_member_supplies_helpers(tmp_path: Path) -> None:
    path = tmp_path / "trust-root.json"
    path.write_text(json.dumps({
        "trust_root_version": 1,
        "tsa_roots": [authority().root_pem()],
        "tsa_certs": [authority().tsa_pem()],
    }))
    loaded = load_trust_root(path)
    assert loaded.tsa_roots == (authority().root_certificate,)
    assert loaded.tsa_certs == (authority().tsa_certificate,)
    policy = loaded.apply(TrustPolicy())
    assert policy.tsa_certs == (authority().tsa_certificate,)
    assert policy.tsa_roots == (authority().root_certificate,)  # helpers stay out of the roots
    report = verify_document(witnessed_v3(_bare_token()), policy)
    assert report.check("timestamp_witness").outcome is Outcome.PASS


def test_helpers_only_trust_root_is_valid_and_bad_pem_is_named(tmp_path: Path) -> None:
    path = tmp_path / "helpers.json"
    path.write_text(json.dumps({"trust_root_version": 1, "tsa_certs": [authority().tsa_pem()]}))
    assert load_trust_root(path).tsa_certs == (authority().tsa_certificate,)
    path.write_text(json.dumps({"trust_root_version": 1, "tsa_certs": ["just text"]}))
    with pytest.raises(TrustConfigError, match="at /tsa_certs/0: expected a PEM certificate"):
        load_trust_root(path)


# -- a bundle's revocation rule ----------------------------------------------------------


def _chain_with_intermediate() -> tuple[TestTimestampAuthority, x509.Certificate]:
    return _tsa_under_intermediate(b"keel-verify TEST ONLY revocable intermediate", 79)


def _crl(
    issuer_key: Any, issuer: x509.Certificate, *, this_update: datetime, next_update: datetime,
    revoked: tuple[tuple[int, datetime, datetime | None], ...] = (),
) -> x509.CertificateRevocationList:
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer.subject)
        .last_update(this_update)
        .next_update(next_update)
    )
    for serial, when, invalid_since in revoked:
        entry = x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(when)
        if invalid_since is not None:
            entry = entry.add_extension(x509.InvalidityDate(invalid_since), critical=False)
        builder = builder.add_revoked_certificate(entry.build())
    return builder.sign(issuer_key, hashes.SHA256())


def _revocation_case(
    *, revoked: tuple[tuple[int, datetime, datetime | None], ...] = (),
    deadline: datetime = datetime(2099, 1, 1, tzinfo=UTC),
    this_update: datetime = datetime(2026, 5, 1, tzinfo=UTC),
    next_update: datetime = datetime(2026, 12, 31, tzinfo=UTC),
    leaf_revoked: tuple[tuple[int, datetime, datetime | None], ...] = (),
) -> TokenVerification:
    tsa, intermediate = _chain_with_intermediate()
    root = authority()
    crls = (
        _crl(root.root_key, root.root_certificate, this_update=this_update,
             next_update=next_update, revoked=revoked),
        _crl(tsa.root_key, intermediate, this_update=this_update, next_update=next_update,
             revoked=leaf_revoked),
    )
    snapshot = RevocationSnapshot((root.root_certificate,), crls, deadline, "test bundle")
    return verify_token(
        _token(tsa, TokenOptions(extra_certificates=(intermediate,))), expected_digest=DIGEST,
        tsa_roots=(root.root_certificate,), revocation=(snapshot,), now=NOW,
    )


def test_fresh_snapshot_listing_nothing_validates_revocation() -> None:
    result = _revocation_case()
    assert result.status is WitnessStatus.VERIFIED, result.reason
    assert "not revoked at genTime" in (result.revocation or "")


@pytest.mark.parametrize("when", [GEN_TIME, GEN_TIME - timedelta(days=30)])
def test_intermediate_revoked_at_or_before_gen_time_fails(when: datetime) -> None:
    result = _revocation_case(revoked=((79, when, None),))
    assert result.status is WitnessStatus.INVALID and result.step == STEP_REVOCATION
    assert "is revoked since" in (result.problem or "")


def test_tsa_certificate_invalid_since_before_gen_time_fails_though_revoked_later() -> None:
    from keel_verify.emit.tsa_authority import LEAF_SERIAL

    later, earlier = GEN_TIME + timedelta(days=10), GEN_TIME - timedelta(days=1)
    result = _revocation_case(leaf_revoked=((LEAF_SERIAL, later, earlier),))
    assert result.status is WitnessStatus.INVALID and result.step == STEP_REVOCATION


def test_revocation_after_gen_time_does_not_invalidate() -> None:
    result = _revocation_case(revoked=((79, GEN_TIME + timedelta(days=1), None),))
    assert result.status is WitnessStatus.VERIFIED, result.reason


def test_stale_snapshot_is_revocation_not_validated_never_verified() -> None:
    result = _revocation_case(deadline=datetime(2026, 11, 5, tzinfo=UTC))
    assert result.status is WitnessStatus.REVOCATION_NOT_VALIDATED
    assert "not_validated_revocation_snapshot_stale" in (result.problem or "")
    # A stale snapshot that lists a revocation still proves it: revocation is permanent.
    revoked = _revocation_case(
        deadline=datetime(2026, 11, 5, tzinfo=UTC), revoked=((79, GEN_TIME, None),)
    )
    assert revoked.status is WitnessStatus.INVALID and revoked.step == STEP_REVOCATION


def test_snapshot_that_ended_before_gen_time_does_not_cover_it() -> None:
    result = _revocation_case(
        this_update=datetime(2026, 1, 1, tzinfo=UTC), next_update=datetime(2026, 2, 1, tzinfo=UTC)
    )
    assert result.status is WitnessStatus.REVOCATION_NOT_VALIDATED
    assert "covers genTime" in (result.problem or "")


def test_unvalidated_revocation_warns_and_gives_no_authenticated_time() -> None:
    tsa, intermediate = _chain_with_intermediate()
    root = authority()
    crl = _crl(root.root_key, root.root_certificate, this_update=datetime(2026, 5, 1, tzinfo=UTC),
               next_update=datetime(2026, 11, 1, tzinfo=UTC))
    stale = RevocationSnapshot((root.root_certificate,), (crl,), None, "test bundle")
    token = _token(tsa, TokenOptions(extra_certificates=(intermediate,)))
    trust = TrustPolicy(
        issuer_keys=trusting().issuer_keys, tsa_roots=(root.root_certificate,),
        tsa_roots_source="test bundle", tsa_revocation=(stale,),
    )
    report = verify_document(witnessed_v3(token), trust)
    result = report.check("timestamp_witness")
    assert result.outcome is Outcome.WARN
    assert result.reason.startswith("revocation not validated")
    assert result.details["authenticated_time"] is None
    assert report.verdict is not Verdict.FAILED  # a warning, not a failure; --strict fails it


# -- a TSA trust bundle file -------------------------------------------------------------


def _write_bundle(tmp_path: Path, deadline: str, *, tamper: bool = False, path: str | None = None) -> Path:
    tsa, intermediate = _chain_with_intermediate()
    root = authority()
    crl = _crl(root.root_key, root.root_certificate, this_update=datetime(2026, 5, 1, tzinfo=UTC),
               next_update=datetime(2099, 1, 1, tzinfo=UTC))
    inter_crl = _crl(tsa.root_key, intermediate, this_update=datetime(2026, 5, 1, tzinfo=UTC),
                     next_update=datetime(2099, 1, 1, tzinfo=UTC))
    contents = {
        "root.pem": root.root_certificate.public_bytes(Encoding.PEM),
        "inter.pem": intermediate.public_bytes(Encoding.PEM),
        "root.crl.pem": crl.public_bytes(Encoding.PEM),
        "inter.crl.pem": inter_crl.public_bytes(Encoding.PEM),
    }
    kinds = {"root.pem": "root", "inter.pem": "intermediate", "root.crl.pem": "crl",
             "inter.crl.pem": "crl"}
    folder = tmp_path / "tsa_trust"
    folder.mkdir(exist_ok=True)
    files = []
    for name, data in contents.items():
        (folder / name).write_bytes(data)
        files.append({"kind": kinds[name], "provider": "test", "path": path or name,
                      "sha256": "sha256:" + hashlib.sha256(data + (b"x" if tamper else b"")).hexdigest()})
    bundle = folder / "bundle.json"
    bundle.write_text(json.dumps({
        "id": "keel.tsa_trust_bundle.v1", "version": "v1", "generated_at": "2026-10-22T05:33:20Z",
        "files": files,
        "validation": {"crl_refresh_required_before": deadline,
                       "stale_crl_reason_code": "not_validated_revocation_snapshot_stale"},
    }))
    return bundle


def test_bundle_roots_anchor_intermediates_help_and_crls_apply(tmp_path: Path) -> None:
    loaded = load_trust_root(_write_bundle(tmp_path, "2099-01-01T00:00:00Z"))
    _, intermediate = _chain_with_intermediate()
    assert loaded.tsa_roots == (authority().root_certificate,)
    assert loaded.tsa_certs == (intermediate,)
    assert len(loaded.tsa_revocation) == 1 and len(loaded.tsa_revocation[0].crls) == 2
    tsa, _ = _chain_with_intermediate()
    policy = loaded.apply(trusting(roots=()))
    report = verify_document(witnessed_v3(_bare_token(tsa)), policy)
    assert report.check("timestamp_witness").outcome is Outcome.FAIL  # the leaf is nowhere
    token = _token(tsa)  # carries the leaf; the intermediate comes from the bundle
    fresh = verify_document(witnessed_v3(token), policy).check("timestamp_witness")
    assert fresh.outcome is Outcome.PASS, fresh.reason
    assert "not revoked at genTime" in fresh.reason
    stale_policy = load_trust_root(_write_bundle(tmp_path, "2026-11-05T23:47:20Z")).apply(
        trusting(roots=())
    )
    stale = verify_document(witnessed_v3(token), stale_policy).check("timestamp_witness")
    assert stale.outcome is Outcome.WARN and "not_validated_revocation_snapshot_stale" in stale.reason


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"tamper": True}, "not the bundle's value"),
        ({"path": "../root.pem"}, "must stay inside the bundle's folder"),
        ({"path": "/etc/passwd"}, "must stay inside the bundle's folder"),
        ({"path": "missing.pem"}, "no such file"),
    ],
)
def test_bad_bundles_are_refused_in_one_line(tmp_path: Path, kwargs: dict[str, Any], words: str) -> None:
    with pytest.raises(TrustConfigError, match=words) as raised:
        load_trust_root(_write_bundle(tmp_path, "2099-01-01T00:00:00Z", **kwargs))
    assert "\n" not in str(raised.value)


def test_the_anchor_is_named_with_its_own_source_among_several(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    case = "sigstage_no-embedded-cert"
    args = ["--json", "--trust", "keel-production", "--public-key", CASES[0]["args"][1],
            "--tsa-roots", f"{case}.roots.pem", "--tsa-certs", f"{case}.untrusted.pem",
            f"{case}.artifact.json"]
    assert run_cli(args, monkeypatch, CASES_DIR) == 0
    report = json.loads(capsys.readouterr().out)
    witness = next(c for c in report["files"][0]["checks"] if c["name"] == "timestamp_witness")
    assert witness["details"]["receipts"][0]["root_source"] == f"TSA roots file {case}.roots.pem"
    assert f"from TSA roots file {case}.roots.pem at genTime" in witness["reason"]
    assert "keel-production" in witness["details"]["tsa_roots_source"]  # both sources configured


@pytest.mark.parametrize(
    ("content", "words"), [(None, "no such file"), ("hello\n", "contains no PEM certificate")]
)
def test_bad_tsa_certs_file_is_a_one_line_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    content: str | None, words: str,
) -> None:
    path = tmp_path / "helpers.pem"
    if content is not None:
        path.write_text(content)
    assert run_cli(["--tsa-certs", str(path), "x.json"], monkeypatch, tmp_path) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"TSA helper certificates file {path}: {words}" in err
