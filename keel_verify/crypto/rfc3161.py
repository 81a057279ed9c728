"""Parsing RFC 3161 time-stamp tokens (structure only; see :mod:`keel_verify.crypto.witness`
for cryptographic verification).

A receipt's ``tsa_response_base64`` holds either a TimeStampToken (a CMS ContentInfo of
type SignedData whose eContent is a TSTInfo) or a full TimeStampResp carrying one.

Hostile tokens cost bounded work: before asn1crypto sees the bytes, :func:`der_shape_problem`
walks their TLV headers (including DER wrapped in OCTET and BIT STRINGs, as eContent and
certificate extensions are) and refuses a token larger than :data:`MAX_TOKEN_BYTES`, more
than :data:`MAX_DER_ELEMENTS` elements, nesting deeper than :data:`MAX_DER_DEPTH`,
and object identifiers longer than
:data:`MAX_OID_BYTES` or with an arc longer than :data:`MAX_OID_ARC_BYTES` (decoding a long
arc costs quadratic time). :class:`ReceiptTokens` parses each distinct token once per
verification, failures included.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar

from asn1crypto import cms, core, tsp
from asn1crypto import x509 as asn1_x509

from keel_verify.crypto.der_memo import DerMemo

GRANTED_STATUSES = ("granted", "granted_with_mods")

#: Message-imprint hash algorithms this project reads and issues, with digest lengths.
IMPRINT_LENGTHS = {"sha256": 32, "sha384": 48, "sha512": 64}

ID_CT_TSTINFO = "1.2.840.113549.1.9.16.1.4"

#: A TimeStampResp with a full certificate chain is a few kilobytes; larger is refused.
MAX_TOKEN_BYTES = 64 * 1024
#: Real tokens nest about 12 levels (certificate extensions included).
MAX_DER_DEPTH = 32
#: TLV elements in one token (a real one has a few hundred).
MAX_DER_ELEMENTS = 8192
#: Real object identifiers are under 40 bytes; the longest arcs (UUID arcs, 2.25.x) 19.
MAX_OID_BYTES = 256
MAX_OID_ARC_BYTES = 24

_TAG_OID = 0x06
_TAG_RELATIVE_OID = 0x0D
_TAG_REGISTERED_ID = 0x88  # GeneralName registeredID: [8] IMPLICIT OBJECT IDENTIFIER
_TAG_OCTET_STRING = 0x04
_TAG_BIT_STRING = 0x03


class _Refused(Exception):
    """A limit was exceeded (as opposed to bytes that simply are not DER)."""


class _NotDer(Exception):
    """The bytes are not a sequence of well-formed definite-length TLVs."""


def der_shape_problem(der: bytes) -> str | None:
    """Why ``der`` is refused before parsing (one line), or None when it is within every
    limit. Only TLV headers are read: the cost is linear in the number of elements."""
    if len(der) > MAX_TOKEN_BYTES:
        return f"token of {len(der)} bytes exceeds the limit of {MAX_TOKEN_BYTES}"
    walked = [0, 0]  # elements read, deepest level reached
    try:
        _walk_tlvs(der, 0, len(der), 1, walked)
    except _Refused as refused:
        return str(refused)
    except _NotDer:
        return None  # not DER at all: the parser says so, at no great cost
    return None


def _header(der: bytes, offset: int, end: int) -> tuple[int, int, int | None]:
    """``(first tag byte, content start, content end)`` of the TLV at ``offset``; the end is
    None for an indefinite length (BER, as some TSAs send: content ends at 00 00)."""
    if offset + 2 > end:
        raise _NotDer
    tag = der[offset]
    offset += 1
    if tag & 0x1F == 0x1F:  # high tag number form
        for _ in range(4):
            if offset >= end:
                raise _NotDer
            offset += 1
            if not der[offset - 1] & 0x80:
                break
        else:
            raise _NotDer
    if offset >= end:
        raise _NotDer
    length = der[offset]
    offset += 1
    if length == 0x80:
        if not tag & 0x20:
            raise _NotDer
        return tag, offset, None
    if length & 0x80:
        count = length & 0x7F
        if count > 4 or offset + count > end:
            raise _NotDer
        length = int.from_bytes(der[offset : offset + count], "big")
        offset += count
    if offset + length > end:
        raise _NotDer
    return tag, offset, offset + length


def _check_oid(der: bytes, start: int, end: int, arcs_only: bool) -> None:
    if not arcs_only and end - start > MAX_OID_BYTES:
        raise _Refused(f"object identifier of {end - start} bytes exceeds the limit of "
                       f"{MAX_OID_BYTES}")
    run = 0
    for index in range(start, end):
        run = run + 1 if der[index] & 0x80 else 0
        if run >= MAX_OID_ARC_BYTES:
            raise _Refused(f"object identifier arc longer than {MAX_OID_ARC_BYTES} bytes")


def split_der_elements(der: bytes) -> tuple[bytes, ...] | None:
    """The consecutive TLVs ``der`` holds (e.g. a SET OF's contents), each with its
    header, or None unless they are all definite-length TLVs filling it exactly."""
    elements: list[bytes] = []
    offset = 0
    while offset < len(der):
        try:
            _, _, after = _header(der, offset, len(der))
        except _NotDer:
            return None
        if after is None:
            return None
        elements.append(der[offset:after])
        offset = after
    return tuple(elements)


def _walk_tlvs(
    der: bytes, start: int, end: int, depth: int, walked: list[int], *, until_eoc: bool = False
) -> int:
    """Walk the TLVs from ``start``: to exactly ``end``, or (``until_eoc``) through the
    end-of-contents octets 00 00 of an indefinite length; returns where the walk ended.
    ``walked`` is [elements read, deepest level reached]. _NotDer if the bytes are not
    such TLVs, _Refused if a limit is exceeded. Recursion is bounded by MAX_DER_DEPTH."""
    if depth > MAX_DER_DEPTH:
        raise _Refused(f"ASN.1 nesting deeper than the limit of {MAX_DER_DEPTH} levels")
    if depth > walked[1]:
        walked[1] = depth
    offset = start
    while offset < end:
        walked[0] += 1
        if walked[0] > MAX_DER_ELEMENTS:
            raise _Refused(f"more than {MAX_DER_ELEMENTS} ASN.1 elements")
        if until_eoc and der[offset : offset + 2] == b"\x00\x00":
            return offset + 2
        tag, content, after = _header(der, offset, end)
        if after is None:  # indefinite length: constructed, up to its end-of-contents
            offset = _walk_tlvs(der, content, end, depth + 1, walked, until_eoc=True)
            continue
        if tag & 0x20:  # constructed
            _walk_constructed(der, offset, content, after, depth + 1, walked)
        elif tag in (_TAG_OID, _TAG_RELATIVE_OID, _TAG_REGISTERED_ID):
            _check_oid(der, content, after, arcs_only=tag == _TAG_REGISTERED_ID)
        elif tag in (_TAG_OCTET_STRING, _TAG_BIT_STRING) and after > content:
            inner = content + 1 if tag == _TAG_BIT_STRING else content
            if inner < after and (tag != _TAG_BIT_STRING or der[content] == 0):
                _walk_encapsulated(der, inner, after, depth + 1, walked)
        offset = after
    if until_eoc:
        raise _NotDer
    return offset


#: Constructed TLVs at least this long (certificates, their TBS part) are remembered
#: once walked clean: tokens from one TSA repeat them byte for byte.
SHAPE_MEMO_MIN_BYTES = 256
#: TLV bytes -> (elements in it, levels below it) of a walk that met no limit.
_SHAPES: DerMemo[tuple[int, int]] = DerMemo("DER shape walk")


def _walk_constructed(
    der: bytes, offset: int, content: int, after: int, depth: int, walked: list[int]
) -> None:
    """:func:`_walk_tlvs` over the contents of the definite-length constructed TLV at
    ``offset``. A long one walked clean before is counted, not walked again, when its
    elements and levels fit the limits from here: then the walk could only give the
    same count, as the bytes are the same. Anything else is walked."""
    if after - offset < SHAPE_MEMO_MIN_BYTES:
        _walk_tlvs(der, content, after, depth, walked)
        return
    key = der[offset:after]
    known = _SHAPES.peek(key)
    if known is not None:
        count, levels = known
        if depth + levels <= MAX_DER_DEPTH and walked[0] + count <= MAX_DER_ELEMENTS:
            walked[0] += count
            walked[1] = max(walked[1], depth + levels)
            return
    count_before, deepest_before = walked
    walked[1] = depth
    try:
        _walk_tlvs(der, content, after, depth, walked)
        _SHAPES.put(key, (walked[0] - count_before, walked[1] - depth))
    finally:
        walked[1] = max(walked[1], deepest_before)


def _walk_encapsulated(der: bytes, start: int, end: int, depth: int, walked: list[int]) -> None:
    """DER inside an OCTET or BIT STRING (eContent, extension values, public keys) is held
    to the same limits; content that is not DER is opaque bytes. (Elements read before
    that is known still count, so the whole scan reads at most MAX_DER_ELEMENTS headers.)"""
    with contextlib.suppress(_NotDer):
        _walk_tlvs(der, start, end, depth, walked)


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
    """Parse a TimeStampToken or a TimeStampResp. Raises TokenError with the failing step,
    also when the bytes exceed a limit of :func:`der_shape_problem` (checked first)."""
    problem = der_shape_problem(der)
    if problem is not None:
        raise TokenError(f"token refused before parsing: {problem}")
    try:
        return _parse_token(der)
    except RecursionError:  # the limits above make this unreachable; kept as a backstop
        raise TokenError("token refused: ASN.1 nesting too deep") from None


def _parse_token(der: bytes) -> TimestampToken:
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
        content = encap["content"]
        parsed = content.native  # the TSTInfo parsed in full (leniently), or its bytes
        if parsed is None:
            raise TokenError("SignedData carries no eContent (detached TSTInfo)")
        econtent = content.contents
        tst_info = tsp.TSTInfo.load(econtent, strict=True)  # refuses trailing data
        if isinstance(parsed, dict) and type(content.parsed) is tsp.TSTInfo:
            tst_info = content.parsed  # the same bytes, already parsed: not a second time
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


def decode_receipt_token(encoded: Any) -> bytes:
    """The DER of a receipt's ``tsa_response_base64``; TokenError if it is not base64 of
    at most :data:`MAX_TOKEN_BYTES` (the length is judged before decoding)."""
    if isinstance(encoded, str) and len(encoded) > (MAX_TOKEN_BYTES + 2) // 3 * 4:
        raise TokenError(f"token of about {len(encoded) // 4 * 3} bytes exceeds the limit of "
                         f"{MAX_TOKEN_BYTES}")
    return decode_base64_der(encoded)


class ReceiptTokens:
    """Each distinct receipt token parsed once per verification, however many checks (or
    receipts) ask for it; a failure is remembered too, so hostile bytes are refused once.
    Shared through the check context; the parsed tokens are shared: read, never change.

    ``parses`` counts the calls that reached :func:`parse_token`."""

    def __init__(self) -> None:
        self._by_der: dict[bytes, TimestampToken | TokenError] = {}
        self._by_text: dict[str, TimestampToken | TokenError] = {}
        self.parses = 0

    def from_der(self, der: bytes) -> TimestampToken:
        """:func:`parse_token`, once per distinct DER. Raises TokenError."""
        outcome = self._by_der.get(der)
        if outcome is None:
            self.parses += 1
            try:
                outcome = parse_token(der)
            except TokenError as error:
                outcome = error
            self._by_der[der] = outcome
        if isinstance(outcome, TokenError):
            raise TokenError(str(outcome))
        return outcome

    def from_text(self, encoded: Any) -> TimestampToken:
        """The token of a receipt's ``tsa_response_base64``, once per distinct text.
        Raises TokenError."""
        if not isinstance(encoded, str):
            raise TokenError("tsa_response_base64 is not a non-empty string")
        outcome = self._by_text.get(encoded)
        if outcome is None:
            try:
                outcome = self.from_der(decode_receipt_token(encoded))
            except TokenError as error:
                outcome = error
            self._by_text[encoded] = outcome
        if isinstance(outcome, TokenError):
            raise TokenError(str(outcome))
        return outcome
