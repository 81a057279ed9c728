"""Parsing RFC 3161 time-stamp tokens (structure only; see :mod:`keel_verify.crypto.witness`
for cryptographic verification).

A receipt's ``tsa_response_base64`` holds either a TimeStampToken (a CMS ContentInfo of
type SignedData whose eContent is a TSTInfo) or a full TimeStampResp carrying one.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, ClassVar

from asn1crypto import cms, core, tsp
from asn1crypto import x509 as asn1_x509

GRANTED_STATUSES = ("granted", "granted_with_mods")

#: Message-imprint hash algorithms this project reads and issues, with digest lengths.
IMPRINT_LENGTHS = {"sha256": 32, "sha384": 48, "sha512": 64}

ID_CT_TSTINFO = "1.2.840.113549.1.9.16.1.4"


class TimeStampResp(core.Sequence):  # type: ignore[misc]
    """RFC 3161 2.4.2 TimeStampResp. asn1crypto's ``tsp.TimeStampResp`` marks
    ``timeStampToken`` as required, so a rejection (which has none) would not parse."""

    _fields: ClassVar[list[tuple[Any, ...]]] = [
        ("status", tsp.PKIStatusInfo),
        ("time_stamp_token", cms.ContentInfo, {"optional": True}),
    ]


class TokenError(Exception):
    """The bytes are not a usable time-stamp token; str() is a one-line reason."""


@dataclass(frozen=True)
class TimestampToken:
    token_der: bytes  # DER of the TimeStampToken (ContentInfo), even when a response wrapped it
    content_info: Any  # asn1crypto.cms.ContentInfo
    signed_data: Any  # asn1crypto.cms.SignedData
    tst_info: Any  # asn1crypto.tsp.TSTInfo
    econtent: bytes  # the exact eContent octets (what message-digest must cover)
    response_status: str | None  # PKIStatus when a TimeStampResp was given, else None

    @property
    def gen_time(self) -> datetime:
        value: datetime = self.tst_info["gen_time"].native
        return value

    @property
    def imprint_algorithm(self) -> str:
        name: str = self.tst_info["message_imprint"]["hash_algorithm"]["algorithm"].native
        return name

    @property
    def imprint(self) -> bytes:
        value: bytes = self.tst_info["message_imprint"]["hashed_message"].native
        return value

    @property
    def serial_number(self) -> int:
        value: int = self.tst_info["serial_number"].native
        return value

    @property
    def policy_oid(self) -> str:
        value: str = self.tst_info["policy"].dotted
        return value

    @property
    def signer_count(self) -> int:
        return len(self.signed_data["signer_infos"])

    @property
    def tst_version(self) -> int | str:
        value: int | str = self.tst_info["version"].native
        return value

    @property
    def nonce(self) -> int | None:
        value: int | None = self.tst_info["nonce"].native
        return value

    @property
    def accuracy(self) -> timedelta | None:
        """TSTInfo ``accuracy`` as a duration (absent fields count as zero), or None."""
        accuracy = self.tst_info["accuracy"]
        if accuracy.native is None:
            return None
        parts = accuracy.native
        return timedelta(
            seconds=parts.get("seconds") or 0,
            milliseconds=parts.get("millis") or 0,
            microseconds=parts.get("micros") or 0,
        )

    @property
    def tsa_name(self) -> Any:
        """TSTInfo ``tsa`` (an asn1crypto GeneralName), or None when absent."""
        name = self.tst_info["tsa"]
        return None if name.native is None else name

    @property
    def signer_infos(self) -> list[Any]:
        """The SignerInfo values (asn1crypto.cms.SignerInfo)."""
        return list(self.signed_data["signer_infos"])

    @property
    def certificates(self) -> list[asn1_x509.Certificate]:
        """The X.509 certificates the SignedData carries (other CertificateChoices skipped)."""
        found = self.signed_data["certificates"]
        if found.native is None:
            return []
        return [choice.chosen for choice in found if choice.name == "certificate"]


@dataclass(frozen=True)
class TimestampRequest:
    """The parts of a TimeStampReq (RFC 3161 2.4.1) a TSA acts on."""

    hash_algorithm: str
    digest: bytes
    policy_oid: str | None
    nonce: int | None
    cert_req: bool
    has_extensions: bool


def build_request(
    digest: bytes,
    *,
    hash_algorithm: str = "sha256",
    nonce: int | None = None,
    cert_req: bool = True,
    policy_oid: str | None = None,
) -> bytes:
    """DER of a TimeStampReq (``application/timestamp-query``) for an already-hashed digest."""
    if len(digest) != IMPRINT_LENGTHS.get(hash_algorithm, -1):
        raise ValueError(f"digest is not a {hash_algorithm} digest")
    fields: dict[str, Any] = {
        "version": "v1",
        "message_imprint": {"hash_algorithm": {"algorithm": hash_algorithm}, "hashed_message": digest},
        "cert_req": cert_req,
    }
    if nonce is not None:
        fields["nonce"] = nonce
    if policy_oid is not None:
        fields["req_policy"] = policy_oid
    der: bytes = tsp.TimeStampReq(fields).dump()
    return der


def parse_request(der: bytes) -> TimestampRequest:
    """Parse a DER TimeStampReq; TokenError with a one-line reason when it is not one."""
    try:
        request = tsp.TimeStampReq.load(der, strict=True)
        _ = request.native  # force a full parse
        if request["version"].native != "v1":
            raise TokenError(f"TimeStampReq version is {request['version'].native}, not v1")
        imprint = request["message_imprint"]
        policy = request["req_policy"]
        return TimestampRequest(
            hash_algorithm=imprint["hash_algorithm"]["algorithm"].native,
            digest=imprint["hashed_message"].native,
            policy_oid=None if policy.native is None else policy.dotted,
            nonce=request["nonce"].native,
            cert_req=bool(request["cert_req"].native),
            has_extensions=request["extensions"].native is not None,
        )
    except TokenError:
        raise
    except (ValueError, TypeError, KeyError, AttributeError):
        raise TokenError("not DER of a TimeStampReq") from None


def rejection_response(fail_info: str, text: str) -> bytes:
    """DER of a TimeStampResp with status rejection and one PKIFailureInfo bit set."""
    response = TimeStampResp({
        "status": {"status": "rejection", "status_string": [text], "fail_info": {fail_info}},
    })
    der: bytes = response.dump()
    return der


def response_status(der: bytes) -> tuple[str, str | None]:
    """(PKIStatus, status text) of a DER TimeStampResp; TokenError if it is not one."""
    try:
        response = TimeStampResp.load(der, strict=True)
        status_info = response["status"]
        status: str = status_info["status"].native
        texts = status_info["status_string"].native
    except (ValueError, TypeError, KeyError):
        raise TokenError("not DER of a TimeStampResp") from None
    return status, "; ".join(texts) if texts else None


def decode_base64_der(text: Any) -> bytes:
    if not isinstance(text, str) or not text:
        raise TokenError("tsa_response_base64 is not a non-empty string")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise TokenError("tsa_response_base64 is not valid base64") from None


def _load_content_info(der: bytes) -> Any:
    try:
        content_info = cms.ContentInfo.load(der, strict=True)
        if content_info["content_type"].native != "signed_data":
            return None
        return content_info
    except (ValueError, TypeError):
        return None


def parse_token(der: bytes) -> TimestampToken:
    """Parse a TimeStampToken or a TimeStampResp. Raises TokenError with the failing step."""
    status: str | None = None
    content_info = _load_content_info(der)
    token_der = der
    if content_info is None:
        try:
            response = TimeStampResp.load(der, strict=True)
            status = response["status"]["status"].native
            token = response["time_stamp_token"]
        except (ValueError, TypeError, KeyError):
            raise TokenError("not DER of a TimeStampToken (CMS SignedData) or TimeStampResp") from None
        if status not in GRANTED_STATUSES:
            raise TokenError(f"TimeStampResp status is {status!r}, not granted")
        if token is None or token.native is None:
            raise TokenError("TimeStampResp carries no timeStampToken")
        token_der = token.dump()
        content_info = _load_content_info(token_der)
        if content_info is None:
            raise TokenError("timeStampToken is not a CMS SignedData ContentInfo")
    try:
        signed_data = content_info["content"]
        encap = signed_data["encap_content_info"]
        if encap["content_type"].dotted != ID_CT_TSTINFO:
            raise TokenError(
                f"eContentType is {encap['content_type'].dotted:.80}, not id-ct-TSTInfo"
            )
        if encap["content"].native is None:
            raise TokenError("SignedData carries no eContent (detached TSTInfo)")
        econtent = encap["content"].contents
        tst_info = tsp.TSTInfo.load(econtent, strict=True)
        _ = tst_info.native  # force a full parse so later reads cannot fail lazily
        len(signed_data["signer_infos"])
    except TokenError:
        raise
    except (ValueError, TypeError, KeyError, AttributeError) as error:
        raise TokenError(f"malformed SignedData/TSTInfo: {str(error).splitlines()[0][:120]}") from None
    return TimestampToken(
        token_der=token_der,
        content_info=content_info,
        signed_data=signed_data,
        tst_info=tst_info,
        econtent=econtent,
        response_status=status,
    )


@lru_cache(maxsize=128)
def _parse_receipt_text(text: str) -> TimestampToken:
    return parse_token(decode_base64_der(text))


def parse_receipt_token(encoded: Any) -> TimestampToken:
    """``parse_token(decode_base64_der(encoded))`` for a receipt's ``tsa_response_base64``,
    each distinct text parsed once however many checks (or receipts) ask. TokenError
    otherwise. The parsed token is shared: read it, never change it."""
    if not isinstance(encoded, str):
        raise TokenError("tsa_response_base64 is not a non-empty string")
    return _parse_receipt_text(encoded)
