"""RFC 3161 time-stamp token verification primitives (RFC 3161, RFC 5652, RFC 5280).

Pure functions, no trust decisions: which roots anchor a chain, which helper
certificates may build it, and whether the result vouches for anything is decided in
:mod:`keel_verify.trust.tsa_decision`. The steps, in the order a token goes through them
(the first that fails is named in the reason):

1. token structure: a granted TimeStampResp or a bare token; SignedData with at most one
   SignerInfo (none: *unsigned*, which binds nothing); eContent id-ct-TSTInfo; TSTInfo v1;
2. signer certificate: found by issuer/serial or key id among the token's certificates,
   then among the caller's candidates (helper certificates for tokens made with
   ``certReq`` false, RFC 3161 2.4.1, or a TSA certificate pinned directly);
3. signed attributes: content-type, message-digest over the exact eContent octets, and
   an ESS signing-certificate (ESSCertIDv2 or ESSCertID) naming that certificate, each
   attribute once (RFC 5652 5.3, RFC 5035, RFC 2634);
4. signature: over the DER SET OF the signed attributes (RSA PKCS#1 v1.5, RSA-PSS,
   ECDSA, Ed25519);
5. signer certificate profile (RFC 3161 2.3): an end entity (not ``cA=TRUE``, no
   ``keyCertSign``), extended key usage exactly id-kp-timeStamping and critical;
   ``TSTInfo.tsa``, when present, names it;
6. message imprint: SHA-256 over the receipt's ``request_hash``.

:func:`check_token` runs steps 1-6; :func:`validate_chain` is RFC 5280 path validation
of the signer certificate at genTime (cryptography's verifier with a TSA profile: only
the end entity's EKU is constrained, since RFC 5280 defines no EKU chaining). Both are
total: hostile bytes give a failed result, never an exception.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache, partial
from typing import Any

from asn1crypto import cms, core
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID
from cryptography.x509.verification import (
    Criticality,
    ExtensionPolicy,
    Policy,
    PolicyBuilder,
    Store,
    VerificationError,
)

from keel_verify.crypto import ed25519 as strict_ed25519
from keel_verify.crypto.der_memo import DerMemo
from keel_verify.crypto.rfc3161 import (
    ID_CT_TSTINFO,
    ReceiptTokens,
    TimestampToken,
    TokenError,
    split_der_elements,
)

STEP_STRUCTURE = "token structure"
STEP_SIGNER_CERTIFICATE = "signer certificate"
STEP_SIGNED_ATTRIBUTES = "signed attributes"
STEP_SIGNATURE = "signature"
STEP_CHAIN = "certificate chain"
STEP_IMPRINT = "message imprint"
STEP_REVOCATION = "revocation"

#: Digests accepted for message-digest and signatures; SHA-1 and MD5 are refused.
_DIGESTS: dict[str, type[hashes.HashAlgorithm]] = {
    "sha224": hashes.SHA224,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}
#: ESSCertIDv2 may use these; ESSCertID (v1) is SHA-1 by definition (RFC 2634 5.4.1).
_ESS_DIGESTS = ("sha256", "sha384", "sha512")

_ATTRIBUTE_NAMES = {
    "1.2.840.113549.1.9.3": "content-type",
    "1.2.840.113549.1.9.4": "message-digest",
    "1.2.840.113549.1.9.16.2.12": "signing-certificate (ESSCertID)",
    "1.2.840.113549.1.9.16.2.47": "signing-certificate-v2 (ESSCertIDv2)",
}
_CONTENT_TYPE, _MESSAGE_DIGEST, _ESS_V1, _ESS_V2 = _ATTRIBUTE_NAMES


@dataclass(frozen=True, kw_only=True)
class TokenFacts:
    """What a token states and which certificate signed it: the facts a report shows."""

    gen_time: datetime | None = None
    accuracy: timedelta | None = None
    policy_oid: str | None = None
    serial_number: int | None = None
    tsa_subject: str | None = None
    signer_certificate_sha256: str | None = None
    token_sha256: str | None = None


@dataclass(frozen=True)
class TokenCheck(TokenFacts):
    """What :func:`check_token` found: the facts, and either the first failed step or,
    for a signed token, the signer certificate whose chain remains to be validated.
    ``signed`` False (no SignerInfo) means the token binds nothing."""

    signed: bool = False
    step: str | None = None  # the step that failed, if any
    problem: str | None = None
    signer: x509.Certificate | None = None
    carried: tuple[x509.Certificate, ...] = ()  # the token's other certificates (untrusted)

    @property
    def failed(self) -> bool:
        return self.problem is not None


@dataclass(frozen=True)
class ChainValidation:
    """RFC 5280 path validation of a TSA certificate at one time: the path found (the
    certificate first, its trust anchor last), or why none was."""

    chain: tuple[x509.Certificate, ...] = ()
    problem: str | None = None

    @property
    def anchor(self) -> x509.Certificate | None:
        return self.chain[-1] if self.chain else None


class _StepFailed(Exception):
    def __init__(self, step: str, problem: str) -> None:
        super().__init__(problem)
        self.step = step
        self.problem = problem


@dataclass(frozen=True)
class CertificateSummary:
    """What a report shows of a certificate: its subject (RFC 4514) and SHA-256 of its DER."""

    subject: str
    sha256: str


# -- what tokens from one TSA share: computed once per distinct DER (crypto/der_memo.py) --
# Each memo stands for one step below and is keyed by every input that step reads.

#: CertificateSet DER -> each X.509 certificate's DER (the set fully parsed once).
_TOKEN_CERTIFICATES: DerMemo[tuple[bytes, ...]] = DerMemo("token certificates")
#: (SignerIdentifier DER, the token's certificates, the candidates) -> the signer's DER.
_SIGNERS: DerMemo[bytes | tuple[str, str]] = DerMemo("signer certificate")
#: signed attribute DER -> its full parse (the per-token message digest comes and goes).
_ATTRIBUTES: DerMemo[_AttributeParse] = DerMemo("signed attribute parse")
#: (ESSCertIDv2 attribute DER, ESSCertID attribute DER, signer DER) -> the problem, if any.
_ESS: DerMemo[str | None] = DerMemo("ESS signing-certificate")
#: (TSTInfo.tsa DER, signer DER) -> the TSA certificate profile's problem, if any.
_PROFILES: DerMemo[str | None] = DerMemo("TSA certificate profile")
#: certificate DER -> the parsed certificate (``cryptography``'s are immutable).
_CERTIFICATES: DerMemo[x509.Certificate] = DerMemo("certificate")
#: certificate DER -> its summary.
_SUMMARIES: DerMemo[CertificateSummary] = DerMemo("certificate summary")


def _dump_or_none(value: Any) -> bytes | None:
    """A parsed value's DER for a memo key, or None when producing it fails (BER that
    must be re-encoded and is malformed): then the step runs unmemoised and fails as
    it always did."""
    try:
        der: bytes = value.dump()
    except _MALFORMED:
        return None
    return der


def _step_outcome(run: Any) -> str | None:
    """None if ``run()`` passes, else the problem of the :class:`_StepFailed` it raised;
    any other exception propagates (and so is never memoised)."""
    try:
        run()
    except _StepFailed as failure:
        return failure.problem
    return None


def load_certificate(der: bytes) -> x509.Certificate:
    """``cryptography``'s certificate for ``der``, parsed once per distinct DER.
    Raises ValueError when ``der`` is not a certificate."""
    return _CERTIFICATES.get(der, lambda: x509.load_der_x509_certificate(der))


def summarise_certificate(certificate: x509.Certificate) -> CertificateSummary:
    """Subject and SHA-256 fingerprint, once per distinct certificate."""
    der = certificate.public_bytes(Encoding.DER)
    return _SUMMARIES.get(der, lambda: CertificateSummary(
        certificate.subject.rfc4514_string(), certificate.fingerprint(hashes.SHA256()).hex()))


def shorten(text: str, limit: int = 120) -> str:
    """Attacker-chosen text (names, OIDs) cut to fit a one-line reason."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def iso_utc(value: datetime) -> str:
    """``2026-05-21T14:35:02Z`` (fractions kept when present)."""
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


# -- the steps ---------------------------------------------------------------------------


def _structure(token: TimestampToken) -> None:
    version = token.tst_version
    if version not in ("v1", 1):
        raise _StepFailed(STEP_STRUCTURE, f"TSTInfo version is {shorten(str(version))}, not v1")
    if token.signer_count > 1:
        raise _StepFailed(
            STEP_STRUCTURE, f"SignedData carries {token.signer_count} SignerInfos, expected one"
        )


def same_name(first: asn1_x509.Name, second: asn1_x509.Name) -> bool:
    """RFC 5280 §7.1 name matching (asn1crypto's, with its LDAP string preparation),
    after the cheap exact case: identical DER names are the same name."""
    return bool(first.dump() == second.dump() or first == second)


def _find_signer(
    token: TimestampToken, signer_info: Any, candidates: Sequence[x509.Certificate]
) -> bytes:
    """The DER of the certificate the SignerInfo names: among the token's certificates,
    else among ``candidates`` (helper certificates, or a TSA certificate pinned directly,
    for tokens made with certReq false). Once per distinct (SignerIdentifier, token
    certificates, candidates)."""
    sid = signer_info["sid"]
    carried = _certificate_ders(token)
    sid_der = _dump_or_none(sid)
    if sid_der is None:
        found = _identify_signer(sid, carried, candidates)
    else:
        found = _SIGNERS.get((sid_der, carried, tuple(candidates)),
                             lambda: _identify_signer(sid, carried, candidates))
    if isinstance(found, tuple):
        raise _StepFailed(*found)
    return found


def _certificate_ders(token: TimestampToken) -> tuple[bytes, ...]:
    """The DER of each X.509 certificate the token carries (:attr:`TimestampToken.certificates`,
    whose full parse is checked once per distinct CertificateSet)."""
    found = token.signed_data["certificates"]
    if isinstance(found, core.Void):
        return ()

    def parse() -> tuple[bytes, ...]:
        return tuple(certificate.dump() for certificate in token.certificates)

    key = _dump_or_none(found)
    return parse() if key is None else _TOKEN_CERTIFICATES.get(key, parse)


def _identify_signer(
    sid: Any, carried: tuple[bytes, ...], candidates: Sequence[x509.Certificate]
) -> bytes | tuple[str, str]:
    """The signer's DER, or (step, problem) when no certificate matches."""
    certificates = [asn1_x509.Certificate.load(der) for der in carried] + [
        asn1_x509.Certificate.load(candidate.public_bytes(Encoding.DER)) for candidate in candidates
    ]
    for certificate in certificates:
        if sid.name == "issuer_and_serial_number":
            wanted = sid.chosen
            if (
                certificate.serial_number == wanted["serial_number"].native
                and same_name(certificate.issuer, wanted["issuer"])
            ):
                return bytes(certificate.dump())
        elif certificate.key_identifier == sid.chosen.native:
            return bytes(certificate.dump())
    if not carried:
        return (
            STEP_SIGNER_CERTIFICATE,
            "the token carries no certificates and no supplied certificate is its signer, "
            "so the signer cannot be identified (give the TSA certificate with --tsa-certs, "
            "or request tokens with certReq true)",
        )
    how = "issuer and serial number" if sid.name == "issuer_and_serial_number" else "key identifier"
    return (
        STEP_SIGNER_CERTIFICATE,
        f"no certificate in the token or among the supplied ones matches the SignerInfo's {how}",
    )


def _digest_name(signer_info: Any) -> str:
    name = signer_info["digest_algorithm"]["algorithm"].native
    if name not in _DIGESTS:
        raise _StepFailed(STEP_SIGNED_ATTRIBUTES, f"digest algorithm {shorten(str(name))} is not accepted")
    return str(name)


@dataclass(frozen=True)
class _AttributeParse:
    """One signed attribute after its full parse: whether reading it filled in absent
    DEFAULT fields (asn1crypto then re-encodes it, and the SET OF around it) and its
    encoding as asn1crypto then dumps it."""

    filled_defaults: bool
    encoding: bytes


@dataclass(frozen=True)
class _SignedAttributes:
    attributes: Any  # asn1crypto CMSAttributes, fully parsed; read, never changed
    message: bytes  # what the signature covers (RFC 5652 5.4)
    received: tuple[bytes, ...] | None  # each attribute's received DER (None: BER)


def _read_signed_attributes(token: TimestampToken, signer_info: Any) -> _SignedAttributes:
    """The signed attributes of ``signer_info`` (the token's first), parsed as
    ``attributes.native`` parses them -- a malformed attribute fails here, with the same
    words -- and the message the signature covers: the DER SET OF the attributes
    (RFC 5652 5.4), as ``attributes.untag().dump()`` gives it. Each distinct attribute
    is parsed fully once per process; the per-token ones (message digest) come and go.
    When an earlier check of the same shared token already parsed them, they are read
    from a fresh parse of the token, so the result never depends on what came before."""
    attributes = signer_info["signed_attrs"]
    if not isinstance(attributes, core.Void) and attributes.children is not None:
        attributes = cms.ContentInfo.load(token.token_der)["content"]["signer_infos"][0]["signed_attrs"]
    if isinstance(attributes, core.Void):
        raise _StepFailed(STEP_SIGNED_ATTRIBUTES, "the SignerInfo has no signed attributes")
    received = attributes.contents
    attributes._parse_children(recurse=True)  # what .native starts with: same order, same errors
    encodings = split_der_elements(received)
    if encodings is None or len(encodings) != len(attributes):  # BER: no memo
        _ = attributes.native
        return _SignedAttributes(attributes, bytes(attributes.untag().dump()), None)
    parses = [_ATTRIBUTES.get(der, partial(_parse_attribute, attribute))
              for attribute, der in zip(attributes, encodings, strict=True)]
    contents = received
    if any(parse.filled_defaults for parse in parses):
        contents = b"".join(sorted(parse.encoding for parse in parses))
    return _SignedAttributes(attributes, _set_of(contents), encodings)


def _parse_attribute(attribute: Any) -> _AttributeParse:
    _ = attribute.native
    return _AttributeParse(bool(attribute._is_mutated()), bytes(attribute.dump()))


def _single_values(signed: _SignedAttributes) -> tuple[dict[str, Any], dict[str, bytes] | None]:
    """(type OID -> its one value, type OID -> the attribute's received DER or None);
    each attribute must appear once with one value."""
    attributes = signed.attributes
    if len(attributes) == 0:
        raise _StepFailed(STEP_SIGNED_ATTRIBUTES, "the SignerInfo has no signed attributes")
    found: dict[str, Any] = {}
    received: dict[str, bytes] = {}
    for index, attribute in enumerate(attributes):
        oid = attribute["type"].dotted
        name = _ATTRIBUTE_NAMES.get(oid) or shorten(oid)
        if oid in found:
            raise _StepFailed(STEP_SIGNED_ATTRIBUTES, f"the {name} attribute appears more than once")
        if len(attribute["values"]) != 1:
            raise _StepFailed(
                STEP_SIGNED_ATTRIBUTES,
                f"the {name} attribute has {len(attribute['values'])} values, expected one",
            )
        found[oid] = attribute["values"][0]
        if signed.received is not None:
            received[oid] = signed.received[index]
    return found, received if signed.received is not None else None


def _names_certificate(issuer_serial: Any, certificate: asn1_x509.Certificate) -> bool:
    if issuer_serial["serial_number"].native != certificate.serial_number:
        return False
    return any(
        name.name == "directory_name" and same_name(name.chosen, certificate.issuer)
        for name in issuer_serial["issuer"]
    )


def _check_ess(values: dict[str, Any], received: dict[str, bytes] | None, certificate_der: bytes) -> None:
    """The ESS signing-certificate attribute names the signer; once per distinct
    (received ESS attributes, signer certificate)."""
    def check() -> str | None:
        return _step_outcome(lambda: _ess_names_signer(values, certificate_der))

    if received is None:
        problem = check()
    else:
        problem = _ESS.get((received.get(_ESS_V2), received.get(_ESS_V1), certificate_der), check)
    if problem is not None:
        raise _StepFailed(STEP_SIGNED_ATTRIBUTES, problem)


def _ess_names_signer(values: dict[str, Any], der: bytes) -> None:
    present = [(oid, values[oid]) for oid in (_ESS_V2, _ESS_V1) if oid in values]
    if not present:
        raise _StepFailed(
            STEP_SIGNED_ATTRIBUTES,
            "no ESS signing-certificate attribute (ESSCertIDv2 or ESSCertID) binds the "
            "signer certificate",
        )
    certificate = asn1_x509.Certificate.load(der)
    for oid, value in present:
        name = _ATTRIBUTE_NAMES[oid]
        cert_ids = value["certs"]
        if len(cert_ids) == 0:
            raise _StepFailed(STEP_SIGNED_ATTRIBUTES, f"the {name} attribute lists no certificate")
        first = cert_ids[0]  # RFC 5035 5.4: the first ESSCertID names the signing certificate
        algorithm = first["hash_algorithm"]["algorithm"].native if oid == _ESS_V2 else "sha1"
        if oid == _ESS_V2 and algorithm not in _ESS_DIGESTS:
            raise _StepFailed(STEP_SIGNED_ATTRIBUTES, f"{name} uses hash {shorten(str(algorithm))}")
        if first["cert_hash"].native != hashlib.new(algorithm, der).digest():
            raise _StepFailed(
                STEP_SIGNED_ATTRIBUTES,
                f"the {name} attribute names another certificate than the signer's "
                f"({algorithm} hash differs)",
            )
        issuer_serial = first["issuer_serial"]
        if issuer_serial.native is not None and not _names_certificate(issuer_serial, certificate):
            raise _StepFailed(
                STEP_SIGNED_ATTRIBUTES,
                f"the {name} attribute's issuerSerial does not name the signer certificate",
            )


def _signed_attributes(
    token: TimestampToken, signed: _SignedAttributes, certificate_der: bytes, digest: str
) -> None:
    values, received = _single_values(signed)
    if _CONTENT_TYPE not in values:
        raise _StepFailed(STEP_SIGNED_ATTRIBUTES, "the content-type attribute is missing")
    if values[_CONTENT_TYPE].dotted != ID_CT_TSTINFO:
        raise _StepFailed(
            STEP_SIGNED_ATTRIBUTES,
            f"the content-type attribute is {shorten(values[_CONTENT_TYPE].dotted)}, "
            "not id-ct-TSTInfo",
        )
    if _MESSAGE_DIGEST not in values:
        raise _StepFailed(STEP_SIGNED_ATTRIBUTES, "the message-digest attribute is missing")
    if values[_MESSAGE_DIGEST].native != hashlib.new(digest, token.econtent).digest():
        raise _StepFailed(
            STEP_SIGNED_ATTRIBUTES,
            f"the message-digest attribute is not the {digest} digest of the TSTInfo "
            "(the time-stamp content was altered, or signed for other content)",
        )
    _check_ess(values, received, certificate_der)


def _signature_hash(algorithm: Any, fallback: str) -> hashes.HashAlgorithm:
    try:
        name = algorithm.hash_algo  # the hash an OID like ecdsa-with-SHA256 names
    except ValueError:  # rsaEncryption, plain ecdsa: the SignerInfo digestAlgorithm applies
        name = fallback
    if name not in _DIGESTS:
        raise _StepFailed(STEP_SIGNATURE, f"signature hash {shorten(str(name))} is not accepted")
    return _DIGESTS[name]()


def _pss_padding(parameters: Any) -> tuple[padding.PSS, hashes.HashAlgorithm]:
    hash_name = parameters["hash_algorithm"]["algorithm"].native
    mgf = parameters["mask_gen_algorithm"]
    mgf_hash = mgf["parameters"]["algorithm"].native
    if mgf["algorithm"].native != "mgf1" or hash_name not in _DIGESTS or mgf_hash not in _DIGESTS:
        raise _StepFailed(STEP_SIGNATURE, "RSA-PSS parameters use an unaccepted hash or MGF")
    if parameters["trailer_field"].native != "trailer_field_bc":
        raise _StepFailed(STEP_SIGNATURE, "RSA-PSS trailer field is not 0xBC")
    salt = parameters["salt_length"].native
    return padding.PSS(padding.MGF1(_DIGESTS[mgf_hash]()), salt), _DIGESTS[hash_name]()


def _set_of(contents: bytes) -> bytes:
    """A DER SET (tag 0x31) with ``contents``: definite length, short form below 128."""
    length = len(contents)
    if length < 0x80:
        return bytes((0x31, length)) + contents
    octets = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes((0x31, 0x80 | len(octets))) + octets + contents


def _signature(signer_info: Any, message: bytes, certificate: x509.Certificate, digest: str) -> None:
    algorithm = signer_info["signature_algorithm"]
    kind = algorithm.signature_algo
    signature = signer_info["signature"].native
    key = certificate.public_key()
    try:
        if kind == "ed25519" and isinstance(key, ed25519.Ed25519PublicKey):
            # Strict RFC 8032: a small-order TSA key would "sign" anything.
            if not strict_ed25519.verify(key.public_bytes_raw(), signature, message):
                raise InvalidSignature
        elif kind == "ecdsa" and isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, message, ec.ECDSA(_signature_hash(algorithm, digest)))
        elif kind == "rsassa_pkcs1v15" and isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, message, padding.PKCS1v15(), _signature_hash(algorithm, digest))
        elif kind == "rsassa_pss" and isinstance(key, rsa.RSAPublicKey):
            pss, chosen = _pss_padding(algorithm["parameters"])
            key.verify(signature, message, pss, chosen)
        else:
            raise _StepFailed(
                STEP_SIGNATURE,
                f"signature algorithm {kind} does not fit the TSA certificate's "
                f"{type(key).__name__.removesuffix('PublicKey').lstrip('_')} key, or is not supported",
            )
    except InvalidSignature:
        raise _StepFailed(
            STEP_SIGNATURE,
            "the signature over the signed attributes does not verify with the TSA "
            "certificate's key",
        ) from None


def _general_name_text(name: Any) -> str:
    if name.name == "directory_name":
        return str(name.chosen.human_friendly)
    return f"{name.name} {name.native}"


def _end_entity(certificate: x509.Certificate) -> None:
    """RFC 3161 2.3 and RFC 5280 4.2.1.3/4.2.1.9: a TSA signs tokens with an end-entity
    certificate. A CA certificate (cA=TRUE) or a key allowed to sign certificates
    (keyCertSign) is refused as a token signer, whatever its EKU says."""
    try:
        constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        constraints = None
    if constraints is not None and constraints.ca:
        raise _StepFailed(
            STEP_SIGNER_CERTIFICATE,
            "the TSA certificate is a CA certificate (basicConstraints cA=TRUE), not an end "
            "entity (RFC 3161 2.3, RFC 5280 4.2.1.9)",
        )
    try:
        usage = certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return
    if usage.key_cert_sign:
        raise _StepFailed(
            STEP_SIGNER_CERTIFICATE,
            "the TSA certificate's key usage allows keyCertSign: a certificate-signing key "
            "is not an end-entity TSA key (RFC 3161 2.3, RFC 5280 4.2.1.3)",
        )


def _tsa_certificate_profile(token: TimestampToken, certificate: x509.Certificate, der: bytes) -> None:
    """RFC 3161 2.3 for the signer certificate, and ``TSTInfo.tsa`` names it; once per
    distinct (TSTInfo.tsa, certificate)."""
    named = token.tsa_name
    name_der = None if named is None else _dump_or_none(named)
    if named is not None and name_der is None:
        problem = _step_outcome(lambda: _profile(named, certificate, der))
    else:
        problem = _PROFILES.get((name_der, der),
                                lambda: _step_outcome(lambda: _profile(named, certificate, der)))
    if problem is not None:
        raise _StepFailed(STEP_SIGNER_CERTIFICATE, problem)


def _profile(named: Any, certificate: x509.Certificate, der: bytes) -> None:
    _end_entity(certificate)
    try:
        eku = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    except x509.ExtensionNotFound:
        raise _StepFailed(
            STEP_SIGNER_CERTIFICATE, "the TSA certificate has no extended key usage extension"
        ) from None
    if not eku.critical:
        raise _StepFailed(
            STEP_SIGNER_CERTIFICATE,
            "the TSA certificate's extended key usage is not critical (RFC 3161 2.3)",
        )
    usages = list(eku.value)
    if usages != [ExtendedKeyUsageOID.TIME_STAMPING]:
        listed = ", ".join(oid._name or oid.dotted_string for oid in usages)
        raise _StepFailed(
            STEP_SIGNER_CERTIFICATE,
            f"the TSA certificate's extended key usage is [{shorten(listed)}], not only "
            "id-kp-timeStamping (RFC 3161 2.3)",
        )
    try:
        usage = certificate.extensions.get_extension_for_class(x509.KeyUsage).value
        if not (usage.digital_signature or usage.content_commitment):
            raise _StepFailed(
                STEP_SIGNER_CERTIFICATE,
                "the TSA certificate's key usage allows neither digitalSignature nor "
                "nonRepudiation",
            )
    except x509.ExtensionNotFound:
        pass
    if named is None:
        return
    asn1_certificate = asn1_x509.Certificate.load(der)
    if named.name == "directory_name":
        matches = same_name(named.chosen, asn1_certificate.subject)
    else:
        alternatives = asn1_certificate.subject_alt_name_value
        matches = alternatives is not None and any(
            alt.name == named.name and alt.native == named.native for alt in alternatives
        )
    if not matches:
        raise _StepFailed(
            STEP_SIGNER_CERTIFICATE,
            f"TSTInfo.tsa names {shorten(_general_name_text(named))!r}, which is not the TSA "
            f"certificate ({shorten(asn1_certificate.subject.human_friendly)!r})",
        )


def _ee_time_stamping_only(policy: Policy, certificate: x509.Certificate, value: Any) -> None:
    if list(value) != [ExtendedKeyUsageOID.TIME_STAMPING]:
        raise ValueError("extended key usage is not exactly id-kp-timeStamping")


def _asserts_ca(policy: Policy, certificate: x509.Certificate, value: Any) -> None:
    if value is None or not value.ca:
        raise ValueError("basicConstraints.cA is not asserted in a CA certificate")


@cache
def _extension_policies() -> tuple[ExtensionPolicy, ExtensionPolicy]:
    """(CA policy, end-entity policy) for a TSA chain.

    The CA side keeps the Web PKI defaults except two: extended key usage is not judged
    at all (RFC 5280 4.2.1.12 defines EKU for the certificate that carries it and no
    chaining, so an intermediate's own EKU -- GlobalSign's CA for Adobe lists another --
    does not constrain the TSA below it), and basicConstraints must assert cA but may be
    non-critical (RFC 5280 6.1.4 (k) checks cA only; the Adobe Root CA marks it
    non-critical). Path length constraints are still enforced. The end-entity side is
    not a TLS leaf: no SAN is needed, and instead of clientAuth/serverAuth the EKU must
    be present, critical, exactly id-kp-timeStamping (RFC 3161 2.3).
    """
    ca = (
        ExtensionPolicy.webpki_defaults_ca()
        .may_be_present(x509.ExtendedKeyUsage, Criticality.AGNOSTIC, None)
        .require_present(x509.BasicConstraints, Criticality.AGNOSTIC, _asserts_ca)
    )
    ee = ExtensionPolicy.permit_all().require_present(
        x509.ExtendedKeyUsage, Criticality.CRITICAL, _ee_time_stamping_only
    )
    return ca, ee


_ENCOUNTERED = re.compile(r"\s*\(encountered processing .*\)\s*$", re.DOTALL)

# What the parsers raise for bytes that are not what they claim to be.
_MALFORMED = (
    ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError,
    UnsupportedAlgorithm, x509.InvalidVersion,
)


def validate_chain(
    certificate: x509.Certificate,
    untrusted: tuple[x509.Certificate, ...],
    roots: tuple[x509.Certificate, ...],
    at: datetime,
) -> ChainValidation:
    """RFC 5280 path validation of the TSA ``certificate`` at time ``at`` (genTime), to
    one of ``roots`` (the trust anchors), through any of ``untrusted`` (intermediates
    from the token or helper certificates: they build paths, they never anchor one).

    A pure function of its arguments (certificates compare and hash by their DER), so
    callers may memoise it. Never raises; an empty ``roots`` finds no path.
    """
    if not roots:
        return ChainValidation(problem="no TSA root is configured")
    ca_policy, ee_policy = _extension_policies()
    try:
        verifier = (
            PolicyBuilder()
            .store(Store(list(roots)))
            .time(at)
            .extension_policies(ca_policy=ca_policy, ee_policy=ee_policy)
            .build_client_verifier()
        )
        verified = verifier.verify(certificate, list(untrusted))
    except VerificationError as error:
        why = _ENCOUNTERED.sub("", str(error)).removeprefix("validation failed: ")
        return ChainValidation(
            problem=f"the TSA certificate does not chain to a configured TSA root at genTime "
            f"{iso_utc(at)}: {why[:200]}"
        )
    except _MALFORMED as error:
        return ChainValidation(problem=f"the TSA certificate cannot be path-validated: {error}"[:240])
    return ChainValidation(chain=tuple(verified.chain))


def _imprint(token: TimestampToken, expected: bytes | None) -> None:
    if expected is None:
        raise _StepFailed(
            STEP_IMPRINT, "the receipt's request_hash is not a 'sha256:' hash to compare with"
        )
    if token.imprint_algorithm != "sha256":
        raise _StepFailed(
            STEP_IMPRINT,
            f"the token's message imprint uses {shorten(str(token.imprint_algorithm))}, not sha256",
        )
    if token.imprint != expected:
        raise _StepFailed(
            STEP_IMPRINT,
            f"the token's message imprint {shorten(token.imprint.hex())} is not the receipt's "
            f"request_hash ({expected.hex()})",
        )


# -- one token ---------------------------------------------------------------------------

def check_token(
    der: bytes,
    *,
    expected_digest: bytes | None,
    candidates: Sequence[x509.Certificate] = (),
    tokens: ReceiptTokens | None = None,
) -> TokenCheck:
    """Steps 1-6 (module docstring) for one DER TimeStampToken or TimeStampResp, against
    the SHA-256 ``expected_digest`` (None when the receipt names none). ``candidates``
    may identify the signer when the token carries no certificate; they are never
    trusted for that. The chain is left to :func:`validate_chain`. ``tokens`` shares
    parsed tokens with the other receipt checks. Never raises."""
    facts: dict[str, Any] = {}
    step = STEP_STRUCTURE
    try:
        try:
            token = (tokens or ReceiptTokens()).from_der(der)
        except TokenError as error:
            raise _StepFailed(STEP_STRUCTURE, str(error)) from None
        facts.update(
            gen_time=token.gen_time,
            accuracy=token.accuracy,
            policy_oid=token.policy_oid,
            serial_number=token.serial_number,
            token_sha256=hashlib.sha256(token.token_der).hexdigest(),
        )
        _structure(token)
        if token.signer_count == 0:
            step = STEP_IMPRINT
            _imprint(token, expected_digest)
            return TokenCheck(signed=False, **facts)
        signer_info = token.signer_infos[0]
        step = STEP_SIGNER_CERTIFICATE
        signer_der = _find_signer(token, signer_info, candidates)
        certificate = load_certificate(signer_der)
        summary = summarise_certificate(certificate)
        facts.update(signed=True, tsa_subject=summary.subject, signer_certificate_sha256=summary.sha256)
        step = STEP_SIGNED_ATTRIBUTES
        digest = _digest_name(signer_info)
        signed = _read_signed_attributes(token, signer_info)
        _signed_attributes(token, signed, signer_der, digest)
        step = STEP_SIGNATURE
        _signature(signer_info, signed.message, certificate, digest)
        step = STEP_SIGNER_CERTIFICATE
        _tsa_certificate_profile(token, certificate, signer_der)
        step = STEP_CHAIN
        carried = tuple(load_certificate(der) for der in _certificate_ders(token) if der != signer_der)
        step = STEP_IMPRINT
        _imprint(token, expected_digest)
    except _StepFailed as failure:
        return TokenCheck(step=failure.step, problem=failure.problem, **facts)
    except _MALFORMED as error:
        # asn1crypto parses lazily: a malformed inner value surfaces here, in the step
        # that first read it.
        text = str(error).splitlines()[0][:160] if str(error) else type(error).__name__
        return TokenCheck(step=step, problem=f"malformed ASN.1: {text}", **facts)
    return TokenCheck(signer=certificate, carried=carried, **facts)


__all__ = [
    "STEP_CHAIN",
    "STEP_IMPRINT",
    "STEP_REVOCATION",
    "STEP_SIGNATURE",
    "STEP_SIGNED_ATTRIBUTES",
    "STEP_SIGNER_CERTIFICATE",
    "STEP_STRUCTURE",
    "ChainValidation",
    "TokenCheck",
    "TokenFacts",
    "check_token",
    "iso_utc",
    "shorten",
    "validate_chain",
]
