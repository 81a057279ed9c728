"""Building the caller's :class:`TrustPolicy` from the trust options as given.

All trust input is read and parsed here, once, in the calling process; worker processes
receive the parsed policy (never a path to read again).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from keel_verify.errors import TrustConfigError
from keel_verify.trust.policy import TRUST_ROOT_ENV, TrustPolicy


@dataclass(frozen=True)
class TrustSpec:
    """The trust options as given: picklable, so worker processes can rebuild the policy."""

    public_keys: tuple[str, ...]
    self_attested: bool
    trust_root: str | None
    tsa_roots: tuple[str, ...]
    strict: bool
    # $KEEL_VERIFY_TRUST_ROOT: applies beside --trust-root (never silently replaced by it),
    # so that a revocation it states cannot be lifted by a script's own options.
    environment_trust_root: str | None = None
    tsa_certs: tuple[str, ...] = ()  # PEM files of TSA chain-building helpers (never anchors)
    trust_names: tuple[str, ...] = ()  # named trust sources shipped in the package (--trust)

    @property
    def trust_roots(self) -> tuple[str, ...]:
        named = (self.trust_root, self.environment_trust_root)
        return tuple(dict.fromkeys(path for path in named if path))


def _issuer_key_sources(spec: TrustSpec) -> str:
    sources = [f"--public-key ({len(spec.public_keys)})"] if spec.public_keys else []
    if spec.trust_root:
        sources.append(f"--trust-root {spec.trust_root}")
    if spec.environment_trust_root and spec.environment_trust_root != spec.trust_root:
        sources.append(f"${TRUST_ROOT_ENV} {spec.environment_trust_root}")
    return ", ".join(sources)


def build_policy(spec: TrustSpec) -> TrustPolicy:
    """The policy the options describe. Raises TrustConfigError (one line; the CLI exits 2)
    for a malformed source, and for --self-attested beside trusted issuer keys: accepting
    any embedded key and naming the trusted keys contradict each other."""
    policy = TrustPolicy.pinned(*spec.public_keys, strict=spec.strict)
    if spec.trust_roots or spec.tsa_roots or spec.tsa_certs or spec.trust_names:
        # Imported only when used: it pulls in cryptography.x509.
        from keel_verify.trust.named import apply_named_source
        from keel_verify.trust.trust_root import (
            add_tsa_certs,
            add_tsa_roots,
            load_trust_root,
            load_tsa_certs,
            load_tsa_roots,
            tsa_certs_source,
            tsa_roots_source,
        )

        for name in spec.trust_names:
            policy = apply_named_source(policy, name)
        for path in spec.trust_roots:
            policy = load_trust_root(path).apply(policy)
        for pem_path in spec.tsa_roots:
            policy = add_tsa_roots(policy, load_tsa_roots(pem_path), tsa_roots_source(pem_path))
        for pem_path in spec.tsa_certs:
            policy = add_tsa_certs(policy, load_tsa_certs(pem_path), tsa_certs_source(pem_path))
    if spec.self_attested:
        if policy.issuer_keys:
            raise TrustConfigError(
                f"--self-attested conflicts with the trusted issuer keys of "
                f"{_issuer_key_sources(spec)}: accept the artifact's own key or trust "
                "these keys, not both"
            )
        policy = replace(policy, self_attested=True)
    return policy


def describe_policy(spec: TrustSpec, policy: TrustPolicy) -> dict[str, Any]:
    return {
        "issuer_keys": [{"public_key": k.encoded, "source": k.source, "label": k.label}
                        for k in policy.issuer_keys],
        "self_attested": policy.self_attested,
        "tsa_roots": [root.subject.rfc4514_string() for root in policy.tsa_roots],
        "tsa_roots_source": policy.tsa_roots_source,
        "tsa_certs": [certificate.subject.rfc4514_string() for certificate in policy.tsa_certs],
        "tsa_certs_source": policy.tsa_certs_source,
        "tsa_revocation_rules": [
            {"source": rule.source, "crls": len(rule.crls),
             "refresh_required_before": rule.deadline.isoformat() if rule.deadline else None}
            for rule in policy.tsa_revocation
        ],
        "named_trust_sources": list(spec.trust_names),
        "trust_notes": list(policy.notes),
        "trust_root_file": spec.trust_root,
        "environment_trust_root_file": spec.environment_trust_root,
        "strict": policy.strict,
    }
