"""The cross-file memo of TSA chain validation gives validate_chain's answer at every
genTime: inside one validity window it is served from the memo, across a certificate's
notBefore or notAfter it is validated again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keel_verify.crypto import chain_memo, der_memo
from keel_verify.crypto.witness import ChainValidation, validate_chain
from keel_verify.emit.tsa_authority import TestTimestampAuthority

LEAF_FROM = datetime(2026, 1, 1, tzinfo=UTC)
LEAF_UNTIL = datetime(2027, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def tsa() -> TestTimestampAuthority:
    return TestTimestampAuthority.from_seed(not_before=LEAF_FROM, not_after=LEAF_UNTIL)


def _scratch_memo(size: int) -> der_memo.DerMemo[ChainValidation]:
    """A memo of its own for one test, not listed among the process's memos."""
    memo: der_memo.DerMemo[ChainValidation] = der_memo.DerMemo("scratch", size)
    der_memo._ALL.remove(memo)
    return memo


def _same(a: ChainValidation, b: ChainValidation) -> bool:
    return (a.anchor, a.chain, a.problem) == (b.anchor, b.chain, b.problem)


_times = st.sampled_from([LEAF_FROM, LEAF_UNTIL]).flatmap(
    lambda edge: st.integers(-3, 3).map(lambda s: edge + timedelta(seconds=s))
) | st.datetimes(datetime(2019, 1, 1), datetime(2031, 1, 1)).map(lambda t: t.replace(tzinfo=UTC))


@given(st.lists(_times, min_size=1, max_size=6))
@settings(deadline=None)
def test_the_memo_answers_as_validate_chain_at_every_gen_time(
    tsa: TestTimestampAuthority, times: list[datetime]
) -> None:
    roots = (tsa.root_certificate,)
    for at in times:
        memoised = chain_memo.validate_chain_memoised(tsa.tsa_certificate, (), roots, at)
        assert _same(memoised, validate_chain(tsa.tsa_certificate, (), roots, at))


def test_one_validation_per_window(tsa: TestTimestampAuthority, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[datetime] = []

    def counted(certificate: object, untrusted: object, roots: object, at: datetime) -> object:
        calls.append(at)
        return validate_chain(certificate, untrusted, roots, at)  # type: ignore[arg-type]

    monkeypatch.setattr(chain_memo, "validate_chain", counted)
    monkeypatch.setattr(chain_memo, "_memo", _scratch_memo(chain_memo.MAX_ENTRIES))
    roots = (tsa.root_certificate,)
    inside = [LEAF_FROM + timedelta(days=d) for d in (1, 30, 200)]
    for at in inside:
        assert chain_memo.validate_chain_memoised(tsa.tsa_certificate, (), roots, at).anchor
    assert calls == inside[:1]
    after = LEAF_UNTIL + timedelta(seconds=1)
    assert chain_memo.validate_chain_memoised(tsa.tsa_certificate, (), roots, after).anchor is None
    assert chain_memo.validate_chain_memoised(tsa.tsa_certificate, (), roots, after).anchor is None
    assert calls == [inside[0], after, after]  # failures are never kept
    other = TestTimestampAuthority.from_seed(b"keel-verify TEST ONLY another TSA")
    assert chain_memo.validate_chain_memoised(
        tsa.tsa_certificate, (), (other.root_certificate,), inside[1]).anchor is None


_name_text = st.text(st.sampled_from(["a", "A", " ", "é", "Z", "1"]), min_size=1, max_size=6)


@given(_name_text, _name_text, st.booleans())
def test_same_name_is_asn1cryptos_name_matching(first: str, second: str, printable: bool) -> None:
    from asn1crypto import x509 as asn1_x509

    from keel_verify.crypto.witness import same_name

    a = asn1_x509.Name.build({"common_name": first, "organization_name": "keel"})
    b = asn1_x509.Name.build({"common_name": second, "organization_name": "keel"},
                             use_printable=printable)
    assert same_name(a, b) == (a == b)
    assert same_name(a, a)


def test_threads_sharing_the_memo_never_see_an_error_or_a_wrong_answer(
        tsa: TestTimestampAuthority, monkeypatch: pytest.MonkeyPatch) -> None:
    """An API caller's threads share the memo. With a tiny memo, many keys and a switch
    interval of a microsecond, lookups and evictions interleave constantly: every call
    must still return the answer for its own key, and none may raise. (Before the memo
    had a lock, another thread's eviction between a lookup and its move to the end
    raised KeyError here within 20,000 rounds.)"""
    import sys
    import threading

    authorities = [tsa] + [TestTimestampAuthority.from_seed(b"keel-verify TEST ONLY race %d" % i)
                           for i in range(3)]
    times = [LEAF_FROM - timedelta(days=1), LEAF_FROM + timedelta(days=1),
             LEAF_UNTIL + timedelta(days=1)]

    def fake(certificate: object, untrusted: object, roots: tuple[object, ...],
             at: datetime) -> ChainValidation:
        return ChainValidation(chain=(certificate, roots[0]))  # type: ignore[arg-type]

    monkeypatch.setattr(chain_memo, "validate_chain", fake)
    monkeypatch.setattr(chain_memo, "_memo", _scratch_memo(2))
    errors: list[BaseException] = []
    wrong: list[object] = []

    def hammer(seed: int) -> None:
        try:
            for round_ in range(10_000):
                authority = authorities[(seed + round_) % len(authorities)]
                at = times[(seed * 7 + round_) % len(times)]
                roots = (authority.root_certificate,)
                result = chain_memo.validate_chain_memoised(tsa.tsa_certificate, (), roots, at)
                # the memo may serve another genTime of the same window, never another root
                if result.anchor is not authority.root_certificate:
                    wrong.append(result)
        except BaseException as error:  # the test reports every error
            errors.append(error)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        threads = [threading.Thread(target=hammer, args=(seed,)) for seed in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
    assert errors == []
    assert wrong == []
