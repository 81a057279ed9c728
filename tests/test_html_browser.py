"""The HTML report in a real browser: Debian's headless Chromium, driven by Playwright
(the system browser; Playwright downloads nothing). For each kind of report the page
loads with no console error and no request but its own file, the verdict and the
timeline are in the rendered DOM, a screenshot is taken and print-to-PDF makes a file.

Skipped, saying why, only where Chromium is not installed (``.ci/run`` installs it).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from keel_verify import verify_bytes, verify_path
from keel_verify.results import Report
from keel_verify.trust.sources import TrustSpec, build_policy
from tests.helpers import load_document, to_bytes
from tests.report_support import (
    SAMPLE_SPEC,
    SAMPLE_TRUST,
    SAMPLE_V1,
    SAMPLE_V3,
    big_report,
    hostile_report,
    html_of,
)

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(),
    reason="Debian's chromium is not installed (.ci/run installs it with apt-get when it can)",
)
sync_api = pytest.importorskip("playwright.sync_api")

SELF_ATTESTED = TrustSpec((), True, None, (), False)


def _tampered() -> Report:
    document = load_document(SAMPLE_V1)
    document["chain"][3]["canonicalized_payload"]["payload"]["text"] = "I authorise a payment of 9,999 USD."
    return verify_bytes(to_bytes(document), SAMPLE_TRUST, path="tampered.json")


def _self_attested() -> Report:
    return verify_path(SAMPLE_V3, build_policy(SELF_ATTESTED))


CASES: dict[str, tuple[Callable[[], Report], str]] = {
    "sample-v1": (lambda: verify_path(SAMPLE_V1, SAMPLE_TRUST), "VERIFIED"),
    "sample-v3": (lambda: verify_path(SAMPLE_V3, SAMPLE_TRUST), "VERIFIED"),
    "tampered": (_tampered, "FAILED"),
    "self-attested": (_self_attested, "VERIFIED (self-attested)"),
    "100000-events": (big_report, "VERIFIED"),
    "hostile": (hostile_report, "FAILED"),
}


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
        )
        yield launched
        launched.close()


@pytest.mark.parametrize("case", list(CASES))
def test_report_renders_in_chromium(browser: Any, case: str, tmp_path: Path) -> None:
    make, verdict = CASES[case]
    spec = SELF_ATTESTED if case == "self-attested" else SAMPLE_SPEC
    target = tmp_path / "report.html"
    target.write_text(html_of(make(), spec), encoding="utf-8")
    page = browser.new_page(viewport={"width": 1150, "height": 900})
    messages: list[str] = []
    requests: list[str] = []
    page.on("console", lambda message: messages.append(f"{message.type}: {message.text}"))
    page.on("pageerror", lambda error: messages.append(f"pageerror: {error}"))
    page.on("request", lambda request: requests.append(request.url))
    page.goto(target.as_uri(), wait_until="load")

    assert messages == []  # a CSP violation (a blocked style or load) would show here
    assert requests == [target.as_uri()]
    assert page.inner_text("#verdict-word") == verdict
    assert page.locator("#timeline-svg").count() == 1
    assert page.locator("#timeline-svg g.lane").count() >= 8
    assert page.locator("#timeline-svg g.mark-group").count() > 0
    assert page.evaluate(
        "document.querySelectorAll('script, img, iframe, object, embed, a, foreignObject').length"
    ) == 0
    box = page.locator("#timeline-svg").bounding_box()
    assert box is not None and box["width"] > 500  # laid out, not collapsed
    if case == "hostile":
        shown = page.inner_text("#activity")
        assert "<script>alert('x')</script></svg></title><img src=x onerror=alert(1)>" in shown
        assert "<U+202E>gnp.exe<U+202C>" in shown
    if case in ("sample-v1", "sample-v3"):
        labels = page.text_content("#timeline-svg") or ""
        assert "turn 3 denied" in labels and "pays 12.50 USD" in labels
        assert "genTime 2026-05-21T14:32:08Z" in labels

    shot = tmp_path / "report.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    pdf = tmp_path / "report.pdf"
    page.pdf(path=str(pdf), format="A4", print_background=True)
    assert pdf.read_bytes()[:5] == b"%PDF-" and pdf.stat().st_size > 10_000
    page.close()


#: Cells whose words and short codes must stay whole on one line at any width: check
#: names, outcomes, hash prefixes, the index's verdict and indication.
_WHOLE = ("#check-table td:first-child code, #check-table td[class^='o-'], code.nowrap, "
          "#verdict-word, #indication")


@pytest.mark.parametrize("width", [1150, 760])
def test_words_and_short_codes_do_not_break(browser: Any, width: int, tmp_path: Path) -> None:
    from keel_verify.report.html import IndexRow, render_index

    report = _tampered()
    target = tmp_path / "report.html"
    target.write_text(html_of(report), encoding="utf-8")
    index = tmp_path / "index.html"
    index.write_text(render_index([IndexRow(report, "report.html", "TOTAL-FAILED", "x")]),
                     encoding="utf-8")
    page = browser.new_page(viewport={"width": width, "height": 900})
    # A range over an element's text gives one rectangle per line its text occupies.
    broken = ("[...document.querySelectorAll(arguments_selector)].filter(e => {"
              " const r = document.createRange(); r.selectNodeContents(e);"
              " return new Set([...r.getClientRects()].map(b => Math.round(b.top))).size > 1;"
              "}).map(e => e.textContent)")
    page.goto(target.as_uri(), wait_until="load")
    assert page.locator(_WHOLE).count() > 30
    assert page.evaluate(f"(arguments_selector) => {broken}", _WHOLE) == []
    page.goto(index.as_uri(), wait_until="load")
    assert page.evaluate(f"(arguments_selector) => {broken}", "#index td.nowrap") == []
    page.close()
