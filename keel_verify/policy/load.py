"""Reading a gate policy file: strict JSON, validated against
``schemas/policy-v1.schema.json``, check names and warning codes validated against the
checks this verifier has. Every problem is a :class:`PolicyError` (one line, exit 2)."""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Collection, Mapping
from datetime import timedelta
from functools import cache
from typing import Any

from keel_verify.errors import KeelVerifyError
from keel_verify.policy.model import GatePolicy, PolicyTrust, Requirements
from keel_verify.results import display_path
from keel_verify.schemas import POLICY_SCHEMA, first_errors, load_schema

# Strict JSON reading shared with trust files: duplicate keys, NaN and oversize files
# are refused the same way.
from keel_verify.trust.files import parse_json, read_bounded

_DURATION = re.compile(
    r"^P(?!$)(?:(\d+)W)?(?:(\d+)D)?(?:T(?=\d)(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$"
)


class PolicyError(KeelVerifyError):
    """A policy file is unreadable, invalid, or names a check or code that does not exist."""


def parse_duration(text: str) -> timedelta:
    """An ISO 8601 duration of weeks, days, hours, minutes and seconds (``P90D``,
    ``PT12H``, ``P1W2DT3H``); years and months are refused as they have no fixed length."""
    match = _DURATION.match(text)
    if match is None:
        raise ValueError(f"{text!r} is not an ISO 8601 duration of weeks, days, hours, minutes, seconds")
    weeks, days, hours, minutes, seconds = (int(part or 0) for part in match.groups())
    return timedelta(weeks=weeks, days=days, hours=hours, minutes=minutes, seconds=seconds)


@cache
def _validator() -> Any:
    from jsonschema import Draft202012Validator

    return Draft202012Validator(load_schema(POLICY_SCHEMA))


def load_policy(
    path: str, check_names: Collection[str], warning_codes: Collection[str]
) -> GatePolicy:
    """Read and validate the policy at ``path``; ``check_names`` and ``warning_codes``
    are what ``require``/``severity`` and ``allowed_warnings`` may name."""
    label = f"policy {display_path(path)}"
    try:
        data = read_bounded(path, "policy")
        document = parse_json(data, label)
    except KeelVerifyError as error:
        raise PolicyError(str(error)) from None
    base = os.path.dirname(os.path.abspath(path))
    # Reports carry the file's name as any output can (``\xNN`` for bytes not UTF-8);
    # the trust files it names are still found by the real path (``base``).
    default_name = display_path(os.path.basename(path))
    return parse_policy(document, check_names, warning_codes, label=label, base_dir=base,
                        default_name=default_name, source=display_path(path),
                        sha256="sha256:" + hashlib.sha256(data).hexdigest())


def parse_policy(
    document: Any,
    check_names: Collection[str],
    warning_codes: Collection[str],
    *,
    label: str = "policy",
    base_dir: str = ".",
    default_name: str = "policy",
    source: str | None = None,
    sha256: str | None = None,
) -> GatePolicy:
    """A validated policy document -> :class:`GatePolicy` (PolicyError when invalid)."""
    error = _most_precise(first_errors(_validator(), document))
    if error is not None:
        pointer = "".join(f"/{token}" for token in error.absolute_path) or "/"
        message = " ".join(error.message.split())[:200]
        raise PolicyError(f"{label}: at {pointer}: {message}")
    requirements = _requirements(document, "", check_names, warning_codes, label)
    trust = document.get("trust", {})

    def resolved(value: str) -> str:
        return value if os.path.isabs(value) else os.path.join(base_dir, value)

    return GatePolicy(
        name=document.get("name", default_name),
        requirements=requirements,
        trust=PolicyTrust(
            trust_root=resolved(trust["trust_root"]) if "trust_root" in trust else None,
            public_keys=tuple(trust.get("public_keys", ())),
            tsa_roots=tuple(resolved(p) for p in trust.get("tsa_roots", ())),
            self_attested=bool(trust.get("self_attested", False)),
            tsa_certs=tuple(resolved(p) for p in trust.get("tsa_certs", ())),
            named=tuple(trust.get("named", ())),
        ),
        source=source,
        sha256=sha256,
    )


def _most_precise(errors: list[Any]) -> Any:
    """The error that says most exactly what is wrong: the deepest, and not the
    "unevaluated properties" echo that a failing member leaves at its parent."""
    flat: list[Any] = []
    while errors:
        error = errors.pop()
        flat.append(error)
        errors.extend(error.context or ())
    if not flat:
        return None
    return min(flat, key=lambda e: (e.validator == "unevaluatedProperties", -len(e.absolute_path),
                                    e.validator in ("allOf", "anyOf", "oneOf")))


def _requirements(
    document: Mapping[str, Any], pointer: str, check_names: Collection[str],
    warning_codes: Collection[str], label: str,
) -> Requirements:
    for key in ("require", "severity"):
        for name in document.get(key, {}):
            if name not in check_names:
                raise PolicyError(f"{label}: at {pointer}/{key}/{name}: no check is named {name!r} "
                                  "(keel-verify --list-checks)")
    for index, code in enumerate(document.get("allowed_warnings", ())):
        if code not in warning_codes:
            raise PolicyError(f"{label}: at {pointer}/allowed_warnings/{index}: {code!r} is not a "
                              "warning reason code (keel-verify --list-checks)")
    age = document.get("max_artifact_age")
    allowed = document.get("allowed_warnings")
    versions = document.get("schema_versions")
    return Requirements(
        name=document.get("name"),
        require=dict(document.get("require", {})),
        require_anchored_witness=bool(document.get("require_anchored_witness", False)),
        allowed_warnings=None if allowed is None else frozenset(allowed),
        severity=dict(document.get("severity", {})),
        max_artifact_age=None if age is None else parse_duration(age),
        schema_versions=None if versions is None else frozenset(versions),
        all_of=tuple(
            _requirements(member, f"{pointer}/all_of/{i}", check_names, warning_codes, label)
            for i, member in enumerate(document.get("all_of", ()))
        ),
        any_of=tuple(
            _requirements(member, f"{pointer}/any_of/{i}", check_names, warning_codes, label)
            for i, member in enumerate(document.get("any_of", ()))
        ),
    )
