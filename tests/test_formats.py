"""Output formats: each validates against its published schema, says what the reports
say, streams, and points into the artifact file at the member a JSON Pointer names."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from dataclasses import replace
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import given
from hypothesis import strategies as st

from keel_verify import Outcome, TrustPolicy, Verdict, verify_bytes, verify_path
from keel_verify.checks import CHECK_CATALOGUE
from keel_verify.load.positions import locate
from keel_verify.policy import POLICY_INFO
from keel_verify.report.formats import FORMATS
from keel_verify.report.github import annotation
from keel_verify.report.json_report import JsonSink, dumps, reports_to_document
from keel_verify.report.rows import report_to_row
from keel_verify.report.sink import RenderContext, render_all
from keel_verify.results import PolicyViolation, Report, Totals
from keel_verify.schemas import REPORT_SCHEMA, ROW_SCHEMA, load_schema
from tests.helpers import DATA, PUBLIC_V1, PUBLIC_V3, public_v3, to_bytes

SARIF_SCHEMA = DATA / "sarif" / "sarif-schema-2.1.0.json"
JUNIT_XSD = DATA / "junit" / "junit-10.xsd"


def _reports(tmp_path: Path) -> list[Report]:
    """A verified-enough, a failed, an unreadable and an untrusted file, as files."""
    tampered = public_v3()
    tampered["chain"][0]["content_hash"] = "sha256:" + "0" * 64
    files = {
        "public v3.json": PUBLIC_V3.read_bytes(),  # a space, to exercise URI encoding
        "tampered.json": to_bytes(tampered),
        "broken.json": b'{"truncated": ',
    }
    reports = []
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
        reports.append(verify_path(tmp_path / name, TrustPolicy.self_attested_only()))
    reports.append(verify_path(PUBLIC_V1, TrustPolicy()))  # UNTRUSTED
    return reports


def _source(path: str) -> str | None:
    return Path(path).read_text(encoding="utf-8") if Path(path).is_file() else None


def _render(name: str, reports: list[Report], catalogue: Any = CHECK_CATALOGUE) -> str:
    stream = io.StringIO()
    render_all(FORMATS[name](stream, RenderContext(catalogue, {"strict": False}, None, False, _source)),
               reports)
    return stream.getvalue()


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_each_format_makes_its_own_sink(name: str) -> None:
    sink = FORMATS[name](io.StringIO(), RenderContext(CHECK_CATALOGUE, {"strict": False}, None,
                                                      False, _source))
    assert type(sink).__name__.lower().startswith(name)


class Terminal(io.StringIO):
    """A stream that says it is a terminal: the text format's rich path."""

    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("name", [*sorted(FORMATS), "text on a terminal"])
def test_a_pickled_renderer_and_its_pieces_write_what_add_writes(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Worker processes run each sink's renderer and send back its pieces: pickled both
    ways, they must write byte for byte what ``add(report)`` writes in one process."""
    import pickle

    monkeypatch.delenv("NO_COLOR", raising=False)
    reports = _reports(tmp_path)
    context = RenderContext(CHECK_CATALOGUE, {"strict": False}, None, False, _source)
    stream_type = Terminal if name == "text on a terminal" else io.StringIO
    outputs = []
    for through_pickle in (False, True):
        stream = stream_type()
        sink = FORMATS[name.split()[0]](stream, context)
        renderer = pickle.loads(pickle.dumps(sink.renderer))
        for report in reports:
            if through_pickle:
                sink.write(pickle.loads(pickle.dumps(renderer(report))))
            else:
                sink.add(report)
        totals = Totals()
        for report in reports:
            totals.add(report)
        sink.close(totals)
        outputs.append(stream.getvalue())
    assert outputs[0] == outputs[1]
    assert len(outputs[0].splitlines()) >= len(reports)  # something for every file


def test_the_cli_imports_only_the_renderers_it_uses() -> None:
    # Importing a renderer (XML for JUnit) or a process pool costs every run its start-up.
    probe = ("import sys, keel_verify.cli; print(sorted(m for m in sys.modules if m in {"
             "'keel_verify.report.junit', 'keel_verify.report.sarif', 'keel_verify.report.github', "
             "'xml.etree.ElementTree', 'concurrent.futures'}))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


@cache
def _sarif_validator() -> jsonschema.Draft4Validator:
    return jsonschema.Draft4Validator(json.loads(SARIF_SCHEMA.read_text(encoding="utf-8")))


def validate_sarif(document: Any) -> None:
    _sarif_validator().validate(document)


def validate_junit(text: str | Path) -> None:
    import xmlschema

    xmlschema.XMLSchema(str(JUNIT_XSD)).validate(str(text) if isinstance(text, Path) else text)


def test_sarif_is_valid_sarif_2_1_0_with_one_rule_per_check(tmp_path: Path) -> None:
    reports = _reports(tmp_path)
    document = json.loads(_render("sarif", reports))
    validate_sarif(document)
    run = document["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules[: len(CHECK_CATALOGUE)]] == [i.name for i in CHECK_CATALOGUE]
    for rule, info in zip(rules, CHECK_CATALOGUE, strict=False):
        assert rule["help"]["text"] and all(c.code in rule["help"]["text"] for c in info.codes)
    expected = sum(1 for r in reports for c in r.checks if c.outcome is not Outcome.PASS)
    expected += sum(1 for r in reports if r.verdict in (Verdict.ERROR, Verdict.UNTRUSTED))
    assert len(run["results"]) == expected
    assert run["invocations"][0]["exitCode"] == 1


def test_sarif_results_point_at_the_member_their_pointer_names(tmp_path: Path) -> None:
    reports = _reports(tmp_path)
    document = json.loads(_render("sarif", reports))
    tampered = [r for r in document["runs"][0]["results"]
                if r["properties"]["reason_code"] == "chain_integrity.chain_broken"]
    assert len(tampered) == 1
    location = tampered[0]["locations"][0]
    assert location["physicalLocation"]["artifactLocation"]["uri"].endswith("tampered.json")
    assert location["logicalLocations"][0]["fullyQualifiedName"] == "/chain/0/content_hash"
    region = location["physicalLocation"]["region"]
    line = (tmp_path / "tampered.json").read_text(encoding="utf-8").splitlines()[region["startLine"] - 1]
    assert line[region["startColumn"] - 1:].startswith('"content_hash": "sha256:0000')
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            for r in document["runs"][0]["results"]}
    assert any(uri.endswith("public%20v3.json") for uri in uris)
    levels = {r["level"] for r in document["runs"][0]["results"]}
    assert levels == {"error", "warning"}


def test_sarif_has_a_policy_rule_and_results_under_a_policy(tmp_path: Path) -> None:
    report = verify_path(PUBLIC_V3, TrustPolicy.self_attested_only())
    violation = PolicyViolation("policy.witness_not_anchored", "not anchored", "require_anchored_witness")
    judged = replace(report, verdict=Verdict.FAILED, policy="gate", failing_codes=(violation.code,),
                     policy_violations=(violation,))
    document = json.loads(_render("sarif", [judged], (*CHECK_CATALOGUE, POLICY_INFO)))
    validate_sarif(document)
    policy = [r for r in document["runs"][0]["results"] if r["ruleId"] == "policy"]
    assert [r["properties"]["reason_code"] for r in policy] == ["policy.witness_not_anchored"]


def test_junit_validates_with_a_suite_per_file_and_a_case_per_check(tmp_path: Path) -> None:
    import xml.etree.ElementTree as ET

    reports = _reports(tmp_path)
    text = _render("junit", reports)
    validate_junit(text)
    suites = ET.fromstring(text).findall("testsuite")
    assert [s.get("name") for s in suites] == [r.path for r in reports]
    good, tampered, broken, untrusted = suites
    assert [c.get("name") for c in good.findall("testcase")] == [
        *(i.name for i in CHECK_CATALOGUE), "verdict"]
    failure = tampered.find("testcase[@name='chain_integrity']/failure")
    assert failure is not None and failure.get("type") == "chain_integrity.chain_broken"
    assert tampered.get("failures") == str(len(tampered.findall("testcase/failure")))
    warned = good.find("testcase[@name='timestamp_witness']/system-out")
    assert warned is not None and "timestamp_witness.token_unsigned" in (warned.text or "")
    assert broken.find("testcase[@name='input']/error") is not None and broken.get("errors") == "1"
    verdict = untrusted.find("testcase[@name='verdict']/failure")
    assert verdict is not None and verdict.get("type") == "UNTRUSTED"


def test_junit_escapes_what_xml_cannot_hold() -> None:
    report = Report(path="odd\x01name\udc80.json", input_sha256=None, verdict=Verdict.ERROR,
                    error="bad \x1b byte")
    text = _render("junit", [report])
    validate_junit(text)
    assert "\\x01" in text and "\\x1b" in text


def test_github_annotations_carry_file_line_and_column(tmp_path: Path) -> None:
    reports = _reports(tmp_path)
    lines = _render("github", reports).splitlines()
    chain = [line for line in lines if "chain_integrity.chain_broken" in line]
    assert len(chain) == 1 and chain[0].startswith("::error file=")
    text = (tmp_path / "tampered.json").read_text(encoding="utf-8")
    position = locate(text, "/chain/0/content_hash")
    assert f",line={position.line},col={position.column}," in chain[0]
    assert any(line.startswith("::warning file=") for line in lines)
    assert any(line.startswith("::error file=") and "broken.json" in line for line in lines)
    assert lines[-1] == "4 files: 1 verified, 1 failed, 1 error, 1 untrusted"


def test_github_annotations_escape_data_and_properties() -> None:
    line = annotation("error", "a,b:c%.json", "first\nsecond 100%", "t:1,2", 3, 4)
    assert line == "::error file=a%2Cb%3Ac%25.json,line=3,col=4,title=t%3A1%2C2::first%0Asecond 100%25"


def test_streamed_json_document_is_the_whole_document_and_validates(tmp_path: Path) -> None:
    reports = _reports(tmp_path)
    trust = {"issuer_keys": [], "self_attested": True, "tsa_roots": [], "strict": False}
    stream = io.StringIO()
    render_all(JsonSink(stream, RenderContext(CHECK_CATALOGUE, trust)), reports)
    assert stream.getvalue() == dumps(reports_to_document(reports, trust)) + "\n"
    document = json.loads(stream.getvalue())
    jsonschema.Draft202012Validator(load_schema(REPORT_SCHEMA)).validate(document)
    assert document["totals"] == {"files": 4, "verified": 1, "failed": 1, "error": 1, "untrusted": 1}
    for file in document["files"]:
        assert (file["error"] is None) == (file["verdict"] == "VERIFIED")


def test_jsonl_lines_are_flat_rows_that_validate(tmp_path: Path) -> None:
    reports = _reports(tmp_path)
    lines = _render("jsonl", reports).splitlines()
    assert len(lines) == len(reports)
    validator = jsonschema.Draft202012Validator(load_schema(ROW_SCHEMA))
    for line, report in zip(lines, reports, strict=True):
        row = json.loads(line)
        validator.validate(row)
        assert row == json.loads(json.dumps(report_to_row(report)))
        assert all(not isinstance(v, dict) for v in row.values())  # flat
        assert all(not isinstance(i, (dict, list)) for v in row.values() if isinstance(v, list) for i in v)


def test_text_quiet_shows_only_what_is_not_verified_and_the_totals(tmp_path: Path) -> None:
    from keel_verify.report.terminal import TextSink

    good = verify_bytes(PUBLIC_V3.read_bytes(), TrustPolicy.self_attested_only(), path="good.json")
    reports = [good, *_reports(tmp_path)[1:]]
    stream = io.StringIO()
    render_all(TextSink(stream, quiet=True), reports)
    out = stream.getvalue()
    assert "good.json" not in out and "[PASS]" not in out
    assert "tampered.json" in out and "broken.json" in out
    assert out.rstrip().endswith("4 files: 1 verified, 1 failed, 1 error, 1 untrusted")


# -- JSON Pointer positions ------------------------------------------------------------

_KEYS = st.text(st.characters(codec="utf-8"), max_size=6)
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(_KEYS, children, max_size=4),
    max_leaves=25,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _paths(child, (*prefix, index))
    return found


def _pointer(path: tuple[Any, ...]) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in path)


def _offset(text: str, line: int, column: int) -> int:
    return sum(len(part) + 1 for part in text.split("\n")[: line - 1]) + column - 1


@given(document=_JSON, indent=st.sampled_from([None, 0, 1, 2, "\t"]), data=st.data())
def test_locate_finds_every_member_in_any_layout(document: Any, indent: Any, data: st.DataObject) -> None:
    text = json.dumps(document, indent=indent, ensure_ascii=data.draw(st.booleans()))
    path = data.draw(st.sampled_from(_paths(document)))
    position = locate(text, _pointer(path))
    assert position.exact
    offset = _offset(text, position.line, position.column)
    target: Any = document
    for step in path[:-1]:
        target = target[step]
    if path and isinstance(target, dict):
        key, end = json.JSONDecoder().raw_decode(text, offset)
        assert key == path[-1] and text[end:].lstrip().startswith(":")
    else:
        value, _ = json.JSONDecoder().raw_decode(text, offset)
        expected = document
        for step in path:
            expected = expected[step]
        assert value == expected


@pytest.mark.parametrize(("pointer", "line"), [("/b/9", 2), ("/zz/y", 1), ("/a/x", 1), ("/b/01", 2)])
def test_locate_falls_back_to_the_nearest_existing_parent(pointer: str, line: int) -> None:
    text = '{"a": 1,\n "b": [1, 2]}'
    position = locate(text, pointer)
    assert not position.exact and position.line == line
