"""The RFC 3161 checks' cross-file memos (crypto/der_memo.py, crypto/chain_memo.py).

A batch from one deployment repeats its TSA's certificates, ESS attribute, TSA name and
chain in every token; those are judged once per process. Each memo must be keyed by
everything its step reads: a changed certificate byte, ESS attribute or TSTInfo.tsa, a
genTime outside the chain's validity window, or another trust policy misses the memo and
gets the verdict a cold process gives. Every memo stays bounded."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from asn1crypto import cms
from cryptography import x509
from hypothesis import given, settings
from hypothesis import strategies as st

from keel_verify.crypto import chain_memo, der_memo, rfc3161, witness
from keel_verify.crypto.rfc3161 import parse_token
from keel_verify.emit.tsa_authority import LeafProfile, TokenOptions
from keel_verify.trust.tsa_decision import TokenVerification, WitnessStatus, verify_token
from tests.tsa_support import authority, other_authority

DIGEST = hashlib.sha256(b"keel-verify token memo test").digest()
AT = datetime(2026, 5, 21, 14, 35, 1, tzinfo=UTC)
NOW = datetime(2026, 11, 30, tzinfo=UTC)
TOKENS = Path(__file__).parent / "data" / "rfc3161-tokens"


def forget() -> None:
    der_memo.clear_all()
    chain_memo.clear()


@pytest.fixture(autouse=True)
def _cold_memos() -> None:
    forget()


def make(serial: int = 1, *, at: datetime = AT, options: TokenOptions | None = None) -> bytes:
    return authority().timestamp(DIGEST, gen_time=at, serial=serial, options=options)


def judge(
    token: bytes,
    roots: tuple[x509.Certificate, ...] | None = None,
    helpers: tuple[x509.Certificate, ...] = (),
) -> TokenVerification:
    return verify_token(
        token, expected_digest=DIGEST, now=NOW, tsa_certs=helpers,
        tsa_roots=(authority().root_certificate,) if roots is None else roots,
    )


def judged_cold(
    token: bytes,
    roots: tuple[x509.Certificate, ...] | None = None,
    helpers: tuple[x509.Certificate, ...] = (),
) -> TokenVerification:
    forget()
    return judge(token, roots, helpers)


def misses() -> dict[str, int]:
    return {memo.name: memo.misses for memo in der_memo.all_memos()}


def test_tokens_from_one_tsa_share_their_certificate_work() -> None:
    assert judge(make(1)).status is WitnessStatus.VERIFIED
    before = misses()
    second = judge(make(2, at=datetime(2026, 6, 1, tzinfo=UTC)))
    assert second.status is WitnessStatus.VERIFIED
    after = misses()
    shared = ("token certificates", "signer certificate", "ESS signing-certificate",
              "TSA certificate profile", "certificate", "certificate summary")
    assert all(after[name] == before[name] for name in shared), (before, after)
    assert after["signed attribute parse"] == before["signed attribute parse"] + 1  # its digest
    assert second == judged_cold(make(2, at=datetime(2026, 6, 1, tzinfo=UTC)))


def _with_certificate_byte_changed(token: bytes) -> bytes:
    """The token with one byte of its embedded TSA certificate's signature changed."""
    certificate = parse_token(token).certificates[0].dump()
    index = token.index(certificate) + len(certificate) - 1
    return token[:index] + bytes([token[index] ^ 0x01]) + token[index + 1:]


def test_a_changed_certificate_byte_misses_and_gets_its_own_verdict() -> None:
    good = make(1)
    assert judge(good).status is WitnessStatus.VERIFIED
    changed = _with_certificate_byte_changed(good)
    before = misses()
    warm = judge(changed)
    assert misses()["token certificates"] == before["token certificates"] + 1
    assert warm.status is WitnessStatus.INVALID and warm.step == "signed attributes"
    assert "ESSCertIDv2" in (warm.problem or "")
    assert warm == judged_cold(changed)
    assert judge(good).status is WitnessStatus.VERIFIED  # the good one is unharmed


def test_a_gen_time_outside_the_validity_window_misses_the_chain_memo() -> None:
    inside, later, expired = make(1), make(2, at=datetime(2031, 1, 1, tzinfo=UTC)), make(
        3, at=datetime(2041, 1, 1, tzinfo=UTC))  # the leaf is valid 2024-2040
    assert judge(inside).status is WitnessStatus.VERIFIED
    assert len(chain_memo._memo) == 1
    assert judge(later).status is WitnessStatus.VERIFIED
    assert len(chain_memo._memo) == 1  # the same window: validated once
    result = judge(expired)
    assert result.status is WitnessStatus.INVALID and result.step == "certificate chain"
    assert result == judged_cold(expired)


def test_another_trust_policy_gets_its_own_verdict() -> None:
    token = make(1)
    ours = judge(token)
    theirs = judge(token, roots=(other_authority().root_certificate,))
    none = judge(token, roots=())
    assert ours.status is WitnessStatus.VERIFIED
    assert theirs.status is WitnessStatus.INVALID and theirs.step == "certificate chain"
    assert none.status is WitnessStatus.UNANCHORED
    assert theirs == judged_cold(token, roots=(other_authority().root_certificate,))
    assert none == judged_cold(token, roots=())


def test_the_supplied_certificates_are_part_of_the_signer_key() -> None:
    bare = make(1, options=TokenOptions(include_certificates=False))
    helpers = (authority().tsa_certificate,)
    assert judge(bare, helpers=helpers).status is WitnessStatus.VERIFIED
    without = judge(bare)
    assert without.status is WitnessStatus.INVALID and without.step == "signer certificate"
    assert without == judged_cold(bare)
    assert judge(bare, helpers=helpers) == judged_cold(bare, helpers=helpers)


@pytest.mark.parametrize("options", [
    TokenOptions(tsa_name=x509.Name.from_rfc4514_string("CN=Someone Else")),
    TokenOptions(ess_certificate=other_authority().tsa_certificate),
    TokenOptions(ess="v1"),
    TokenOptions(include_tsa_name=False),
])
def test_what_a_token_states_about_its_signer_is_part_of_the_key(options: TokenOptions) -> None:
    assert judge(make(1)).status is WitnessStatus.VERIFIED
    variant = make(2, options=options)
    assert judge(variant) == judged_cold(variant)


def test_a_token_from_another_leaf_of_the_same_root_is_judged_on_its_own() -> None:
    assert judge(make(1)).status is WitnessStatus.VERIFIED
    sibling = authority().with_leaf(LeafProfile(eku_critical=False))
    variant = sibling.timestamp(DIGEST, gen_time=AT, serial=2)
    result = judge(variant)
    assert result.status is WitnessStatus.INVALID and "not critical" in (result.problem or "")
    assert result == judged_cold(variant)


@given(st.data())
@settings(deadline=None)
def test_a_warm_memo_gives_the_cold_verdict_on_changed_tokens(data: st.DataObject) -> None:
    good = make(1)
    position = data.draw(st.integers(0, len(good) - 1))
    value = data.draw(st.integers(0, 255))
    changed = good[:position] + bytes([value]) + good[position + 1:]
    forget()
    judge(good)
    assert judge(changed) == judged_cold(changed)


def test_every_memo_is_bounded() -> None:
    memo: der_memo.DerMemo[int] = der_memo.DerMemo("test", size=3)
    for key in (b"a", b"b", b"c"):
        memo.get(key, lambda: 1)
    memo.get(b"a", lambda: 2)  # a hit keeps "a" recent
    memo.get(b"d", lambda: 4)
    assert len(memo) == 3 and memo.get(b"a", lambda: 9) == 1 and memo.get(b"b", lambda: 7) == 7

    def fails() -> int:
        raise ValueError("not kept")

    with pytest.raises(ValueError):
        memo.get(b"e", fails)
    assert b"e" not in memo._entries
    der_memo._ALL.remove(memo)

    count = der_memo.DEFAULT_SIZE + 8
    for serial in range(count):  # as many distinct TSA certificates, each with a token
        leaf = authority().with_leaf(LeafProfile(serial=1000 + serial))
        assert judge(leaf.timestamp(DIGEST, gen_time=AT, serial=serial)).status is WitnessStatus.VERIFIED
    for each in der_memo.all_memos():
        bound = chain_memo.MAX_ENTRIES if each is chain_memo._memo else der_memo.DEFAULT_SIZE
        assert len(each) <= each.size == bound, each.name
    assert chain_memo._memo in der_memo.all_memos()


def _real_tokens() -> list[bytes]:
    found = []
    for path in sorted(TOKENS.glob("*.artifact.json")):
        document = json.loads(path.read_text(encoding="utf-8"))
        for receipt in document.get("timestamp_receipts") or []:
            found.append(base64.b64decode(receipt["tsa_response_base64"]))
    return found


@pytest.mark.parametrize("token", [make(1), make(2, options=TokenOptions(ess="both")), *_real_tokens()])
def test_the_signature_message_is_asn1cryptos_untagged_set(token: bytes) -> None:
    parsed = parse_token(token)
    if not parsed.signer_count:
        pytest.skip("unsigned token")
    read = witness._read_signed_attributes(parsed, parsed.signer_infos[0])
    # again on the same token, now parsed (a fresh parse), and served from the memo
    again = witness._read_signed_attributes(parsed, parsed.signer_infos[0])
    signer_info = cms.ContentInfo.load(parsed.token_der)["content"]["signer_infos"][0]
    attributes = signer_info["signed_attrs"]
    _ = attributes.native
    assert read.message == again.message == attributes.untag().dump()


def _shape_cases() -> list[bytes]:
    from tests import hostile_inputs as h

    certificate = h.sample_certificates()
    nulls = h.der(0x30, b"\x05\x00" * 6000)
    cases = [h.sequence(*[certificate] * 60, nulls), h.sequence(nulls, *[certificate] * 60),
             h.sequence(*[certificate] * 3, h.long_arc_oid(30)), h.sequence(*[certificate] * 40)]
    nested = certificate
    for _ in range(26):
        nested = h.sequence(nested)
        cases.append(nested)
    return cases


def test_the_shape_walk_counts_a_remembered_subtree_as_a_walk_would() -> None:
    """Certificates walked clean once are counted, not walked, when they fit the limits
    where they occur again: the element, depth and OID refusals stay those of a cold walk."""
    from keel_verify.crypto.rfc3161 import der_shape_problem

    cases = _shape_cases()
    cold = []
    for case in cases:
        forget()
        cold.append(der_shape_problem(case))
    forget()
    der_shape_problem(make(1))
    for case in cases:  # warm, twice: remembered subtrees at other depths and counts
        der_shape_problem(case)
    assert [der_shape_problem(case) for case in cases] == cold
    assert rfc3161._SHAPES.hits > len(cases)
    assert {"more than 8192 ASN.1 elements", "ASN.1 nesting deeper than the limit of 32 levels",
            None} <= set(cold)
    assert any(problem and "arc" in problem for problem in cold)
