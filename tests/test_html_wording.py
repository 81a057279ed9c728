"""What the auditor's report says in words: what it does not prove, the caveat over
unverified content, the FAILED sentence, payment units, wrap points and the trust policy
as rows (keel_verify/report/html.py)."""

from __future__ import annotations

import re
from dataclasses import replace
from html import unescape
from pathlib import Path

from keel_verify import verify_bytes, verify_path
from keel_verify.report.html import (
    FAILED_RECORDS_NOTE,
    ISSUER_RECORDS_NOTE,
    SELF_ATTESTED_CAVEAT,
    TIME_UNWITNESSED_NOTE,
    IndexRow,
    breakable,
    policy_rows,
    render_index,
    verdict_sentence,
)
from keel_verify.results import CheckResult, Outcome, Report
from keel_verify.trust.sources import TrustSpec, build_policy, describe_policy
from tests.helpers import load_document, to_bytes
from tests.report_support import SAMPLE_SPEC, SAMPLE_TRUST, SAMPLE_V1, SAMPLE_V3, html_of

FAILED_CAVEAT = ("This record failed verification: what follows is what the file claims, "
                 "not established fact.")
SELF_ATTESTED_SPEC = TrustSpec((), True, None, (), False)
NO_TRUST_SPEC = TrustSpec((), False, None, (), False)


def _text(html: str) -> str:
    """The page's visible text, with tags (and <wbr>) removed and spaces collapsed."""
    body = re.sub(r"<wbr>", "", html.split("<body>", 1)[1])
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", body)))


def _section(html: str, name: str) -> str:
    found = re.search(rf'<(?:ul|section|td)[^>]*id="{name}"[^>]*>(.*?)</(?:ul|section|td)>',
                      html, re.S)
    assert found is not None, name
    return _text(f"<body>{found.group(1)}")


def _tampered() -> Report:
    document = load_document(SAMPLE_V1)
    document["chain"][3]["canonicalized_payload"]["payload"]["text"] = "I authorise 9,999 USD."
    return verify_bytes(to_bytes(document), SAMPLE_TRUST, path="tampered.json")


def test_verified_report_says_the_records_are_the_issuers_own() -> None:
    html = html_of(verify_path(SAMPLE_V1, SAMPLE_TRUST))
    gaps = _section(html, "not-proven")
    assert ISSUER_RECORDS_NOTE in gaps
    assert ("The exact time it was signed. A trusted timestamp shows the records already "
            "existed at 2026-05-21T14:32:08Z; the issue time (issued_at) is the issuer's own "
            "claim.") in gaps
    assert "bounded only from below" not in html
    assert 'class="caveat"' not in html  # VERIFIED: no caveat over the session


def test_no_verified_gentime_claims_no_witness_bound() -> None:
    html = html_of(verify_path(SAMPLE_V3, build_policy(SELF_ATTESTED_SPEC)), SELF_ATTESTED_SPEC)
    gaps = _section(html, "not-proven")
    assert TIME_UNWITNESSED_NOTE in gaps and ISSUER_RECORDS_NOTE in gaps
    assert "existed at" not in gaps and "witnessed genTime shows" not in html
    assert "none: no timestamp token verified" in _section(html, "best-proof")
    assert html.count(SELF_ATTESTED_CAVEAT) == 3


def test_failed_page_puts_a_caveat_over_the_content() -> None:
    html = html_of(_tampered())
    for name in ("timeline", "session", "chain"):
        caveat = re.search(rf'<p class="caveat" id="caveat-{name}">&#9888; ([^<]*)</p>', html)
        assert caveat is not None and caveat.group(1) == FAILED_CAVEAT
    assert html.index('id="caveat-timeline"') < html.index('id="timeline-svg"')
    assert html.index('id="caveat-session"') < html.index('id="budget"')
    assert html.index('id="caveat-chain"') < html.index('id="chain-rows"')


def test_failed_page_claims_no_proof_of_existence() -> None:
    report = _tampered()
    assert any(r.status == "verified" for r in report.session.receipts)  # type: ignore[union-attr]
    html = html_of(report)
    assert _section(html, "best-proof").strip() == (
        "none: this record failed verification, so no timestamp shows when the content on "
        "this page existed")
    assert "the records existed by then" not in html
    gaps = _section(html, "not-proven")
    assert FAILED_RECORDS_NOTE in gaps and ISSUER_RECORDS_NOTE not in gaps
    assert "not been changed since they were signed" not in html


def test_untrusted_page_puts_a_caveat_over_the_content() -> None:
    report = verify_path(SAMPLE_V1, build_policy(NO_TRUST_SPEC))
    html = html_of(report, NO_TRUST_SPEC)
    assert report.verdict.value == "UNTRUSTED"
    assert html.count("No key you trust signed this record: what follows is unchanged since "
                      "it was signed, but who wrote it, and so whether it is true, is not "
                      "proven.") == 3


def test_failed_sentence_is_plain_and_counts_once() -> None:
    html = html_of(_tampered())
    found = re.search(r'<p class="sentence" id="verdict-sentence">(.*?)</p>', html, re.S)
    assert found is not None
    sentence = _text(f"<body>{found.group(1)}")
    assert sentence.startswith("Do not rely on this session record: it failed 3 of 15 checks; "
                               "the first: issuer_signature: no valid signature")
    # a check whose own reason ends in "(and 17 more)" keeps that once, and the failing
    # checks are counted once, before it
    report = _tampered()
    checks = (
        CheckResult("artifact_schema", Outcome.FAIL, "bad member at /a (and 17 more)"),
        CheckResult("chain_integrity", Outcome.FAIL, "broken"),
        CheckResult("session_binding", Outcome.PASS, "ok"),
    )
    said = verdict_sentence(replace(report, checks=checks))
    assert said == ("Do not rely on this session record: it failed 2 of 3 checks; the first: "
                    "artifact_schema: bad member at /a (and 17 more)")
    one = verdict_sentence(replace(report, checks=checks[:1]))
    assert one == ("Do not rely on this session record: it failed 1 of 1 check: "
                   "artifact_schema: bad member at /a (and 17 more)")


def test_payment_units_are_stated() -> None:
    text = _text(html_of(verify_path(SAMPLE_V1, SAMPLE_TRUST)))
    assert ("12.50 USD (1,250 minor units) one_shot spend authority, ceiling 5000 as stated "
            "(currency class USD_FIAT; the artifact does not give its unit), valid 300 s") in text
    assert "at most 5000" not in text


def test_breakable_wraps_only_at_separators_and_digit_groups() -> None:
    assert str(breakable("artifact_schema")) == "artifact_schema"
    assert str(breakable("issuer_signature.trusted_key")) == "issuer_signature.<wbr>trusted_key"
    assert str(breakable("/chain/3/content_hash")) == "/<wbr>chain/<wbr>3/<wbr>content_hash"
    assert str(breakable("sha256:" + "ab" * 32)) == "sha256:" + "<wbr>".join(["ab" * 8] * 4)
    assert str(breakable("<b>\u202e.x")) == "&lt;b&gt;&lt;U+202E&gt;.<wbr>x"
    css = (Path(__file__).parent.parent / "keel_verify/report/templates/report.css").read_text()
    assert "anywhere" not in css and "break-all" not in css


def test_index_keeps_verdicts_whole() -> None:
    html = render_index([IndexRow(_tampered(), "t.html", "TOTAL-FAILED", "x")])
    assert '<td class="nowrap o-fail">FAILED</td><td class="nowrap">TOTAL-FAILED</td>' in html


def test_trust_policy_is_rows_not_json() -> None:
    html = html_of(verify_path(SAMPLE_V1, SAMPLE_TRUST))
    found = re.search(r'<table class="kv" id="policy">(.*?)</table>', html, re.S)
    assert found is not None
    rows = [(_text(f"<body>{th}").strip(), _text(f"<body>{td}").strip()) for th, td in
            re.findall(r"<tr><th>(.*?)</th><td>(.*?)</td></tr>", found.group(1), re.S)]
    assert ("Trust-root file", str(SAMPLE_V1.parent / "trust-root.json")) in [
        (a.strip(), b.strip()) for a, b in rows]
    keys = [b for a, b in rows if a.strip() == "Issuer key"]
    assert len(keys) == 1 and keys[0].startswith(
        "sha256:287ac64c95e8518e8c967e53b2261f0c8184680e5e76380dd32743da88ff8ffc label ")
    assert "purpose export_signing; status active; valid from 2026-01-01T00:00:00Z" in keys[0]
    roots = [b for a, b in rows if a.strip() == "TSA root"]
    assert len(roots) == 1 and roots[0].startswith("sha256:") and "TSA Root CA" in roots[0]
    assert "{" not in found.group(1)  # no JSON
    described = describe_policy(SAMPLE_SPEC, SAMPLE_TRUST)
    assert described["issuer_keys"][0]["fingerprint"] == keys[0].split()[0]
    empty = policy_rows(describe_policy(NO_TRUST_SPEC, build_policy(NO_TRUST_SPEC)))
    assert [(r.what, r.value) for r in empty][:2] == [
        ("Issuer keys", "none: no issuer key is trusted"),
        ("TSA roots", "none: no timestamp authority is trusted")]
