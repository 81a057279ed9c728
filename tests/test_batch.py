"""keel_verify.batch: the row mapper gives the rows ``keel-verify --format jsonl`` prints,
and the Ray Data pipeline gives the same rows for 1,000 artifacts on a local Ray."""

from __future__ import annotations

import importlib.util
import json
import pickle
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from keel_verify.batch import RowMapper
from keel_verify.gate import load_gate_policy
from keel_verify.schemas import ROW_SCHEMA, load_schema
from keel_verify.trust.sources import TrustSpec
from tests.batch_support import SAMPLE_TRUST_ROOT, make_batch
from tests.helpers import PUBLIC_V3
from tests.test_cli import run

SPEC = TrustSpec((), False, str(SAMPLE_TRUST_ROOT), (), False)
SAMPLE_V3 = SAMPLE_TRUST_ROOT.parent / "voice_session_v3.json"


def cli_rows(*args: str | Path) -> dict[str, dict[str, Any]]:
    result = run("--trust-root", SAMPLE_TRUST_ROOT, "--format", "jsonl", *args)
    assert result.returncode in (0, 1, 2, 3) and "Traceback" not in result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    return {row["path"]: row for row in rows}


def test_rows_are_the_cli_jsonl_rows_and_validate(tmp_path: Path) -> None:
    files = make_batch(tmp_path, 60)
    expected = cli_rows(tmp_path)
    mapper = RowMapper(SPEC)
    validator = jsonschema.Draft202012Validator(load_schema(ROW_SCHEMA))
    for file in files:
        by_path = mapper.row_from_path(str(file.path))
        by_bytes = mapper.row_from_bytes(file.path.read_bytes(), str(file.path))
        assert by_path == expected[str(file.path)]
        if file.verdict != "ERROR":  # an unreadable file's error names how it was read
            assert by_bytes == by_path
        validator.validate(by_path)
        assert by_path["verdict"] == file.verdict


def test_the_mapper_travels_without_parsed_trust_and_applies_a_policy(tmp_path: Path) -> None:
    policy_file = tmp_path / "anchored.json"
    policy_file.write_text('{"policy_version": 1, "require_anchored_witness": true}', encoding="utf-8")
    gate = load_gate_policy(str(policy_file))
    mapper = RowMapper(SPEC, gate)
    assert mapper.row_from_path(str(SAMPLE_V3))["verdict"] == "VERIFIED"  # builds the trust policy
    copy = pickle.loads(pickle.dumps(mapper))
    assert copy({"bytes": SAMPLE_V3.read_bytes(), "path": str(SAMPLE_V3)}) == mapper.row_from_path(
        str(SAMPLE_V3))
    public = RowMapper(TrustSpec((), True, None, (), False), gate).row_from_path(str(PUBLIC_V3))
    assert public["verdict"] == "FAILED" and public["policy_violation_codes"] == [
        "policy.witness_not_anchored"]


@pytest.mark.loopback  # a local Ray instance talks to itself over 127.0.0.1
@pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="ray is not installed")
def test_ray_pipeline_on_1000_artifacts_gives_the_cli_rows(tmp_path: Path) -> None:
    ray = pytest.importorskip("ray")
    from keel_verify.batch.ray_pipeline import run_pipeline

    directory = tmp_path / "artifacts"
    files = make_batch(directory, 1000)
    expected = cli_rows("--jobs", "2", directory.resolve())
    assert len(expected) == 1000
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             object_store_memory=150 * 1024 * 1024)
    try:
        out = tmp_path / "rows"
        code = run_pipeline([str(directory.resolve())], str(out), RowMapper(SPEC))
        parquet = tmp_path / "parquet"
        run_pipeline([str(directory.resolve() / "artifact-0007.json")], str(parquet), RowMapper(SPEC),
                     output_format="parquet")
    finally:
        ray.shutdown()
    rows = [json.loads(line) for part in sorted(out.iterdir()) for line in part.read_text().splitlines()]
    assert len(rows) == 1000
    assert {row["path"]: row for row in rows} == expected
    assert code == 1  # FAILED files among them: the documented combined exit code
    assert sum(row["verdict"] == "FAILED" for row in rows) == sum(f.verdict == "FAILED" for f in files)
    import pyarrow.parquet

    table = pyarrow.parquet.read_table(str(parquet))
    assert table.column("verdict").to_pylist() == ["FAILED"]
    assert table.column("failing_codes").to_pylist()[0] == expected[
        str(directory.resolve() / "artifact-0007.json")]["failing_codes"]
