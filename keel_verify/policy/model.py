"""The parsed shape of a gate policy (``schemas/policy-v1.schema.json``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

PASS = "pass"
PASS_OR_WARN = "pass_or_warn"
SEVERITY_ERROR = "error"
SEVERITY_WARNING = "warning"


@dataclass(frozen=True)
class Requirements:
    """One set of requirements; ``all_of`` members must all hold, and at least one
    ``any_of`` member (when there are any), in addition to this set's own rules."""

    name: str | None = None
    require: Mapping[str, str] = field(default_factory=dict)  # check name -> PASS / PASS_OR_WARN
    require_anchored_witness: bool = False
    allowed_warnings: frozenset[str] | None = None  # None: every warning is allowed
    severity: Mapping[str, str] = field(default_factory=dict)  # check name -> error / warning
    max_artifact_age: timedelta | None = None
    schema_versions: frozenset[int] | None = None  # None: every version the verifier reads
    all_of: tuple[Requirements, ...] = ()
    any_of: tuple[Requirements, ...] = ()


@dataclass(frozen=True)
class PolicyTrust:
    """Trust sources a policy applies (paths already resolved against the policy file)."""

    trust_root: str | None = None
    public_keys: tuple[str, ...] = ()
    tsa_roots: tuple[str, ...] = ()
    self_attested: bool = False
    tsa_certs: tuple[str, ...] = ()  # chain-building helpers, never anchors
    named: tuple[str, ...] = ()  # trust sources shipped in the package (as --trust)


@dataclass(frozen=True)
class GatePolicy:
    """A loaded policy: how reports name it, where it came from, and what it requires."""

    name: str
    requirements: Requirements
    trust: PolicyTrust = PolicyTrust()
    source: str | None = None  # the file it was read from
    sha256: str | None = None  # of that file's bytes, so a report pins the exact policy
