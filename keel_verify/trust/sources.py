"""Building the caller's :class:`TrustPolicy` from the trust options as given.

All trust input is read and parsed here, once, in the calling process; worker processes
receive the parsed policy (never a path to read again).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from itertools import islice
from pathlib import Path
from typing import Any

from keel_verify.errors import TrustConfigError
from keel_verify.results import display_path
from keel_verify.trust.policy import (
    TRUST_ROOT_ENV,
    TrustedKey,
    TrustPolicy,
    parse_ed25519_public_key,
    raw_keys_of,
)


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
    sources.extend(f"--trust-root {display_path(path)}" for path in (spec.trust_root, *spec.more_trust_roots)
                   if path)
    if spec.environment_trust_root and spec.environment_trust_root != spec.trust_root:
        sources.append(f"${TRUST_ROOT_ENV} {display_path(spec.environment_trust_root)}")
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
            TSA_CERTS_FILE,
            add_tsa_certs,
            add_tsa_roots,
            load_trust_root,
            read_pem_file,
            tsa_certs_source,
            tsa_roots_source,
        )

        for name in spec.trust_names:
            policy = apply_named_source(policy, name)
        for path in spec.trust_roots:
            policy = load_trust_root(path).apply(policy)
        for pem_path in spec.tsa_roots:
            roots, read = read_pem_file(pem_path)
            policy = add_tsa_roots(policy, roots, tsa_roots_source(pem_path))
            policy = replace(policy, trust_files=(*policy.trust_files, read))
        for pem_path in spec.tsa_certs:
            helpers, read = read_pem_file(pem_path, TSA_CERTS_FILE)
            policy = add_tsa_certs(policy, helpers, tsa_certs_source(pem_path))
            policy = replace(policy, trust_files=(*policy.trust_files, read))
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


#: How many issuer keys (and TSA roots, TSA helper certificates) a report lists at most.
#: A larger policy is named by its trust files' SHA-256 and its counts instead, so that a
#: 100,000-key trust root cannot make every report megabytes long.
LISTED_STATEMENTS = 50


class PolicyDescription(Mapping[str, Any]):
    """:func:`describe_policy` of a spec and policy, built when first read (a text report
    never reads it). :meth:`featuring` names the keys the reported artifacts signed with
    or named, listed first when the policy is listed only in part."""

    def __init__(self, spec: TrustSpec, policy: TrustPolicy,
                 featured: Sequence[str] = ()) -> None:
        self._spec, self._policy, self._featured = spec, policy, featured

    def featuring(self, public_keys: Sequence[str]) -> PolicyDescription:
        """The same description, listing the statements about ``public_keys``
        (``"ed25519:"`` + base64, as reports name signers; in that order) first. A policy
        listed in full does not depend on them: this same description (described once for
        every report of a batch)."""
        if len(self._policy.issuer_keys) <= LISTED_STATEMENTS:
            return self
        return PolicyDescription(self._spec, self._policy, public_keys)

    @cached_property
    def _described(self) -> dict[str, Any]:
        return describe_policy(self._spec, self._policy, self._featured)

    def __getitem__(self, key: str) -> Any:
        return self._described[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._described)

    def __len__(self) -> int:
        return len(self._described)


def describe_policy(spec: TrustSpec, policy: TrustPolicy,
                    featured: Sequence[str] = ()) -> dict[str, Any]:
    """The policy that was applied: its issuer keys with their conditions, and its TSA
    roots by subject and SHA-256 fingerprint of their DER (a trust file read from a pipe
    cannot be read again, so the report names what was parsed, not only where).

    A policy of at most :data:`LISTED_STATEMENTS` issuer keys is listed in full, in
    policy order. A larger one lists the statements about the ``featured`` keys
    (``"ed25519:"`` + base64: the keys the reported artifacts signed with or named, in
    that order of priority) first, then the first others, up to that bound;
    ``issuer_key_count`` gives the total, ``issuer_keys_partial`` says the list is
    partial, and ``trust_files`` names every trust file read (path, SHA-256 of its bytes)
    so that the whole policy is identifiable.
    TSA roots and helper certificates are bounded likewise (first ones, with counts).
    """
    keys = policy.issuer_keys
    listed = _listed_key_positions(policy, featured)
    roots = policy.tsa_roots[:LISTED_STATEMENTS]
    helpers = policy.tsa_certs[:LISTED_STATEMENTS]
    return {
        "issuer_keys": [_describe_key(keys[index]) for index in listed],
        "issuer_key_count": len(keys),
        "issuer_keys_partial": len(listed) < len(keys),
        "self_attested": policy.self_attested,
        "tsa_roots": [root.subject.rfc4514_string() for root in roots],
        "tsa_root_sha256": [_fingerprint(root) for root in roots],
        "tsa_root_count": len(policy.tsa_roots),
        "tsa_roots_source": policy.tsa_roots_source,
        "tsa_certs": [certificate.subject.rfc4514_string() for certificate in helpers],
        "tsa_cert_count": len(policy.tsa_certs),
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
        "trust_files": [
            {"path": display_path(read.path), "sha256": read.sha256, "kind": read.kind}
            for read in policy.trust_files
        ],
        "strict": policy.strict,
    }


def _listed_key_positions(policy: TrustPolicy, featured: Sequence[str]) -> list[int]:
    """Which issuer-key statements a report lists, by position: all of a small policy in
    order; else those about ``featured`` keys first (by their rank in ``featured``, then
    policy order), then the first others (bounded)."""
    raw_keys = raw_keys_of(policy.issuer_keys)
    if len(raw_keys) <= LISTED_STATEMENTS:
        return list(range(len(raw_keys)))
    rank: dict[bytes, int] = {}
    for encoded in featured:
        try:
            rank.setdefault(parse_ed25519_public_key(encoded), len(rank))
        except (TrustConfigError, ValueError, TypeError):
            continue  # an artifact's junk names no statement
    matching = [index for index, raw in enumerate(raw_keys) if raw in rank]
    first = sorted(matching, key=lambda index: (rank[raw_keys[index]], index))[:LISTED_STATEMENTS]
    chosen = set(first)
    others = (index for index in range(len(raw_keys)) if index not in chosen)
    return first + list(islice(others, LISTED_STATEMENTS - len(first)))


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
