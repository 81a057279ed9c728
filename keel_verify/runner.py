"""Verifying many inputs: in this process or in a pool of worker processes, reports
always in input order, yielded as they are ready.

At most a bounded window of chunks is in flight at a time, so a batch of any size never
holds more than a few hundred reports in memory (``--format jsonl`` over a million files
streams); the inputs are read from their iterable only as the window moves.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Executor, Future
from itertools import islice
from typing import TypeVar

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


def _verify_chunk_in_worker(paths: list[str]) -> list[Report]:
    return [_verify_in_worker(path) for path in paths]


Item = TypeVar("Item")
Result = TypeVar("Result")


def ordered_window(pool: Executor, work: Callable[[list[Item]], list[Result]], items: Iterable[Item],
                   chunk: int, window: int) -> Iterator[Result]:
    """``work`` over ``items`` in chunks on ``pool``, results in input order, with at most
    ``window`` chunks submitted and not yet yielded (memory stays bounded; ``Executor.map``
    would submit everything at once)."""
    source = iter(items)
    pending: deque[Future[list[Result]]] = deque()
    while True:
        while len(pending) < window:
            part = list(islice(source, chunk))
            if not part:
                break
            pending.append(pool.submit(work, part))
        if not pending:
            return
        yield from pending.popleft().result()


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
        yield from ordered_window(pool, _verify_chunk_in_worker, paths, chunk, workers * 4)
