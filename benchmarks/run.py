"""Benchmark harness: keel-verify against the floor (and, when installed, the reference
verifier), cold start, batch, memory, keel-emit; the first round's targets and the second round's goals.

From the repository root, after ``pip install -e .``::

    python benchmarks/run.py            # full run: 1k, 10k, 100k events (several minutes)
    python benchmarks/run.py --quick    # smoke run: 1k and 10k, 50-file batch, 1 repeat

What it measures, in one run:

* artifacts generated with keel-emit at each size, schema versions 3 and 1, ASCII and
  non-ASCII filler text (cached in ``--out``, keyed by the parameters and a fingerprint of
  the emitter's source, so reruns do not regenerate them);
* per artifact, alternating in each repeat: (a) ``keel-verify --trust-root
  sample/trust-root.json FILE`` with its default checks, (b) ``benchmarks/floor.py FILE``
  (parse, canonicalise and hash every entry, verify the signature, with the fastest tools
  installed) and, for reference, (c) the same floor with the standard library only; the
  median wall time of each, the ratio a/b, the peak RSS of each and the file size;
* linearity: verifier time at 100k events over its time at 10k;
* cold start: keel-verify on the bundled sample against ``python -c "import
  cryptography.x509"``, alternating;
* batch: ``keel-verify --trust-root ... DIR`` over N small artifacts (one invocation,
  default ``--jobs``) against N separate invocations (a random sample of them is timed and
  extrapolated, as the output says), and against the floor over the same files in one
  process;
* at 100k events: the reference verifier (optional), and v3 pinned to one core;
* memory: peak RSS on artifacts of about 1 GiB (``--memory-gib``), v3 and v1;
* emit: ``keel-emit serve`` on loopback (``benchmarks/emit_bench.py``): ingest in
  events/s at 100 atoms per request (1 and 4 clients) against plain SQLite with the same
  rows, and ``end`` of a 100,000-event session against its floor.

Every measured command runs as its own process through ``benchmarks/_measure.py``, which
reports that process's wall time and peak RSS (``os.wait4``). Each line is marked ``ok``
or ``MISS`` against the issue's targets. The results also go to ``OUT/results.json``.
Nothing is installed and no unit test depends on these timings.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import platform
import random
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import sysconfig
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
TRUST_ROOT = "sample/trust-root.json"
SAMPLE = "sample/voice_session_v3.json"
PACKAGES = ("keel-verify", "cryptography", "msgspec", "orjson", "jsonschema", "jsonschema-rs",
            "rfc8785", "asn1crypto", "click", "rich", "pynacl")

# The targets.
MAX_FLOOR_RATIO = 1.5  # 100k-event v3 artifact: verifier wall <= 1.5 x floor wall
MAX_RSS_PER_BYTE = 2.5  # 100k-event v3 artifact: verifier peak RSS <= 2.5 x file size
MAX_GROWTH_PER_10X = 12.0  # 10k -> 100k events: within 12 x the time
MAX_COLD_RATIO = 2.0  # cold start <= 2 x `python -c "import cryptography.x509"`
MIN_BATCH_SPEEDUP = 20.0  # 1,000 small artifacts in one invocation >= 20 x faster
TARGET_EVENTS = 100_000
# Issue 15's goals (one run, this machine).
V1_MAX_REFERENCE_RATIO = 0.33  # v1 100k: verifier wall <= 0.33 x the reference verifier's
V1_MAX_FLOOR_RATIO = 1.5  # v1 100k: verifier wall <= 1.5 x the floor
V3_MAX_FLOOR_RATIO = 1.2  # v3 100k: verifier wall <= 1.2 x the floor, both cores
V3_MAX_ONE_CORE_RATIO = 1.5  # v3 100k, both pinned to one core (taskset -c 0)
MEMORY_FACTOR, MEMORY_EXTRA_MIB = 1.2, 64  # peak RSS <= 1.2 x the file + 64 MiB
MAX_BATCH_FLOOR_RATIO = 2.0  # the batch in one invocation <= 2 x the floor over it in one process
EMIT_MIN_EVENTS_PER_S = 20_000  # keel-emit ingest on loopback, 100 atoms per request
EMIT_MAX_END_RATIO = 2.0  # keel-emit end of a 100,000-event session <= 2 x its floor
EMIT_END_EVENTS = 100_000
#: The reference verifier (a black box, measured for comparison only; skipped when absent).
REFERENCE_CANDIDATES = ("/tmp/refvenv/bin/keel-verify",)


# -- running and measuring ------------------------------------------------------------------


@dataclass
class Run:
    wall_s: float
    maxrss_kib: int
    user_s: float
    sys_s: float
    exit: int


class HarnessError(Exception):
    pass


def _log(stem: Path, suffix: str) -> Path:
    return stem.parent / (stem.name + suffix)


def measure(commands: Sequence[Sequence[str]], log_stem: Path, timeout: float) -> list[Run]:
    """Run ``commands`` one after the other in a fresh wrapper process; their own figures."""
    stdout, stderr = _log(log_stem, ".out"), _log(log_stem, ".err")
    for path in (stdout, stderr):
        path.write_bytes(b"")
    spec = json.dumps({"commands": [list(c) for c in commands], "stdout": str(stdout),
                       "stderr": str(stderr)})
    wrapper = [sys.executable, "-I", "-S", str(HERE / "_measure.py"), spec]
    with subprocess.Popen(wrapper, cwd=ROOT, env=child_environment(), stdout=subprocess.PIPE,
                          start_new_session=True) as process:
        try:
            output, _ = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)  # the wrapper and the command it runs
            process.communicate()
            raise HarnessError(f"timed out after {timeout:.0f} s: {' '.join(commands[0])}") from None
    if process.returncode != 0:
        raise HarnessError(f"measurement wrapper failed (exit {process.returncode})")
    return [Run(**item) for item in json.loads(output)]


def child_environment() -> dict[str, str]:
    """The measured processes' environment: ours, except that Python may cache bytecode.

    With PYTHONDONTWRITEBYTECODE set (some sandboxes and CI images set it), an editable
    install never gets ``__pycache__`` and every start compiles keel_verify from source,
    while cryptography's bytecode was compiled at install time: that would measure the
    environment, not the verifier. A normal install has bytecode, so the runs here do too.
    """
    return {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}


def machine_busy_s() -> float | None:
    """CPU time the whole machine has spent busy (all processes), from /proc/stat."""
    try:
        with open("/proc/stat", encoding="ascii") as handle:
            fields = handle.readline().split()
    except OSError:
        return None
    if not fields or fields[0] != "cpu":
        return None
    user, nice, system, _idle, _iowait, irq, softirq = (int(x) for x in fields[1:8])
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


def own_cpu_s() -> float:
    """CPU time of this process and every descendant it has waited for."""
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total


def load_average() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def warm_up(kv: list[str], logs: Path, timeout: float) -> None:
    """Untimed: one verification and one floor run, so every module's bytecode is cached;
    and a pre-flight check: a verifier that does not verify the sample is not worth timing."""
    stem = logs / "warm-up"
    verifier, floor = measure([[*kv, "--trust-root", TRUST_ROOT, SAMPLE],
                               [sys.executable, str(HERE / "floor.py"), SAMPLE]], stem, timeout)
    if verifier.exit != 0 or floor.exit != 0:
        raise HarnessError(f"pre-flight: the sample does not verify (keel-verify exit {verifier.exit}, "
                           f"floor exit {floor.exit}): {_last_line(stem)}")


def keel_verify_command() -> tuple[list[str], str]:
    """The console script of this interpreter's environment (not a pyenv shim, whose own
    start-up would be timed too), else ``python -m keel_verify``."""
    script = Path(sysconfig.get_path("scripts")) / "keel-verify"
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)], str(script)
    return [sys.executable, "-m", "keel_verify"], f"{sys.executable} -m keel_verify"


def warm_page_cache(path: Path) -> None:
    with open(path, "rb") as handle:
        while handle.read(16 * 1024 * 1024):
            pass


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- the machine ----------------------------------------------------------------------------


def _first_line_value(path: str, key: str) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            for line in handle:
                name, _, value = line.partition(":")
                if name.strip() == key:
                    return value.strip()
    except OSError:
        return None
    return None


def _git(*args: str) -> str | None:
    try:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def machine() -> dict[str, Any]:
    flags = _first_line_value("/proc/cpuinfo", "flags") or ""
    mem_kib = (_first_line_value("/proc/meminfo", "MemTotal") or "0 kB").split()[0]
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count() or 1
    versions: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    try:
        from cryptography.hazmat.backends.openssl.backend import backend

        versions["openssl (cryptography)"] = backend.openssl_version_text()
    except Exception:  # pragma: no cover - informational only
        versions["openssl (cryptography)"] = None
    status = _git("status", "--porcelain", "--untracked-files=no")
    return {
        "cpu": _first_line_value("/proc/cpuinfo", "model name") or platform.processor() or "?",
        "cpu_family_model": f"family {_first_line_value('/proc/cpuinfo', 'cpu family')} model "
                            f"{_first_line_value('/proc/cpuinfo', 'model')}",
        "cpu_mhz": _first_line_value("/proc/cpuinfo", "cpu MHz"),
        "sha_extensions": "sha_ni" in flags.split(),
        "virtualised": "hypervisor" in flags.split(),
        "logical_cpus": os.cpu_count(),
        "usable_cpus": usable,
        "memory_gib": round(int(mem_kib) / 1024 / 1024, 1),
        "os": platform.platform(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "python_executable": sys.executable,
        "packages": versions,
        "git_commit": _git("rev-parse", "--short", "HEAD"),
        "git_modified_tracked_files": None if status is None else len(status.splitlines()),
    }


# -- artifacts ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    version: int
    text: str
    events: int
    layout: str

    @property
    def name(self) -> str:
        return f"v{self.version}-{self.text}-{self.events}-{self.layout}"


def emitter_fingerprint() -> str:
    """Changes whenever the emitter or the generator changes (so does the cache key).

    The verifier's modules the emitter borrows (canonical bytes, signing) are left out on
    purpose: optimising them must not force a regeneration, and an artifact written
    before is just as valid an input (every run checks that each artifact verifies)."""
    digest = hashlib.sha256()
    sources = sorted((ROOT / "keel_verify" / "emit").rglob("*.py"))
    sources.append(HERE / "generate.py")
    for path in sources:
        if path.is_file():
            digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:12]


def verifier_fingerprint() -> str:
    """Of the verifier's own source (not the emitter's) and the schemas: ties the figures
    to a code state, and shows whether someone changed it while the run was going on."""
    digest = hashlib.sha256()
    package = ROOT / "keel_verify"
    sources = [p for p in sorted(package.rglob("*.py")) if "emit" not in p.relative_to(package).parts]
    sources += sorted((ROOT / "schemas").glob("*.json"))
    for path in sources:
        digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:12]


def _drop_stale(parent: Path, keep: str) -> None:
    if parent.is_dir():
        for old in parent.iterdir():
            if old.name != keep and old.is_dir():
                shutil.rmtree(old, ignore_errors=True)
                progress(f"removed stale cache {old}")


def ensure_artifact(case: Case, cache: Path, regenerate: bool) -> tuple[Path, float | None]:
    path = cache / f"{case.name}.json"
    if path.is_file() and not regenerate:
        return path, None
    progress(f"generating {case.name} ...")
    start = time.perf_counter()
    subprocess.run([sys.executable, str(HERE / "generate.py"), "artifact",
                    "--schema-version", str(case.version), "--events", str(case.events),
                    "--text", case.text, "--layout", case.layout, str(path)],
                   cwd=ROOT, check=True)
    return path, time.perf_counter() - start


def ensure_batch(count: int, distinct: int | None, cache: Path, regenerate: bool
                 ) -> tuple[Path, float | None]:
    """The batch directory (generated once per emitter fingerprint): ``count`` files, each
    its own session and RFC 3161 token unless ``distinct`` limits the different ones."""
    distinct = count if distinct is None else min(distinct, count)
    directory = cache / f"batch-{count}-of-{distinct}-pretty"
    if directory.is_dir() and not regenerate and len(list(directory.glob("*.json"))) == count:
        return directory, None
    progress(f"generating {count} small artifacts ({distinct} distinct) ...")
    start = time.perf_counter()
    limit = [] if distinct == count else ["--distinct", str(distinct)]
    subprocess.run([sys.executable, str(HERE / "generate.py"), "batch", "--count", str(count),
                    *limit, str(directory)], cwd=ROOT, check=True)
    return directory, time.perf_counter() - start


# -- measurements ---------------------------------------------------------------------------


@dataclass
class Series:
    """Repeated runs of one command."""

    runs: list[Run] = field(default_factory=list)

    @property
    def wall(self) -> float:
        return statistics.median(r.wall_s for r in self.runs)

    @property
    def peak_mib(self) -> float:
        return max(r.maxrss_kib for r in self.runs) / 1024

    @property
    def failures(self) -> list[int]:
        return [r.exit for r in self.runs if r.exit != 0]

    def as_json(self) -> dict[str, Any]:
        return {"median_wall_s": self.wall, "peak_rss_mib": self.peak_mib,
                "runs": [vars(r) for r in self.runs]}


def _read_lines(path: Path) -> list[str]:
    try:
        return path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return []


def _last_line(stem: Path) -> str:
    """Why a run failed: stderr's last line (an error, a traceback's last line), else the
    first failed check in the report, else the report's last line."""
    errors, report = _read_lines(_log(stem, ".err")), _read_lines(_log(stem, ".out"))
    failed = [line.strip() for line in report if "[FAIL]" in line]
    chosen = errors[-1] if errors else failed[0] if failed else report[-1] if report else "(no output)"
    return chosen[:300]


def bench_artifact(path: Path, case: Case, kv: list[str], repeats: int, stdlib_floor: bool,
                   logs: Path, timeout: float, reference: list[str] | None = None,
                   one_core: bool = False) -> dict[str, Any]:
    """``reference``: also time the reference verifier; ``one_core``: also time the
    verifier and the floor pinned to CPU 0 (``taskset -c 0``)."""
    warm_page_cache(path)
    rel = os.path.relpath(path, ROOT)
    commands = {
        "verifier": [*kv, "--trust-root", TRUST_ROOT, rel],
        "floor": [sys.executable, str(HERE / "floor.py"), "--json", rel],
    }
    if stdlib_floor:
        commands["floor_json"] = [sys.executable, str(HERE / "floor.py"), "--json", "--parser", "json", rel]
    if reference:
        commands["reference"] = [*reference, rel]
    if one_core:
        commands["verifier_one_core"] = ["taskset", "-c", "0", *commands["verifier"]]
        commands["floor_one_core"] = ["taskset", "-c", "0", *commands["floor"]]
    series = {name: Series() for name in commands}
    floor_reports: dict[str, Any] = {}
    errors: list[str] = []
    for repeat in range(repeats):
        order = list(commands) if repeat % 2 == 0 else list(reversed(commands))
        for name in order:
            stem = logs / f"{case.name}.{name}"
            run = measure([commands[name]], stem, timeout)[0]
            series[name].runs.append(run)
            if run.exit != 0:
                error = f"{name} exited {run.exit}: {_last_line(stem)}"
                if error not in errors:
                    errors.append(error)
            elif name in ("floor", "floor_json"):
                floor_reports[name] = json.loads(_log(stem, ".out").read_text())
        progress(f"  {case.name} repeat {repeat + 1}/{repeats}: "
                 + ", ".join(f"{n} {s.runs[-1].wall_s:.3f}s" for n, s in series.items()))
    size = path.stat().st_size
    verifier, floor = series["verifier"], series["floor"]
    result: dict[str, Any] = {
        "case": vars(case) | {"name": case.name},
        "file": rel,
        "file_bytes": size,
        "commands": {name: " ".join(command) for name, command in commands.items()},
        "errors": errors,
        "verifier": verifier.as_json(),
        "floor": floor.as_json() | {"report": floor_reports.get("floor")},
        "ratio_wall": verifier.wall / floor.wall,
        "verifier_rss_per_file_byte": verifier.peak_mib * 2**20 / size,
        "floor_rss_per_file_byte": floor.peak_mib * 2**20 / size,
    }
    if stdlib_floor:
        result["floor_json"] = series["floor_json"].as_json() | {"report": floor_reports.get("floor_json")}
    if reference:
        result["reference"] = series["reference"].as_json()
        result["ratio_reference"] = verifier.wall / series["reference"].wall
    if one_core:
        result["verifier_one_core"] = series["verifier_one_core"].as_json()
        result["floor_one_core"] = series["floor_one_core"].as_json()
        result["ratio_one_core"] = series["verifier_one_core"].wall / series["floor_one_core"].wall
    result["memory_limit_mib"] = memory_limit_mib(size)
    return result


def memory_limit_mib(file_bytes: int) -> float:
    return MEMORY_FACTOR * file_bytes / 2**20 + MEMORY_EXTRA_MIB


def reference_command(choice: str | None) -> list[str] | None:
    """The reference verifier's command, or None (``--reference none``, or not installed)."""
    if choice == "none":
        return None
    for candidate in [choice] if choice else [*REFERENCE_CANDIDATES, shutil.which("keel-verifier-ref")]:
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return [candidate]
    return None


def bench_cold(kv: list[str], runs: int, logs: Path, timeout: float) -> dict[str, Any]:
    commands = {
        "keel_verify": [*kv, "--trust-root", TRUST_ROOT, SAMPLE],
        "import_cryptography_x509": [sys.executable, "-c", "import cryptography.x509"],
    }
    for name, command in commands.items():  # warm-up: page cache, bytecode; not counted
        measure([command], logs / f"cold.{name}", timeout)
    series = {name: Series() for name in commands}
    for repeat in range(runs):
        order = list(commands) if repeat % 2 == 0 else list(reversed(commands))
        for name in order:
            series[name].runs.extend(measure([commands[name]], logs / f"cold.{name}", timeout))
    failures = {name: s.failures for name, s in series.items() if s.failures}
    keel, baseline = series["keel_verify"], series["import_cryptography_x509"]
    return {
        "commands": {name: " ".join(c) for name, c in commands.items()},
        "keel_verify": keel.as_json(),
        "import_cryptography_x509": baseline.as_json(),
        "ratio": keel.wall / baseline.wall,
        "failures": failures,
    }


def bench_batch(directory: Path, kv: list[str], repeats: int, sample_size: int,
                logs: Path, timeout: float) -> dict[str, Any]:
    files = sorted(directory.glob("*.json"))
    sample = sorted(random.Random(6).sample(files, min(sample_size, len(files))))
    scale = len(files) / len(sample)
    rel_dir = os.path.relpath(directory, ROOT)
    one_invocation = [*kv, "--trust-root", TRUST_ROOT, rel_dir]
    separate = [[*kv, "--trust-root", TRUST_ROOT, os.path.relpath(p, ROOT)] for p in sample]
    for path in files:
        warm_page_cache(path)
    distinct = len({hashlib.sha256(path.read_bytes()).digest() for path in files})
    floor_command = [sys.executable, str(HERE / "floor.py"), "--json", rel_dir]
    batch = Series()
    floor = Series()
    separate_totals: list[float] = []
    separate_failures = 0
    for repeat in range(repeats):
        steps = ["batch", "floor", "separate"] if repeat % 2 == 0 else ["separate", "floor", "batch"]
        for step in steps:
            if step == "batch":
                batch.runs.extend(measure([one_invocation], logs / "batch.one", timeout))
            elif step == "floor":
                floor.runs.extend(measure([floor_command], logs / "batch.floor", timeout))
            else:
                runs = measure(separate, logs / "batch.separate", timeout * len(separate))
                separate_failures += sum(1 for r in runs if r.exit != 0)
                separate_totals.append(sum(r.wall_s for r in runs) * scale)
        progress(f"  batch repeat {repeat + 1}/{repeats}: one invocation {batch.runs[-1].wall_s:.2f}s, "
                 f"floor {floor.runs[-1].wall_s:.2f}s, "
                 f"{len(files)} separate (extrapolated) {separate_totals[-1]:.2f}s")
    separate_wall = statistics.median(separate_totals)
    return {
        "files": len(files),
        "distinct_files": distinct,
        "directory": rel_dir,
        "jobs": os.cpu_count(),
        "command": " ".join(one_invocation),
        "one_invocation": batch.as_json() | {"cpu_s": [r.user_s + r.sys_s for r in batch.runs]},
        "separate_sampled": len(sample),
        "separate_extrapolation_factor": scale,
        "separate_total_s_per_repeat": separate_totals,
        "separate_total_s": separate_wall,
        "speedup": separate_wall / batch.wall,
        "floor_command": " ".join(floor_command),
        "floor": floor.as_json(),
        "ratio_floor": batch.wall / floor.wall,
        "failures": {"one_invocation": batch.failures, "separate": separate_failures,
                     "floor": floor.failures},
    }


#: Bytes per event of a pretty ASCII demo session (measured at 100k events): how many
#: events make an artifact of the size asked for.
BYTES_PER_EVENT = {3: 1413, 1: 1694}


def bench_memory(gib: float, versions: list[int], kv: list[str], cache: Path, regenerate: bool,
                 logs: Path, timeout: float) -> list[dict[str, Any]]:
    """Peak memory on artifacts of about ``gib`` GiB: the verifier and the streamed floor,
    one run each (a run of this size takes long, and memory is not noisy). ``cache``:
    where these artifacts are kept; unlike the others they are not regenerated when the
    emitter changes (one takes minutes and GiBs to write; any valid artifact will do,
    and every run checks that it verifies)."""
    out = []
    for version in versions:
        events = max(1000, round(gib * 2**30 / BYTES_PER_EVENT[version], -4))
        case = Case(version, "ascii", int(events), "pretty")
        path, _ = ensure_artifact(case, cache, regenerate)
        size = path.stat().st_size
        progress(f"memory: {case.name} ({size / 2**20:.0f} MiB) ...")
        warm_page_cache(path)
        rel = os.path.relpath(path, ROOT)
        verifier, floor = measure([[*kv, "--trust-root", TRUST_ROOT, rel],
                                   [sys.executable, str(HERE / "floor.py"), "--json", rel]],
                                  logs / f"memory.{case.name}", timeout)
        out.append({
            "case": vars(case) | {"name": case.name},
            "file_bytes": size,
            "verifier": vars(verifier),
            "floor": vars(floor),
            "verifier_peak_mib": verifier.maxrss_kib / 1024,
            "floor_peak_mib": floor.maxrss_kib / 1024,
            "limit_mib": memory_limit_mib(size),
            "errors": [f"{name} exited {run.exit}" for name, run in
                       (("verifier", verifier), ("floor", floor)) if run.exit != 0],
        })
    return out


def goals(results: dict[str, Any]) -> list[dict[str, str]]:
    """Issue 15's goals, each with its measured ratio and ok / MISS (n/a: not measured)."""
    out: list[dict[str, str]] = []

    def add(ok: bool | None, what: str, measured: str) -> None:
        out.append({"status": "n/a" if ok is None else mark(ok), "what": what, "measured": measured})

    def add_worst(rows: list[dict[str, Any]], failed: bool, ratio: str, limit: float,
                  runs: tuple[str, str], what: str, absent: str) -> None:
        """The goal line for the worst ``ratio`` among ``rows`` (ours / theirs, from the
        two ``runs``), or n/a with ``absent`` when no row has it."""
        measured = [a for a in rows if ratio in a]
        if not measured:
            add(None, what, absent)
            return
        worst = max(measured, key=lambda a: a[ratio])
        ours, theirs = (worst[run]["median_wall_s"] for run in runs)
        add(None if failed else worst[ratio] <= limit, what,
            f"worst {worst[ratio]:.2f}x ({worst['case']['name']}: {ours:.2f} s / {theirs:.2f} s)")

    at = [a for a in results.get("artifacts") or [] if a["case"]["events"] == TARGET_EVENTS]
    for version in (1, 3):
        rows = [a for a in at if a["case"]["version"] == version]
        failed = any(a["errors"] for a in rows)
        if not rows:
            why = (f"not measured: no {TARGET_EVENTS:,}-event artifact in this run "
                   + ("(--quick runs 1k and 10k; " if results.get("quick")
                      else "(see --sizes and --only; ")
                   + "the goals are judged at 100k)")
            limit = V1_MAX_FLOOR_RATIO if version == 1 else V3_MAX_FLOOR_RATIO
            add(None, f"v{version} 100k: wall <= {limit}x the floor"
                + ("" if version == 1 else ", both cores"), why)
            if version == 1:
                add(None, f"v1 100k: wall <= {V1_MAX_REFERENCE_RATIO}x the reference verifier's", why)
            else:
                add(None, f"v3 100k: wall <= {V3_MAX_ONE_CORE_RATIO}x the floor, one core "
                          "(taskset -c 0)", why)
            continue
        worst = max(rows, key=lambda a: a["ratio_wall"])
        limit = V1_MAX_FLOOR_RATIO if version == 1 else V3_MAX_FLOOR_RATIO
        cores = "" if version == 1 else ", both cores"
        add(None if failed else worst["ratio_wall"] <= limit,
            f"v{version} 100k: wall <= {limit}x the floor{cores}",
            f"worst {worst['ratio_wall']:.2f}x ({worst['case']['name']}: "
            f"{worst['verifier']['median_wall_s']:.2f} s / {worst['floor']['median_wall_s']:.2f} s)")
        if version == 1:
            add_worst(rows, failed, "ratio_reference", V1_MAX_REFERENCE_RATIO, ("verifier", "reference"),
                      f"v1 100k: wall <= {V1_MAX_REFERENCE_RATIO}x the reference verifier's",
                      "reference not installed")
        else:
            add_worst(rows, failed, "ratio_one_core", V3_MAX_ONE_CORE_RATIO,
                      ("verifier_one_core", "floor_one_core"),
                      f"v3 100k: wall <= {V3_MAX_ONE_CORE_RATIO}x the floor, one core (taskset -c 0)",
                      "not measured (taskset missing?)")
    memory_rows = [(f"{a['case']['name']}", a["verifier"]["peak_rss_mib"], a["memory_limit_mib"],
                    bool(a["errors"])) for a in at]
    memory_rows += [(m["case"]["name"], m["verifier_peak_mib"], m["limit_mib"], bool(m["errors"]))
                    for m in results.get("memory") or []]
    for version in (1, 3):
        rows = [r for r in memory_rows if r[0].startswith(f"v{version}-")]
        if not rows:
            add(None, f"v{version} peak memory <= {MEMORY_FACTOR}x file + {MEMORY_EXTRA_MIB} MiB",
                f"not measured: no {TARGET_EVENTS:,}-event or 1 GiB artifact in this run")
            continue
        worst = max(rows, key=lambda r: r[1] / r[2])
        sizes = ", ".join(f"{r[0]} {r[1]:.0f}/{r[2]:.0f} MiB" for r in rows)
        add(None if any(r[3] for r in rows) else all(r[1] <= r[2] for r in rows),
            f"v{version} peak memory <= {MEMORY_FACTOR}x file + {MEMORY_EXTRA_MIB} MiB",
            f"worst {worst[1] / worst[2]:.2f} of the limit ({sizes})")
    if not results.get("memory"):
        add(None, "peak memory at 1 GiB", "not measured: the memory part did not run "
            + ("(--quick skips it)" if results.get("quick") else "(see --only)"))
    batch = results.get("batch")
    if batch and "ratio_floor" in batch:
        failed = any(batch["failures"].values())
        note = "" if batch["files"] >= 1000 else f" [{batch['files']} files, not 1000]"
        add(None if failed else batch["ratio_floor"] <= MAX_BATCH_FLOOR_RATIO,
            f"batch: one invocation <= {MAX_BATCH_FLOOR_RATIO}x the floor in one process{note}",
            f"{batch['ratio_floor']:.2f}x ({batch['one_invocation']['median_wall_s']:.2f} s / "
            f"{batch['floor']['median_wall_s']:.2f} s)")
    else:
        add(None, "batch against the floor", "not measured")
    out.extend(emit_goals(results.get("emit")))
    return out


def emit_goals(emit: dict[str, Any] | None) -> list[dict[str, str]]:
    """keel-emit's two goals from ``benchmarks/emit_bench.py``'s results (n/a: not
    measured, or the run failed)."""
    ingest_what = (f"emit ingest >= {EMIT_MIN_EVENTS_PER_S:,} events/s at 100 atoms per "
                   "request")
    end_what = f"emit end at {EMIT_END_EVENTS:,} events <= {EMIT_MAX_END_RATIO:g}x its floor"
    if emit is None:
        return [{"status": "n/a", "what": what, "measured": "not measured"}
                for what in (ingest_what, end_what)]
    if emit.get("error"):
        return [{"status": "n/a", "what": what, "measured": f"failed: {emit['error']}"}
                for what in (ingest_what, end_what)]
    out = []
    rows = [row for row in emit.get("ingest") or [] if not row["signed"]]
    if rows:
        best = max(rows, key=lambda row: row["events_per_s"])
        floor = emit.get("ingest_floor")
        against = (f"; plain SQLite with the same rows {floor['events_per_s']:,} events/s, "
                   f"ours {best['events_per_s'] / floor['events_per_s']:.2f}x of it"
                   if floor else "")
        out.append({"status": mark(best["events_per_s"] >= EMIT_MIN_EVENTS_PER_S),
                    "what": ingest_what,
                    "measured": f"{best['events_per_s']:,} events/s ({best['clients']} "
                                f"client(s){_median_of(best)}; server CPU "
                                f"{best['server_cpu_us_per_event']} us per event){against}"})
    else:
        out.append({"status": "n/a", "what": ingest_what, "measured": "not measured"})
    end = emit.get("end")
    if end:
        note = ("" if end["events"] == EMIT_END_EVENTS
                else f" [measured at {end['events']:,} events, not {EMIT_END_EVENTS:,}]")
        out.append({"status": mark(end["ratio"] <= EMIT_MAX_END_RATIO), "what": end_what + note,
                    "measured": f"{end['ratio']:.2f}x ({end['end_s']:.2f} s / "
                                f"{end['floor_s']:.2f} s)"})
    else:
        out.append({"status": "n/a", "what": end_what, "measured": "not measured"})
    return out


def _median_of(row: dict[str, Any]) -> str:
    runs = row.get("runs_events_per_s") or []
    return f", median of {len(runs)} runs" if len(runs) > 1 else ""


def bench_emit(quick: bool) -> dict[str, Any]:
    """``benchmarks/emit_bench.py``'s ingest and end parts (its own server process)."""
    if str(HERE) not in sys.path:
        sys.path.insert(0, str(HERE))
    import emit_bench

    try:
        results: dict[str, Any] = emit_bench.measure(
            quick=quick, parts=("ingest", "end"), progress=lambda line: progress(f"emit: {line}"))
    except (SystemExit, OSError) as error:  # the server did not start, or answered an error
        return {"error": str(error) or type(error).__name__}
    return results


# -- report ---------------------------------------------------------------------------------


def mark(ok: bool) -> str:
    return "ok" if ok else "MISS"


def _mib(value: float) -> str:
    return f"{value:.1f}"


def render(results: dict[str, Any]) -> str:
    lines: list[str] = []
    m = results["machine"]
    lines.append("keel-verify benchmark" + ("  [QUICK smoke run]" if results["quick"] else ""))
    lines.append(f"  when      {results['started_at']}  ({results['elapsed_s']:.0f} s)")
    lines.append(f"  machine   {m['cpu']} ({m['cpu_family_model']}) @ {m['cpu_mhz']} MHz, "
                 f"{m['logical_cpus']} logical CPUs "
                 f"({m['usable_cpus']} usable){', virtualised' if m['virtualised'] else ''}, "
                 f"{m['memory_gib']} GiB RAM")
    lines.append(f"  system    {m['os']}, {m['python']} ({m['python_executable']})")
    packages = ", ".join(f"{k} {v}" for k, v in m["packages"].items() if v)
    missing = ", ".join(k for k, v in m["packages"].items() if not v)
    lines.append(f"  packages  {packages}" + (f"; not installed: {missing}" if missing else ""))
    checkout = (f"{m['git_commit']} ({m['git_modified_tracked_files']} tracked files modified)"
                if m["git_commit"] else "not a git checkout")
    lines.append(f"  checkout  {checkout}, verifier source {results['verifier_fingerprint']}")
    others = results.get("other_processes_cpu_s")
    if others is not None:
        share = others / results["elapsed_s"]
        lines.append(f"  others    other processes used {others:.0f} CPU-s during the run "
                     f"({share:.2f} CPUs on average; load average {results['load_average_at_start']} "
                     "at start)"
                     + (": the figures are noisy" if share > 0.1 else ""))
    if results["python_dont_write_bytecode_was_set"]:
        lines.append("  note      PYTHONDONTWRITEBYTECODE was set; unset for the measured processes so that "
                     "bytecode is cached, as in a normal install")
    if results["verifier_fingerprint_at_end"] != results["verifier_fingerprint"]:
        lines.append(f"  WARNING   the verifier's source changed during the run (now "
                     f"{results['verifier_fingerprint_at_end']}): the figures mix code states")
        spans = [(a["case"]["name"], a.get("verifier_source")) for a in results.get("artifacts") or []]
        spans += [(part, results[part].get("verifier_source")) for part in ("cold_start", "batch")
                  if results.get(part)]
        for name, span in spans:
            if span != results["verifier_fingerprint"]:
                lines.append(f"            {name} ran on verifier source {span}")
    lines.append(f"  verifier  {results['verifier_command']} --trust-root {TRUST_ROOT} FILE  "
                 f"(default checks)")
    lines.append(f"  floor     benchmarks/floor.py FILE, tools: {results.get('floor_tools') or '(not run)'}")
    lines.append(f"  method    median of {results['repeats']} alternating run(s) per figure; every run "
                 f"a fresh process; peak RSS via os.wait4 (max over runs)")
    lines.append(f"  layout    {', '.join(results['layouts'])} (pretty = indent 2, as keel-emit and "
                 f"Keel's samples write)")

    artifacts = results.get("artifacts") or []
    if artifacts:
        has_json = any("floor_json" in a for a in artifacts)
        lines.append("")
        lines.append("Artifacts (times in s, sizes and RSS in MiB; target marks on 100k-event v3 rows)")
        header = (f"  {'ver':<3} {'text':<8} {'layout':<7} {'events':>7} {'file':>7} | {'verifier':>8} "
                  f"{'floor':>6} {'ratio':>6} {'':<4}"
                  + (f" | {'json-fl':>7}" if has_json else "")
                  + f" | {'v.RSS':>7} {'f.RSS':>7} {'v.RSS/file':>10} {'f.RSS/file':>10} {'':<4}")
        lines.append(header)
        lines.append("  " + "-" * (len(header) - 2))
        for a in artifacts:
            case = a["case"]
            target = case["version"] == 3 and case["events"] == TARGET_EVENTS
            ratio_mark = mark(a["ratio_wall"] <= MAX_FLOOR_RATIO) if target else "-"
            rss_mark = mark(a["verifier_rss_per_file_byte"] <= MAX_RSS_PER_BYTE) if target else "-"
            if a["errors"]:
                ratio_mark = rss_mark = "ERR"
            json_col = ""
            if has_json:
                json_col = (f" | {a['floor_json']['median_wall_s']:7.3f}" if "floor_json" in a
                            else f" | {'':>7}")
            lines.append(
                f"  v{case['version']:<2} {case['text']:<8} {case['layout']:<7} {case['events']:>7} "
                f"{_mib(a['file_bytes'] / 2**20):>7} | {a['verifier']['median_wall_s']:8.3f} "
                f"{a['floor']['median_wall_s']:6.3f} {a['ratio_wall']:5.2f}x {ratio_mark:<4}{json_col} | "
                f"{_mib(a['verifier']['peak_rss_mib']):>7} {_mib(a['floor']['peak_rss_mib']):>7} "
                f"{a['verifier_rss_per_file_byte']:9.2f}x {a['floor_rss_per_file_byte']:9.2f}x {rss_mark:<4}")
        if has_json:
            lines.append("  json-fl: the same floor with the standard library's json only "
                         "(reference, no target)")
        for a in artifacts:
            for error in a["errors"][:3]:
                lines.append(f"  ERROR {a['case']['name']}: {error}")
        floor_phases = [a for a in artifacts if a["floor"].get("report")]
        if floor_phases:
            biggest = max(floor_phases, key=lambda a: a["file_bytes"])
            timings = biggest["floor"]["report"]["timings"]
            lines.append(f"  floor phases on {biggest['case']['name']} (last run, s): "
                         + ", ".join(f"{k.removesuffix('_s')} {v:.3f}" for k, v in timings.items()))

    linearity = results.get("linearity") or []
    if linearity:
        lines.append("")
        lines.append("Linearity (verifier time at the larger size over the smaller)")
        for item in linearity:
            lines.append(
                f"  v{item['version']} {item['text']:<8} {item['layout']:<7} {item['from']:>7} -> "
                f"{item['to']:>7} events: verifier {item['verifier_growth']:5.2f}x (floor "
                f"{item['floor_growth']:5.2f}x), limit {item['limit']:.1f}x  "
                f"{'ERR' if item['ok'] is None else mark(item['ok'])}")

    cold = results.get("cold_start")
    if cold:
        lines.append("")
        lines.append(f"Cold start (median of {cold['runs']} alternating runs each)")
        lines.append(f"  {cold['commands']['keel_verify']}: {cold['keel_verify']['median_wall_s']:.3f} s "
                     f"(peak RSS {_mib(cold['keel_verify']['peak_rss_mib'])} MiB)")
        lines.append(f"  {cold['commands']['import_cryptography_x509']}: "
                     f"{cold['import_cryptography_x509']['median_wall_s']:.3f} s")
        lines.append(f"  ratio {cold['ratio']:.2f}x, limit {MAX_COLD_RATIO:.1f}x  "
                     f"{'ERR' if cold['failures'] else mark(cold['ratio'] <= MAX_COLD_RATIO)}")

    batch = results.get("batch")
    if batch:
        lines.append("")
        lines.append(f"Batch ({batch['files']} small artifacts, {batch.get('distinct_files', '?')} of them "
                     f"distinct, {batch['jobs']} CPUs)")
        one = batch["one_invocation"]
        lines.append(f"  one invocation  {batch['command']}: {one['median_wall_s']:.2f} s "
                     f"(median of {len(one['runs'])})")
        extrapolated = batch["separate_sampled"] < batch["files"]
        how = (f"{batch['separate_sampled']} random files timed, x{batch['separate_extrapolation_factor']:g} "
               "extrapolated" if extrapolated else "all timed")
        lines.append(f"  {batch['files']} separate invocations: {batch['separate_total_s']:.2f} s ({how})")
        failed = batch["failures"]["one_invocation"] or batch["failures"]["separate"]
        lines.append(f"  speedup {batch['speedup']:.1f}x, needed {MIN_BATCH_SPEEDUP:.0f}x  "
                     f"{'ERR' if failed else mark(batch['speedup'] >= MIN_BATCH_SPEEDUP)}")

    emit = results.get("emit")
    if emit and not emit.get("error"):
        lines.append("")
        lines.append("keel-emit serve on loopback (benchmarks/emit_bench.py; load average "
                     f"{emit['load_average']:.1f} at its start)")
        for row in emit.get("ingest") or []:
            runs = row.get("runs_events_per_s") or []
            spread = (f", median of {', '.join(f'{run:,}' for run in runs)}" if len(runs) > 1
                      else "")
            lines.append(f"  ingest {row['clients']} client(s): {row['events_per_s']:,} events/s at "
                         f"100 atoms per request{spread} (p50 {row['p50_ms']} ms a request; "
                         f"server CPU {row['server_cpu_us_per_event']} us per event)")
        floor = emit.get("ingest_floor")
        if floor:
            lines.append(f"  ingest floor: plain SQLite with the same rows, {floor['events_per_s']:,}"
                         f" events/s ({floor['cpu_us_per_event']} us CPU per event)")
        end = emit.get("end")
        if end:
            lines.append(f"  end of {end['events']:,} events: {end['end_s']:.2f} s, floor "
                         f"{end['floor_s']:.2f} s, {end['ratio']:.2f}x ({end['answer_mib']} MiB "
                         "answer)")

    memory = results.get("memory") or []
    if memory:
        lines.append("")
        lines.append("Memory (one run each; limit = "
                     f"{MEMORY_FACTOR} x file + {MEMORY_EXTRA_MIB} MiB)")
        for m in memory:
            lines.append(f"  {m['case']['name']}: file {m['file_bytes'] / 2**20:.0f} MiB, verifier "
                         f"{m['verifier_peak_mib']:.0f} MiB ({m['verifier']['wall_s']:.1f} s), floor "
                         f"{m['floor_peak_mib']:.0f} MiB ({m['floor']['wall_s']:.1f} s), limit "
                         f"{m['limit_mib']:.0f} MiB  "
                         f"{'ERR' if m['errors'] else mark(m['verifier_peak_mib'] <= m['limit_mib'])}")
    extra = [a for a in artifacts if "ratio_reference" in a or "ratio_one_core" in a]
    if extra:
        lines.append("")
        lines.append("Reference verifier and one core (100k events)")
        for a in extra:
            parts = []
            if "ratio_reference" in a:
                parts.append(f"reference {a['reference']['median_wall_s']:.2f} s "
                             f"(peak {a['reference']['peak_rss_mib']:.0f} MiB), ours "
                             f"{a['ratio_reference']:.2f}x")
            if "ratio_one_core" in a:
                parts.append(f"one core: verifier {a['verifier_one_core']['median_wall_s']:.2f} s, "
                             f"floor {a['floor_one_core']['median_wall_s']:.2f} s, "
                             f"{a['ratio_one_core']:.2f}x")
            lines.append(f"  {a['case']['name']}: " + "; ".join(parts))
    if batch and "ratio_floor" in batch:
        lines.append("")
        lines.append(f"Batch against the floor: {batch['floor_command']}: "
                     f"{batch['floor']['median_wall_s']:.2f} s; one invocation "
                     f"{batch['ratio_floor']:.2f}x")

    lines.append("")
    lines.append("Goals (speed and memory, second round)")
    for goal in results.get("goals") or []:
        lines.append(f"  {goal['status']:<4} {goal['what']}: {goal['measured']}")

    lines.append("")
    lines.append("Targets (first round)")
    for target in results["targets"]:
        lines.append(f"  {target['status']:<4} {target['what']}: {target['measured']}")
    lines.append("")
    lines.append(f"results: {results['results_file']}")
    return "\n".join(lines)


def linearity(artifacts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Growth between the two largest sizes measured for each (version, text, layout);
    not judged (``ok`` None) when a run at either size failed."""
    groups: dict[tuple[int, str, str], list[dict[str, Any]]] = {}
    for a in artifacts:
        c = a["case"]
        groups.setdefault((c["version"], c["text"], c["layout"]), []).append(a)
    out = []
    for (version, text, layout), items in groups.items():
        items = sorted(items, key=lambda a: a["case"]["events"])
        if len(items) < 2:
            continue
        small, large = items[-2], items[-1]
        factor = large["case"]["events"] / small["case"]["events"]
        limit = MAX_GROWTH_PER_10X * factor / 10  # 12x per 10x events: 20% above linear
        growth = large["verifier"]["median_wall_s"] / small["verifier"]["median_wall_s"]
        out.append({
            "version": version, "text": text, "layout": layout,
            "from": small["case"]["events"], "to": large["case"]["events"],
            "verifier_growth": growth,
            "floor_growth": large["floor"]["median_wall_s"] / small["floor"]["median_wall_s"],
            "limit": limit,
            "ok": None if small["errors"] or large["errors"] else growth <= limit,
        })
    return out


def targets(results: dict[str, Any]) -> list[dict[str, str]]:
    out: list[dict[str, str]] = []
    artifacts = [a for a in results.get("artifacts") or [] if a["case"]["version"] == 3]
    largest = max((a["case"]["events"] for a in artifacts), default=0)
    at = [a for a in artifacts if a["case"]["events"] == largest]
    caveat = "" if largest == TARGET_EVENTS else f" [measured at {largest} events, not {TARGET_EVENTS}]"

    def add(ok: bool | None, what: str, measured: str) -> None:
        out.append({"status": "n/a" if ok is None else mark(ok), "what": what, "measured": measured})

    if at:
        worst = max(at, key=lambda a: a["ratio_wall"])
        failed = any(a["errors"] for a in at)
        add(None if failed else all(a["ratio_wall"] <= MAX_FLOOR_RATIO for a in at),
            f"v3 wall time <= {MAX_FLOOR_RATIO}x the floor{caveat}",
            f"worst {worst['ratio_wall']:.2f}x ({worst['case']['name']})")
        worst = max(at, key=lambda a: a["verifier_rss_per_file_byte"])
        add(None if failed else all(a["verifier_rss_per_file_byte"] <= MAX_RSS_PER_BYTE for a in at),
            f"v3 peak memory <= {MAX_RSS_PER_BYTE}x the file size{caveat}",
            f"worst {worst['verifier_rss_per_file_byte']:.2f}x ({worst['case']['name']}); floor "
            f"program {worst['floor_rss_per_file_byte']:.2f}x")
    else:
        add(None, "v3 wall time and memory against the floor", "no v3 artifact measured")
    lin = results.get("linearity") or []
    if lin:
        worst_lin = max(lin, key=lambda x: x["verifier_growth"] / x["limit"])
        span = f"{worst_lin['from']} -> {worst_lin['to']}"
        judged = None if any(x["ok"] is None for x in lin) else all(x["ok"] for x in lin)
        add(judged, f"linear growth ({MAX_GROWTH_PER_10X:.0f}x per 10x events)",
            f"worst {worst_lin['verifier_growth']:.2f}x for {span} events, limit {worst_lin['limit']:.1f}x "
            f"(v{worst_lin['version']} {worst_lin['text']} {worst_lin['layout']})")
    else:
        add(None, "linear growth", "needs two sizes")
    cold = results.get("cold_start")
    if cold:
        add(None if cold["failures"] else cold["ratio"] <= MAX_COLD_RATIO,
            f"cold start <= {MAX_COLD_RATIO:.0f}x `python -c \"import cryptography.x509\"`",
            f"{cold['ratio']:.2f}x")
    batch = results.get("batch")
    if batch:
        failed = bool(batch["failures"]["one_invocation"] or batch["failures"]["separate"])
        note = "" if batch["files"] >= 1000 else f" [{batch['files']} files, not 1000]"
        add(None if failed else batch["speedup"] >= MIN_BATCH_SPEEDUP,
            f"batch >= {MIN_BATCH_SPEEDUP:.0f}x faster than separate invocations{note}",
            f"{batch['speedup']:.1f}x")
    return out


# -- main -----------------------------------------------------------------------------------


def _ints(text: str) -> list[int]:
    return [int(part.replace("_", "").replace("k", "000")) for part in text.split(",") if part]


def _words(text: str) -> list[str]:
    return [part for part in text.split(",") if part]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Benchmark keel-verify against the floor; run from anywhere.")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: sizes 1k,10k, 1 repeat, 50-file batch, 3 cold-start runs")
    parser.add_argument("--repeats", type=int, help="alternating runs per figure (default 3; quick 1)")
    parser.add_argument("--out", type=Path, default=HERE / "out",
                        help="cache and results (default benchmarks/out)")
    parser.add_argument("--sizes", help="events per artifact, e.g. 1000,10000,100000 or 1k,10k,100k")
    parser.add_argument("--versions", default="3,1", help="schema versions (default 3,1)")
    parser.add_argument("--texts", default="ascii,nonascii",
                        help="filler text kinds (default ascii,nonascii)")
    parser.add_argument("--layouts", default="pretty", help="pretty (indent 2, default) and/or compact")
    parser.add_argument("--batch", type=int, help="small artifacts in the batch (default 1000; quick 50)")
    parser.add_argument("--batch-sample", type=int,
                        help="separate invocations actually timed, then extrapolated "
                             "(default 100; quick: all)")
    parser.add_argument("--batch-distinct", type=int,
                        help="distinct small artifacts generated; the rest are copies (default: "
                             "every file its own session and token)")
    parser.add_argument("--cold-runs", type=int, help="cold-start runs of each command (default 10; quick 3)")
    parser.add_argument("--only", default="artifacts,cold,batch,memory,emit",
                        help="which parts to run (default artifacts,cold,batch,memory,emit)")
    parser.add_argument("--reference",
                        help="the reference verifier's executable (default: "
                             f"{', '.join(REFERENCE_CANDIDATES)} if present; 'none' skips it)")
    parser.add_argument("--memory-gib", type=float,
                        help="size of the memory-only artifacts (default 1; quick: skipped)")
    parser.add_argument("--no-stdlib-floor", action="store_true",
                        help="skip the reference floor that uses the standard library's json only")
    parser.add_argument("--regenerate", action="store_true", help="ignore the artifact cache")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per measured command")
    args = parser.parse_args(argv)
    quick = args.quick
    args.sizes = _ints(args.sizes or ("1000,10000" if quick else "1000,10000,100000"))
    args.versions = [int(v) for v in _words(args.versions)]
    args.texts = _words(args.texts)
    args.layouts = _words(args.layouts)
    args.only = set(_words(args.only))
    args.repeats = args.repeats or (1 if quick else 3)
    args.batch = args.batch or (50 if quick else 1000)
    args.batch_sample = min(args.batch_sample or (args.batch if quick else 100), args.batch)
    args.cold_runs = args.cold_runs or (3 if quick else 10)
    if args.quick and args.memory_gib is None:
        args.only.discard("memory")
    args.memory_gib = args.memory_gib or 1.0
    unknown = args.only - {"artifacts", "cold", "batch", "memory", "emit"}
    if unknown:
        parser.error(f"--only: unknown part(s) {sorted(unknown)}")
    if not set(args.versions) <= {1, 3}:
        parser.error("--versions: 1 and/or 3")
    if not set(args.texts) <= {"ascii", "nonascii"}:
        parser.error("--texts: ascii and/or nonascii")
    if not set(args.layouts) <= {"pretty", "compact"}:
        parser.error("--layouts: pretty and/or compact")
    if args.repeats < 1 or args.batch < 1 or args.cold_runs < 1 or args.batch_sample < 1:
        parser.error("counts must be at least 1")
    return args


def _span(before: str, after: str) -> str:
    """The verifier source a measurement ran on: one fingerprint, or "a->b" if it changed."""
    return before if before == after else f"{before}->{after}"


def cases(args: argparse.Namespace) -> Iterable[Case]:
    for events in sorted(args.sizes):
        for layout in args.layouts:
            for version in args.versions:
                for text in args.texts:
                    yield Case(version, text, events, layout)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    began = time.perf_counter()
    busy_at_start, own_at_start = machine_busy_s(), own_cpu_s()
    started_at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    out: Path = args.out.resolve()
    logs = out / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    kv, kv_shown = keel_verify_command()
    if importlib.util.find_spec("keel_verify") is None:
        print("benchmarks/run.py: keel_verify is not importable: run `pip install -e .` first",
              file=sys.stderr)
        return 2

    fingerprint = emitter_fingerprint()
    cache_parent = out / "artifacts"
    _drop_stale(cache_parent, fingerprint)
    cache = cache_parent / fingerprint
    cache.mkdir(parents=True, exist_ok=True)

    results: dict[str, Any] = {
        "issue": 6, "started_at": started_at, "quick": args.quick, "repeats": args.repeats,
        "layouts": args.layouts, "machine": machine(), "verifier_command": kv_shown,
        "emitter_fingerprint": fingerprint, "generation_s": {},
        "verifier_fingerprint": verifier_fingerprint(),
        "load_average_at_start": load_average(),
        "python_dont_write_bytecode_was_set": "PYTHONDONTWRITEBYTECODE" in os.environ,
    }
    progress(f"keel-verify: {kv_shown}; cache {cache}")
    # The reference floor with the standard library only says something only when the
    # floor itself uses a faster tool.
    stdlib_floor = not args.no_stdlib_floor and any(
        importlib.util.find_spec(name) is not None for name in ("msgspec", "orjson"))
    reference = reference_command(args.reference)
    results["reference_command"] = " ".join(reference) if reference else None
    one_core = shutil.which("taskset") is not None
    try:
        warm_up(kv, logs, args.timeout)
        if "artifacts" in args.only:
            artifacts = []
            todo = list(cases(args))
            for number, case in enumerate(todo, 1):
                path, generated = ensure_artifact(case, cache, args.regenerate)
                if generated is not None:
                    results["generation_s"][case.name] = generated
                progress(f"[{number}/{len(todo)}] {case.name} ({path.stat().st_size / 2**20:.1f} MiB)")
                before = verifier_fingerprint()
                target = case.events == TARGET_EVENTS
                item = bench_artifact(path, case, kv, args.repeats, stdlib_floor, logs, args.timeout,
                                      reference=reference if target else None,
                                      one_core=target and case.version == 3 and one_core)
                artifacts.append(item | {"verifier_source": _span(before, verifier_fingerprint())})
            results["artifacts"] = artifacts
            results["linearity"] = linearity(artifacts)
            reports = [a["floor"]["report"] for a in artifacts if a["floor"].get("report")]
            if reports:
                results["floor_tools"] = ", ".join(f"{k}: {v}" for k, v in reports[0]["tools"].items())
        if "cold" in args.only:
            progress(f"cold start: {args.cold_runs} runs each ...")
            before = verifier_fingerprint()
            cold = bench_cold(kv, args.cold_runs, logs, args.timeout)
            results["cold_start"] = cold | {"runs": args.cold_runs,
                                            "verifier_source": _span(before, verifier_fingerprint())}
        if "batch" in args.only:
            directory, generated = ensure_batch(args.batch, args.batch_distinct, cache, args.regenerate)
            if generated is not None:
                results["generation_s"]["batch"] = generated
            progress(f"batch: {args.batch} files ...")
            before = verifier_fingerprint()
            batch = bench_batch(directory, kv, args.repeats, args.batch_sample, logs, args.timeout)
            results["batch"] = batch | {"verifier_source": _span(before, verifier_fingerprint())}
        if "emit" in args.only:
            progress("emit: keel-emit serve on loopback (ingest, end) ...")
            results["emit"] = bench_emit(args.quick)
        if "memory" in args.only:
            memory_cache = out / "memory-artifacts"
            memory_cache.mkdir(parents=True, exist_ok=True)
            results["memory"] = bench_memory(args.memory_gib, args.versions, kv, memory_cache,
                                             args.regenerate, logs, args.timeout)
    except (HarnessError, subprocess.CalledProcessError) as error:
        print(f"benchmarks/run.py: {error}", file=sys.stderr)
        return 2

    results["verifier_fingerprint_at_end"] = verifier_fingerprint()
    results["load_average_at_end"] = load_average()
    busy_at_end = machine_busy_s()
    if busy_at_start is not None and busy_at_end is not None:
        ours = own_cpu_s() - own_at_start
        results["other_processes_cpu_s"] = max(0.0, busy_at_end - busy_at_start - ours)
    results["targets"] = targets(results)
    results["goals"] = goals(results)
    results["elapsed_s"] = time.perf_counter() - began
    stamp = started_at.replace(":", "").replace("-", "")
    results_file = out / f"results-{stamp}{'-quick' if args.quick else ''}.json"
    results["results_file"] = os.path.relpath(results_file, Path.cwd())
    text = json.dumps(results, indent=2, sort_keys=True) + "\n"
    results_file.write_text(text)
    (out / "results.json").write_text(text)
    print(render(results))
    errors = any(a["errors"] for a in [*(results.get("artifacts") or []), *(results.get("memory") or [])])
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
