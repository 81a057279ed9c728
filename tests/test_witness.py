"""Full RFC 3161 verification (``keel_verify.crypto.witness`` primitives, the
``keel_verify.trust.tsa_decision`` rules) and the ``timestamp_witness`` check.

Tokens come from the project's deterministic test TSA and are broken one property at a
time; each must fail in the step that checks that property, and only there.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime

import pytest
from asn1crypto import cms
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from keel_verify import Outcome, TrustPolicy, Verdict, verify_path
from keel_verify.context import CheckContext
from keel_verify.crypto.rfc3161 import parse_token, rejection_response
from keel_verify.crypto.witness import (
    STEP_CHAIN,
    STEP_IMPRINT,
    STEP_SIGNATURE,
    STEP_SIGNED_ATTRIBUTES,
    STEP_SIGNER_CERTIFICATE,
    STEP_STRUCTURE,
)
from keel_verify.emit.tsa_authority import (
    LeafProfile,
    TestTimestampAuthority,
    TokenOptions,
    derive_p256_key,
    make_ca_certificate,
    make_tsa_certificate,
)
from keel_verify.load.loader import load_bytes
from keel_verify.trust.tsa_decision import TokenVerification, WitnessStatus, verify_token
from tests.helpers import PUBLIC_V1, PUBLIC_V3, public_v3, resign, to_bytes
from tests.tsa_support import (
    GEN_TIME,
    SERIAL,
    authority,
    head_digest,
    other_authority,
    policy,
    token_for,
    verify,
    with_token,
    witnessed_v3,
)

DIGEST = head_digest(public_v3())
ID_CT_TSTINFO_DER = bytes.fromhex("060b2a864886f70d0109100104")


def check(token: bytes, *, roots: bool = True, digest: bytes = DIGEST) -> TokenVerification:
    trusted = [authority().root_certificate] if roots else []
    return verify_token(token, expected_digest=digest, tsa_roots=trusted)


def token(options: TokenOptions | None = None, tsa: TestTimestampAuthority | None = None) -> bytes:
    return (tsa or authority()).timestamp(DIGEST, gen_time=GEN_TIME, serial=SERIAL, options=options)


def assert_fails(result: TokenVerification, step: str, words: str) -> None:
    assert result.status is WitnessStatus.INVALID, result
    assert result.step == step, result.reason
    assert words in (result.problem or ""), result.problem


def flip(data: bytes, index: int) -> bytes:
    changed = bytearray(data)
    changed[index] ^= 0x01
    return bytes(changed)


# -- a good token ------------------------------------------------------------------------


def test_token_from_the_test_tsa_verifies_and_reports_its_facts() -> None:
    result = check(token())
    assert result.status is WitnessStatus.VERIFIED
    assert result.step is None and result.problem is None
    assert result.gen_time == GEN_TIME
    assert result.serial_number == SERIAL
    assert result.policy_oid == authority().policy_oid
    assert result.tsa_subject == authority().tsa_certificate.subject.rfc4514_string()
    assert result.root_subject == authority().root_certificate.subject.rfc4514_string()
    expected = authority().tsa_certificate.fingerprint(hashes.SHA256()).hex()
    assert result.signer_certificate_sha256 == expected


def test_full_response_and_bare_token_are_both_accepted() -> None:
    bare = token()
    assert check(authority().granted(bare)).status is WitnessStatus.VERIFIED
    assert check(bare).status is WitnessStatus.VERIFIED


def test_rejected_response_fails_in_structure() -> None:
    result = check(rejection_response("bad_alg", "no"))
    assert_fails(result, STEP_STRUCTURE, "not granted")


def test_signed_but_no_root_configured_is_unanchored() -> None:
    result = check(token(), roots=False)
    assert result.status is WitnessStatus.UNANCHORED
    assert result.root_subject is None
    assert result.tsa_subject is not None


def test_unsigned_token_is_unsigned_not_verified() -> None:
    result = check(token(TokenOptions(signed=False)))
    assert result.status is WitnessStatus.UNSIGNED
    assert result.gen_time == GEN_TIME


def test_unsigned_token_with_another_imprint_fails() -> None:
    unsigned = authority().timestamp(
        bytes(32), gen_time=GEN_TIME, serial=1, options=TokenOptions(signed=False)
    )
    assert_fails(check(unsigned), STEP_IMPRINT, "is not the receipt's request_hash")


@pytest.mark.parametrize(
    "options",
    [
        TokenOptions(ess="v1"),
        TokenOptions(ess="both"),
        TokenOptions(ess_issuer_serial=False),
        TokenOptions(signer_identifier="key_id"),
        TokenOptions(digest_algorithm="sha384"),
        TokenOptions(digest_algorithm="sha512"),
        TokenOptions(include_tsa_name=False),
        TokenOptions(accuracy_seconds=None),
        TokenOptions(extra_certificates=(authority().root_certificate,)),
    ],
    ids=["ess-v1", "ess-both", "ess-no-issuer-serial", "sid-key-id", "sha384", "sha512",
         "no-tsa-name", "no-accuracy", "root-included"],
)
def test_conforming_variants_verify(options: TokenOptions) -> None:
    assert check(token(options)).status is WitnessStatus.VERIFIED


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.mark.parametrize("scheme", ["pkcs1v15", "pss"])
def test_rsa_signatures_verify(rsa_key: rsa.RSAPrivateKey, scheme: str) -> None:
    tsa = authority().with_leaf(LeafProfile(key=rsa_key))
    result = check(token(TokenOptions(rsa_pss=scheme == "pss"), tsa))
    assert result.status is WitnessStatus.VERIFIED, result.reason


def test_ed25519_signature_verifies() -> None:
    key = ed25519.Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
    tsa = authority().with_leaf(LeafProfile(key=key))
    assert check(token(tsa=tsa)).status is WitnessStatus.VERIFIED


def test_p384_signature_verifies() -> None:
    key = ec.derive_private_key(12345678901234567890, ec.SECP384R1())
    tsa = authority().with_leaf(LeafProfile(key=key))
    assert check(token(TokenOptions(digest_algorithm="sha384"), tsa)).status is WitnessStatus.VERIFIED


# -- each step fails on its own --------------------------------------------------------


def test_flipped_signature_byte_fails_the_signature() -> None:
    der = token()
    signature = parse_token(der).signer_infos[0]["signature"].native
    at = der.rindex(signature) + len(signature) - 1
    assert_fails(check(flip(der, at)), STEP_SIGNATURE, "does not verify")


def test_flipped_tstinfo_byte_fails_the_message_digest() -> None:
    der = token()
    parsed = parse_token(der)
    serial = parsed.tst_info["serial_number"].dump()
    at = der.index(parsed.econtent) + parsed.econtent.index(serial) + len(serial) - 1
    assert_fails(check(flip(der, at)), STEP_SIGNED_ATTRIBUTES, "message-digest")


@pytest.mark.parametrize(
    ("options", "words"),
    [
        (TokenOptions(ess="none"), "no ESS signing-certificate attribute"),
        (TokenOptions(content_type_attribute=False), "content-type attribute is missing"),
        (TokenOptions(content_type_value="data"), "not id-ct-TSTInfo"),
        (TokenOptions(message_digest_attribute=False), "message-digest attribute is missing"),
        (TokenOptions(message_digest=bytes(32)), "message-digest attribute is not"),
        (
            TokenOptions(extra_attributes=(
                cms.CMSAttribute({"type": "message_digest", "values": [bytes(32)]}),
            )),
            "appears more than once",
        ),
        (
            TokenOptions(content_type_attribute=False, extra_attributes=(
                cms.CMSAttribute({"type": "content_type", "values": ["tst_info", "data"]}),
            )),
            "has 2 values",
        ),
    ],
    ids=["no-ess", "no-content-type", "wrong-content-type", "no-message-digest",
         "wrong-message-digest", "duplicate-attribute", "multi-valued-attribute"],
)
def test_signed_attribute_defects_fail_the_signed_attributes(
    options: TokenOptions, words: str
) -> None:
    assert_fails(check(token(options)), STEP_SIGNED_ATTRIBUTES, words)


@pytest.mark.parametrize("ess", ["v2", "v1"])
def test_ess_naming_another_certificate_fails(ess: str) -> None:
    options = TokenOptions(ess=ess, ess_certificate=authority().root_certificate)  # type: ignore[arg-type]
    assert_fails(check(token(options)), STEP_SIGNED_ATTRIBUTES, "names another certificate")


def test_ess_issuer_serial_naming_another_certificate_fails() -> None:
    # Same hash (the real TSA certificate) but an issuerSerial for another certificate:
    # built by swapping the serial inside the ESSCertIDv2.
    der = token()
    leaf = authority().tsa_certificate
    parsed = parse_token(der)
    content_info = cms.ContentInfo.load(der)
    signer = content_info["content"]["signer_infos"][0]
    for attribute in signer["signed_attrs"]:
        if attribute["type"].native == "signing_certificate_v2":
            cert_id = attribute["values"][0]["certs"][0]
            cert_id["issuer_serial"]["serial_number"] = leaf.serial_number + 1
    rebuilt = content_info.dump(force=True)
    assert parse_token(rebuilt).econtent == parsed.econtent
    # The change alters the signed attributes, so the signature breaks too; the ESS
    # step runs first and must be the one named.
    assert_fails(check(rebuilt), STEP_SIGNED_ATTRIBUTES, "issuerSerial does not name")


@pytest.mark.parametrize(
    ("profile", "words"),
    [
        (LeafProfile(eku_critical=False), "is not critical"),
        (LeafProfile(extra_ekus=(ExtendedKeyUsageOID.CODE_SIGNING,)), "not only id-kp-timeStamping"),
        (LeafProfile(include_eku=False), "has no extended key usage"),
    ],
    ids=["eku-not-critical", "extra-eku", "no-eku"],
)
def test_tsa_certificate_profile_defects_fail_the_signer_certificate(
    profile: LeafProfile, words: str
) -> None:
    tsa = authority().with_leaf(profile)
    assert_fails(check(token(tsa=tsa)), STEP_SIGNER_CERTIFICATE, words)


def test_tsa_name_naming_another_entity_fails() -> None:
    options = TokenOptions(tsa_name=authority().root_certificate.subject)
    assert_fails(check(token(options)), STEP_SIGNER_CERTIFICATE, "TSTInfo.tsa names")


def test_token_without_certificates_cannot_name_its_signer() -> None:
    assert_fails(
        check(token(TokenOptions(include_certificates=False))),
        STEP_SIGNER_CERTIFICATE,
        "carries no certificates",
    )


def test_token_without_certificates_verifies_against_a_pinned_tsa_certificate() -> None:
    bare = token(TokenOptions(include_certificates=False))
    result = verify_token(bare, expected_digest=DIGEST, tsa_roots=[authority().tsa_certificate])
    assert result.status is WitnessStatus.VERIFIED, result.reason


def test_signer_identifier_naming_no_included_certificate_fails() -> None:
    tsa = authority()
    options = TokenOptions(include_certificates=False, extra_certificates=(tsa.root_certificate,))
    assert_fails(check(token(options)), STEP_SIGNER_CERTIFICATE, "no certificate in the token")


def test_wrong_imprint_fails_the_imprint() -> None:
    other = authority().timestamp(bytes(32), gen_time=GEN_TIME, serial=SERIAL)
    assert_fails(check(other), STEP_IMPRINT, "is not the receipt's request_hash")


def test_receipt_without_a_request_hash_cannot_match_the_imprint() -> None:
    result = verify_token(token(), expected_digest=None, tsa_roots=[])
    assert_fails(result, STEP_IMPRINT, "request_hash")


def test_wrong_root_fails_the_chain() -> None:
    result = verify_token(
        token(), expected_digest=DIGEST, tsa_roots=[other_authority().root_certificate]
    )
    assert_fails(result, STEP_CHAIN, "does not chain to a configured TSA root")


def test_token_from_another_tsa_fails_the_chain() -> None:
    assert_fails(check(token(tsa=other_authority())), STEP_CHAIN, "does not chain")


def test_leaf_not_yet_valid_at_gen_time_fails_the_chain() -> None:
    later = TestTimestampAuthority.from_seed(not_before=datetime(2027, 1, 1, tzinfo=UTC))
    assert later.root_certificate == authority().root_certificate
    assert_fails(check(token(tsa=later)), STEP_CHAIN, "not valid at validation time")


def test_leaf_expired_now_but_valid_at_gen_time_passes() -> None:
    expired = TestTimestampAuthority.from_seed(
        not_before=datetime(2020, 6, 1, tzinfo=UTC), not_after=datetime(2021, 6, 1, tzinfo=UTC)
    )
    then = datetime(2021, 1, 1, tzinfo=UTC)
    der = expired.timestamp(DIGEST, gen_time=then, serial=1)
    result = check(der)
    assert result.status is WitnessStatus.VERIFIED, result.reason
    assert result.gen_time == then


def test_leaf_expired_at_gen_time_fails_the_chain() -> None:
    expired = TestTimestampAuthority.from_seed(
        not_before=datetime(2020, 6, 1, tzinfo=UTC), not_after=datetime(2021, 6, 1, tzinfo=UTC)
    )
    assert_fails(check(token(tsa=expired)), STEP_CHAIN, "not valid at validation time")


def _intermediate_tsa(
    extended_key_usage: tuple[x509.ObjectIdentifier, ...],
) -> TestTimestampAuthority:
    """Root -> intermediate (EKU-restricted, like real TSA issuing CAs) -> TSA leaf."""
    root = authority()
    inter_key = derive_p256_key(b"keel-verify TEST ONLY intermediate", b"ca")
    intermediate = make_ca_certificate(
        inter_key,
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "keel-verify TEST ONLY TSA Issuing CA")]),
        serial=77,
        not_before=datetime(2021, 1, 1, tzinfo=UTC),
        not_after=datetime(2045, 1, 1, tzinfo=UTC),
        issuer_key=root.root_key,
        issuer=root.root_certificate,
        extended_key_usage=extended_key_usage,
    )
    leaf_key = derive_p256_key(b"keel-verify TEST ONLY intermediate", b"tsa")
    leaf = make_tsa_certificate(leaf_key, inter_key, intermediate, LeafProfile())
    # An "authority" whose issuing CA is the intermediate: tokens name the leaf, and the
    # test adds the intermediate to the token's certificates.
    return TestTimestampAuthority(
        root_key=inter_key, root_certificate=intermediate, tsa_key=leaf_key, tsa_certificate=leaf
    )


def test_chain_through_a_time_stamping_intermediate_verifies() -> None:
    tsa = _intermediate_tsa((ExtendedKeyUsageOID.TIME_STAMPING,))
    options = TokenOptions(extra_certificates=(tsa.root_certificate,))
    result = check(token(options, tsa))
    assert result.status is WitnessStatus.VERIFIED, result.reason
    assert result.root_subject == authority().root_certificate.subject.rfc4514_string()


def test_an_intermediates_own_eku_does_not_constrain_the_tsa_below_it() -> None:
    # RFC 5280 4.2.1.12 defines no EKU chaining; only the TSA certificate's EKU is
    # constrained (RFC 3161 2.3). Genuine GlobalSign tokens for Adobe need this.
    tsa = _intermediate_tsa((ExtendedKeyUsageOID.SERVER_AUTH,))
    options = TokenOptions(extra_certificates=(tsa.root_certificate,))
    result = check(token(options, tsa))
    assert result.status is WitnessStatus.VERIFIED, result.reason
    assert result.root_subject == authority().root_certificate.subject.rfc4514_string()


def test_chain_without_the_intermediate_fails() -> None:
    tsa = _intermediate_tsa((ExtendedKeyUsageOID.TIME_STAMPING,))
    assert_fails(check(token(tsa=tsa)), STEP_CHAIN, "does not chain")


# -- structure ---------------------------------------------------------------------------


def test_two_signer_infos_fail_the_structure() -> None:
    content_info = cms.ContentInfo.load(token())
    signed_data = content_info["content"]
    first = signed_data["signer_infos"][0]
    signed_data["signer_infos"] = [first, copy.deepcopy(first)]
    assert_fails(check(content_info.dump(force=True)), STEP_STRUCTURE, "2 SignerInfos")


def test_tstinfo_version_other_than_1_fails_the_structure() -> None:
    assert_fails(check(token(TokenOptions(tst_version=2))), STEP_STRUCTURE, "not v1")


def test_econtent_type_other_than_tstinfo_fails_the_structure() -> None:
    der = token()
    at = der.index(ID_CT_TSTINFO_DER) + len(ID_CT_TSTINFO_DER) - 1
    assert_fails(check(flip(der, at)), STEP_STRUCTURE, "not id-ct-TSTInfo")


@pytest.mark.parametrize(
    "data",
    [b"", b"\x30\x00", b"\x30\x03\x02\x01\x01", b"not DER at all", bytes(200)],
    ids=["empty", "empty-sequence", "integer", "text", "zeros"],
)
def test_garbage_is_a_structure_failure(data: bytes) -> None:
    assert_fails(check(data), STEP_STRUCTURE, "not DER")


def test_every_single_bit_flip_is_caught_or_harmless() -> None:
    """Flip the low bit of every byte: never an exception; whatever touches the TSTInfo,
    the signed attributes, the signature or a certificate is INVALID."""
    der = token()
    parsed = parse_token(der)
    signer = parsed.signer_infos[0]
    protected = [
        parsed.econtent,
        signer["signed_attrs"].contents,
        signer["signature"].native,
        authority().tsa_certificate.public_bytes(Encoding.DER),
    ]
    ranges = [(der.index(part), der.index(part) + len(part)) for part in protected]
    for index in range(len(der)):
        result = check(flip(der, index))
        if any(start <= index < end for start, end in ranges):
            assert result.status is WitnessStatus.INVALID, (index, result)
        else:
            assert result.status in (WitnessStatus.INVALID, WitnessStatus.VERIFIED)
            if result.status is WitnessStatus.VERIFIED:
                assert result.gen_time == GEN_TIME and result.serial_number == SERIAL


# -- the check, on whole artifacts -----------------------------------------------------


@pytest.mark.parametrize("path", [PUBLIC_V1, PUBLIC_V3], ids=["v1", "v3"])
def test_public_samples_are_unwitnessed(path: object) -> None:
    report = verify_path(str(path), TrustPolicy.self_attested_only())
    result = report.check("timestamp_witness")
    assert result.outcome is Outcome.WARN
    assert result.reason.startswith("unwitnessed: the token is unsigned")
    assert "2026-04-15T12:00:01Z" in result.reason
    (receipt,) = result.details["receipts"]
    assert receipt["status"] == "unsigned"
    assert receipt["gen_time_authenticated"] is False


@pytest.mark.parametrize("path", [PUBLIC_V1, PUBLIC_V3], ids=["v1", "v3"])
def test_public_samples_fail_in_strict_mode(path: object) -> None:
    report = verify_path(str(path), TrustPolicy.self_attested_only(strict=True))
    assert report.verdict is Verdict.FAILED
    assert report.exit_code == 1


def test_witnessed_artifact_passes_with_full_details() -> None:
    report = verify(witnessed_v3(), policy())
    result = report.check("timestamp_witness")
    assert result.outcome is Outcome.PASS, result.reason
    (receipt,) = result.details["receipts"]
    tsa = authority()
    assert receipt["status"] == "verified"
    assert receipt["tsa_subject"] == tsa.tsa_certificate.subject.rfc4514_string()
    assert receipt["root_subject"] == tsa.root_certificate.subject.rfc4514_string()
    assert receipt["gen_time"] == "2026-05-21T14:35:01Z"
    assert receipt["policy_oid"] == tsa.policy_oid
    assert receipt["serial_number"] == format(SERIAL, "x")
    assert receipt["signer_certificate_sha256"] is not None
    assert result.details["authenticated_time"] == "2026-05-21T14:35:01Z"
    assert "not when the artifact was signed" in result.reason
    assert report.verdict is not Verdict.FAILED


def test_witnessed_artifact_without_tsa_roots_warns_not_anchored() -> None:
    report = verify(witnessed_v3(), policy(roots=()))
    result = report.check("timestamp_witness")
    assert result.outcome is Outcome.WARN
    assert result.reason.startswith("not anchored")
    assert "--tsa-roots" in result.reason


def test_broken_token_in_an_artifact_fails_naming_the_step() -> None:
    tsa = authority().with_leaf(LeafProfile(eku_critical=False))
    report = verify(witnessed_v3(token_for(public_v3(), tsa=tsa)), policy())
    result = report.check("timestamp_witness")
    assert result.outcome is Outcome.FAIL
    assert "signer certificate: " in result.reason and "not critical" in result.reason
    assert result.pointer == "/timestamp_receipts/0/tsa_response_base64"
    assert report.verdict is Verdict.FAILED


def _without_receipts(degraded: bool) -> dict[str, object]:
    document = public_v3()
    document["timestamp_receipts"] = []
    document["rfc3161_timestamp_receipt"] = None
    document["tsa_status"] = "degraded_no_receipt" if degraded else None
    return resign(document)


def test_no_receipt_declared_degraded_warns() -> None:
    result = verify(_without_receipts(True), policy()).check("timestamp_witness")
    assert result.outcome is Outcome.WARN
    assert "degraded_no_receipt" in result.reason


def test_no_receipt_undeclared_fails() -> None:
    result = verify(_without_receipts(False), policy()).check("timestamp_witness")
    assert result.outcome is Outcome.FAIL
    assert "does not declare" in result.reason


def test_malformed_receipt_list_fails_without_traceback() -> None:
    document = public_v3()
    document["timestamp_receipts"] = "not a list"
    report = verify(resign(document), policy())
    result = report.check("timestamp_witness")
    assert result.outcome is Outcome.FAIL
    assert result.pointer == "/timestamp_receipts"
    assert report.check("issuer_signature").outcome is Outcome.PASS


def test_invalid_base64_fails_in_structure() -> None:
    document = witnessed_v3()
    document["timestamp_receipts"][0]["tsa_response_base64"] = "%%%"
    document["rfc3161_timestamp_receipt"] = None
    result = verify(resign(document), policy()).check("timestamp_witness")
    assert result.outcome is Outcome.FAIL
    assert "token structure: tsa_response_base64 is not valid base64" in result.reason


# -- authenticated time ------------------------------------------------------------------


def _context(document: dict[str, object], trust: TrustPolicy) -> CheckContext:
    return CheckContext(load_bytes(to_bytes(document)), trust)


def test_authenticated_time_is_gen_time_only_when_fully_verified() -> None:
    document = witnessed_v3()
    assert _context(document, policy()).authenticated_time == GEN_TIME
    assert _context(document, policy(roots=())).authenticated_time is None
    wrong = policy(roots=(other_authority().root_certificate,))
    assert _context(document, wrong).authenticated_time is None
    assert _context(public_v3(), policy()).authenticated_time is None


def test_authenticated_time_is_the_latest_verified_gen_time() -> None:
    document = witnessed_v3()
    later = datetime(2026, 5, 21, 14, 36, 0, tzinfo=UTC)
    second = with_token(public_v3(), token_for(public_v3(), gen_time=later))["timestamp_receipts"][0]
    document["timestamp_receipts"].append(second)
    context = _context(resign(document), policy())
    assert context.authenticated_time == later


def test_witness_is_computed_once_per_context() -> None:
    context = _context(witnessed_v3(), policy())
    assert context.witness is context.witness
    _ = context.signatures  # uses authenticated_time, hence the witness
    assert context.witness is context.witness


def test_each_distinct_token_is_verified_once_per_artifact(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import keel_verify.trust.tsa_decision as witness

    calls: list[bytes] = []
    real = witness.verify_token

    def counting(der: bytes, **kwargs: object) -> TokenVerification:
        calls.append(der)
        return real(der, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(witness, "verify_token", counting)
    document = witnessed_v3()
    twin = dict(document["timestamp_receipts"][0], provider="listed twice")
    document["timestamp_receipts"].append(twin)
    report = verify(resign(document), policy())
    assert len(calls) == 1  # two receipts, one token; checks and context share the result
    result = report.check("timestamp_witness")
    assert result.outcome is Outcome.PASS
    assert [r["status"] for r in result.details["receipts"]] == ["verified", "verified"]


def test_too_many_receipts_are_refused_not_verified() -> None:
    from keel_verify.trust.tsa_decision import MAX_RECEIPTS

    document = witnessed_v3()
    receipt = document["timestamp_receipts"][0]
    document["timestamp_receipts"] = [
        dict(receipt, provider=f"copy {i}") for i in range(MAX_RECEIPTS + 1)
    ]
    result = verify(resign(document), policy()).check("timestamp_witness")
    assert result.outcome is Outcome.FAIL
    assert f"exceed the limit of {MAX_RECEIPTS}" in result.reason


def test_attacker_sized_names_are_shortened_in_reasons() -> None:
    huge = x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, f"{i:02d}" + "x" * 60)
        for i in range(60)
    ])
    result = check(token(TokenOptions(tsa_name=huge)))
    assert result.step == STEP_SIGNER_CERTIFICATE
    assert len(result.reason) < 500
