"""keel-verify: an independent, offline verifier for Keel voice-session attestations.

Public API (the CLI only wraps it)::

    from keel_verify import TrustPolicy, verify_path, verify_bytes

    report = verify_path("voice_session_export.json", TrustPolicy.self_attested_only())
    trust = load_trust_policy(trust_roots=["trust-root.json"], tsa_roots=["tsa-roots.pem"])
    report = verify_path("voice_session_export.json", trust)
    report.verdict            # Verdict.VERIFIED / FAILED / ERROR / UNTRUSTED
    report.exit_code          # 0 / 1 / 2 / 3
    report.indication         # Indication.TOTAL_PASSED / TOTAL_FAILED / INDETERMINATE
    report.failing_codes      # reason codes that kept it from VERIFIED
    report.session            # SessionFacts: turns, tool calls, permits, counters ...
    for check in report.checks:
        print(check.code, check.outcome.value, check.reason, check.pointer)
"""

from keel_verify.errors import TrustConfigError
from keel_verify.facts.model import SessionFacts
from keel_verify.results import CheckResult, Indication, Outcome, Report, Verdict
from keel_verify.trust import TrustedKey, TrustPolicy
from keel_verify.trust.sources import load_trust_policy
from keel_verify.verifier import verify_bytes, verify_path
from keel_verify.version import __version__

__all__ = [
    "CheckResult",
    "Indication",
    "Outcome",
    "Report",
    "SessionFacts",
    "TrustConfigError",
    "TrustPolicy",
    "TrustedKey",
    "Verdict",
    "__version__",
    "load_trust_policy",
    "verify_bytes",
    "verify_path",
]
