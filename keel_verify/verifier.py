"""The public entry points: verify bytes or a path under a trust policy, get a Report.

I/O happens only here (reading the input); everything below is pure.
"""

from __future__ import annotations

import os
import sys
import threading
from datetime import datetime
from typing import Any

from keel_verify.checks import ALL_CHECKS, visitor_factories
from keel_verify.checks.base import Check
from keel_verify.context import CheckContext
from keel_verify.errors import LoadError
from keel_verify.facts.model import SessionFacts
from keel_verify.gc_pause import collector_paused
from keel_verify.load.access import parse_time
from keel_verify.load.chainpass import read_strictly
from keel_verify.load.loader import MAX_DEPTH, MAX_INPUT_BYTES, read_input, sha256_of_input
from keel_verify.pipeline import decide, run_checks
from keel_verify.results import (
    CheckResult,
    Outcome,
    Report,
    SignerSummary,
    Verdict,
    display_path,
    printable,
)
from keel_verify.trust import TrustPolicy
from keel_verify.trust.signer import NONE, SELF_ATTESTED, SignatureAssessment

STDIN = "-"


def verify_path(
    path: str | bytes | os.PathLike[str] | os.PathLike[bytes],
    trust: TrustPolicy | None = None,
    *,
    max_bytes: int = MAX_INPUT_BYTES,
    max_depth: int = MAX_DEPTH,
) -> Report:
    """Verify a regular file (or standard input for ``"-"``). Never raises for bad input:
    a path that is not a ``str``/``bytes``/path-like or holds a NUL byte, a missing or
    unreadable file, a FIFO or device, a closed standard input all end in an ERROR report.
    ``Report.path`` is :func:`display_path`."""
    if not isinstance(path, (str, bytes, os.PathLike)):
        return _error_report(repr(path)[:80], f"path must be str or os.PathLike, not {type(path).__name__}")
    try:
        shown = display_path(path)
    except TypeError as error:  # a PathLike whose __fspath__ returns neither str nor bytes
        return _error_report(repr(path)[:80], str(error))
    if shown != STDIN and "\x00" in os.fsdecode(path):
        return _error_report(shown, "a path holding a NUL byte names no file")
    stdin = getattr(sys.stdin, "buffer", None) if shown == STDIN else None
    if shown == STDIN and (sys.stdin is None or sys.stdin.closed):
        return _error_report(shown, STDIN_CLOSED)  # None: descriptor 0 was closed at start
    if shown == STDIN and stdin is None:
        return _error_report(shown, STDIN_NOT_BYTES)
    try:
        data = read_input(os.fsdecode(path) if stdin is None else stdin, max_bytes=max_bytes)
    except LoadError as error:
        return _error_report(shown, str(error))
    return verify_bytes(data, trust, path=shown, max_depth=max_depth)


#: The error for ``"-"`` when the process was started with standard input closed.
STDIN_CLOSED = "standard input is closed"
#: ... and when ``sys.stdin`` was replaced by a stream without bytes (e.g. io.StringIO).
STDIN_NOT_BYTES = "standard input is not a byte stream"


def _error_report(path: str, error: str) -> Report:
    return Report(path=path, input_sha256=None, verdict=Verdict.ERROR, error=error)


def verify_bytes(
    data: bytes | bytearray | memoryview,
    trust: TrustPolicy | None = None,
    *,
    path: str = "<bytes>",
    max_depth: int = MAX_DEPTH,
    checks: tuple[Check, ...] = ALL_CHECKS,
    exact: bool = False,
    now: datetime | None = None,
) -> Report:
    """Verify an artifact's bytes under ``trust`` (default: trust nothing).

    ``checks`` selects the checks to run (all by default); ``exact`` forces the pure
    stdlib reading path (the fast path gives the same results, only sooner). ``now``
    (timezone-aware) is the verification time, an upper bound on the signing time that
    key windows and revocations are judged against (default: the current time). Never
    raises for bad input: ``data`` that is not bytes-like (a ``str`` included) is an ERROR
    report.
    """
    if isinstance(data, (bytearray, memoryview)):
        data = bytes(data)
    if not isinstance(data, bytes):
        kind = type(data).__name__
        hint = " (encode text as UTF-8 first)" if isinstance(data, str) else ""
        return _error_report(path, f"input must be bytes, not {kind}{hint}")
    trust = trust or TrustPolicy()
    try:
        return _verify(data, trust, path, max_depth, checks, exact, now)
    except RecursionError:
        return _error_report(path, "input nested too deeply to verify")
    except Exception as error:  # a bug must not crash a CI gate, nor read as FAILED
        problem = printable(f"{type(error).__name__}: {error}".splitlines()[0][:200])
        return _error_report(path, f"internal error while verifying ({problem}); please report it")


def _verify(
    data: bytes,
    trust: TrustPolicy,
    path: str,
    max_depth: int,
    checks: tuple[Check, ...],
    exact: bool,
    now: datetime | None,
) -> Report:
    input_digest = _InputDigest(data)
    try:
        with collector_paused():
            artifact, chain_pass = read_strictly(
                data, visitor_factories(checks), max_depth=max_depth, exact=exact
            )
    except LoadError as error:
        return Report(
            path=path, input_sha256=input_digest.result(), verdict=Verdict.ERROR, error=str(error)
        )
    context = CheckContext(artifact, trust, chain_pass, now)
    results = run_checks(context, checks)
    verdict, blocking = decide(context, results)
    document = artifact.document
    session = document.get("session_metadata")
    head = document.get("chain_head")
    return Report(
        path=path,
        input_sha256=input_digest.result(),
        verdict=verdict,
        checks=results,
        schema_version=artifact.schema_version,
        session_id=_text(session.get("session_id") if isinstance(session, dict) else None),
        chain_head=_text(head.get("content_hash") if isinstance(head, dict) else None),
        signature_content_hash=chain_pass.content_hash,
        signer=_signer_summary(context.signatures, trust),
        not_proven=_not_proven(context.signatures, context.trust, results),
        session=_session_facts(context),
        failing_codes=blocking,
        issued_at=parse_time(document.get("issued_at")),
        witnessed_at=context.authenticated_time,
    )


class _InputDigest:
    """SHA-256 of the input for the report. A large input is hashed in a thread while it
    is being verified (hashlib releases the GIL), so the report's digest costs no time."""

    THREAD_FROM_BYTES = 4 * 1024 * 1024

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.digest: str | None = None
        self.thread: threading.Thread | None = None
        if len(data) >= self.THREAD_FROM_BYTES:
            self.thread = threading.Thread(target=self._run, daemon=True)
            self.thread.start()

    def _run(self) -> None:
        self.digest = sha256_of_input(self.data)

    def result(self) -> str:
        if self.thread is not None:
            self.thread.join()
        return self.digest if self.digest is not None else sha256_of_input(self.data)


def _session_facts(context: CheckContext) -> SessionFacts | None:
    """The session facts for the reports; a bug there must not cost the verdict (the
    session_counters check, which reads them too, already fails on it)."""
    try:
        return context.session_facts
    except Exception:
        return None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _signer_summary(assessment: SignatureAssessment, trust: TrustPolicy) -> SignerSummary | None:
    primary = assessment.primary
    if primary is None:
        return None
    basis = NONE
    if primary.trusted_key is not None:
        source, basis = primary.decision.sources, primary.trust_basis
    elif primary.valid and primary.refused:
        source = f"none (refused by the trust policy: {primary.trust_problem})"
    elif primary.valid and trust.self_attested:
        source, basis = f"{SELF_ATTESTED} (accepted with --self-attested)", SELF_ATTESTED
    elif primary.valid and trust.has_issuer_trust_source:
        source = "none (the key is in no trust source given)"
    elif primary.valid:
        source = f"{SELF_ATTESTED} (no trust source given)"
    else:
        source = "none (signature invalid)"
    return SignerSummary(
        claimed_key_id=primary.key_id,
        public_key=primary.public_key,
        trust_source=source,
        trusted=primary.trusted_key is not None,
        time_basis=assessment.time_basis if primary.trusted_key is not None else None,
        fingerprint=primary.fingerprint if primary.valid else None,
        label=primary.label,
        trust_basis=basis,
    )


def _origin_gap(assessment: SignatureAssessment, trust: TrustPolicy) -> str | None:
    """What the signatures leave unproven about the issuer, agreeing with the signer line."""
    if assessment.trusted:
        return None
    primary = assessment.primary
    if primary is None or not primary.valid:
        return "origin: no signature verifies, so nothing about the issuer is proven"
    if primary.refused:
        return (
            "origin: the only valid signature's key is refused by the trust policy "
            f"({primary.trust_problem})"
        )
    if trust.has_issuer_trust_source and not trust.self_attested:
        return (
            "origin: the signing key is in no trust source given (found only inside the "
            "artifact); the signature proves internal consistency, not who issued it"
        )
    return (
        "origin: the signing key is self-attested (found only inside the artifact); "
        "the signature proves internal consistency, not who issued it"
    )


def _not_proven(
    assessment: SignatureAssessment, trust: TrustPolicy, results: tuple[CheckResult, ...]
) -> tuple[str, ...]:
    """What the evidence does not establish, in words an auditor can quote."""
    gap = _origin_gap(assessment, trust)
    gaps: list[str] = [gap] if gap else []
    for result in results:
        if result.outcome in (Outcome.WARN, Outcome.SKIP):
            gaps.append(f"{result.name}: {result.reason}")
    return tuple(gaps)
