"""The policy snapshot's hash is computed once per artifact, with msgspec's encoder only
where the loader proved the snapshot inside the RFC 8785 domain, and always equals the
exact encoder's hash."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from keel_verify.context import CheckContext
from keel_verify.crypto import canonical
from keel_verify.crypto.format import snapshot_hash_hex
from keel_verify.load import accel
from keel_verify.load.loader import load_bytes
from keel_verify.trust import TrustPolicy

SAMPLE = Path(__file__).resolve().parents[1] / "sample"


def _documents() -> dict[str, dict[str, Any]]:
    v3 = json.loads((SAMPLE / "voice_session_v3.json").read_bytes())
    v1 = json.loads((SAMPLE / "voice_session_v1.json").read_bytes())
    with_float = json.loads(json.dumps(v3))
    with_float["policy_snapshot"]["policies"][0]["weight"] = 0.1
    non_bmp = json.loads(json.dumps(v3))
    non_bmp["policy_snapshot"]["policies"][0]["\U0001f600"] = 1
    non_bmp["policy_snapshot"]["policies"][0]["\uff01"] = 2
    big = json.loads(json.dumps(v3))
    big["policy_snapshot"]["policies"] = [{"id": f"p{i}", "rules": [i, str(i)]} for i in range(500)]
    return {"v3": v3, "v1": v1, "float": with_float, "non-BMP keys": non_bmp, "500 policies": big}


DOCUMENTS = _documents()


def _context(document: dict[str, Any], exact: bool = False) -> CheckContext:
    artifact = load_bytes(json.dumps(document, ensure_ascii=False).encode(), exact=exact)
    return CheckContext(artifact, TrustPolicy())


@pytest.mark.parametrize("name", sorted(DOCUMENTS))
@pytest.mark.parametrize("exact", [False, True], ids=["fast path", "exact path"])
def test_the_shared_hash_is_the_exact_encoders(name: str, exact: bool) -> None:
    document = DOCUMENTS[name]
    expected = snapshot_hash_hex(document["policy_snapshot"], canonical.canonical_bytes)
    assert _context(document, exact).policy_snapshot_hash_hex == expected


@pytest.mark.parametrize(("name", "fast"), [("v3", True), ("v1", True), ("500 policies", True),
                                            ("float", False), ("non-BMP keys", False)])
def test_msgspec_encodes_the_snapshot_only_where_proven(
        name: str, fast: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    if not accel.fast_json_available():
        pytest.skip("the fast reader is off (KEEL_VERIFY_PURE or no msgspec)")
    context = _context(DOCUMENTS[name])
    used: list[str] = []
    real = canonical.canonical_bytes

    def exact_encoder(value: Any) -> bytes:
        used.append("exact")
        return real(value)

    monkeypatch.setattr(canonical, "canonical_bytes", exact_encoder)
    assert context.policy_snapshot_hash_hex
    assert used == ([] if fast else ["exact"])
