"""Parsing RFC 3161 time-stamp tokens (structure only; see :mod:`keel_verify.witness`
for cryptographic verification).

A receipt's ``tsa_response_base64`` holds either a TimeStampToken (a CMS ContentInfo of
type SignedData whose eContent is a TSTInfo) or a full TimeStampResp carrying one.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from asn1crypto import cms, tsp

GRANTED_STATUSES = ("granted", "granted_with_mods")


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
            response = tsp.TimeStampResp.load(der, strict=True)
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
        if encap["content_type"].dotted != "1.2.840.113549.1.9.16.1.4":
            raise TokenError(
                f"eContentType is {encap['content_type'].dotted}, not id-ct-TSTInfo"
            )
        if encap["content"].native is None:
            raise TokenError("SignedData carries no eContent (detached TSTInfo)")
        econtent = encap["content"].contents
        tst_info = tsp.TSTInfo.load(econtent, strict=True)
        tst_info.native  # force a full parse so later reads cannot fail lazily
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
