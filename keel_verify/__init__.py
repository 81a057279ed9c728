"""keel-verify: an independent, offline verifier for Keel voice-session attestations.

Public API (the CLI only wraps it)::

    from keel_verify import TrustPolicy, verify_path, verify_bytes

    report = verify_path("voice_session_export.json", TrustPolicy.self_attested_only())
    report.verdict            # Verdict.VERIFIED / FAILED / ERROR / UNTRUSTED
    report.exit_code          # 0 / 1 / 2 / 3
    for check in report.checks:
        print(check.name, check.outcome.value, check.reason, check.pointer)
"""

from keel_verify.results import CheckResult, Outcome, Report, Verdict
from keel_verify.trust import TrustedKey, TrustPolicy
from keel_verify.verifier import verify_bytes, verify_path
from keel_verify.version import __version__

__all__ = [
    "CheckResult",
    "Outcome",
    "Report",
    "TrustPolicy",
    "TrustedKey",
    "Verdict",
    "__version__",
    "verify_bytes",
    "verify_path",
]
