"""Result types: what a check says, and what a whole verification says.

Every check returns exactly one :class:`CheckResult`. A :class:`Report` gathers them with
the verdict derived from them; nothing else decides a verdict.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


class Outcome(enum.Enum):
    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"
    SKIP = "skip"  # the check could not judge; never counted as a pass

    @property
    def label(self) -> str:
        return f"[{self.value.upper()}]"


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

    @property
    def exit_code(self) -> int:
        return self.verdict.exit_code

    @property
    def promoted_warnings(self) -> tuple[str, ...]:
        """The checks whose warnings alone made the verdict FAILED (``--strict``): no check
        failed, so only strict mode can have turned these warnings into the failure."""
        if self.verdict is not Verdict.FAILED or any(
            check.outcome is Outcome.FAIL for check in self.checks
        ):
            return ()
        return tuple(check.name for check in self.checks if check.outcome is Outcome.WARN)

    def check(self, name: str) -> CheckResult:
        for result in self.checks:
            if result.name == name:
                return result
        raise KeyError(name)
