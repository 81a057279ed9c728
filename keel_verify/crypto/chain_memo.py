"""A memo around :func:`keel_verify.crypto.witness.validate_chain`, shared by every
artifact a process verifies: a batch signed by one TSA validates its chain once.

Path validation (RFC 5280 §6) depends on the time it is judged at only through each
certificate's validity period, so two genTimes at which every certificate involved
compares alike with its notBefore and notAfter give the same path: the memo's key is the
certificates' DER and that comparison vector (the "window"), never the time itself. Only
successful validations are kept: a failure's wording names its genTime, and failures are
rare enough to redo. The memo is a :class:`keel_verify.crypto.der_memo.DerMemo`, whose
lock keeps a lookup and another thread's eviction from interleaving.
"""

from __future__ import annotations

from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from keel_verify.crypto.der_memo import DerMemo
from keel_verify.crypto.witness import ChainValidation, validate_chain

#: Distinct (chain, window) results kept; the oldest is dropped first.
MAX_ENTRIES = 256

_memo: DerMemo[ChainValidation] = DerMemo("TSA chain validation", MAX_ENTRIES)


def _compare(at: datetime, bound: datetime) -> int:
    return (at > bound) - (at < bound)


def _window(certificates: tuple[x509.Certificate, ...], at: datetime) -> tuple[int, ...]:
    """How ``at`` compares (-1, 0, 1) with every certificate's notBefore and notAfter."""
    window: list[int] = []
    for certificate in certificates:
        window.append(_compare(at, certificate.not_valid_before_utc))
        window.append(_compare(at, certificate.not_valid_after_utc))
    return tuple(window)


def validate_chain_memoised(
    certificate: x509.Certificate,
    untrusted: tuple[x509.Certificate, ...],
    roots: tuple[x509.Certificate, ...],
    at: datetime,
) -> ChainValidation:
    """:func:`keel_verify.crypto.witness.validate_chain`, computed once per distinct
    (certificate, untrusted, roots, validity window of ``at``)."""
    involved = (certificate, *untrusted, *roots)
    try:
        key: tuple[object, ...] = (
            *(c.public_bytes(Encoding.DER) for c in involved), len(untrusted),
            _window(involved, at),
        )
    except (ValueError, TypeError, OverflowError):  # no usable key: validate without the memo
        return validate_chain(certificate, untrusted, roots, at)
    found = _memo.peek(key)
    if found is not None:
        return found
    result = validate_chain(certificate, untrusted, roots, at)
    if result.anchor is not None:
        _memo.put(key, result)
    return result


def clear() -> None:
    """Forget every kept validation (tests start from an empty memo)."""
    _memo.clear()
