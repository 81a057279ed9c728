"""Building the caller's :class:`TrustPolicy` from the trust options as given.

All trust input is read and parsed here, once, in the calling process; worker processes
receive the parsed policy (never a path to read again).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from keel_verify.trust.policy import TrustPolicy


@dataclass(frozen=True)
class TrustSpec:
    """The trust options as given: picklable, so worker processes can rebuild the policy."""

    public_keys: tuple[str, ...]
    self_attested: bool
    trust_root: str | None
    tsa_roots: tuple[str, ...]
    strict: bool


def build_policy(spec: TrustSpec) -> TrustPolicy:
    policy = TrustPolicy.pinned(*spec.public_keys, strict=spec.strict)
    policy = replace(policy, self_attested=spec.self_attested)
    if spec.trust_root or spec.tsa_roots:
        # Imported only when used: it pulls in cryptography.x509.
        from keel_verify.trust.trust_root import (
            add_tsa_roots,
            load_trust_root,
            load_tsa_roots,
            tsa_roots_source,
        )

        if spec.trust_root:
            policy = load_trust_root(spec.trust_root).apply(policy)
        for pem_path in spec.tsa_roots:
            policy = add_tsa_roots(policy, load_tsa_roots(pem_path), tsa_roots_source(pem_path))
    return policy


def describe_policy(spec: TrustSpec, policy: TrustPolicy) -> dict[str, Any]:
    return {
        "issuer_keys": [{"public_key": k.encoded, "source": k.source, "label": k.label}
                        for k in policy.issuer_keys],
        "self_attested": policy.self_attested,
        "tsa_roots": [root.subject.rfc4514_string() for root in policy.tsa_roots],
        "tsa_roots_source": policy.tsa_roots_source,
        "trust_root_file": spec.trust_root,
        "strict": policy.strict,
    }
