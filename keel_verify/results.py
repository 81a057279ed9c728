"""Result types: what a check says, and what a whole verification says.

Every check returns exactly one :class:`CheckResult`. A :class:`Report` gathers them with
the verdict derived from them; nothing else decides a verdict.
"""

from __future__ import annotations

import enum
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
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


def with_bytes_shown(text: str) -> str:
    """``text`` with each byte that was not UTF-8 where it came from (an argument or a
    file name, kept by Python as a lone surrogate U+DC80..U+DCFF) shown as ``\\xNN``, as
    :func:`display_path` shows it, also where a message quotes it with ``repr()``
    (``'\\udcff'``); then :func:`printable`. For whole messages that quote such text
    (click's usage errors, our own)."""
    shown = _SMUGGLED_BYTE.sub(lambda found: f"\\x{ord(found[0]) - 0xDC00:02x}", text)
    return printable(_SMUGGLED_BYTE_REPR.sub(r"\\x\1", shown))


_SMUGGLED_BYTE = re.compile("[\udc80-\udcff]")
#: ... and as ``repr()`` writes one inside a quoted value (``'\udcff'``).
_SMUGGLED_BYTE_REPR = re.compile(r"\\udc([89a-f][0-9a-f])")


def display_path(path: str | bytes | os.PathLike[Any]) -> str:
    """A path as one line of text that any output can carry: bytes of a file name that
    are not UTF-8 (kept by Python as lone surrogates) are shown as ``\\xNN`` escapes, and
    characters that are not printable (a newline in a name) as escapes too."""
    return printable(os.fsencode(path).decode("utf-8", "backslashreplace"))


class Missing:
    """The type of :data:`MISSING`: a member the artifact does not carry at all."""

    def __repr__(self) -> str:
        return "missing"


#: Stands for an absent member where a reason shows a value (``member(obj, key)``), so
#: that "missing" and JSON ``null`` are told apart.
MISSING = Missing()


def member(holder: Any, key: str) -> Any:
    """``holder[key]``, or :data:`MISSING` when ``holder`` is not an object or lacks ``key``."""
    return holder[key] if isinstance(holder, dict) and key in holder else MISSING


def shown(value: Any, limit: int = 80) -> str:
    """An untrusted JSON value for a reason, in JSON's own terms, one line, at most about
    ``limit`` characters: ``null``, ``true``, ``false``; ``missing`` for :data:`MISSING`;
    an integer in digits (a long one cut, with its length); a string quoted and escaped
    (``'text'``); an array or object as compact ASCII JSON; never Python's None/True/False."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Missing):
        return "missing"
    if type(value) is int:
        digits = str(value)
        return f"{digits[:12]}...({len(digits)} digits)" if len(digits) > 24 else digits
    if isinstance(value, (list, dict)):
        # A large value is written piece by piece (in Python), only as far as shown: a
        # value of millions of items costs what its first ``limit`` characters cost; a
        # small one at once, in C.
        encoder = json.JSONEncoder(ensure_ascii=True, separators=(",", ":"), default=repr)
        pieces: list[str] = []
        try:
            if _holds_at_most(value, SHOWN_AT_ONCE):
                pieces.append(encoder.encode(value))
            else:
                written = 0
                for piece in encoder.iterencode(value):
                    pieces.append(piece)
                    written += len(piece)
                    if written > limit:
                        break
        except (ValueError, RecursionError):  # nesting too deep for the encoder
            pieces = ["[...]" if isinstance(value, list) else "{...}"]
        text = "".join(pieces)
    else:
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


#: Values of at most this many items and members, at every depth, are shown by one
#: encoding in C (see :func:`shown`).
SHOWN_AT_ONCE = 256


def _holds_at_most(value: list[Any] | dict[str, Any], items: int) -> bool:
    """Whether ``value`` holds at most ``items`` items and members in all (a walk that
    stops as soon as it has counted more)."""
    pending: list[Any] = [value]
    while pending:
        held = pending.pop()
        items -= len(held)
        if items < 0:
            return False
        pending.extend(item for item in (held.values() if isinstance(held, dict) else held)
                       if isinstance(item, (list, dict)) and item)
    return True


def counted(count: int, noun: str, plural: str | None = None) -> str:
    """``"1 receipt"``, ``"2 receipts"``: a count with its noun in the right number."""
    return f"{count} {noun if count == 1 else plural or noun + 's'}"


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
    ``code`` is the stable reason code ``<check>.<reason>`` (e.g.
    ``issuer_signature.key_revoked``): a public contract, listed by ``--list-checks`` and
    in the report schema; ``reason`` is prose and may change between releases.
    """

    name: str
    outcome: Outcome
    reason: str
    pointer: str = ""
    details: Mapping[str, Any] = field(default_factory=dict)
    code: str = ""

    @property
    def where(self) -> str:
        """``" at POINTER"`` for a renderer to put after the reason, or ``""`` when there
        is no pointer or the reason already names it (a pointer is said once)."""
        if not self.pointer or names_pointer(self.reason, self.pointer):
            return ""
        return f" at {self.pointer}"


def names_pointer(reason: str, pointer: str) -> bool:
    """Whether ``reason`` names ``pointer`` itself (not only a pointer below it)."""
    return _pointer_named(pointer).search(reason) is not None


@lru_cache(maxsize=1024)
def _pointer_named(pointer: str) -> re.Pattern[str]:
    # Every renderer asks for every result; a batch repeats the same pointers.
    return re.compile(re.escape(pointer) + r"(?![^\s:;,)\]])")


@dataclass(frozen=True)
class ReasonCode:
    """One stable reason code a check can give: ``<check>.<suffix>``, always with
    ``outcome``, meaning ``meaning``."""

    code: str
    outcome: Outcome
    meaning: str


@dataclass(frozen=True)
class CheckInfo:
    """What a renderer may say about a check (SARIF rules, JUnit, --list-checks):
    its name, one-line summary and every reason code it can give."""

    name: str
    summary: str
    codes: tuple[ReasonCode, ...]


class Indication(enum.Enum):
    """The main status indication of ETSI TS 119 102-2 (after ETSI EN 319 102-1, 5.1.3)
    given next to our verdict; the mapping is :func:`main_indication`."""

    TOTAL_PASSED = "TOTAL-PASSED"
    TOTAL_FAILED = "TOTAL-FAILED"
    INDETERMINATE = "INDETERMINATE"


@dataclass(frozen=True)
class PolicyViolation:
    """One requirement of a gate policy a file did not meet: a stable ``policy.*`` code
    and one line saying what and where (``rule``: the policy path, e.g. ``all_of/1/require``)."""

    code: str
    reason: str
    rule: str = ""


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
    session: SessionFacts | None = None  # what the session recorded (None on ERROR)
    # The reason codes that kept the verdict from VERIFIED (empty when VERIFIED or ERROR).
    failing_codes: tuple[str, ...] = ()
    issued_at: datetime | None = None  # the signed issued_at (the issuer's claim)
    witnessed_at: datetime | None = None  # genTime of a trusted, verified RFC 3161 witness
    # The gate policy applied (keel_verify.policy), and what of it the file did not meet.
    policy: str | None = None
    policy_violations: tuple[PolicyViolation, ...] = ()

    @property
    def exit_code(self) -> int:
        return self.verdict.exit_code

    @property
    def promoted_warnings(self) -> tuple[str, ...]:
        """The checks whose warnings ``--strict`` made failures (their codes are among
        ``failing_codes``), in check order."""
        if self.verdict is not Verdict.FAILED:
            return ()
        return tuple(check.name for check in self.checks
                     if check.outcome is Outcome.WARN and check.code in self.failing_codes)

    @property
    def indication(self) -> Indication:
        return main_indication(self)

    @property
    def problem(self) -> str | None:
        """One line saying why the file is not VERIFIED (None when it is)."""
        if self.error is not None or self.verdict is Verdict.VERIFIED:
            return self.error
        if self.verdict is Verdict.UNTRUSTED:
            return "no trust source vouches for the signer"
        blocking = [c for c in self.checks if c.code in self.failing_codes]
        if not blocking and self.policy_violations:
            violation = self.policy_violations[0]
            others = len(self.policy_violations) - 1
            return f"{violation.code}: {violation.reason}" + (
                f" (and {others} more policy violation{'s' if others > 1 else ''})" if others else "")
        if not blocking:
            return f"verdict {self.verdict.value}"
        first = blocking[0]
        others = len(blocking) - 1
        more = f" (and {others} more check{'s' if others > 1 else ''})" if others else ""
        return f"{first.code}: {first.reason}{more}"

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
    return signer is None or not signer.trusted or signer.trust_basis == "self-attested" \
        or signer.trust_source.startswith("self-attested")


@dataclass
class Totals:
    """Counts over a batch, folded one report at a time (a stream never needs the list)."""

    files: int = 0
    verified: int = 0
    failed: int = 0
    error: int = 0
    untrusted: int = 0
    verdicts: list[Verdict] = field(default_factory=list, repr=False)

    def add(self, report: Report) -> None:
        self.count(report.verdict)

    def count(self, verdict: Verdict) -> None:
        """One more file with ``verdict``."""
        self.files += 1
        if verdict is Verdict.VERIFIED:
            self.verified += 1
        elif verdict is Verdict.FAILED:
            self.failed += 1
        elif verdict is Verdict.ERROR:
            self.error += 1
        else:
            self.untrusted += 1
        if verdict not in self.verdicts:
            self.verdicts.append(verdict)

    @property
    def exit_code(self) -> int:
        return combined_exit_code(self.verdicts)

    def line(self) -> str:
        """``200 files: 198 verified, 1 failed, 1 error`` (zero counts left out, but
        ``verified`` always shown)."""
        parts = [f"{self.verified} verified"] + [
            f"{count} {label}" for count, label in
            ((self.failed, "failed"), (self.error, "error"), (self.untrusted, "untrusted")) if count
        ]
        noun = "file" if self.files == 1 else "files"
        return f"{self.files} {noun}: " + ", ".join(parts)

    def as_dict(self) -> dict[str, int]:
        return {"files": self.files, "verified": self.verified, "failed": self.failed,
                "error": self.error, "untrusted": self.untrusted}
