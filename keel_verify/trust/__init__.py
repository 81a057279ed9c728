"""The trust boundary: what the caller trusts, read from its sources, and the rules that
decide whether a key or a time-stamp authority vouches for an artifact, and when.

Nothing here reads an artifact's unsigned members as a source of trust.
"""

from keel_verify.crypto.ed25519 import ED25519_PREFIX
from keel_verify.trust.policy import (
    ISSUER_KEY_PURPOSE,
    TRUST_ROOT_ENV,
    TrustedKey,
    TrustPolicy,
    environment_trust_root_path,
    format_ed25519_public_key,
    parse_ed25519_public_key,
)

__all__ = [
    "ED25519_PREFIX",
    "ISSUER_KEY_PURPOSE",
    "TRUST_ROOT_ENV",
    "TrustPolicy",
    "TrustedKey",
    "environment_trust_root_path",
    "format_ed25519_public_key",
    "parse_ed25519_public_key",
]
