"""A trust or policy file with millions of schema errors is refused after looking at a few
(keel_verify/schemas.py ``first_errors``): an 8 MiB trust root of 2.8 million empty arrays
took 46 s when jsonschema built every error to choose one."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from keel_verify import schemas
from keel_verify.errors import TrustConfigError
from keel_verify.policy import load as policy_load
from keel_verify.policy.load import PolicyError, parse_policy
from keel_verify.trust import trust_root
from keel_verify.trust.trust_root import load_trust_root


class CountingValidator:
    """A validator whose errors are counted as they are taken."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.taken = inner, 0

    def iter_errors(self, document: Any) -> Iterator[Any]:
        for error in self.inner.iter_errors(document):
            self.taken += 1
            yield error


def test_at_most_the_first_errors_are_taken() -> None:
    class Endless:
        def iter_errors(self, _: Any) -> Iterator[int]:
            return itertools.count()

    assert schemas.first_errors(Endless(), None) == list(range(schemas.ERRORS_CONSIDERED))


def test_a_trust_root_of_many_bad_entries(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    counting = CountingValidator(trust_root._validator())
    monkeypatch.setattr(trust_root, "_validator", lambda: counting)
    path = tmp_path / "trust-root.json"
    path.write_text(json.dumps({"trust_root_version": 1, "issuer_keys": [[]] * 50_000}))
    with pytest.raises(TrustConfigError) as raised:
        load_trust_root(path)
    message = str(raised.value)
    assert "[] is not of type 'object'" in message and "\n" not in message
    index = int(message.split("at /issuer_keys/")[1].split(":")[0])
    assert index < schemas.ERRORS_CONSIDERED
    assert counting.taken == schemas.ERRORS_CONSIDERED


def test_a_policy_of_many_bad_entries(monkeypatch: pytest.MonkeyPatch) -> None:
    counting = CountingValidator(policy_load._validator())
    monkeypatch.setattr(policy_load, "_validator", lambda: counting)
    document = {"policy_version": 1, "trust": {"public_keys": [0] * 50_000}}
    with pytest.raises(PolicyError) as raised:
        parse_policy(document, ["artifact_schema"], [])
    assert "at /trust/public_keys/" in str(raised.value)
    assert counting.taken == schemas.ERRORS_CONSIDERED


def test_a_file_with_few_errors_reports_as_before(tmp_path: Path) -> None:
    path = tmp_path / "trust-root.json"
    path.write_text(json.dumps({"trust_root_version": 1, "issuer_keys": [{"public_key": "x"}]}))
    with pytest.raises(TrustConfigError, match="at /issuer_keys/0/public_key: expected 'ed25519:'"):
        load_trust_root(path)
