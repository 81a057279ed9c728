"""Deterministic batches of real artifacts for the CI-gate tests, made with keel-emit's
Python API: a few distinct demo sessions (seeds vary the ids, schema versions alternate),
repeated, with every kind of bad file mixed in at fixed positions.

Every good artifact is signed by the demo issuer key and witnessed by the demo test TSA,
which ``sample/trust-root.json`` names, so it is VERIFIED under that trust root.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from keel_verify.emit import build_demo_artifact, dump_artifact
from tests.helpers import OTHER_KEY, resign

REPOSITORY = Path(__file__).resolve().parent.parent
SAMPLE_TRUST_ROOT = REPOSITORY / "sample" / "trust-root.json"


@dataclass(frozen=True)
class BatchFile:
    path: Path
    verdict: str  # expected under the sample trust root
    code: str | None  # a failing reason code it must show, if FAILED


@cache
def _distinct(index: int) -> bytes:
    version = 3 if index % 2 == 0 else 1
    artifact = build_demo_artifact(version, tsa="local", seed=f"cigate-batch-{index}")
    return dump_artifact(artifact)


def _tampered_chain(data: bytes) -> bytes:
    document: dict[str, Any] = json.loads(data)
    document["chain"][0]["content_hash"] = "sha256:" + "0" * 64
    return dump_artifact(document)


def _other_signer(data: bytes) -> bytes:
    document: dict[str, Any] = json.loads(data)
    return dump_artifact(resign(copy.deepcopy(document), OTHER_KEY))


def _edited_unsigned(data: bytes) -> bytes:
    document: dict[str, Any] = json.loads(data)
    document["session_metadata"]["session_id"] = "sess_tampered"
    return dump_artifact(document)


def make_batch(directory: Path, count: int, distinct: int = 8) -> list[BatchFile]:
    """``count`` files in ``directory`` (``artifact-0000.json`` ...), mostly good; at
    fixed positions a broken chain, another signer, an unsigned edit and a truncated
    (unreadable) file. Same arguments, same bytes."""
    directory.mkdir(parents=True, exist_ok=True)
    made: list[BatchFile] = []
    for index in range(count):
        good = _distinct(index % distinct)
        path = directory / f"artifact-{index:04d}.json"
        data, verdict, code = good, "VERIFIED", None
        if index % 50 == 7:
            data, verdict, code = _tampered_chain(good), "FAILED", "chain_integrity.chain_broken"
        elif index % 50 == 19:
            data, verdict, code = _other_signer(good), "FAILED", "issuer_signature.key_not_trusted"
        elif index % 50 == 31:
            data, verdict, code = _edited_unsigned(good), "FAILED", "issuer_signature.signature_invalid"
        elif index % 100 == 43:
            data, verdict = good[: len(good) // 2], "ERROR"
        path.write_bytes(data)
        made.append(BatchFile(path, verdict, code))
    return made
