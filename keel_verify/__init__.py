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

from __future__ import annotations

from keel_verify.version import __version__

# Not typing.TYPE_CHECKING: importing typing is a few milliseconds more of the commands'
# start-up, during which Ctrl-C could only be a traceback (type checkers know the name).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from keel_verify.errors import TrustConfigError
    from keel_verify.facts.model import SessionFacts
    from keel_verify.results import CheckResult, Indication, Outcome, Report, Verdict
    from keel_verify.trust import TrustedKey, TrustPolicy
    from keel_verify.trust.sources import load_trust_policy
    from keel_verify.verifier import verify_bytes, verify_path

#: Where each public name lives. They are imported when first asked for, so that
#: ``import keel_verify`` (and the commands' entry, keel_verify.entry) costs almost nothing:
#: a Ctrl-C while the command's modules load is then the command's to answer.
_PUBLIC = {
    "TrustConfigError": "keel_verify.errors",
    "SessionFacts": "keel_verify.facts.model",
    "CheckResult": "keel_verify.results",
    "Indication": "keel_verify.results",
    "Outcome": "keel_verify.results",
    "Report": "keel_verify.results",
    "Verdict": "keel_verify.results",
    "TrustedKey": "keel_verify.trust",
    "TrustPolicy": "keel_verify.trust",
    "load_trust_policy": "keel_verify.trust.sources",
    "verify_bytes": "keel_verify.verifier",
    "verify_path": "keel_verify.verifier",
}


def __getattr__(name: str) -> Any:
    """A public name, imported on first use (PEP 562). AttributeError for any other."""
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'keel_verify' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_PUBLIC))


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
