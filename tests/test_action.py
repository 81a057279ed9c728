"""The composite GitHub Action (action.yml) and the pre-commit hook: their own run-steps
and entry, run as scripts on a sample directory."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.batch_support import REPOSITORY, SAMPLE_TRUST_ROOT
from tests.helpers import to_bytes
from tests.test_formats import validate_junit, validate_sarif

ACTION = REPOSITORY / "action.yml"
HOOKS = REPOSITORY / ".pre-commit-hooks.yaml"
SAMPLE = REPOSITORY / "sample"
BIN = Path(sys.executable).parent
INPUT = re.compile(r"\$\{\{\s*inputs\.([a-z0-9-]+)\s*\}\}")


def action() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(ACTION.read_text(encoding="utf-8"))
    return loaded


def _environment(extra: dict[str, str]) -> dict[str, str]:
    environment = {k: v for k, v in os.environ.items() if k != "KEEL_VERIFY_TRUST_ROOT"}
    environment["PATH"] = f"{BIN}{os.pathsep}{environment.get('PATH', '')}"
    environment.update(extra)
    return environment


Ran = tuple[subprocess.CompletedProcess[str], dict[str, str]]


def run_action(inputs: dict[str, str], workspace: Path) -> Ran:
    """Every ``run:`` step of action.yml, in order, as GitHub would run it: ``${{ inputs.* }}``
    in the step's env replaced by the given value or the input's default, GITHUB_OUTPUT and
    GITHUB_ACTION_PATH set. The install step is the one left out: this test's environment
    already has keel-verify installed from this checkout (installing needs the network)."""
    declared = action()["inputs"]
    assert set(inputs) <= set(declared)
    values = {name: inputs.get(name, str(spec.get("default", ""))) for name, spec in declared.items()}
    output_file = workspace / "github-output"
    output_file.write_text("", encoding="utf-8")
    result: subprocess.CompletedProcess[str] | None = None
    for step in action()["runs"]["steps"]:
        if "run" not in step or step.get("id") == "install":
            continue
        assert step["shell"] == "bash" and "${{" not in step["run"]  # inputs reach it via env only
        env = {key: INPUT.sub(lambda m: values[m.group(1)], str(value))
               for key, value in step.get("env", {}).items()}
        result = subprocess.run(
            ["bash", "-c", step["run"]], cwd=workspace, capture_output=True, text=True, timeout=300,
            env=_environment({**env, "GITHUB_OUTPUT": str(output_file),
                              "GITHUB_ACTION_PATH": str(REPOSITORY)}), check=False,
        )
    assert result is not None
    outputs = dict(line.split("=", 1) for line in output_file.read_text(encoding="utf-8").splitlines())
    return result, outputs


@pytest.fixture()
def sample_dir(tmp_path: Path) -> Path:
    """The two sample artifacts, and a copy of v3 with a broken chain link."""
    directory = tmp_path / "work" / "attestations"
    directory.mkdir(parents=True)
    for name in ("voice_session_v3.json", "voice_session_v1.json"):
        shutil.copy(SAMPLE / name, directory / name)
    tampered = json.loads((SAMPLE / "voice_session_v3.json").read_bytes())
    tampered["chain"][1]["previous_content_hash"] = "sha256:" + "1" * 64
    (directory / "tampered.json").write_bytes(to_bytes(tampered))
    shutil.copy(SAMPLE_TRUST_ROOT, tmp_path / "work" / "trust-root.json")
    return directory


def test_action_declares_its_inputs_outputs_and_sarif_upload() -> None:
    spec = action()
    assert spec["runs"]["using"] == "composite"
    assert {"paths", "trust-root", "policy", "formats", "upload-sarif"} <= set(spec["inputs"])
    assert {"exit-code", "junit-file", "sarif-file"} <= set(spec["outputs"])
    upload = [s for s in spec["runs"]["steps"] if str(s.get("uses", "")).startswith(
        "github/codeql-action/upload-sarif")]
    assert len(upload) == 1 and "always()" in upload[0]["if"] and "upload-sarif" in upload[0]["if"]


def test_action_steps_gate_a_directory_with_annotations_junit_and_sarif(sample_dir: Path) -> None:
    workspace = sample_dir.parent
    result, outputs = run_action({"paths": "attestations", "trust-root": "trust-root.json",
                                  "formats": "junit,sarif,jsonl", "upload-sarif": "true"}, workspace)
    assert result.returncode == 1, result.stderr
    assert outputs["exit-code"] == "1"
    annotations = [line for line in result.stdout.splitlines() if line.startswith("::error ")]
    assert annotations and all("tampered.json" in line for line in annotations)
    assert result.stdout.rstrip().splitlines()[-1] == "3 files: 2 verified, 1 failed"
    validate_junit(workspace / outputs["junit-file"])
    validate_sarif(json.loads((workspace / outputs["sarif-file"]).read_text(encoding="utf-8")))
    rows = (workspace / outputs["jsonl-file"]).read_text(encoding="utf-8").splitlines()
    assert [json.loads(row)["verdict"] for row in rows] == ["FAILED", "VERIFIED", "VERIFIED"]


def test_action_steps_pass_under_a_policy_and_print_only_totals_when_quiet(sample_dir: Path) -> None:
    workspace = sample_dir.parent
    (sample_dir / "tampered.json").unlink()
    (workspace / "policy.json").write_text(
        '{"policy_version": 1, "require_anchored_witness": true}', encoding="utf-8")
    listed = "attestations/voice_session_v3.json\nattestations/voice_session_v1.json\n"
    result, outputs = run_action({"paths": listed, "trust-root": "trust-root.json", "policy": "policy.json",
                                  "annotations": "false", "formats": "json"}, workspace)
    assert result.returncode == 0, result.stdout + result.stderr
    assert outputs["exit-code"] == "0"
    assert result.stdout.strip() == "2 files: 2 verified"
    document = json.loads((workspace / outputs["json-file"]).read_text(encoding="utf-8"))
    assert document["policy"]["name"] == "policy.json" and document["exit_code"] == 0


def test_action_refuses_an_unknown_format(sample_dir: Path) -> None:
    result, _ = run_action({"paths": "attestations", "formats": "pdf"}, sample_dir.parent)
    assert result.returncode == 2 and "unknown format 'pdf'" in result.stdout


def test_pre_commit_hook_entry_runs_on_the_staged_files(sample_dir: Path) -> None:
    hooks = yaml.safe_load(HOOKS.read_text(encoding="utf-8"))
    (hook,) = [h for h in hooks if h["id"] == "keel-verify"]
    assert hook["language"] == "python" and "json" in hook["types"]
    files = sorted(str(p) for p in sample_dir.iterdir())
    command = [*shlex.split(hook["entry"]), "--trust-root", str(SAMPLE_TRUST_ROOT), *files]
    result = subprocess.run(command, capture_output=True, text=True, env=_environment({}), timeout=120,
                            check=False)
    assert result.returncode == 1
    assert "tampered.json" in result.stdout and "voice_session_v3.json" not in result.stdout
    assert result.stdout.rstrip().endswith("3 files: 2 verified, 1 failed")
