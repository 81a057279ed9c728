"""The auditor's HTML report on a large artifact: file size, render time, browser time.

    python benchmarks/report_bench.py                 # 100,000 events (v3), Chromium if installed
    python benchmarks/report_bench.py --events 10000 --schema-version 1

Generates a padded demo artifact with keel-emit (as benchmarks/generate.py does), verifies
it under the sample trust root, renders the HTML report, and prints its size and the time
to render it. When Debian's ``chromium`` is installed, it also opens the file in headless
Chromium (through Playwright, from the test extra) and reports the time from navigation
start to the load event and to the first paint of the timeline, median of ``--repeats``
fresh pages. Targets: under 2 MB, shown in under 2 s.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from keel_verify import verify_bytes  # noqa: E402
from keel_verify.emit import build_demo_artifact, dump_artifact  # noqa: E402
from keel_verify.report.html import render_report  # noqa: E402
from keel_verify.trust.sources import TrustSpec, build_policy, describe_policy  # noqa: E402

TRUST_ROOT = str(ROOT / "sample" / "trust-root.json")


def browser_times(path: Path, repeats: int) -> list[float] | None:
    chromium = shutil.which("chromium")
    if chromium is None:
        return None
    from playwright.sync_api import sync_playwright

    times = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium,
                                             args=["--no-sandbox", "--disable-gpu"])
        for _ in range(repeats):
            page = browser.new_page(viewport={"width": 1150, "height": 900})
            page.goto(path.as_uri(), wait_until="load")
            page.locator("#timeline-svg").wait_for()
            load_ms = page.evaluate(
                "performance.getEntriesByType('navigation')[0].loadEventEnd")
            times.append(float(load_ms) / 1000)
            page.close()
        browser.close()
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--schema-version", type=int, choices=[1, 3], default=3)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)

    started = time.perf_counter()
    data = dump_artifact(build_demo_artifact(args.schema_version, tsa="local",
                                             events=args.events))
    generated = time.perf_counter() - started
    spec = TrustSpec((), False, TRUST_ROOT, (), False)
    policy = build_policy(spec)
    started = time.perf_counter()
    report = verify_bytes(data, policy, path=f"bench-{args.events}.json")
    verified = time.perf_counter() - started
    del data
    renders = []
    html = ""
    for _ in range(args.repeats):
        started = time.perf_counter()
        html = render_report(report, describe_policy(spec, policy), ["--trust-root", TRUST_ROOT])
        renders.append(time.perf_counter() - started)
    size = len(html.encode("utf-8"))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "report.html"
        path.write_text(html, encoding="utf-8")
        shown = browser_times(path, args.repeats)

    print(f"artifact: {args.events:,} events, schema version {args.schema_version} "
          f"(generated in {generated:.1f} s, verified in {verified:.2f} s: {report.verdict.value})")
    print(f"report: {size:,} bytes ({size / 1_000_000:.2f} MB; target < 2 MB), "
          f"rendered in {statistics.median(renders) * 1000:.0f} ms (median of {args.repeats})")
    if shown is None:
        print("browser: chromium not installed; not measured")
    else:
        print(f"browser: load event after {statistics.median(shown):.2f} s in headless Chromium "
              f"(median of {len(shown)}; target < 2 s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
