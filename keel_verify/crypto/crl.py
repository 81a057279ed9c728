"""Certificate revocation list primitives (RFC 5280 section 5): who issued a CRL, when it
speaks for, and what it says about one serial number. No trust decisions: which CRLs
apply, and what staleness means, is :mod:`keel_verify.trust.tsa_revocation`'s business.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from cryptography import x509


@dataclass(frozen=True)
class Revocation:
    """One CRL entry (RFC 5280 5.3): the revocation date and, when given, the invalidity
    date (the CRL entry extension saying since when the key is suspect)."""

    revocation_date: datetime
    invalidity_date: datetime | None

    @property
    def effective(self) -> datetime:
        """The earlier of the two dates: from then on the certificate does not vouch."""
        if self.invalidity_date is None:
            return self.revocation_date
        return min(self.revocation_date, self.invalidity_date)


def issued_by(crl: x509.CertificateRevocationList, issuer: x509.Certificate) -> bool:
    """The CRL names ``issuer`` as its issuer and its signature verifies with that
    certificate's key (RFC 5280 6.3.3 (f), (g)). Never raises."""
    if crl.issuer != issuer.subject:
        return False
    try:
        return bool(crl.is_signature_valid(issuer.public_key()))  # type: ignore[arg-type]
    except (TypeError, ValueError):  # a key type CRLs cannot be signed with
        return False


def revocation_of(crl: x509.CertificateRevocationList, serial_number: int) -> Revocation | None:
    """The CRL's entry for ``serial_number``, or None when it lists none."""
    entry = crl.get_revoked_certificate_by_serial_number(serial_number)
    if entry is None:
        return None
    try:
        invalidity: datetime | None = entry.extensions.get_extension_for_class(
            x509.InvalidityDate
        ).value.invalidity_date_utc
    except x509.ExtensionNotFound:
        invalidity = None
    return Revocation(entry.revocation_date_utc, invalidity)


def next_update(crl: x509.CertificateRevocationList) -> datetime | None:
    """``nextUpdate`` in UTC, or None when the CRL gives none."""
    return crl.next_update_utc


def this_update(crl: x509.CertificateRevocationList) -> datetime:
    return crl.last_update_utc
