"""The CI gate end to end: 200 emitted artifacts (some tampered, some unreadable) under
the sample trust root, written as JUnit and SARIF in the same run as quiet text, exit
code by the documented rule; batch options (--files-from, --output, totals)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest

from keel_verify.results import Verdict, combined_exit_code
from keel_verify.schemas import REPORT_SCHEMA, ROW_SCHEMA, load_schema
from tests.batch_support import SAMPLE_TRUST_ROOT, BatchFile, make_batch
from tests.test_cli import assert_one_line_error, run
from tests.test_formats import validate_junit, validate_sarif


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[BatchFile]]:
    directory = tmp_path_factory.mktemp("gate") / "artifacts"
    return directory, make_batch(directory, 200)


def _expected_totals(files: list[BatchFile]) -> str:
    counts = Counter(f.verdict for f in files)
    return (f"{len(files)} files: {counts['VERIFIED']} verified, {counts['FAILED']} failed, "
            f"{counts['ERROR']} error")


def test_workflow_on_200_artifacts(batch: tuple[Path, list[BatchFile]], tmp_path: Path) -> None:
    directory, files = batch
    junit, sarif, jsonl = tmp_path / "results.xml", tmp_path / "keel.sarif", tmp_path / "rows.jsonl"
    result = run("--trust-root", SAMPLE_TRUST_ROOT, "--quiet", "--jobs", "2",
                 "--output", f"junit={junit}", "--output", f"sarif={sarif}",
                 "--output", f"jsonl={jsonl}", directory)
    verdicts = [Verdict(f.verdict) for f in files]
    assert result.returncode == combined_exit_code(verdicts) == 1
    assert "Traceback" not in result.stderr

    # --quiet: only the files that are not VERIFIED, then the totals line.
    bad = [f for f in files if f.verdict != "VERIFIED"]
    shown = [line.split()[1] for line in result.stdout.splitlines()
             if line.startswith(("FAILED  ", "ERROR  "))]
    assert shown == [str(f.path) for f in bad]
    assert "VERIFIED  " not in result.stdout and "[PASS]" not in result.stdout
    assert result.stdout.rstrip().splitlines()[-1] == _expected_totals(files)
    for f in bad:
        if f.code:
            block = result.stdout.split(f"  {f.path}\n", 1)[1].split("\n\n", 1)[0]
            assert f"[{f.code}]" in block, f.path
    assert result.stderr.count("keel-verify: error: ") == sum(f.verdict == "ERROR" for f in files)

    # JUnit and SARIF validate and say the same.
    validate_junit(junit)
    document = json.loads(sarif.read_text(encoding="utf-8"))
    validate_sarif(document)
    results = document["runs"][0]["results"]
    failed_files = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
                    for r in results if r["level"] == "error"}
    assert failed_files == {f.path.as_uri() for f in bad}
    assert document["runs"][0]["invocations"][0]["exitCode"] == 1

    rows = [json.loads(line) for line in jsonl.read_text(encoding="utf-8").splitlines()]
    validator = jsonschema.Draft202012Validator(load_schema(ROW_SCHEMA))
    for row, f in zip(rows, files, strict=True):
        validator.validate(row)
        assert (row["path"], row["verdict"]) == (str(f.path), f.verdict)
        if f.code:
            assert f.code in row["failing_codes"]


def test_json_names_error_and_failing_codes_on_every_file_that_is_not_verified(
    batch: tuple[Path, list[BatchFile]]
) -> None:
    _, files = batch
    subset = [f for f in files if f.verdict != "VERIFIED"][:6] + files[:2]
    result = run("--trust-root", SAMPLE_TRUST_ROOT, "--format", "json", *(f.path for f in subset))
    document = json.loads(result.stdout)
    jsonschema.Draft202012Validator(load_schema(REPORT_SCHEMA)).validate(document)
    for file, expected in zip(document["files"], subset, strict=True):
        assert file["verdict"] == expected.verdict
        if expected.verdict == "VERIFIED":
            assert file["error"] is None and file["failing_codes"] == []
        else:
            assert file["error"]
            assert (expected.code in file["failing_codes"]) if expected.code else file["failing_codes"] == []
    assert document["totals"]["files"] == len(subset)
    assert document["exit_code"] == result.returncode == 1


def test_files_from_a_file_and_from_standard_input(batch: tuple[Path, list[BatchFile]],
                                                   tmp_path: Path) -> None:
    _, files = batch
    chosen = [f for f in files if f.verdict == "VERIFIED"][:3]
    listing = tmp_path / "list.txt"
    listing.write_text("".join(f"{f.path}\n" for f in chosen) + "\n", encoding="utf-8")
    by_file = run("--trust-root", SAMPLE_TRUST_ROOT, "--quiet", "--files-from", listing)
    assert by_file.returncode == 0 and by_file.stdout.strip() == "3 files: 3 verified"
    by_stdin = run("--trust-root", SAMPLE_TRUST_ROOT, "--format", "jsonl", "--files-from", "-",
                   stdin=listing.read_bytes())
    assert [json.loads(line)["path"] for line in by_stdin.stdout.splitlines()] == [
        str(f.path) for f in chosen]
    both = run("--files-from", "-", "-", stdin=b"")
    assert both.returncode == 2 and "standard input" in both.stderr
    missing = run("--files-from", tmp_path / "nope.txt")
    assert missing.returncode == 2 and missing.stderr.startswith("keel-verify: error: --files-from")


def test_usage_errors_for_outputs_and_formats(tmp_path: Path) -> None:
    sample = SAMPLE_TRUST_ROOT.parent / "voice_session_v3.json"
    for args in (("--output", "xml=out.xml"), ("--output", "junit"), ("--json", "--format", "sarif"),
                 ("--format", "json", "--output", f"junit={tmp_path / 'no' / 'such' / 'dir.xml'}"), ()):
        result = run(*args, *((sample,) if args else ()))
        assert result.returncode == 2, (args, result.stderr)
        assert result.stderr.startswith("keel-verify: error: ") and result.stderr.count("\n") == 1
        assert result.stdout == ""  # nothing half-written before the refusal


def test_every_format_prints_on_stdout_with_the_same_exit_code() -> None:
    sample = SAMPLE_TRUST_ROOT.parent / "voice_session_v3.json"
    for name in ("text", "json", "jsonl", "junit", "sarif", "github"):
        result = run("--trust-root", SAMPLE_TRUST_ROOT, "--format", name, sample)
        assert result.returncode == 0 and result.stdout, name


def test_the_runner_keeps_a_bounded_window_and_the_input_order() -> None:
    from concurrent.futures import ThreadPoolExecutor

    from keel_verify.runner import ordered_window

    consumed = 0

    def numbers() -> Iterator[int]:
        nonlocal consumed
        for number in range(10_000):
            consumed += 1
            yield number

    def square(part: list[int]) -> list[int]:
        return [n * n for n in part]

    with ThreadPoolExecutor(2) as pool:
        results = ordered_window(pool, square, numbers(), chunk=8, window=4)
        first = next(results)
        assert first == 0 and consumed <= 8 * (4 + 1)  # the window, and the chunk refilled
        rest = list(results)
    assert [first, *rest] == [n * n for n in range(10_000)]


SAMPLE_V3 = Path(__file__).parent.parent / "sample" / "voice_session_v3.json"


def test_two_outputs_naming_one_file_are_refused(tmp_path: Path) -> None:
    target = tmp_path / "x.sarif"
    result = run("--trust-root", SAMPLE_TRUST_ROOT, "--output", f"sarif={target}",
                 "--output", f"junit={target}", SAMPLE_V3)
    assert result.returncode == 2
    assert_one_line_error(result)
    assert "name the same file" in result.stderr
    assert not target.exists()


@pytest.mark.parametrize("listing", ["", "\n\n"])
def test_an_empty_file_list_says_so(listing: str) -> None:
    result = run("--trust-root", SAMPLE_TRUST_ROOT, "--files-from", "-", stdin=listing.encode())
    assert result.returncode == 2
    assert_one_line_error(result)
    assert "names no path" in result.stderr
    assert "--exclude" not in result.stderr


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full (a device that is always full)")
def test_an_output_file_that_cannot_be_written_is_one_line() -> None:
    result = run("--trust-root", SAMPLE_TRUST_ROOT, "--output", "json=/dev/full", SAMPLE_V3)
    assert result.returncode == 2
    assert_one_line_error(result)
    assert "No space left on device" in result.stderr


def test_a_report_never_replaces_what_is_not_a_regular_file(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere.html"
    target.write_text("someone else's file", encoding="utf-8")
    link = tmp_path / "audit.html"
    link.symlink_to(target)
    result = run("--trust-root", SAMPLE_TRUST_ROOT, "--report", link, SAMPLE_V3)
    assert result.returncode == 2
    assert_one_line_error(result)
    assert result.stderr == (f"keel-verify: error: cannot write the HTML report {link}: "
                             "is a symbolic link (name the file it points to)\n")
    assert result.stdout == ""  # refused before verifying
    assert link.is_symlink() and target.read_text(encoding="utf-8") == "someone else's file"


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """VERIFIED, FAILED, unreadable (truncated) and UNTRUSTED files, one with a file name
    that is not UTF-8, and a dangling link (an input error before verification)."""
    import os
    import shutil

    from tests.helpers import PUBLIC_V3

    directory = tmp_path_factory.mktemp("mixed") / "artifacts"
    make_batch(directory, 50)
    shutil.copy(PUBLIC_V3, directory / "untrusted.json")
    shutil.copy(PUBLIC_V3, os.fsdecode(os.fsencode(directory) + b"/caf\xe9.json"))
    (directory / "dangling.json").symlink_to(directory / "nowhere" / "x.json")
    return directory


TRUST = ("--trust-root", str(SAMPLE_TRUST_ROOT))


@pytest.mark.parametrize(("options", "verdicts"), [
    (TRUST, {"verified", "failed", "error"}),
    (("--quiet", "--policy", "anchored", *TRUST), {"verified", "failed", "error"}),
    ((), {"failed", "error", "untrusted"}),  # no trust source: untrusted signers
], ids=["trust-root", "quiet-policy", "no-trust"])
def test_worker_processes_write_what_one_process_writes(
    mixed: Path, tmp_path: Path, options: tuple[str, ...], verdicts: set[str]
) -> None:
    """Every format, on stdout and through --output, byte for byte the same with --jobs 2
    (workers judge and render each file) as with --jobs 1; stderr and exit code too."""
    if "anchored" in options:
        policy = tmp_path / "anchored.json"
        policy.write_text(json.dumps({"policy_version": 1, "name": "anchored witness",
                                      "require_anchored_witness": True}), encoding="utf-8")
        options = tuple(str(policy) if o == "anchored" else o for o in options)
    seen: dict[str, dict[str, str | int]] = {}
    for jobs in ("1", "2"):
        written = tmp_path / f"jobs-{jobs}"
        written.mkdir()
        outputs = [item for name in ("json", "jsonl", "junit", "sarif", "github")
                   for item in ("--output", f"{name}={written / name}")]
        result = run("--jobs", jobs, *options, *outputs, mixed)
        seen[jobs] = {"exit": result.returncode, "stdout": result.stdout, "stderr": result.stderr,
                      **{path.name: path.read_text(encoding="utf-8") for path in written.iterdir()}}
    assert seen["1"] == seen["2"]
    assert seen["1"]["exit"] == 1 and len(seen["1"]) == 3 + 5
    totals = json.loads(str(seen["1"]["json"]))["totals"]
    assert totals.pop("files") == 53
    assert {verdict for verdict, count in totals.items() if count} == verdicts
    assert totals["error"] == 2 == str(seen["1"]["stderr"]).count("keel-verify: error: ")


def test_the_per_file_work_sent_to_workers_pickles_and_gives_the_same_output(tmp_path: Path) -> None:
    """Under a start method other than fork, the gate's per-file work (policy, time of
    judgement, every renderer) travels pickled: pickled, it makes the same output."""
    import io
    import pickle
    from datetime import UTC, datetime

    from keel_verify import TrustPolicy, verify_path
    from keel_verify.gate import FinishReport, load_gate_policy, read_source
    from keel_verify.report.formats import FORMATS
    from keel_verify.report.sink import RenderContext

    policy_file = tmp_path / "anchored.json"
    policy_file.write_text(json.dumps({"policy_version": 1, "require_anchored_witness": True}),
                           encoding="utf-8")
    context = RenderContext((), {}, None, False, read_source)
    renderers = tuple(FORMATS[name](io.StringIO(), context).renderer for name in FORMATS)
    finish = FinishReport(load_gate_policy(str(policy_file)), datetime.now(UTC), renderers, keep=True)
    report = verify_path(SAMPLE_V3, TrustPolicy.self_attested_only())
    output = finish(report)
    assert pickle.loads(pickle.dumps(finish))(report) == output
    assert output.verdict is Verdict.FAILED and output.report is not None  # the policy applied
    assert len(output.pieces) == len(FORMATS) and all(output.pieces)
