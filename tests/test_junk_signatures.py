"""Junk ``signatures[]`` entries (outside the signed bytes: anyone can add them) never fail
a good artifact and cost a bounded amount of work: an entry is built (decoded, judged,
described) only when it can matter or when a report lists it. Every entry still reads
exactly as the straightforward per-entry verification reads it."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Set as AbstractSet
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keel_verify import TrustPolicy, Verdict, verify_bytes
from keel_verify.checks import issuer_signature
from keel_verify.crypto import signatures
from keel_verify.crypto.signatures import (
    SignatureEntry,
    VerifiedEntries,
    _raw_key_of,
    _reaches_the_signature_check,
    _verify_entry,
)
from keel_verify.report.json_report import report_to_dict
from keel_verify.trust import signer
from tests import hostile_inputs as hostile
from tests.helpers import (
    OTHER_KEY,
    OTHER_PUBLIC,
    TEST_ISSUER_PUBLIC,
    public_v3,
    resign,
    to_bytes,
)


def reference_entries(entries: list[Any], message: bytes, content_hash: str,
                      preferred_keys: AbstractSet[bytes]) -> list[SignatureEntry]:
    """Every entry verified one by one (trusted keys first, then in order, at most
    MAX_VERIFIED_ENTRIES reaching the Ed25519 check): the rule, written plainly."""
    raw_keys = [_raw_key_of(entry) for entry in entries]
    order = sorted(range(len(entries)), key=lambda i: raw_keys[i] not in preferred_keys)
    outcomes: dict[int, Any] = {}
    checked = 0
    for index in order:
        costly = _reaches_the_signature_check(entries[index], raw_keys[index], content_hash)
        if costly and checked >= signatures.MAX_VERIFIED_ENTRIES:
            outcomes[index] = (raw_keys[index], signatures._PAST_THE_BOUND, None)
            continue
        outcomes[index] = _verify_entry(entries[index], message, content_hash)
        checked += costly
    return [signatures._entry(index, entry, outcomes[index]) for index, entry in enumerate(entries)]


MESSAGE = b"the signed message"
CONTENT_HASH = "sha256:" + hashlib.sha256(MESSAGE).hexdigest()


def _b64(raw: bytes) -> str:
    return "ed25519:" + base64.b64encode(raw).decode("ascii")


def _variant(text: str) -> str:
    """The same key bytes in non-canonical base64 (unused low bits set): strict decoding
    accepts it, so it names the same key."""
    body = text[len("ed25519:"):]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    last = alphabet[alphabet.index(body[42]) | 1]
    return "ed25519:" + body[:42] + last + "="


TRUSTED_KEY = hostile.named_key(7)  # a real key (a curve point) the policy trusts
GOOD = {"algorithm": "ed25519", "public_key": OTHER_PUBLIC, "key_id": "good",
        "signature": _b64(OTHER_KEY.sign(MESSAGE)), "content_hash": CONTENT_HASH}


def _kind(kind: str, number: int) -> Any:
    digest = hashlib.sha256(b"%d" % number).digest()
    junk = {"algorithm": "ed25519", "key_id": f"j{number}", "public_key": _b64(digest),
            "signature": _b64(digest * 2)}
    return {
        "costly": junk,
        "trusted-bad": dict(junk, public_key=TRUSTED_KEY),
        "trusted-variant": dict(junk, public_key=_variant(TRUSTED_KEY)),
        "good": GOOD,
        "good-variant": dict(GOOD, public_key=_variant(OTHER_PUBLIC)),
        "bad-base64": dict(junk, public_key="ed25519:" + "!" * 44),
        "short-key": dict(junk, public_key=_b64(digest[:31])),
        "bad-signature": dict(junk, signature="ed25519:AAAA"),
        "other-algorithm": dict(junk, algorithm="rsa"),
        "no-algorithm": {"public_key": junk["public_key"]},
        "wrong-hash": dict(junk, content_hash="sha256:" + "0" * 64),
        "not-an-object": [number],
        "key-not-text": dict(junk, public_key=number),
        "not-a-point": dict(junk, public_key=_b64(bytes([2]) + bytes(31))),
    }[kind]


KINDS = ("costly", "trusted-bad", "trusted-variant", "good", "good-variant", "bad-base64",
         "short-key", "bad-signature", "other-algorithm", "no-algorithm", "wrong-hash",
         "not-an-object", "key-not-text", "not-a-point")


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(KINDS), max_size=40), st.integers(0, 6), st.booleans(),
       st.lists(st.integers(-45, 45), max_size=6))
def test_each_entry_reads_as_the_plain_rule_reads_it(
    monkeypatch: pytest.MonkeyPatch, kinds: list[str], bound: int, trusting: bool,
    asked: list[int],
) -> None:
    monkeypatch.setattr(signatures, "MAX_VERIFIED_ENTRIES", bound)
    entries = [_kind(kind, number) for number, kind in enumerate(kinds)]
    preferred = frozenset({base64.b64decode(TRUSTED_KEY[8:])}) if trusting else frozenset()
    expected = reference_entries(entries, MESSAGE, CONTENT_HASH, preferred)
    lazy = VerifiedEntries(entries, MESSAGE, CONTENT_HASH, preferred)
    # Asked in any order (negative indices too) before all of them: the same entries.
    for at in asked:
        if -len(entries) <= at < len(entries):
            assert lazy[at] == expected[at]
        else:
            with pytest.raises(IndexError):
                lazy[at]
    assert list(lazy) == expected
    assert lazy[1:5] == expected[1:5]
    # Every entry that verified, or whose key is preferred, was checked at once.
    must = {e.index for e in expected if e.valid or e.raw_public_key in preferred}
    assert must <= set(lazy.checked)


def _with_junk(document: dict[str, Any], before: int, after: int) -> bytes:
    """``document`` with junk signature entries of every kind around its own."""
    kinds = [kind for kind in KINDS if kind not in ("good", "good-variant")]
    junk = [_kind(kinds[number % len(kinds)], number) for number in range(before + after)]
    document = dict(document, signatures=[*junk[:before], *document["signatures"],
                                          *junk[before:]])
    return to_bytes(document)


# Under --self-attested no key is preferred: more than MAX_VERIFIED_ENTRIES forged entries
# before the real one push it past the bound (README, "Hostile inputs" limits), so junk
# goes after it, or is fewer.
@pytest.mark.parametrize("trust, before, after", [
    ("pinned", 0, 300), ("pinned", 300, 0), ("pinned", 150, 150), ("pinned", 3, 2),
    ("self-attested", 0, 300), ("self-attested", 3, 2),
])
def test_junk_never_fails_a_good_artifact(trust: str, before: int, after: int) -> None:
    policy = (TrustPolicy.pinned(TEST_ISSUER_PUBLIC) if trust == "pinned"
              else TrustPolicy.self_attested_only())
    good = resign(public_v3())
    data = _with_junk(good, before, after)
    report = verify_bytes(data, policy)
    assert report.verdict is Verdict.VERIFIED, [
        c.reason for c in report.checks if c.outcome.name != "PASS"]
    alone = verify_bytes(to_bytes(good), policy)
    assert [(c.name, c.outcome) for c in report.checks] == [
        (c.name, c.outcome) for c in alone.checks]
    check = next(c for c in report.checks if c.name == "issuer_signature")
    assert check.outcome.name == "PASS"
    details = check.details
    assert details["signature_count"] == before + after + 1
    counted = [entry for entry in details["signatures"] if entry["valid"]]
    assert [entry["index"] for entry in counted] == [before]
    assert len(details["signatures"]) == min(before + after + 1, issuer_signature.LISTED_SIGNATURES)
    assert report_to_dict(report) == report_to_dict(verify_bytes(data, policy, exact=True))


def test_only_the_listed_and_the_checked_entries_are_built(monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[int] = []
    finding = signer._finding

    def counting(entry: SignatureEntry, *rest: Any) -> signer.SignatureFinding:
        built.append(entry.index)
        return finding(entry, *rest)

    monkeypatch.setattr(signer, "_finding", counting)
    count = 3000
    data = hostile.junk_signatures(count)
    report = verify_bytes(data, TrustPolicy.pinned(TEST_ISSUER_PUBLIC))
    check = next(c for c in report.checks if c.name == "issuer_signature")
    assert check.details["signature_count"] == count + 1
    assert len(check.details["signatures"]) == issuer_signature.LISTED_SIGNATURES
    # The checked entries (at most the bound), the listed ones: never all of them.
    limit = signatures.MAX_VERIFIED_ENTRIES + issuer_signature.LISTED_SIGNATURES
    assert len(set(built)) <= limit and len(built) == len(set(built))
    monkeypatch.undo()
    assert report_to_dict(report) == report_to_dict(
        verify_bytes(data, TrustPolicy.pinned(TEST_ISSUER_PUBLIC), exact=True))


def test_a_named_key_is_found_among_junk() -> None:
    """A failing artifact names the entry by a key the policy speaks about, however far
    among the junk it sits (here a junk entry by the pinned key, after 400 others)."""
    document = public_v3()
    named = dict(document["signatures"][0], public_key=TRUSTED_KEY, key_id="named")
    junk = [_kind("costly", number) for number in range(400)]
    document["signatures"] = [*junk, named, *junk[:5]]
    data = to_bytes(document)
    policy = TrustPolicy.pinned(TRUSTED_KEY)
    report = verify_bytes(data, policy)
    check = next(c for c in report.checks if c.name == "issuer_signature")
    assert check.outcome.name == "FAIL" and check.pointer == "/signatures/400"
    assert report_to_dict(report) == report_to_dict(verify_bytes(data, policy, exact=True))
