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
    """Who signed, named by what verified, and who (if anyone) vouches for that key.

    ``fingerprint`` is ``"sha256:"`` + hex SHA-256 of the key bytes that verified (None
    when no signature verified); ``label`` is the trust policy's name for the key;
    ``claimed_key_id`` is the artifact's own, unverified ``key_id``. ``trust_basis`` is
    ``"trust-root"``, ``"pinned"``, ``"self-attested"`` or ``"none"``.
    """

    claimed_key_id: str | None
    public_key: str | None
    trust_source: str  # "pinned key", "trust-root file ...", "self-attested", "none"
    trusted: bool
    time_basis: str | None = None  # which time decided the key's validity window
    fingerprint: str | None = None
    label: str | None = None
    trust_basis: str = "none"

    @property
    def name(self) -> str:
        return signer_name(self.fingerprint, self.label, self.claimed_key_id)


def _quoted(text: str) -> str:
    # Artifact and trust-file text: never a line break or a screenful in a report line.
    return text if len(text) <= 100 and text.isprintable() else f"{text!r:.100}"


def signer_name(fingerprint: str | None, label: str | None, claimed_key_id: str | None) -> str:
    """A signer in one phrase, by what verified: the trust policy's label and the key's
    fingerprint; the artifact's own key_id only as a marked, unverified claim."""
    name = fingerprint or "no verified key"
    if label:
        name = f"{_quoted(label)} ({name})"
    if claimed_key_id and claimed_key_id != label:
        name += f" [claims key_id {_quoted(claimed_key_id)}]"
    return name


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

    def check(self, name: str) -> CheckResult:
        for result in self.checks:
            if result.name == name:
                return result
        raise KeyError(name)
