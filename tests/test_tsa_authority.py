"""The deterministic test TSA, its RFC 3161 protocol, its HTTP transport, and -- where
``openssl`` is installed -- cross-checks against OpenSSL's independent implementation
(OpenSSL verifies our tokens; we verify OpenSSL's)."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import threading
import urllib.error
import urllib.request
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from asn1crypto import tsp
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID

from keel_verify.crypto.rfc3161 import (
    TimeStampResp,
    TokenError,
    build_request,
    parse_request,
    parse_token,
    rejection_response,
    response_status,
)
from keel_verify.emit.tsa_authority import (
    LEAF_NOT_AFTER,
    LEAF_NOT_BEFORE,
    TEST_POLICY_OID,
    TestTimestampAuthority,
    TokenOptions,
)
from keel_verify.emit.tsa_http import (
    TIMESTAMP_QUERY,
    TIMESTAMP_REPLY,
    TsaHttpError,
    request_timestamp,
    serve_tsa,
)
from keel_verify.trust.tsa_decision import WitnessStatus, verify_token
from tests.tsa_support import GEN_TIME, authority, other_authority

DIGEST = hashlib.sha256(b"keel-verify test TSA").digest()
OPENSSL = shutil.which("openssl")
needs_openssl = pytest.mark.skipif(OPENSSL is None, reason="openssl is not installed")


def verified(der: bytes, digest: bytes = DIGEST) -> WitnessStatus:
    result = verify_token(der, expected_digest=digest, tsa_roots=[authority().root_certificate])
    assert result.problem is None, result.reason
    return result.status


# -- determinism and certificate profile -----------------------------------------------


def test_same_seed_gives_identical_certificates_and_tokens() -> None:
    first = TestTimestampAuthority.from_seed()
    second = TestTimestampAuthority.from_seed()
    assert first.root_pem() == second.root_pem()
    assert first.tsa_pem() == second.tsa_pem()
    token_a = first.timestamp(DIGEST, gen_time=GEN_TIME, serial=9, nonce=3)
    token_b = second.timestamp(DIGEST, gen_time=GEN_TIME, serial=9, nonce=3)
    assert token_a == token_b


def test_other_seed_gives_other_root() -> None:
    assert authority().root_certificate != other_authority().root_certificate


def test_root_certificate_profile() -> None:
    root = authority().root_certificate
    assert root.subject == root.issuer
    assert "TEST ONLY" in root.subject.rfc4514_string()
    constraints = root.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical and constraints.value.ca
    usage = root.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical and usage.value.key_cert_sign
    assert isinstance(root.public_key(), ec.EllipticCurvePublicKey)


def test_tsa_certificate_profile_follows_rfc_3161() -> None:
    tsa = authority()
    leaf = tsa.tsa_certificate
    assert "TEST ONLY" in leaf.subject.rfc4514_string()
    assert leaf.issuer == tsa.root_certificate.subject
    assert leaf.not_valid_before_utc == LEAF_NOT_BEFORE
    assert leaf.not_valid_after_utc == LEAF_NOT_AFTER
    eku = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    assert eku.critical
    assert list(eku.value) == [ExtendedKeyUsageOID.TIME_STAMPING]
    usage = leaf.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical and usage.value.digital_signature and not usage.value.key_cert_sign
    constraints = leaf.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical and not constraints.value.ca
    ski = leaf.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    aki = leaf.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    root_ski = tsa.root_certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    assert aki.key_identifier == root_ski.value.digest
    assert ski.digest == x509.SubjectKeyIdentifier.from_public_key(leaf.public_key()).digest
    # The leaf is signed by the root.
    leaf.verify_directly_issued_by(tsa.root_certificate)


def test_token_carries_the_requested_facts() -> None:
    der = authority().timestamp(DIGEST, gen_time=GEN_TIME, serial=42, nonce=7)
    token = parse_token(der)
    assert token.imprint == DIGEST and token.imprint_algorithm == "sha256"
    assert token.gen_time == GEN_TIME
    assert token.serial_number == 42
    assert token.nonce == 7
    assert token.policy_oid == TEST_POLICY_OID
    assert token.signer_count == 1
    leaf_der = authority().tsa_certificate.public_bytes(Encoding.DER)
    assert [c.dump() for c in token.certificates] == [leaf_der]
    attributes = {a["type"].native for a in token.signer_infos[0]["signed_attrs"]}
    assert attributes == {"content_type", "message_digest", "signing_certificate_v2"}


def test_naive_gen_time_and_wrong_digest_length_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        authority().timestamp(DIGEST, gen_time=datetime(2026, 1, 1), serial=1)
    with pytest.raises(ValueError, match="sha256 digest"):
        authority().timestamp(DIGEST[:20], gen_time=GEN_TIME, serial=1)


# -- the protocol (TimeStampReq -> TimeStampResp) --------------------------------------


def test_respond_grants_a_request_echoing_its_nonce() -> None:
    request = build_request(DIGEST, nonce=123456789)
    parsed = parse_request(request)
    assert (parsed.hash_algorithm, parsed.digest, parsed.nonce, parsed.cert_req) == (
        "sha256", DIGEST, 123456789, True
    )
    response = authority().respond(request, gen_time=GEN_TIME)
    assert response_status(response) == ("granted", None)
    token = parse_token(response)
    assert token.response_status == "granted"
    assert token.nonce == 123456789
    assert verified(response) is WitnessStatus.VERIFIED


def test_respond_is_deterministic() -> None:
    request = build_request(DIGEST, nonce=5)
    first = authority().respond(request, gen_time=GEN_TIME)
    assert first == authority().respond(request, gen_time=GEN_TIME)
    assert parse_token(first).serial_number > 0


def test_respond_leaves_out_certificates_without_cert_req() -> None:
    response = authority().respond(build_request(DIGEST, cert_req=False), gen_time=GEN_TIME)
    assert parse_token(response).certificates == []


def test_respond_supports_sha384_and_sha512_imprints() -> None:
    for name in ("sha384", "sha512"):
        digest = hashlib.new(name, b"x").digest()
        response = authority().respond(build_request(digest, hash_algorithm=name), gen_time=GEN_TIME)
        assert parse_token(response).imprint_algorithm == name


@pytest.mark.parametrize(
    ("request_der", "status_words", "fail_info"),
    [
        (b"\x30\x00", "not DER of a TimeStampReq", "bad_data_format"),
        (build_request(DIGEST, policy_oid="1.2.3.4"), "policy 1.2.3.4", "unaccepted_policy"),
        (
            tsp.TimeStampReq({
                "version": "v1",
                "message_imprint": {"hash_algorithm": {"algorithm": "sha1"},
                                    "hashed_message": bytes(20)},
            }).dump(),
            "unsupported hash sha1",
            "bad_alg",
        ),
        (
            tsp.TimeStampReq({
                "version": "v1",
                "message_imprint": {"hash_algorithm": {"algorithm": "sha256"},
                                    "hashed_message": bytes(20)},
            }).dump(),
            "digest length",
            "bad_data_format",
        ),
    ],
    ids=["garbage", "unknown-policy", "sha1", "short-digest"],
)
def test_respond_rejects_what_it_cannot_honour(
    request_der: bytes, status_words: str, fail_info: str
) -> None:
    response = authority().respond(request_der, gen_time=GEN_TIME)
    status, text = response_status(response)
    assert status == "rejection"
    assert text is not None and status_words in text
    assert fail_info in TimeStampResp.load(response)["status"]["fail_info"].native
    with pytest.raises(TokenError, match="not granted"):
        parse_token(response)


# -- HTTP (loopback only) ----------------------------------------------------------------


@pytest.mark.loopback
def test_http_round_trip_gives_a_verifiable_response() -> None:
    with serve_tsa(authority(), clock=lambda: GEN_TIME) as server:
        assert server.url.startswith("http://127.0.0.1:")
        response = request_timestamp(server.url, DIGEST, timeout=10)
    token = parse_token(response)
    assert token.gen_time == GEN_TIME
    assert verified(response) is WitnessStatus.VERIFIED


@pytest.mark.loopback
def test_http_server_serves_its_root_and_refuses_other_media_types() -> None:
    with serve_tsa(authority()) as server:
        with urllib.request.urlopen(server.url + "root.pem", timeout=10) as reply:
            assert reply.read().decode() == authority().root_pem()
        wrong = urllib.request.Request(
            server.url, data=build_request(DIGEST), method="POST",
            headers={"Content-Type": "application/json"},
        )
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(wrong, timeout=10)
        assert caught.value.code == 415
        garbage = urllib.request.Request(
            server.url, data=b"\x30\x00", method="POST", headers={"Content-Type": TIMESTAMP_QUERY},
        )
        with urllib.request.urlopen(garbage, timeout=10) as reply:
            assert reply.headers["Content-Type"] == TIMESTAMP_REPLY
            assert response_status(reply.read())[0] == "rejection"


class _RefusingAuthority(TestTimestampAuthority):
    def respond(self, request_der: bytes, *, gen_time: datetime, serial: int | None = None) -> bytes:
        return rejection_response("time_not_available", "test clock unavailable")


@pytest.mark.loopback
def test_client_reports_a_refusal() -> None:
    tsa = authority()
    refusing = _RefusingAuthority(
        root_key=tsa.root_key, root_certificate=tsa.root_certificate,
        tsa_key=tsa.tsa_key, tsa_certificate=tsa.tsa_certificate,
    )
    with serve_tsa(refusing) as server, pytest.raises(
        TsaHttpError, match=r"TSA refused: status rejection \(test clock unavailable\)"
    ):
        request_timestamp(server.url, DIGEST, timeout=10)


@pytest.mark.loopback
def test_client_reports_an_http_error_from_a_server_that_is_no_tsa() -> None:
    plain = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)  # answers 501
    thread = threading.Thread(target=plain.serve_forever, daemon=True)
    thread.start()
    try:
        host, port = plain.server_address[:2]
        with pytest.raises(TsaHttpError, match="HTTP 501"):
            request_timestamp(f"http://{host!s}:{port}/", DIGEST, timeout=10)
    finally:
        plain.shutdown()
        thread.join()
        plain.server_close()


def test_client_refuses_non_http_urls_without_connecting() -> None:
    with pytest.raises(TsaHttpError, match="must be http"):
        request_timestamp("file:///etc/passwd", DIGEST, timeout=1)


# -- OpenSSL, an independent implementation --------------------------------------------


def _openssl(*args: str, cwd: Path) -> subprocess.CompletedProcess[bytes]:
    assert OPENSSL is not None
    return subprocess.run([OPENSSL, *args], cwd=cwd, capture_output=True, check=False)


@pytest.fixture
def tsa_files(tmp_path: Path) -> Path:
    tsa = authority()
    (tmp_path / "root.pem").write_text(tsa.root_pem())
    (tmp_path / "tsa.pem").write_text(tsa.tsa_pem())
    (tmp_path / "tsa.key").write_text(tsa.tsa_key_pem())
    (tmp_path / "serial").write_text("01\n")
    return tmp_path


def _openssl_config(directory: Path, ess_alg: str) -> Path:
    config = directory / f"tsa-{ess_alg}.cnf"
    config.write_text(
        "[ tsa ]\n"
        "default_tsa = test_tsa\n"
        "[ test_tsa ]\n"
        f"serial = {directory / 'serial'}\n"
        "crypto_device = builtin\n"
        f"signer_cert = {directory / 'tsa.pem'}\n"
        f"certs = {directory / 'tsa.pem'}\n"
        f"signer_key = {directory / 'tsa.key'}\n"
        "signer_digest = sha256\n"
        "default_policy = 1.2.3.4.1\n"
        "other_policies = 1.2.3.4.2\n"
        "digests = sha256, sha384, sha512\n"
        "accuracy = secs:1\n"
        "ordering = no\n"
        "tsa_name = yes\n"
        "ess_cert_id_chain = no\n"
        f"ess_cert_id_alg = {ess_alg}\n"
    )
    return config


@needs_openssl
@pytest.mark.parametrize("ess_alg", ["sha256", "sha1"], ids=["ESSCertIDv2", "ESSCertID"])
@pytest.mark.parametrize("token_out", [False, True], ids=["response", "bare-token"])
def test_tokens_made_by_openssl_verify(tsa_files: Path, ess_alg: str, token_out: bool) -> None:
    query = _openssl("ts", "-query", "-digest", DIGEST.hex(), "-sha256", "-cert",
                     "-out", "request.tsq", cwd=tsa_files)
    assert query.returncode == 0, query.stderr
    config = _openssl_config(tsa_files, ess_alg)
    reply_args = ["ts", "-reply", "-queryfile", "request.tsq", "-config", str(config),
                  "-out", "reply.der"]
    reply = _openssl(*reply_args, *(["-token_out"] if token_out else []), cwd=tsa_files)
    assert reply.returncode == 0, reply.stderr
    der = (tsa_files / "reply.der").read_bytes()
    token = parse_token(der)
    attributes = {a["type"].native for a in token.signer_infos[0]["signed_attrs"]}
    expected_ess = "signing_certificate_v2" if ess_alg == "sha256" else "signing_certificate"
    assert expected_ess in attributes
    assert verified(der) is WitnessStatus.VERIFIED
    # ... and the same token against another digest, or another root, does not.
    wrong = verify_token(der, expected_digest=bytes(32), tsa_roots=[authority().root_certificate])
    assert wrong.step == "message imprint"
    alien = verify_token(der, expected_digest=DIGEST, tsa_roots=[other_authority().root_certificate])
    assert alien.step == "certificate chain"


@needs_openssl
def test_openssl_verifies_our_tokens(tsa_files: Path) -> None:
    der = authority().timestamp(DIGEST, gen_time=GEN_TIME, serial=77, nonce=1)
    (tsa_files / "token.der").write_bytes(der)
    result = _openssl(
        "ts", "-verify", "-token_in", "-in", "token.der", "-digest", DIGEST.hex(),
        "-CAfile", "root.pem", "-untrusted", "tsa.pem",
        "-attime", str(int(GEN_TIME.timestamp())),
        cwd=tsa_files,
    )
    assert result.returncode == 0, result.stderr
    assert b"Verification: OK" in result.stdout


@needs_openssl
def test_openssl_rejects_our_deliberately_broken_token(tsa_files: Path) -> None:
    der = authority().timestamp(
        DIGEST, gen_time=GEN_TIME, serial=77, options=TokenOptions(message_digest=bytes(32))
    )
    (tsa_files / "token.der").write_bytes(der)
    result = _openssl(
        "ts", "-verify", "-token_in", "-in", "token.der", "-digest", DIGEST.hex(),
        "-CAfile", "root.pem", "-untrusted", "tsa.pem",
        "-attime", str(int(GEN_TIME.timestamp())),
        cwd=tsa_files,
    )
    assert result.returncode != 0
