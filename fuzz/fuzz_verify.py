"""Coverage-guided fuzzing of ``keel_verify.verify_bytes`` with atheris (libFuzzer).

Not part of CI (atheris ships wheels for few platforms). Run it where ``pip install
atheris`` works, from the shipped seed corpus (``fuzz/corpus``)::

    mkdir -p /tmp/keel-fuzz-corpus
    python fuzz/fuzz_verify.py /tmp/keel-fuzz-corpus fuzz/corpus \\
        -max_len=400000 -max_total_time=600

The first directory receives new corpus entries; the others are seeds. ``-max_len`` is
large enough for the hostile cases at full size (the 274 KB artifact whose token holds a
100,000-byte OID, ``fuzz/corpus/long_oid_100k.json``). Crashes are written as ``crash-*`` files in the working directory;
replay one with ``python fuzz/fuzz_verify.py crash-<hash>``.

Each input is used two ways, chosen by its first byte:

* raw: the bytes themselves, verified under three trust policies (none, self-attested,
  a pinned fuzz key);
* structured: the rest of the input drives an edit of a public sample (replace, delete or
  add a member at a chosen place, with a fuzzed JSON value), the result is re-signed with
  the pinned fuzz key so the signature holds, and then verified -- this reaches every
  check's handling of hostile shapes, which raw bytes rarely get past the loader to.

A finding is any exception escaping ``verify_bytes``, or a Report that breaks the
invariant of ``tests/test_robustness.py``: ERROR carries a one-line printable error and
no checks; otherwise every check has a printable, bounded reason and none is an
"internal error".
"""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path
from typing import Any

import atheris  # type: ignore[import-untyped]

with atheris.instrument_imports(include=["keel_verify"]):
    from keel_verify import Outcome, Report, TrustPolicy, Verdict, verify_bytes
    from keel_verify.checks import ALL_CHECKS
    from keel_verify.emit.signing import ed25519_key_from_seed, encoded_public_key, sign_document

# After the instrumented imports: tests.helpers imports keel_verify, which must be
# instrumented first (coverage guides the fuzzer).
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the checkout
from tests.helpers import json_paths

SAMPLES_DIR = Path(__file__).resolve().parent.parent / "tests" / "data" / "keel-public"
SAMPLES = [
    json.loads((SAMPLES_DIR / name).read_bytes())
    for name in ("voice_session_export.json", "voice_session_export_v3.json")
]
FUZZ_KEY = ed25519_key_from_seed(b"keel-verify FUZZ issuer key (not a secret)")
POLICIES = (
    TrustPolicy(),
    TrustPolicy.self_attested_only(),
    TrustPolicy.pinned(encoded_public_key(FUZZ_KEY)),
)
CHECK_NAMES = [check.name for check in ALL_CHECKS]
MAX_REASON = 2000


class InvariantBroken(AssertionError):
    pass


def _require(condition: bool, what: str) -> None:
    if not condition:
        raise InvariantBroken(what)


def check_report(report: Report) -> None:
    _require(isinstance(report, Report), "not a Report")
    if report.verdict is Verdict.ERROR:
        error = report.error or ""
        _require(bool(error) and error.isprintable(), f"bad error line {error[:200]!r}")
        _require(len(error) < MAX_REASON, "error too long")
        _require(report.checks == (), "ERROR with checks")
        return
    _require([r.name for r in report.checks] == CHECK_NAMES, "checks missing or reordered")
    for result in report.checks:
        _require(bool(result.reason) and result.reason.isprintable(),
                 f"{result.name}: unprintable reason {result.reason[:200]!r}")
        _require(len(result.reason) < MAX_REASON, f"{result.name}: reason too long")
        _require("internal error" not in result.reason, f"{result.name}: {result.reason}")
    if any(r.outcome is Outcome.FAIL for r in report.checks):
        _require(report.verdict is Verdict.FAILED, "a FAIL did not fail the verdict")


def _value(fdp: atheris.FuzzedDataProvider, depth: int = 0) -> Any:
    kind = fdp.ConsumeIntInRange(0, 9 if depth < 4 else 6)
    if kind == 0:
        return None
    if kind == 1:
        return fdp.ConsumeBool()
    if kind == 2:
        return fdp.ConsumeInt(fdp.ConsumeIntInRange(1, 80))
    if kind == 3:
        return fdp.ConsumeRegularFloat()
    if kind == 4:
        return fdp.ConsumeUnicodeNoSurrogates(fdp.ConsumeIntInRange(0, 40))
    if kind == 5:
        return "sha256:" + fdp.ConsumeBytes(32).hex().ljust(64, "0")
    if kind == 6:
        return fdp.PickValueInList(["2026-05-21T14:33:12Z", "project:x", "", "hash_only"])
    if kind == 7:
        return [_value(fdp, depth + 1) for _ in range(fdp.ConsumeIntInRange(0, 4))]
    return {
        fdp.ConsumeUnicodeNoSurrogates(8): _value(fdp, depth + 1)
        for _ in range(fdp.ConsumeIntInRange(0, 4))
    }




PLACES = [json_paths(sample)[1:] for sample in SAMPLES]


def structured(fdp: atheris.FuzzedDataProvider) -> bytes:
    which = fdp.ConsumeIntInRange(0, 1)
    document = copy.deepcopy(SAMPLES[which])
    for _ in range(fdp.ConsumeIntInRange(1, 3)):
        places = json_paths(document)[1:] or PLACES[which]
        path = fdp.PickValueInList(places)
        parent: Any = document
        try:
            for token in path[:-1]:
                parent = parent[token]
            operation = fdp.ConsumeIntInRange(0, 2)
            if operation == 0:
                parent[path[-1]] = _value(fdp)
            elif operation == 1:
                del parent[path[-1]]
            elif isinstance(parent, dict):
                parent[fdp.ConsumeUnicodeNoSurrogates(10)] = _value(fdp)
            else:
                parent.insert(path[-1], _value(fdp))
        except (KeyError, IndexError, TypeError):
            continue  # an earlier edit removed the place
    if fdp.ConsumeBool():
        document = sign_document(document, FUZZ_KEY, signed_at="2026-05-21T14:35:00Z")
    return json.dumps(document, ensure_ascii=fdp.ConsumeBool()).encode("utf-8")


def test_one_input(data: bytes) -> None:
    if data[:1] == b"\x00" and len(data) > 1:
        payload = structured(atheris.FuzzedDataProvider(data[1:]))
    else:
        payload = data
    for policy in POLICIES:
        check_report(verify_bytes(payload, policy))


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
