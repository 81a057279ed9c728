"""Verifying many inputs: in this process or in a pool of worker processes, reports
always in input order."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from keel_verify.results import Report
from keel_verify.trust.policy import TrustPolicy
from keel_verify.trust.sources import TrustSpec, build_policy

_WORKER_POLICY: TrustPolicy | None = None


def _init_worker(spec: TrustSpec) -> None:
    global _WORKER_POLICY
    _WORKER_POLICY = build_policy(spec)


def _verify_in_worker(path: str) -> Report:
    from keel_verify.verifier import verify_path

    return verify_path(path, _WORKER_POLICY)


def verify_all(paths: Sequence[str], spec: TrustSpec, policy: TrustPolicy, jobs: int) -> Iterator[Report]:
    """Reports in input order; parallel processes when there are several files."""
    from keel_verify.verifier import verify_path

    workers = min(jobs, len(paths))
    if workers <= 1 or "-" in paths:
        for path in paths:
            yield verify_path(path, policy)
        return
    from concurrent.futures import ProcessPoolExecutor  # only for several files

    chunk = max(1, min(64, len(paths) // (workers * 8)))
    with ProcessPoolExecutor(workers, initializer=_init_worker, initargs=(spec,)) as pool:
        yield from pool.map(_verify_in_worker, paths, chunksize=chunk)
