"""Building the caller's :class:`TrustPolicy` from the trust options as given.

All trust input is read and parsed here, once, in the calling process; worker processes
receive the parsed policy (never a path to read again).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import Any

from keel_verify.errors import TrustConfigError
from keel_verify.trust.policy import TRUST_ROOT_ENV, TrustedKey, TrustPolicy


@dataclass(frozen=True)
class TrustSpec:
    """The trust options as given (paths not yet read)."""

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
    more_trust_roots: tuple[str, ...] = ()  # further trust files (the API takes several)

    @property
    def trust_roots(self) -> tuple[str, ...]:
        named = (self.trust_root, *self.more_trust_roots, self.environment_trust_root)
        return tuple(dict.fromkeys(path for path in named if path))


def _issuer_key_sources(spec: TrustSpec) -> str:
    sources = [f"--public-key ({len(spec.public_keys)})"] if spec.public_keys else []
    sources.extend(f"--trust-root {path}" for path in (spec.trust_root, *spec.more_trust_roots)
                   if path)
    if spec.environment_trust_root and spec.environment_trust_root != spec.trust_root:
        sources.append(f"${TRUST_ROOT_ENV} {spec.environment_trust_root}")
    sources.extend(f"--trust {name}" for name in spec.trust_names)
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


def load_trust_policy(
    *,
    trust_roots: Iterable[str | Path] = (),
    public_keys: Iterable[str] = (),
    tsa_roots: Iterable[str | Path] = (),
    tsa_certs: Iterable[str | Path] = (),
    trust: Iterable[str] = (),
    self_attested: bool = False,
    strict: bool = False,
) -> TrustPolicy:
    """A :class:`TrustPolicy` built from trust files, exactly as the command line builds it.

    ``trust_roots``: trust files, each our trust root (``trust_root_version``), a Keel
    public key manifest (``keel.public_key_manifest.v1``, its signature verified) or a Keel
    TSA trust bundle (``keel.tsa_trust_bundle.v1``), told apart by their content.
    ``public_keys``: pinned issuer keys, ``"ed25519:" + base64``. ``tsa_roots``: PEM files
    of TSA trust anchors. ``tsa_certs``: PEM files of TSA chain-building helpers (never
    anchors). ``trust``: names of trust sources shipped in the package (e.g.
    ``"keel-production"``). Every statement about the same key bytes applies (the
    strictest wins). ``$KEEL_VERIFY_TRUST_ROOT`` is NOT read: pass it explicitly.

    Raises :class:`~keel_verify.errors.TrustConfigError` (one line) for a file that cannot
    be read or does not fit its format, a key that fails the checks of RFC 8032 §5.1.3
    made on reading (all but whether it is on the curve, judged when the key is used:
    :func:`keel_verify.trust.policy.parse_ed25519_public_key`), or ``self_attested``
    beside trusted issuer keys.
    """
    return build_policy(TrustSpec(
        public_keys=tuple(public_keys),
        self_attested=self_attested,
        trust_root=None,
        tsa_roots=tuple(str(path) for path in tsa_roots),
        strict=strict,
        tsa_certs=tuple(str(path) for path in tsa_certs),
        trust_names=tuple(trust),
        more_trust_roots=tuple(str(path) for path in trust_roots),
    ))


class PolicyDescription(Mapping[str, Any]):
    """:func:`describe_policy` of a spec and policy, built when first read: a text report
    never reads it, and it lists every issuer key (100,000 keys: about a second)."""

    def __init__(self, spec: TrustSpec, policy: TrustPolicy) -> None:
        self._spec, self._policy = spec, policy

    @cached_property
    def _described(self) -> dict[str, Any]:
        return describe_policy(self._spec, self._policy)

    def __getitem__(self, key: str) -> Any:
        return self._described[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._described)

    def __len__(self) -> int:
        return len(self._described)


def describe_policy(spec: TrustSpec, policy: TrustPolicy) -> dict[str, Any]:
    """The policy that was applied, exactly: every issuer key with its conditions, and
    every TSA root by subject and SHA-256 fingerprint of its DER (a trust file read from a
    pipe cannot be read again, so the report names what was parsed, not only where)."""
    from keel_verify.verifier import display_path

    return {
        "issuer_keys": [_describe_key(key) for key in policy.issuer_keys],
        "self_attested": policy.self_attested,
        "tsa_roots": [root.subject.rfc4514_string() for root in policy.tsa_roots],
        "tsa_root_sha256": [_fingerprint(root) for root in policy.tsa_roots],
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
        "trust_root_file": display_path(spec.trust_root) if spec.trust_root else None,
        "environment_trust_root_file": (
            display_path(spec.environment_trust_root) if spec.environment_trust_root else None
        ),
        "strict": policy.strict,
    }


def _describe_key(key: TrustedKey) -> dict[str, Any]:
    from keel_verify.crypto.signatures import key_fingerprint

    return {
        "public_key": key.encoded,
        "fingerprint": key_fingerprint(key.public_key),
        "source": key.source,
        "label": key.label,
        "purpose": key.purpose,
        "status": key.status,
        "not_before": key.not_before,
        "not_after": key.not_after,
        "revoked_at": key.revoked_at,
    }


def _fingerprint(certificate: Any) -> str:
    from cryptography.hazmat.primitives import hashes

    digest: bytes = certificate.fingerprint(hashes.SHA256())
    return "sha256:" + digest.hex()
