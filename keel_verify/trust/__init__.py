"""The trust boundary: what the caller trusts, read from its sources, and the rules that
decide whether a key or a time-stamp authority vouches for an artifact, and when.

Nothing here reads an artifact's unsigned members as a source of trust.
"""

from keel_verify.trust.policy import (
    ED25519_PREFIX,
    ISSUER_KEY_PURPOSE,
    TRUST_ROOT_ENV,
    TrustedKey,
    TrustPolicy,
    format_ed25519_public_key,
    parse_ed25519_public_key,
    resolve_trust_root_path,
)

__all__ = [
    "ED25519_PREFIX",
    "ISSUER_KEY_PURPOSE",
    "TRUST_ROOT_ENV",
    "TrustPolicy",
    "TrustedKey",
    "format_ed25519_public_key",
    "parse_ed25519_public_key",
    "resolve_trust_root_path",
]
