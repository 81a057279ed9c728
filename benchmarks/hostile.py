"""Hostile inputs at full size: wall time and peak memory of ``keel-verify`` on each, next
to the bundled sample's.

    python benchmarks/hostile.py              # every case (about 2 minutes on 2 CPUs)
    python benchmarks/hostile.py --only sample,deep_token --repeats 3
    python benchmarks/hostile.py --baseline DIR   # and each case on an earlier checkout
    python benchmarks/hostile.py --scale 5    # the built cases at 5 times their sizes
    python benchmarks/hostile.py --reference none   # without the reference verifier

With ``--baseline DIR`` (a copy of an earlier commit's tree, e.g. from ``git archive``)
each run of a case is followed by the same run of DIR's ``keel_verify``, both started as
``python -P -m keel_verify`` with ``PYTHONPATH`` naming their tree, so that before and
after are measured in one run, alternating, and the table gains their columns.

The reference verifier (keel-verifier, a black box in its own virtualenv: see
``benchmarks/run.py``), when installed, is measured too, once per case (it is slow on some
of them), on the case's one input file (``keel-verify FILE``, with its bundled trust root,
which holds the sample's key, in place of the sample's ``--trust-root``; our other options,
such as ``--json`` or another trust root, are not its own, so those cases are not run there,
nor the FIFO, on which it would wait as long as the timeout). Its columns say how the
project's figures compare with the vendor's own verifier on the same machine.

Each input is built by ``tests/hostile_inputs.py`` (the same builders the unit tests use at
small sizes) into ``benchmarks/out/hostile/``, then verified by ``keel-verify`` in a fresh
process, measured by ``benchmarks/_measure.py`` (wall time and the process's own peak RSS).
Prints a Markdown table; the README quotes it. The goal: each case well under 5x the
sample's time, and peak memory under 400 MiB; at ``--scale`` sizes, peak memory within a
small multiple of the input (it is bounded by the input and the value limits, not by a
constant).

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
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT), str(HERE)]

from run import REFERENCE_CANDIDATES, HarnessError, measure, reference_command  # noqa: E402

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


def _built(name: str, label: str, make: Callable[[], bytes]) -> Case:
    """The case ``name``: its input written once by ``make`` to ``name``.json."""
    return Case(name, label, _file(name, make))


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


#: The inputs each written once by a builder of tests/hostile_inputs.py: (name, what, the
#: builder with its arguments bound) in table order; the sample, FIFO and trust cases are
#: built apart. ``scaled`` reads a row's size from its bound arguments.
_BUILT: tuple[tuple[str, str, Callable[[], bytes]], ...] = (
    ("deep_token", "token with TSTInfo.tsa nesting 1,200 SEQUENCEs",
     partial(hostile.deep_tsa_token, 1200)),
    ("oid_100k", "token holding a 100,000-byte OID",
     partial(hostile.long_oid_token, 100_000)),
    ("oid_200k", "token holding a 200,000-byte OID",
     partial(hostile.long_oid_token, 200_000)),
    ("oid_1m", "token holding a 1,000,000-byte OID",
     partial(hostile.long_oid_token, 1_000_000)),
    ("tokens_20k", "20,000 distinct well-formed tokens (with certificates)",
     partial(hostile.many_tokens, 20_000, with_certificates=True)),
    ("empty_entries_1m", "10^6 empty chain entries",
     partial(hostile.empty_chain_entries, 1_000_000)),
    ("empty_entries_3m", "3x10^6 empty chain entries",
     partial(hostile.empty_chain_entries, 3_000_000)),
    ("empty_entries_1m_float", "10^6 empty chain entries, one float in session_metadata",
     partial(hostile.empty_chain_entries, 1_000_000, metadata_float=True)),
    ("empty_entries_3m_float", "3x10^6 empty chain entries, one float in session_metadata",
     partial(hostile.empty_chain_entries, 3_000_000, metadata_float=True)),
    ("top_level_zeros_10m", "a top-level array of 10^7 zeros",
     partial(hostile.top_level_zeros, 10_000_000)),
    ("zeros_1m", "an extra top-level member, an array of 10^6 zeros",
     partial(hostile.zeros_member, 1_000_000)),
    ("zeros_10m", "an extra top-level member, an array of 10^7 zeros",
     partial(hostile.zeros_member, 10_000_000)),
    # Floats (legitimate data, and hostile amounts of it), next to their float-free twins.
    ("float_every_chunk_1m", "10^6 chain entries, a float in every chunk of 512",
     partial(hostile.float_in_every_chunk, 1_000_000)),
    ("int_every_chunk_1m", "the same, an integer in place of each float",
     partial(hostile.float_in_every_chunk, 1_000_000, number=b"15")),
    ("float_in_zeros_10m", "an extra member, an array of 10^7 zeros and one float",
     partial(hostile.float_in_zeros_member, 10_000_000)),
    ("float_entries_1m", "10^6 chain entries, each the float 1.5",
     partial(hostile.float_entries, 1_000_000)),
    ("distinct_floats_1m", "10^6 chain entries, each a different float",
     partial(hostile.float_entries, 1_000_000, distinct=True)),
    ("v1_floats_10k", "v1, 10,000 entries, 5 floats in each payload",
     partial(hostile.v1_float_payloads, 10_000)),
    ("v1_ints_10k", "the same, integers in place of the floats",
     partial(hostile.v1_float_payloads, 10_000, floats=False)),
    ("members_1m", "10^6 extra top-level members",
     partial(hostile.many_members, 1_000_000)),
    ("deep_entries_100k", "10^5 chain entries, each 100 arrays deep",
     partial(hostile.deep_entries, 100_000, 100)),
    ("deep_distinct_100k", "10^5 distinct chain entries, each 100 arrays deep",
     partial(hostile.deep_entries, 100_000, 100, distinct=True)),
    ("junk_signatures_100k", "10^5 junk signatures[] entries",
     partial(hostile.junk_signatures, 100_000)),
    ("metadata_keys_1m", "session_metadata with 10^6 keys",
     partial(hostile.wide_metadata, 1_000_000)),
    ("metadata_arrays_1m", "session_metadata holding 10^6 small arrays",
     partial(hostile.metadata_of_small_arrays, 1_000_000)),
    ("metadata_scattered_1m", "session_metadata with 10^6 keys in no order",
     partial(hostile.wide_metadata, 1_000_000, scattered=True)),
    ("metadata_scattered_arrays_500k", "session_metadata with 500,000 keys in no order, each `[]`",
     partial(hostile.wide_metadata, 500_000, value=b"[]", scattered=True)),
    ("metadata_objects_300k", "session_metadata holding 300,000 small objects",
     partial(hostile.metadata_of_small_arrays, 300_000, b'{"b":%d,"a":%d}')),
    # Over the values limit outside the chain (keel_verify/load/budget.py).
    ("members_5m", "5x10^6 extra top-level members",
     partial(hostile.many_members, 5_000_000)),
    ("metadata_keys_5m", "session_metadata with 5x10^6 keys",
     partial(hostile.wide_metadata, 5_000_000)),
    ("exact_empty_arrays_10m", "a chain of 10^7 `[]` entries and an escaped colon (exact path)",
     partial(hostile.escaped_colon_chain, 10_000_000, b"[]")),
    # Dense chains: millions of tiny entries (keel_verify/load/dense.py).
    *((f"tiny_{name}_10m", f"a chain of 10^7 `{entry.decode()}` entries",
       partial(hostile.tiny_chain_entries, 10_000_000, entry))
      for name, entry in hostile.TINY_ENTRIES.items()),
    ("tiny_mixed_10m", "a chain of 10^7 mixed tiny entries (11 kinds in turn)",
     partial(hostile.tiny_chain_entries, 10_000_000, hostile.MIXED_TINY)),
    ("strings_1m", "a chain of 10^6 distinct 30-byte strings",
     partial(hostile.string_chain_entries, 1_000_000)),
    ("integers_5m", "a chain of 5x10^6 distinct integers",
     partial(hostile.distinct_integer_entries, 5_000_000)),
    ("objects_2m", "a chain of 2x10^6 distinct small objects",
     partial(hostile.distinct_object_entries, 2_000_000)),
    ("two_members_1m", "a chain of 10^6 distinct objects of two members",
     partial(hostile.two_member_objects, 1_000_000)),
    ("arrays_of_ten_1500k", "a chain of 1.5x10^6 arrays of ten zeros",
     partial(hostile.tiny_chain_entries, 1_500_000, b"[0,0,0,0,0,0,0,0,0,0]")),
    # Large entries: each a schema error and a window's worth of commas.
    ("entry_of_zeros_10m", "one chain entry, an array of 10^7 zeros",
     partial(hostile.large_array_entries, 1, 10_000_000)),
    ("arrays_of_50k_300", "300 chain entries, each an array of 50,000 zeros",
     partial(hostile.large_array_entries, 300, 50_000)),
    ("objects_of_50k_300", '300 chain entries, each {"a": an array of 50,000 zeros}',
     partial(hostile.large_array_entries, 300, 50_000, in_object=True)),
    # Wide objects: entries of 131,072 members (about 8 to a part of 2^20 values) and of
    # 10^6 (each a part of its own, near the value limit).
    ("wide_entries_16", "16 chain entries, each an object of 131,072 members",
     partial(hostile.wide_object_entries, 16, 131_072)),
    ("wide_entries_2", "2 chain entries, each an object of 10^6 members",
     partial(hostile.wide_object_entries, 2, 1_000_000)),
    ("wide_float_entry", "one chain entry, an object of 10^6 members, each 1.5",
     partial(hostile.wide_object_entries, 1, 1_000_000, b"1.5")),
    ("wide_nested_2", "2 chain entries, each holding an object of 10^6 members 3 levels down",
     partial(hostile.wide_object_entries, 2, 1_000_000, nested=True)),
    ("wide_scattered_2", "2 chain entries, each an object of 10^6 members, names in no order",
     partial(hostile.wide_object_entries, 2, 1_000_000, scattered=True)),
    ("colon_decoys_30", "30 strings of 330,000 colons, each before 3 objects of 10^5 `[]`",
     partial(hostile.colon_decoys, 30)),
)

CASES = (
    Case("sample", "the bundled sample (sample/voice_session_v3.json)", _sample),
    *(_built(name, what, make) for name, what, make in _BUILT),
    Case("fifo", "a FIFO with no writer", _fifo),
    Case("trust_100k", "100,000-key trust root, 10,000 signatures", _trust_root_and_signatures),
    # The reports that describe the applied policy (at most 50 keys of it, signer first).
    Case("trust_100k_json", "the same, --json",
         lambda folder: ["--json", *_trust_root_and_signatures(folder)]),
    Case("trust_100k_report", "the same, --report (HTML)",
         lambda folder: ["--report", str(folder / "trust-100k-report.html"),
                         *_trust_root_and_signatures(folder)]),
)


#: Builders whose size is their last argument (the items of each entry), not their first.
_SIZE_LAST = (hostile.large_array_entries,)
#: Token builders: their inputs are refused by the token limits at any size.
_UNSCALED = (hostile.deep_tsa_token, hostile.long_oid_token, hostile.many_tokens)


def scaled(factor: float) -> tuple[Case, ...]:
    """The sample, then every built case but the tokens with its size argument (a count
    of entries, members, keys or items) multiplied by ``factor``: is memory bounded by
    the input at larger sizes too? Each input is written to ``<name>_x<factor>.json``."""
    cases = [CASES[0]]
    for name, what, make in _BUILT:
        assert isinstance(make, partial)
        if make.func in _UNSCALED:
            continue
        arguments = list(make.args)
        at = -1 if make.func in _SIZE_LAST else 0
        arguments[at] = round(arguments[at] * factor)
        cases.append(_built(f"{name}_x{factor:g}", f"{what}, its size x{factor:g}",
                            partial(make.func, *arguments, **make.keywords)))
    return tuple(cases)


def keel_verify() -> str:
    found = shutil.which("keel-verify", path=str(Path(sys.executable).parent)) or shutil.which(
        "keel-verify")
    if found is None:
        raise SystemExit("keel-verify is not installed (pip install -e .)")
    return found


def input_size(arguments: list[str]) -> int:
    path = Path(arguments[-1])
    return path.stat().st_size if path.is_file() else 0


@dataclass
class Measured:
    """One variant's runs of one case."""

    walls: list[float] = field(default_factory=list)
    peaks: list[float] = field(default_factory=list)
    code: int | None = None
    attempted: bool = False  # run at least once (the reference verifier skips some cases)

    @property
    def wall(self) -> float | None:
        return statistics.median(self.walls) if self.walls else None

    @property
    def peak(self) -> float | None:
        return max(self.peaks) if self.peaks else None


def module_command(tree: Path) -> list[str]:
    """``keel_verify`` from the tree ``tree``, whatever is installed (``-P``: the working
    directory is not put first on the module path)."""
    return ["env", f"PYTHONPATH={tree}", sys.executable, "-P", "-m", "keel_verify"]


def arguments_for(variant: str, case: Case, arguments: list[str], repeat: int) -> list[str] | None:
    """The arguments ``variant`` runs ``case`` with in round ``repeat`` (from 0), or None
    when it does not run it: the reference verifier runs each case once, on its one input
    file, with its own bundled trust root (which holds the sample's key) in place of the
    sample's ``--trust-root``; never a case with other options of ours, nor the FIFO."""
    if variant != "reference":
        return arguments
    if repeat > 0 or case.name == "fifo":
        return None
    if arguments[:-1] in ([], ["--trust-root", str(TRUST_ROOT)]):
        return arguments[-1:]
    return None


def cells(measured: Measured, baseline: float | None) -> str:
    if not measured.attempted:
        return "- | - | - | -"
    wall, peak = measured.wall, measured.peak
    ratio = f"{wall / baseline:.1f}x" if wall is not None and baseline else "-"
    return (f"{f'{wall:.2f} s' if wall is not None else 'timeout'} | {ratio} | "
            f"{f'{peak:.0f} MiB' if peak is not None else '-'} | "
            f"{'-' if measured.code is None else measured.code}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0].replace("\n", " "))
    parser.add_argument("--only", help="comma-separated case names")
    parser.add_argument("--repeats", type=int, default=1, help="runs per case (median shown)")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per run")
    parser.add_argument("--baseline", type=Path, help="an earlier tree to measure alternately")
    parser.add_argument("--scale", type=float,
                        help="the built cases with their sizes multiplied by this factor")
    parser.add_argument("--reference",
                        help="the reference verifier's executable, run once per case (default: "
                             f"{', '.join(REFERENCE_CANDIDATES)} if present; 'none' skips it)")
    options = parser.parse_args()
    if options.scale is not None and not options.scale > 0:
        parser.error(f"--scale must be a positive factor, not {options.scale:g}")
    cases = scaled(options.scale) if options.scale is not None else CASES
    only = options.only.split(",") if options.only else None
    suffix = f"_x{options.scale:g}" if options.scale is not None else ""
    # With --scale, a case is named by its table name too (oid_1m for oid_1m_x5).
    chosen = [c for c in cases
              if only is None or c.name in only or c.name.removesuffix(suffix) in only]
    OUT.mkdir(parents=True, exist_ok=True)
    variants = ({"after": module_command(ROOT), "before": module_command(options.baseline)}
                if options.baseline is not None else {"after": [keel_verify()]})
    reference = reference_command(options.reference)
    if reference is not None:
        variants["reference"] = reference
    for name, command in variants.items():  # bytecode cached; each with its own arguments
        warm = arguments_for(name, CASES[0], _sample(OUT), 0)
        measure([[*command, *(warm or [])]], OUT / "warmup", options.timeout)
    rows: list[tuple[Case, int, dict[str, Measured]]] = []
    baselines: dict[str, float | None] = {}
    with tempfile.TemporaryDirectory() as scratch:
        for case in chosen:
            arguments = case.build(OUT if case.name != "fifo" else Path(scratch))
            results = {name: Measured() for name in variants}
            for repeat in range(options.repeats):
                for name, command in variants.items():  # alternating: after, before, ...
                    given = arguments_for(name, case, arguments, repeat)
                    if given is None:
                        continue
                    results[name].attempted = True
                    try:
                        run = measure([[*command, *given]], OUT / case.name, options.timeout)[0]
                    except HarnessError as error:
                        print(f"{case.name} ({name}): {error}", file=sys.stderr)
                        continue
                    results[name].walls.append(run.wall_s)
                    results[name].peaks.append(run.maxrss_kib * 1024 / MIB)
                    results[name].code = run.exit
            if case.name == "sample":
                baselines = {name: measured.wall for name, measured in results.items()}
            rows.append((case, input_size(arguments), results))
            print(f"{case.name}: " + ", ".join(
                f"{name} {m.wall} s {m.peak} MiB exit {m.code}" for name, m in results.items()),
                file=sys.stderr)
    names = list(variants)
    header = " | ".join(f"{'' if len(names) == 1 else name + ' '}{column}"
                        for name in names for column in ("time", "x sample", "peak memory", "exit"))
    print(f"| case | input | {header} |")
    print("|---|---:|" + "---:|" * 4 * len(names))
    for case, size, results in rows:
        shown = f"{size / MIB:.1f} MiB" if size >= MIB else f"{size / 1024:.0f} KiB"
        print(f"| {case.what} | {shown if size else '-'} | "
              + " | ".join(cells(results[name], baselines.get(name)) for name in names) + " |")


if __name__ == "__main__":
    main()
