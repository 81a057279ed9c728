"""Batch throughput (issue: the CI gate past one machine): files per second for

* ``keel-verify --format jsonl --jobs 1 DIR`` and ``--jobs 2`` (one invocation each,
  process start-up included, rows streamed to /dev/null);
* the Ray Data pipeline (``keel_verify.batch.ray_pipeline``) on a local Ray instance,
  with Ray's start-up reported apart from the pipeline's own time.

    python benchmarks/batch_throughput.py                 # 1,000 artifacts, 3 repeats
    python benchmarks/batch_throughput.py --count 200 --repeats 1

Artifacts: ``benchmarks/generate.py batch`` (the demo session, each file its own
session and RFC 3161 token from the one test TSA), all VERIFIED under
``sample/trust-root.json``. Prints a table and writes ``benchmarks/out/batch_throughput.json``.
Figures are medians; the load average of the machine is printed with them (on a shared
machine they are noisy). Needs
``pip install -e '.[ray]'`` for the Ray rows (skipped, saying so, without it).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
TRUST_ROOT = ROOT / "sample" / "trust-root.json"


def ensure_batch(count: int, out: Path) -> Path:
    directory = out / f"throughput-{count}"
    if not directory.is_dir() or len(list(directory.glob("*.json"))) != count:
        shutil.rmtree(directory, ignore_errors=True)
        subprocess.run([sys.executable, str(HERE / "generate.py"), "batch", "--count", str(count),
                        str(directory)], check=True)
    return directory


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def time_cli(directory: Path, jobs: int) -> tuple[float, float]:
    """(wall seconds, CPU seconds of keel-verify and its workers) for one invocation. CPU
    time does not grow with other processes' load, so files per CPU-second is the figure
    that carries to an idle machine."""
    command = [sys.executable, "-m", "keel_verify", "--trust-root", str(TRUST_ROOT), "--format",
               "jsonl", "--jobs", str(jobs), str(directory)]
    cpu = _children_cpu()
    start = time.perf_counter()
    with open(os.devnull, "w", encoding="utf-8") as sink:
        done = subprocess.run(command, stdout=sink, check=False)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"keel-verify exited {done.returncode} on the benchmark batch")
    return wall, _children_cpu() - cpu


def ray_child(directory: str, cpus: int) -> None:
    """Run in a child process: print {"init_s", "run_s"} for one pipeline run."""
    import ray

    from keel_verify.batch import RowMapper
    from keel_verify.batch.ray_pipeline import run_pipeline
    from keel_verify.trust.sources import TrustSpec

    start = time.perf_counter()
    ray.init(num_cpus=cpus, include_dashboard=False, log_to_driver=False)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as out:
        code = run_pipeline([directory], out, RowMapper(TrustSpec((), False, str(TRUST_ROOT), (), False)))
    finished = time.perf_counter()
    ray.shutdown()
    if code != 0:
        raise SystemExit(f"the pipeline's exit code was {code}")
    print(json.dumps({"init_s": started - start, "run_s": finished - started}))


def time_ray(directory: Path, cpus: int) -> dict[str, float] | None:
    done = subprocess.run([sys.executable, __file__, "--ray-child", str(directory), "--cpus", str(cpus)],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        print(f"ray pipeline skipped: {done.stderr.strip().splitlines()[-1:] or done.returncode}")
        return None
    timing: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return timing


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=HERE / "out")
    parser.add_argument("--ray-child", help=argparse.SUPPRESS)
    parser.add_argument("--cpus", type=int, default=2, help="CPUs for the local Ray instance")
    args = parser.parse_args(argv)
    if args.ray_child:
        ray_child(args.ray_child, args.cpus)
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    directory = ensure_batch(args.count, args.out)
    time_cli(directory, 1)  # warm-up: bytecode, file cache
    results: dict[str, Any] = {"files": args.count, "cpus": os.cpu_count(),
                               "load_average_before": os.getloadavg()}
    for jobs in (1, 2):
        runs = [time_cli(directory, jobs) for _ in range(args.repeats)]
        walls, cpus = [w for w, _ in runs], [c for _, c in runs]
        results[f"jobs_{jobs}"] = {"wall_s": walls, "cpu_s": cpus,
                                   "files_per_s": args.count / statistics.median(walls),
                                   "files_per_cpu_s": args.count / statistics.median(cpus)}
    rays = [t for t in (time_ray(directory, args.cpus) for _ in range(args.repeats)) if t]
    if rays:
        run_s = statistics.median(t["run_s"] for t in rays)
        init_s = statistics.median(t["init_s"] for t in rays)
        results["ray"] = {"runs": rays, "files_per_s": args.count / run_s,
                          "files_per_s_with_startup": args.count / (run_s + init_s), "init_s": init_s}
    results["load_average_after"] = os.getloadavg()
    (args.out / "batch_throughput.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    print(f"{args.count} artifacts, {os.cpu_count()} CPUs, load average "
          f"{results['load_average_before'][0]:.1f} before, {results['load_average_after'][0]:.1f} after")
    for jobs in (1, 2):
        row = results[f"jobs_{jobs}"]
        print(f"  keel-verify --jobs {jobs}: {row['files_per_s']:7.1f} files/s "
              f"(median of {len(row['wall_s'])}, start-up included); "
              f"{row['files_per_cpu_s']:.1f} files per CPU-second")
    if rays:
        ray_row = results["ray"]
        print(f"  Ray Data pipeline ({args.cpus} CPUs): {ray_row['files_per_s']:7.1f} files/s "
              f"({ray_row['files_per_s_with_startup']:.1f} with Ray's {ray_row['init_s']:.1f} s start-up)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
