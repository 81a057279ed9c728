"""A real, deterministic RFC 3161 time-stamp authority -- for TESTS and demos ONLY.

Everything here is derived from a seed: the root CA key, the TSA key, the certificates
(fixed serials and validity dates) and, because ECDSA signatures use RFC 6979
deterministic nonces, the tokens themselves. The same seed, digest, genTime and serial
always give the same bytes, so fixtures are byte-stable. The names say "TEST ONLY": a
key derived from a published seed protects nothing.

Tokens follow RFC 3161 / RFC 5652 / RFC 5035: a ContentInfo of type SignedData whose
eContent is a TSTInfo, one SignerInfo with the content-type, message-digest and
signing-certificate-v2 (ESSCertIDv2) signed attributes, the TSA certificate included.
:class:`TokenOptions` and :class:`LeafProfile` produce deliberately non-conforming tokens
and certificates, so tests can exercise each verification step without a second builder.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Literal

from asn1crypto import algos, cms, core, tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from keel_verify.crypto.rfc3161 import (
    IMPRINT_LENGTHS,
    TimeStampResp,
    TokenError,
    parse_request,
    rejection_response,
)

TsaPrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey

DEFAULT_SEED = b"keel-verify TEST ONLY time-stamp authority #1"

#: A policy OID under the UUID arc (X.667): needs no registration, names nothing real.
TEST_POLICY_OID = "2.25.307730061437927052120464547413478942174"

ROOT_NOT_BEFORE = datetime(2020, 1, 1, tzinfo=UTC)
ROOT_NOT_AFTER = datetime(2050, 1, 1, tzinfo=UTC)
LEAF_NOT_BEFORE = datetime(2024, 1, 1, tzinfo=UTC)
LEAF_NOT_AFTER = datetime(2040, 1, 1, tzinfo=UTC)
ROOT_SERIAL = 0x4B45454C_7E57_0001  # "KEEL", "TEST", 1
LEAF_SERIAL = 0x4B45454C_7E57_0002

ROOT_NAME = x509.Name([
    x509.NameAttribute(NameOID.ORGANIZATION_NAME, "keel-verify TEST ONLY (trust nothing)"),
    x509.NameAttribute(NameOID.COMMON_NAME, "keel-verify TEST ONLY TSA Root CA"),
])
TSA_NAME = x509.Name([
    x509.NameAttribute(NameOID.ORGANIZATION_NAME, "keel-verify TEST ONLY (trust nothing)"),
    x509.NameAttribute(NameOID.COMMON_NAME, "keel-verify TEST ONLY Time-Stamping Authority"),
])

# The order of the P-256 group: a derived scalar must lie in [1, n - 1].
_P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551

_HASHES: dict[str, hashes.HashAlgorithm] = {
    "sha256": hashes.SHA256(),
    "sha384": hashes.SHA384(),
    "sha512": hashes.SHA512(),
}


def derive_p256_key(seed: bytes, label: bytes) -> ec.EllipticCurvePrivateKey:
    """A P-256 key from ``SHA-256(label || 0 || seed)``: same inputs, same key."""
    digest = hashlib.sha256(label + b"\x00" + seed).digest()
    scalar = int.from_bytes(digest, "big") % (_P256_ORDER - 1) + 1
    return ec.derive_private_key(scalar, ec.SECP256R1())


def _sign_certificate(builder: x509.CertificateBuilder, key: TsaPrivateKey) -> x509.Certificate:
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return builder.sign(key, None)
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return builder.sign(key, hashes.SHA256(), ecdsa_deterministic=True)
    return builder.sign(key, hashes.SHA256())


def _ski(key: TsaPrivateKey) -> x509.SubjectKeyIdentifier:
    return x509.SubjectKeyIdentifier.from_public_key(key.public_key())


def _certificate_skeleton(
    key: TsaPrivateKey,
    subject: x509.Name,
    issuer_name: x509.Name,
    *,
    serial: int,
    not_before: datetime,
    not_after: datetime,
    ca: bool,
) -> x509.CertificateBuilder:
    """Names, key, serial, validity, basic constraints, key usage and SKI: what every
    certificate here has. A CA signs certificates; a TSA leaf signs tokens only."""
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=not ca, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=ca,
                crl_sign=ca, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(_ski(key), critical=False)
    )


def make_ca_certificate(
    key: TsaPrivateKey,
    subject: x509.Name,
    *,
    serial: int,
    not_before: datetime,
    not_after: datetime,
    issuer_key: TsaPrivateKey | None = None,
    issuer: x509.Certificate | None = None,
    extended_key_usage: tuple[x509.ObjectIdentifier, ...] | None = None,
) -> x509.Certificate:
    """A CA certificate: self-signed (a root) unless ``issuer_key``/``issuer`` are given
    (an intermediate). ``extended_key_usage`` restricts the CA's subtree, as real
    time-stamping intermediates do with id-kp-timeStamping."""
    signer = issuer_key or key
    builder = _certificate_skeleton(
        key, subject, issuer.subject if issuer is not None else subject,
        serial=serial, not_before=not_before, not_after=not_after, ca=True,
    )
    if issuer_key is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
            critical=False,
        )
    if extended_key_usage is not None:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage(list(extended_key_usage)), critical=False
        )
    return _sign_certificate(builder, signer)


def make_root_certificate(key: TsaPrivateKey) -> x509.Certificate:
    return make_ca_certificate(
        key, ROOT_NAME, serial=ROOT_SERIAL, not_before=ROOT_NOT_BEFORE, not_after=ROOT_NOT_AFTER
    )


@dataclass(frozen=True)
class LeafProfile:
    """How the TSA certificate is made. The defaults follow RFC 3161 section 2.3; the
    other values exist to make deliberately non-conforming certificates for tests."""

    not_before: datetime = LEAF_NOT_BEFORE
    not_after: datetime = LEAF_NOT_AFTER
    eku_critical: bool = True
    extra_ekus: tuple[x509.ObjectIdentifier, ...] = ()
    include_eku: bool = True
    serial: int = LEAF_SERIAL
    subject: x509.Name = TSA_NAME
    key: TsaPrivateKey | None = None  # None: a P-256 key derived from the seed


def make_tsa_certificate(
    key: TsaPrivateKey, issuer_key: TsaPrivateKey, issuer: x509.Certificate, profile: LeafProfile
) -> x509.Certificate:
    builder = _certificate_skeleton(
        key, profile.subject, issuer.subject, serial=profile.serial,
        not_before=profile.not_before, not_after=profile.not_after, ca=False,
    ).add_extension(
        x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
        critical=False,
    )
    if profile.include_eku:
        usages = [ExtendedKeyUsageOID.TIME_STAMPING, *profile.extra_ekus]
        builder = builder.add_extension(
            x509.ExtendedKeyUsage(usages), critical=profile.eku_critical
        )
    return _sign_certificate(builder, issuer_key)


@dataclass(frozen=True)
class TokenOptions:
    """Knobs for one token. The defaults give a conforming token; each other value
    breaks exactly one thing a verifier must check (tests use them one at a time)."""

    signed: bool = True  # False: no SignerInfo and no certificates, like the public samples
    digest_algorithm: str = "sha256"  # SignerInfo digestAlgorithm (message-digest, signature)
    rsa_pss: bool = False  # with an RSA key: RSASSA-PSS instead of PKCS#1 v1.5
    signer_identifier: Literal["issuer_serial", "key_id"] = "issuer_serial"
    include_certificates: bool = True
    extra_certificates: tuple[x509.Certificate, ...] = ()
    content_type_attribute: bool = True
    content_type_value: str = "tst_info"  # an asn1crypto ContentType name or dotted OID
    message_digest_attribute: bool = True
    message_digest: bytes | None = None  # None: the digest of the eContent
    ess: Literal["v2", "v1", "both", "none"] = "v2"
    ess_certificate: x509.Certificate | None = None  # None: the signer's certificate
    ess_issuer_serial: bool = True
    extra_attributes: tuple[cms.CMSAttribute, ...] = ()  # e.g. a duplicate attribute
    include_tsa_name: bool = True
    tsa_name: x509.Name | None = None  # None: the TSA certificate's subject
    tst_version: int = 1
    accuracy_seconds: int | None = 1


def _asn1_certificate(certificate: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(certificate.public_bytes(serialization.Encoding.DER))


def _asn1_name(name: x509.Name) -> asn1_x509.Name:
    return asn1_x509.Name.load(name.public_bytes())


def _issuer_serial(certificate: x509.Certificate) -> tsp.IssuerSerial:
    return tsp.IssuerSerial({
        "issuer": [asn1_x509.GeneralName(name="directory_name", value=_asn1_name(certificate.issuer))],
        "serial_number": certificate.serial_number,
    })


def _ess_attributes(named: x509.Certificate, options: TokenOptions) -> list[cms.CMSAttribute]:
    der = named.public_bytes(serialization.Encoding.DER)
    attributes = []
    if options.ess in ("v1", "both"):
        cert_id = tsp.ESSCertID({"cert_hash": hashlib.sha1(der).digest()})
        if options.ess_issuer_serial:
            cert_id["issuer_serial"] = _issuer_serial(named)
        attributes.append(cms.CMSAttribute({
            "type": "signing_certificate",
            "values": [tsp.SigningCertificate({"certs": [cert_id]})],
        }))
    if options.ess in ("v2", "both"):
        # hashAlgorithm is left out: its DEFAULT is sha256, and DER omits defaults.
        cert_id_v2 = tsp.ESSCertIDv2({"cert_hash": hashlib.sha256(der).digest()})
        if options.ess_issuer_serial:
            cert_id_v2["issuer_serial"] = _issuer_serial(named)
        attributes.append(cms.CMSAttribute({
            "type": "signing_certificate_v2",
            "values": [tsp.SigningCertificateV2({"certs": [cert_id_v2]})],
        }))
    return attributes


class TestTimestampAuthority:
    """A test TSA: a root CA and a TSA certificate, and the key that signs tokens."""

    __test__ = False  # not a pytest test class, despite its name

    def __init__(
        self,
        *,
        root_key: TsaPrivateKey,
        root_certificate: x509.Certificate,
        tsa_key: TsaPrivateKey,
        tsa_certificate: x509.Certificate,
        policy_oid: str = TEST_POLICY_OID,
    ) -> None:
        self.root_key = root_key
        self.root_certificate = root_certificate
        self.tsa_key = tsa_key
        self.tsa_certificate = tsa_certificate
        self.policy_oid = policy_oid

    @classmethod
    def from_seed(
        cls,
        seed: bytes = DEFAULT_SEED,
        *,
        not_before: datetime | None = None,
        not_after: datetime | None = None,
        leaf: LeafProfile | None = None,
    ) -> TestTimestampAuthority:
        """The authority for ``seed``. The root depends only on the seed (fixed validity
        2020-2050), so authorities made from one seed with different ``leaf`` profiles or
        leaf validity (``not_before``/``not_after``) share one trusted root."""
        profile = leaf or LeafProfile()
        if not_before is not None:
            profile = replace(profile, not_before=not_before)
        if not_after is not None:
            profile = replace(profile, not_after=not_after)
        root_key = derive_p256_key(seed, b"root")
        root = make_root_certificate(root_key)
        tsa_key = profile.key or derive_p256_key(seed, b"tsa")
        tsa = make_tsa_certificate(tsa_key, root_key, root, profile)
        return cls(root_key=root_key, root_certificate=root, tsa_key=tsa_key, tsa_certificate=tsa)

    def with_leaf(self, profile: LeafProfile) -> TestTimestampAuthority:
        """A sibling authority under the same root whose TSA certificate follows ``profile``."""
        key = profile.key or self.tsa_key
        certificate = make_tsa_certificate(key, self.root_key, self.root_certificate, profile)
        return TestTimestampAuthority(
            root_key=self.root_key,
            root_certificate=self.root_certificate,
            tsa_key=key,
            tsa_certificate=certificate,
            policy_oid=self.policy_oid,
        )

    # -- PEM, for trust roots, openssl and files on disk ---------------------------------

    def root_pem(self) -> str:
        return self.root_certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")

    def tsa_pem(self) -> str:
        return self.tsa_certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")

    def tsa_key_pem(self) -> str:
        """The TSA's private key (unencrypted PKCS#8): TEST ONLY, e.g. for ``openssl ts``."""
        return self.tsa_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode("ascii")

    # -- tokens --------------------------------------------------------------------------

    def timestamp(
        self,
        digest: bytes,
        *,
        gen_time: datetime,
        serial: int,
        nonce: int | None = None,
        policy_oid: str | None = None,
        hash_algorithm: str = "sha256",
        options: TokenOptions | None = None,
    ) -> bytes:
        """DER of a TimeStampToken over ``digest`` (the message imprint's hashed message)."""
        options = options or TokenOptions()
        if hash_algorithm not in IMPRINT_LENGTHS or len(digest) != IMPRINT_LENGTHS[hash_algorithm]:
            raise ValueError(f"digest is not a {hash_algorithm} digest")
        if gen_time.tzinfo is None:
            raise ValueError("gen_time must be timezone-aware")
        econtent = self._tst_info(
            digest, gen_time, serial, nonce, policy_oid or self.policy_oid, hash_algorithm, options
        ).dump()
        signed_data: dict[str, object] = {
            "version": "v3",
            "digest_algorithms": [],
            "encap_content_info": {
                "content_type": "tst_info",
                "content": core.ParsableOctetString(econtent),
            },
            "signer_infos": [],
        }
        if options.signed:
            signed_data["digest_algorithms"] = [{"algorithm": options.digest_algorithm}]
            signed_data["signer_infos"] = [self._signer_info(econtent, options)]
            certificates = [self.tsa_certificate] if options.include_certificates else []
            certificates += list(options.extra_certificates)
            if certificates:
                signed_data["certificates"] = [_asn1_certificate(c) for c in certificates]
        content_info = cms.ContentInfo({
            "content_type": "signed_data",
            "content": cms.SignedData(signed_data),
        })
        token: bytes = content_info.dump()
        return token

    def _tst_info(
        self,
        digest: bytes,
        gen_time: datetime,
        serial: int,
        nonce: int | None,
        policy_oid: str,
        hash_algorithm: str,
        options: TokenOptions,
    ) -> tsp.TSTInfo:
        fields: dict[str, object] = {
            "version": options.tst_version,
            "policy": policy_oid,
            "message_imprint": {
                "hash_algorithm": {"algorithm": hash_algorithm},
                "hashed_message": digest,
            },
            "serial_number": serial,
            "gen_time": gen_time.astimezone(UTC),
        }
        if options.accuracy_seconds is not None:
            fields["accuracy"] = {"seconds": options.accuracy_seconds}
        if nonce is not None:
            fields["nonce"] = nonce
        if options.include_tsa_name:
            name = options.tsa_name or self.tsa_certificate.subject
            fields["tsa"] = asn1_x509.GeneralName(name="directory_name", value=_asn1_name(name))
        return tsp.TSTInfo(fields)

    def _signer_info(self, econtent: bytes, options: TokenOptions) -> cms.SignerInfo:
        attributes: list[cms.CMSAttribute] = []
        if options.content_type_attribute:
            attributes.append(cms.CMSAttribute({
                "type": "content_type", "values": [options.content_type_value],
            }))
        if options.message_digest_attribute:
            value = options.message_digest
            if value is None:
                value = hashlib.new(options.digest_algorithm, econtent).digest()
            attributes.append(cms.CMSAttribute({"type": "message_digest", "values": [value]}))
        attributes += _ess_attributes(options.ess_certificate or self.tsa_certificate, options)
        attributes += list(options.extra_attributes)
        signed_attrs = cms.CMSAttributes(attributes)
        # RFC 5652 5.4: the signature covers the DER of the SET OF attributes (tag 0x31),
        # not the [0] IMPLICIT form that SignerInfo carries.
        signature, algorithm = self._sign(signed_attrs.dump(), options)
        if options.signer_identifier == "key_id":
            ski = self.tsa_certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
            sid = cms.SignerIdentifier(name="subject_key_identifier", value=ski.value.digest)
            version = "v3"
        else:
            sid = cms.SignerIdentifier(
                name="issuer_and_serial_number",
                value={
                    "issuer": _asn1_name(self.tsa_certificate.issuer),
                    "serial_number": self.tsa_certificate.serial_number,
                },
            )
            version = "v1"
        return cms.SignerInfo({
            "version": version,
            "sid": sid,
            "digest_algorithm": {"algorithm": options.digest_algorithm},
            "signed_attrs": signed_attrs,
            "signature_algorithm": algorithm,
            "signature": signature,
        })

    def _sign(self, data: bytes, options: TokenOptions) -> tuple[bytes, algos.SignedDigestAlgorithm]:
        key = self.tsa_key
        digest_name = options.digest_algorithm
        if isinstance(key, ed25519.Ed25519PrivateKey):
            return key.sign(data), algos.SignedDigestAlgorithm({"algorithm": "ed25519"})
        chosen = _HASHES[digest_name]
        if isinstance(key, ec.EllipticCurvePrivateKey):
            signature = key.sign(data, ec.ECDSA(chosen, deterministic_signing=True))
            return signature, algos.SignedDigestAlgorithm({"algorithm": f"{digest_name}_ecdsa"})
        if options.rsa_pss:
            salt = chosen.digest_size
            signature = key.sign(data, padding.PSS(padding.MGF1(chosen), salt), chosen)
            parameters = algos.RSASSAPSSParams({
                "hash_algorithm": {"algorithm": digest_name},
                "mask_gen_algorithm": {
                    "algorithm": "mgf1",
                    "parameters": {"algorithm": digest_name},
                },
                "salt_length": salt,
            })
            return signature, algos.SignedDigestAlgorithm(
                {"algorithm": "rsassa_pss", "parameters": parameters}
            )
        signature = key.sign(data, padding.PKCS1v15(), chosen)
        return signature, algos.SignedDigestAlgorithm({"algorithm": "rsassa_pkcs1v15"})

    # -- the RFC 3161 protocol -----------------------------------------------------------

    def granted(self, token_der: bytes) -> bytes:
        """DER of a TimeStampResp with status granted, carrying ``token_der``."""
        response = TimeStampResp({
            "status": {"status": "granted"},
            "time_stamp_token": cms.ContentInfo.load(token_der),
        })
        der: bytes = response.dump()
        return der

    def respond(
        self, request_der: bytes, *, gen_time: datetime, serial: int | None = None
    ) -> bytes:
        """DER of a TimeStampResp answering a DER TimeStampReq (RFC 3161 section 2.4).

        A request this TSA cannot honour gets a ``rejection`` with the PKIFailureInfo
        bit RFC 3161 names. ``serial`` defaults to one derived from the request and
        ``gen_time``, so equal inputs give equal responses.
        """
        try:
            request = parse_request(request_der)
        except TokenError as error:
            return rejection_response("bad_data_format", str(error))
        if request.hash_algorithm not in IMPRINT_LENGTHS:
            return rejection_response("bad_alg", f"unsupported hash {request.hash_algorithm}")
        if len(request.digest) != IMPRINT_LENGTHS[request.hash_algorithm]:
            return rejection_response("bad_data_format", "digest length does not fit its hash")
        if request.policy_oid is not None and request.policy_oid != self.policy_oid:
            return rejection_response("unaccepted_policy", f"policy {request.policy_oid} unknown")
        if request.has_extensions:
            return rejection_response("unaccepted_extensions", "no extensions are supported")
        if serial is None:
            seed = request_der + gen_time.astimezone(UTC).isoformat().encode("ascii")
            serial = int.from_bytes(hashlib.sha256(seed).digest()[:8], "big") >> 1 or 1
        token = self.timestamp(
            request.digest,
            gen_time=gen_time,
            serial=serial,
            nonce=request.nonce,
            hash_algorithm=request.hash_algorithm,
            options=TokenOptions(include_certificates=request.cert_req),
        )
        return self.granted(token)


def utc_now_seconds() -> datetime:
    """The current UTC time, truncated to whole seconds (a TSA clock for ``serve_tsa``)."""
    return datetime.now(UTC).replace(microsecond=0)


__all__ = [
    "DEFAULT_SEED",
    "LEAF_NOT_AFTER",
    "LEAF_NOT_BEFORE",
    "ROOT_NOT_AFTER",
    "ROOT_NOT_BEFORE",
    "TEST_POLICY_OID",
    "LeafProfile",
    "TestTimestampAuthority",
    "TokenOptions",
    "derive_p256_key",
    "make_ca_certificate",
    "make_root_certificate",
    "make_tsa_certificate",
    "utc_now_seconds",
]
