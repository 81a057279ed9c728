"""Result types: what a check says, and what a whole verification says.

Every check returns exactly one :class:`CheckResult`. A :class:`Report` gathers them with
the verdict derived from them; nothing else decides a verdict.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from keel_verify.facts.model import SessionFacts


def printable(reason: str) -> str:
    """``reason`` with every non-printable character (line breaks, NUL, ESC, U+2028 ...)
    escaped, so that a reason is always one line that cannot drive a terminal: reasons
    quote artifact text (key ids, certificate names, parser messages about token bytes)."""
    if reason.isprintable():
        return reason
    return "".join(
        ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in reason
    )


class Outcome(enum.Enum):
    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"
    SKIP = "skip"  # the check could not judge; never counted as a pass

    @property
    def label(self) -> str:
        return f"[{self.value.upper()}]"


class Indication(enum.Enum):
    """The main status indication of ETSI TS 119 102-2 (after ETSI EN 319 102-1, 5.1.3)
    given next to our verdict; the mapping is :func:`main_indication`."""

    TOTAL_PASSED = "TOTAL-PASSED"
    TOTAL_FAILED = "TOTAL-FAILED"
    INDETERMINATE = "INDETERMINATE"


class Verdict(enum.Enum):
    VERIFIED = "VERIFIED"
    FAILED = "FAILED"
    ERROR = "ERROR"
    UNTRUSTED = "UNTRUSTED"

    @property
    def exit_code(self) -> int:
        return _EXIT_CODES[self]


_EXIT_CODES = {Verdict.VERIFIED: 0, Verdict.FAILED: 1, Verdict.ERROR: 2, Verdict.UNTRUSTED: 3}


def combined_exit_code(verdicts: list[Verdict]) -> int:
    """Exit code for several files: 1 if any failed, else 2 if any errored, else 3, else 0."""
    for verdict in (Verdict.FAILED, Verdict.ERROR, Verdict.UNTRUSTED):
        if verdict in verdicts:
            return verdict.exit_code
    return 0


@dataclass(frozen=True)
class CheckResult:
    """One check's judgement.

    ``pointer`` is an RFC 6901 JSON Pointer to the member at fault ("" is the whole
    artifact). ``details`` holds machine-readable facts (hashes, counts, key ids).
    """

    name: str
    outcome: Outcome
    reason: str
    pointer: str = ""
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SignerSummary:
    """Who signed, and who (if anyone) vouches for that key."""

    key_id: str | None
    public_key: str | None
    trust_source: str  # "pinned key", "trust-root file ...", "self-attested", "none"
    trusted: bool
    time_basis: str | None = None  # which time decided the key's validity window


@dataclass(frozen=True)
class Report:
    """The result of verifying one input."""

    path: str
    input_sha256: str | None
    verdict: Verdict
    checks: tuple[CheckResult, ...] = ()
    error: str | None = None
    schema_version: int | None = None
    session_id: str | None = None
    chain_head: str | None = None
    signature_content_hash: str | None = None
    signer: SignerSummary | None = None
    not_proven: tuple[str, ...] = ()
    session: SessionFacts | None = None  # what the session recorded (None on ERROR)

    @property
    def exit_code(self) -> int:
        return self.verdict.exit_code

    @property
    def indication(self) -> Indication:
        return main_indication(self)

    def check(self, name: str) -> CheckResult:
        for result in self.checks:
            if result.name == name:
                return result
        raise KeyError(name)


def main_indication(report: Report) -> Indication:
    """ETSI-style main indication of one report.

    VERIFIED under a trust source (pinned key or trust root)  -> TOTAL-PASSED
    VERIFIED only because the caller accepted self-attestation -> INDETERMINATE
        (no trust anchor vouches for the signer: the origin is not established)
    FAILED (a check failed, or warned under --strict/policy)  -> TOTAL-FAILED
    UNTRUSTED (nothing failed, no trust source vouches)      -> INDETERMINATE
    ERROR (the input could not be read as an attestation)    -> INDETERMINATE
    """
    if report.verdict is Verdict.FAILED:
        return Indication.TOTAL_FAILED
    if report.verdict is Verdict.VERIFIED and not _self_attested_only(report):
        return Indication.TOTAL_PASSED
    return Indication.INDETERMINATE


def _self_attested_only(report: Report) -> bool:
    signer = report.signer
    return signer is None or not signer.trusted or signer.trust_source.startswith("self-attested")
