"""Hostile inputs at full size: wall time and peak memory of ``keel-verify`` on each, next
to the bundled sample's.

    python benchmarks/hostile.py              # every case (about 2 minutes on 2 CPUs)
    python benchmarks/hostile.py --only sample,deep_token --repeats 3
    python benchmarks/hostile.py --repeats 3 --before /path/to/old/venv/bin/keel-verify

Each input is built by ``tests/hostile_inputs.py`` (the same builders the unit tests use at
small sizes) into ``benchmarks/out/hostile/``, then verified by ``keel-verify`` in a fresh
process, measured by ``benchmarks/_measure.py`` (wall time and the process's own peak RSS).
Prints a Markdown table; the README quotes it. The goal: each case well under 5x the
sample's time, and peak memory under 400 MiB.

The unit tests prove each bound by structure (what is refused before the expensive step,
how often a step runs); the figures here are measurements, not assertions.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT), str(HERE)]

from run import HarnessError, measure  # noqa: E402  (benchmarks/run.py)

from tests import hostile_inputs as hostile  # noqa: E402

OUT = HERE / "out" / "hostile"
SAMPLE = ROOT / "sample" / "voice_session_v3.json"
TRUST_ROOT = ROOT / "sample" / "trust-root.json"
MIB = 1024 * 1024


@dataclass(frozen=True)
class Case:
    name: str
    what: str
    build: Callable[[Path], list[str]]  # writes its input(s) under the folder; the arguments


def _file(name: str, make: Callable[[], bytes]) -> Callable[[Path], list[str]]:
    def build(folder: Path) -> list[str]:
        path = folder / f"{name}.json"
        if not path.exists():
            path.write_bytes(make())
        return ["--trust-root", str(TRUST_ROOT), str(path)]

    return build


def _sample(_folder: Path) -> list[str]:
    return ["--trust-root", str(TRUST_ROOT), str(SAMPLE)]


def _fifo(folder: Path) -> list[str]:
    path = folder / "fifo.json"
    if not path.exists():
        os.mkfifo(path)
    return [str(path)]


def _trust_root_and_signatures(folder: Path) -> list[str]:
    root, artifact = folder / "trust-root-100k.json", folder / "signatures-10k.json"
    if not root.exists():
        root.write_bytes(hostile.big_trust_root(100_000))
        artifact.write_bytes(hostile.many_signatures(10_000))
    return ["--trust-root", str(root), str(artifact)]


CASES = (
    Case("sample", "the bundled sample (sample/voice_session_v3.json)", _sample),
    Case("deep_token", "token with TSTInfo.tsa nesting 1,200 SEQUENCEs",
         _file("deep_token", lambda: hostile.deep_tsa_token(1200))),
    Case("oid_100k", "token holding a 100,000-byte OID",
         _file("oid_100k", lambda: hostile.long_oid_token(100_000))),
    Case("oid_200k", "token holding a 200,000-byte OID",
         _file("oid_200k", lambda: hostile.long_oid_token(200_000))),
    Case("oid_1m", "token holding a 1,000,000-byte OID",
         _file("oid_1m", lambda: hostile.long_oid_token(1_000_000))),
    Case("tokens_20k", "20,000 distinct well-formed tokens (with certificates)",
         _file("tokens_20k", lambda: hostile.many_tokens(20_000, with_certificates=True))),
    Case("empty_entries_1m", "10^6 empty chain entries",
         _file("empty_entries_1m", lambda: hostile.empty_chain_entries(1_000_000))),
    Case("empty_entries_3m", "3x10^6 empty chain entries",
         _file("empty_entries_3m", lambda: hostile.empty_chain_entries(3_000_000))),
    Case("empty_entries_1m_float", "10^6 empty chain entries, one float in session_metadata",
         _file("empty_entries_1m_float",
               lambda: hostile.empty_chain_entries(1_000_000, metadata_float=True))),
    Case("empty_entries_3m_float", "3x10^6 empty chain entries, one float in session_metadata",
         _file("empty_entries_3m_float",
               lambda: hostile.empty_chain_entries(3_000_000, metadata_float=True))),
    Case("zeros_10m", "an array of 10^7 zeros",
         _file("zeros_10m", lambda: hostile.zeros_member(10_000_000))),
    Case("members_1m", "10^6 extra top-level members",
         _file("members_1m", lambda: hostile.many_members(1_000_000))),
    Case("deep_entries_100k", "10^5 chain entries, each 100 arrays deep",
         _file("deep_entries_100k", lambda: hostile.deep_entries(100_000, 100))),
    Case("deep_distinct_100k", "10^5 distinct chain entries, each 100 arrays deep",
         _file("deep_distinct_100k", lambda: hostile.deep_entries(100_000, 100, distinct=True))),
    Case("junk_signatures_100k", "10^5 junk signatures[] entries",
         _file("junk_signatures_100k", lambda: hostile.junk_signatures(100_000))),
    Case("metadata_keys_1m", "session_metadata with 10^6 keys",
         _file("metadata_keys_1m", lambda: hostile.wide_metadata(1_000_000))),
    Case("metadata_arrays_1m", "session_metadata holding 10^6 small arrays",
         _file("metadata_arrays_1m", lambda: hostile.metadata_of_small_arrays(1_000_000))),
    # Dense chains: millions of tiny entries (keel_verify/load/dense.py).
    *(Case(f"tiny_{name}_10m", f"a chain of 10^7 `{entry.decode()}` entries",
           _file(f"tiny_{name}_10m", lambda entry=entry: hostile.tiny_chain_entries(10_000_000, entry)))
      for name, entry in hostile.TINY_ENTRIES.items()),
    Case("tiny_mixed_10m", "a chain of 10^7 mixed tiny entries (11 kinds in turn)",
         _file("tiny_mixed_10m", lambda: hostile.tiny_chain_entries(10_000_000, hostile.MIXED_TINY))),
    Case("strings_1m", "a chain of 10^6 distinct 30-byte strings",
         _file("strings_1m", lambda: hostile.string_chain_entries(1_000_000))),
    Case("fifo", "a FIFO with no writer", _fifo),
    Case("trust_100k", "100,000-key trust root, 10,000 signatures", _trust_root_and_signatures),
    # The reports that describe the applied policy (at most 50 keys of it, signer first).
    Case("trust_100k_json", "the same, --json",
         lambda folder: ["--json", *_trust_root_and_signatures(folder)]),
    Case("trust_100k_report", "the same, --report (HTML)",
         lambda folder: ["--report", str(folder / "trust-100k-report.html"),
                         *_trust_root_and_signatures(folder)]),
)


def keel_verify() -> str:
    found = shutil.which("keel-verify", path=str(Path(sys.executable).parent)) or shutil.which(
        "keel-verify")
    if found is None:
        raise SystemExit("keel-verify is not installed (pip install -e .)")
    return found


def input_size(arguments: list[str]) -> int:
    path = Path(arguments[-1])
    return path.stat().st_size if path.is_file() else 0


Row = tuple[float | None, float | None, int | None]  # median wall, peak MiB, exit code


def run_case(commands: list[str], arguments: list[str], name: str, options: Any) -> list[Row]:
    """``options.repeats`` runs of ``arguments`` under each command, the commands taking
    turns (A B, B A, A B, ...) so that a change in the machine's load hits both alike."""
    walls: list[list[float]] = [[] for _ in commands]
    peaks: list[list[float]] = [[] for _ in commands]
    codes: list[int | None] = [None for _ in commands]
    for repeat in range(options.repeats):
        turn = list(enumerate(commands))
        for at, command in turn if repeat % 2 == 0 else turn[::-1]:
            try:
                run = measure([[command, *arguments]], OUT / f"{name}-{at}", options.timeout)[0]
            except HarnessError as error:
                print(f"{name}: {error}", file=sys.stderr)
                continue
            walls[at].append(run.wall_s)
            peaks[at].append(run.maxrss_kib * 1024 / MIB)
            codes[at] = run.exit
    return [(statistics.median(w) if w else None, max(p) if p else None, code)
            for w, p, code in zip(walls, peaks, codes, strict=True)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="comma-separated case names")
    parser.add_argument("--repeats", type=int, default=1, help="runs per case (median shown)")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per run")
    parser.add_argument("--before", metavar="KEEL_VERIFY",
                        help="another keel-verify (e.g. an older commit's) measured in turn "
                             "with this one, in the same run")
    options = parser.parse_args()
    chosen = [c for c in CASES if not options.only or c.name in options.only.split(",")]
    OUT.mkdir(parents=True, exist_ok=True)
    commands = [keel_verify(), *([options.before] if options.before else [])]
    for command in commands:
        measure([[command, *_sample(OUT)]], OUT / "warmup", options.timeout)  # bytecode cached
    rows: list[tuple[Case, int, list[Row]]] = []
    with tempfile.TemporaryDirectory() as scratch:
        for case in chosen:
            arguments = case.build(OUT if case.name != "fifo" else Path(scratch))
            measured = run_case(commands, arguments, case.name, options)
            rows.append((case, input_size(arguments), measured))
            print(f"{case.name}: {measured}", file=sys.stderr)
    baselines = next((measured for case, _, measured in rows if case.name == "sample"), None)
    sides = ["", " (before)"] if options.before else [""]
    print("| case | input | " + " | ".join(f"time{side} | x sample{side} | peak memory{side}"
                                            for side in sides) + " | exit |")
    print("|---|---:|" + "---:|---:|---:|" * len(sides) + "---:|")
    for case, size, measured in rows:
        shown = f"{size / MIB:.1f} MiB" if size >= MIB else f"{size / 1024:.0f} KiB"
        cells = [case.what, shown if size else "-"]
        for at, (wall, peak, _) in enumerate(measured):
            baseline = baselines[at][0] if baselines else None
            cells += [f"{wall:.2f} s" if wall is not None else "timeout",
                      f"{wall / baseline:.1f}x" if wall is not None and baseline else "-",
                      f"{peak:.0f} MiB" if peak is not None else "-"]
        cells.append("/".join(str(code) for _, _, code in measured))
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
