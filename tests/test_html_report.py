"""The auditor's HTML report (keel_verify/report/html.py): contents, containment of
hostile text, bounded size, and the --report / --report-dir options."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from html import unescape
from html.parser import HTMLParser
from pathlib import Path

import pytest

from keel_verify import verify_path
from keel_verify.cli import main
from keel_verify.report.html import report_names, visible
from tests.report_support import (
    HOSTILE,
    SAMPLE_TRUST,
    SAMPLE_V1,
    SAMPLE_V3,
    TRUST_ROOT,
    big_report,
    hostile_report,
    html_of,
)

#: Every element the report may contain; anything else (script, img, iframe, object,
#: foreignObject, a link ...) would mean artifact text became markup.
ALLOWED_TAGS = {
    "html", "head", "meta", "title", "style", "body", "header", "h1", "h2", "h3", "p", "code",
    "section", "div", "span", "table", "thead", "tbody", "tr", "th", "td", "ul", "li", "br",
    "strong", "figure", "figcaption", "svg", "g", "rect", "path", "line", "text", "footer",
    "wbr",  # a line-break opportunity inside a pointer, reason code or digest; no text
}


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attributes: list[tuple[str, str]] = []
        self.text: list[str] = []
        self.style = ""
        self._in_style = False
        self._glue = False  # the text after a <wbr> continues the word before it

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self._glue = tag == "wbr"
        self.attributes.extend((name, value or "") for name, value in attrs)
        self._in_style = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.style += data
        elif self._glue and self.text:
            self.text[-1] += data
        else:
            self.text.append(data)
        self._glue = False


def _parse(html: str) -> _Page:
    page = _Page()
    page.feed(html)
    page.close()
    return page


def _csp(html: str) -> str:
    found = re.search(r'http-equiv="Content-Security-Policy" content="([^"]*)"', html)
    assert found is not None
    return unescape(found.group(1))


def test_sample_report_shows_the_session() -> None:
    report = verify_path(SAMPLE_V1, SAMPLE_TRUST)
    html = html_of(report)
    page = _parse(html)
    text = " ".join(page.text)
    assert "VERIFIED" in text and "TOTAL-PASSED" in text
    assert "3 turns (1 denied), 3 tool calls, 1 payment (12.50 USD), 4 permits" in text
    assert text.count("This request would exceed the session's risk budget.") >= 2  # table, timeline
    assert "turn 3 denied: This request would exceed" in text  # the timeline's label
    assert "stripe_mpp_payment allowed \u00b7 pays 12.50 USD" in text
    for permit in ("perm_3eee2fd35b7f3db1b13490b0", "perm_053e4cb3a2eaadbf3792e5c2",
                   "perm_9d0718b583b4e0ace2036f5f", "perm_0e40347a851fae9d115a062c"):
        assert permit in text
    assert "interruption: caller_barge_in" in text
    assert "genTime 2026-05-21T14:32:08Z (verified)" in text
    assert "issued_at 2026-05-21T14:32:08Z (the issuer's claim)" in text
    assert "14 of 14 stated counters checked against the chain; all agree" in text
    lanes = set(re.findall(r'data-lane="([a-z_]+)"', html))
    assert {"lifecycle", "audio_in", "audio_out", "transcript", "turns", "tools",
            "interruptions", "witness"} <= lanes
    assert "keel-verify --trust-root" in text and str(SAMPLE_V1) in text  # reproduce it
    assert report.input_sha256 is not None and report.input_sha256 in text


def test_report_is_self_contained_and_runs_nothing() -> None:
    html = html_of(verify_path(SAMPLE_V1, SAMPLE_TRUST))
    page = _parse(html)
    assert set(page.tags) <= ALLOWED_TAGS
    csp = _csp(html)
    assert "default-src 'none'" in csp and "script-src 'none'" in csp
    # the only style allowed is the inline stylesheet, by its exact hash
    digest = base64.b64encode(hashlib.sha256(page.style.encode()).digest()).decode()
    assert f"style-src 'sha256-{digest}'" in csp
    names = {name for name, _ in page.attributes}
    assert not {"src", "href", "srcset", "style", "action"} & names
    assert not any(name.startswith("on") for name in names)
    assert "@media print" in page.style and "break-before: page" in page.style


@pytest.mark.parametrize("sample", [SAMPLE_V1, SAMPLE_V3], ids=["v1", "v3"])
def test_both_schema_versions_render(sample: Path) -> None:
    html = html_of(verify_path(sample, SAMPLE_TRUST))
    assert "12.50 USD" in html and "turn 3 denied" in html
    if sample == SAMPLE_V3:
        assert "not in a hash-only artifact" in html


def test_hostile_content_stays_visible_text() -> None:
    report = hostile_report()
    html = html_of(report)
    page = _parse(html)
    assert set(page.tags) <= ALLOWED_TAGS  # no script, img, a, foreignObject ...
    values = [value.lower() for _, value in page.attributes]
    assert not any("javascript:" in value for value in values)
    assert not any(name.startswith("on") for name, _ in page.attributes)
    for invisible in ("\u202e", "\u202c", "\u200b", "\x00"):
        assert invisible not in html
    text = "".join(page.text)
    shown = visible(HOSTILE)
    assert "<U+202E>gnp.exe<U+202C>" in shown and "<U+0000>" in shown and "<U+200B>" in shown
    assert text.count("<script>alert('x')</script></svg></title><img src=x") >= 5
    assert "<U+202E>gnp.exe<U+202C>" in text and "<U+0000>" in text
    assert "<script>alert('path')</script><U+202E>.json" in text  # the file name too


def test_visible_marks_every_invisible_character() -> None:
    assert visible("a\u202eb\u2066c\u200dd\x1be\x7ff\u2028g\ufeffh") == (
        "a<U+202E>b<U+2066>c<U+200D>d<U+001B>e<U+007F>f<U+2028>g<U+FEFF>h")
    assert visible("Hola, ¿dónde está mi pedido? 📦 مرحبا") == "Hola, ¿dónde está mi pedido? 📦 مرحبا"
    assert visible(None) == ""


def test_counter_mismatch_is_marked() -> None:
    from keel_verify import verify_bytes
    from tests.helpers import load_document, resign, to_bytes
    from tests.report_support import RESIGNED_TRUST

    document = load_document(SAMPLE_V1)
    document["session_metadata"]["session_counters"]["turn_count"] = 0
    html = unescape(html_of(verify_bytes(to_bytes(resign(document)), RESIGNED_TRUST)))
    assert "\u2717 disagrees" in html
    assert "1 disagree with the chain: session_counters.turn_count states 0, chain 3" in html
    assert "TOTAL-FAILED" in html
    assert "Reason codes that kept it from VERIFIED: <code>session_counters.counter_mismatch</code>" in html


def test_hundred_thousand_events_stay_under_two_megabytes() -> None:
    report = big_report()
    assert report.session is not None and report.session.event_count == 100_000
    html = html_of(report)
    assert len(html.encode("utf-8")) < 2_000_000
    text = " ".join(_parse(html).text)
    assert "99,900 entries in between not listed" in text
    assert "100,000" in text and "VERIFIED" in text
    assert html.count('class="bar"') > 0  # the crowded transcript lane as counts


def test_report_names_are_safe_and_distinct() -> None:
    names = report_names(["a/x.json", "b/x.json", "-", "../<script>.json", "index.json", "a/index"])
    assert names == ["x.html", "x-2.html", "stdin.html", "script.html", "index-2.html",
                     "index-3.html"]


def test_cli_report_writes_one_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "audit.html"
    with pytest.raises(SystemExit) as done:
        main(["--trust-root", TRUST_ROOT, "--report", str(target), str(SAMPLE_V1)])
    assert done.value.code == 0
    assert "VERIFIED" in capsys.readouterr().out
    html = target.read_text(encoding="utf-8")
    assert "turn 3 denied" in html and "12.50 USD" in html
    assert [p.name for p in tmp_path.iterdir()] == ["audit.html"]  # no temporary left


def test_cli_report_dir_writes_an_index(tmp_path: Path) -> None:
    out = tmp_path / "reports"
    with pytest.raises(SystemExit) as done:
        main(["--trust-root", TRUST_ROOT, "--report-dir", str(out), str(SAMPLE_V1), str(SAMPLE_V3),
              "--jobs", "1"])
    assert done.value.code == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "index.html", "voice_session_v1.html", "voice_session_v3.html"]
    index = (out / "index.html").read_text(encoding="utf-8")
    assert 'href="voice_session_v1.html"' in index and 'href="voice_session_v3.html"' in index
    assert index.count("TOTAL-PASSED") == 2


def test_cli_report_problems_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--report", str(tmp_path / "x.html"), str(SAMPLE_V1), str(SAMPLE_V3)])
    assert done.value.code == 2
    assert "--report takes exactly one FILE" in capsys.readouterr().err
    with pytest.raises(SystemExit) as done:
        main(["--report", str(tmp_path / "missing" / "x.html"), str(SAMPLE_V1)])
    assert done.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot write the HTML report" in err and ".tmp" not in err


def test_json_report_has_the_session(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--trust-root", TRUST_ROOT, "--json", str(SAMPLE_V1)])
    session = json.loads(capsys.readouterr().out)["files"][0]["session"]
    assert session["counts_by_event_type"]["voice.turn.evaluated"] == 3
    assert [t["decision"] for t in session["turns"]] == ["allowed", "allowed", "denied"]
    assert session["turns"][2]["reason"] == "This request would exceed the session's risk budget."
    assert [p["amount"] for p in session["payments"]] == ["12.50 USD"]
    assert len(session["permits"]) == 4 and len(session["interruptions"]) == 1
    assert session["receipts"][0]["status"] == "verified"
    assert all(c["agrees"] for c in session["counters"])


def test_terminal_report_has_a_session_summary(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--trust-root", TRUST_ROOT, str(SAMPLE_V1)])
    out = capsys.readouterr().out
    assert ("  events      3 turns (1 denied), 3 tool calls, 1 payment (12.50 USD), 4 permits, "
            "1 interruption, 18 events") in out
    assert "  counters    14 of 14 stated counters checked against the chain; all agree" in out


def test_unreadable_input_still_gets_a_report() -> None:
    from keel_verify import verify_bytes

    report = verify_bytes(b'{"verifier_compatibility": ', SAMPLE_TRUST, path="broken.json")
    page = _parse(html_of(report))
    text = " ".join(page.text)
    assert "ERROR" in text and "INDETERMINATE" in text
    assert "could not be read as a voice session attestation" in text
    assert set(page.tags) <= ALLOWED_TAGS


def test_index_shows_hostile_paths_as_text(tmp_path: Path) -> None:
    from keel_verify.report.html import write_report_dir
    from keel_verify.trust.sources import build_policy, describe_policy
    from tests.report_support import RESIGNED_SPEC

    report = hostile_report()
    index = write_report_dir(tmp_path, [report],
                             describe_policy(RESIGNED_SPEC, build_policy(RESIGNED_SPEC)))
    page = _parse(index.read_text(encoding="utf-8"))
    assert set(page.tags) <= ALLOWED_TAGS | {"a"}
    hrefs = [value for name, value in page.attributes if name == "href"]
    assert hrefs == ["script.html"]  # a safe name we chose (the "/" in "</script>" splits it)
    assert (tmp_path / hrefs[0]).is_file()
    assert "<script>alert('path')</script><U+202E>.json" in "".join(page.text)


def test_tampered_entry_is_marked_in_the_chain_table() -> None:
    from keel_verify import verify_bytes
    from tests.helpers import load_document, to_bytes

    document = load_document(SAMPLE_V1)
    document["chain"][3]["canonicalized_payload"]["payload"]["text"] = "I authorise 9,999 USD."
    html = html_of(verify_bytes(to_bytes(document), SAMPLE_TRUST, path="tampered.json"))
    assert html.count('class="fault"') == 1
    assert "entry 4 (chain_integrity, payload_hashes)" in html
    assert "I authorise 9,999 USD." in html  # the altered text, shown as it now reads
