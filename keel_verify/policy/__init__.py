"""Gate policies (``keel-verify --policy PATH``): what a CI gate requires of each artifact
beyond its checks passing, as a versioned JSON document (``schemas/policy-v1.schema.json``).

:mod:`keel_verify.policy.model` holds the parsed shape, :mod:`keel_verify.policy.evaluate`
the pure rules (a report and a time in, violations out), :mod:`keel_verify.policy.load`
the reading and validation of a policy file. A policy only adds requirements: it never
turns a failed check into a pass.
"""

from keel_verify.policy.evaluate import POLICY_CODES, POLICY_INFO, apply_policy, policy_violations
from keel_verify.policy.load import load_policy, parse_policy
from keel_verify.policy.model import GatePolicy, PolicyTrust, Requirements

__all__ = [
    "POLICY_CODES",
    "POLICY_INFO",
    "GatePolicy",
    "PolicyTrust",
    "Requirements",
    "apply_policy",
    "load_policy",
    "parse_policy",
    "policy_violations",
]
