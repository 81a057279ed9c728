"""Verifying many inputs: in this process or in a pool of worker processes, reports
always in input order, yielded as they are ready.

At most a bounded window of chunks is in flight at a time, so a batch of any size never
holds more than a few hundred reports in memory (``--format jsonl`` over a million files
streams).

What a worker sends back is what ``finish`` makes of each report (by default the report
itself): a caller that needs only rendered output has the workers render it, so the
parent neither unpickles whole reports nor renders them while the workers verify.

The trust policy is read and parsed once, by the caller, and handed to the workers as a
value: a worker never opens a trust file again (``--trust-root <(...)`` can be read only
once). When worker processes cannot be used (no usable ``/dev/shm``, no ``fork``, a
sandbox without semaphores) the run continues in this process and says so on stderr.
"""

from __future__ import annotations

import contextlib
import copyreg
import dataclasses
import os
import signal
import sys
import threading
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from itertools import islice
from typing import TYPE_CHECKING, Any, TypeVar

from keel_verify.inputs import Input
from keel_verify.results import Report, Verdict, display_path
from keel_verify.signals import GROUP_SIGNALS, TERMINATING_SIGNALS, raise_if_received
from keel_verify.trust.policy import TrustPolicy

if TYPE_CHECKING:  # the pool's module is imported only when a pool is made
    from concurrent.futures import Executor, Future

Item = TypeVar("Item")
Result = TypeVar("Result")
Finished = TypeVar("Finished")


#: Most files a worker is sent at a time. Small, because the batch ends when the last
#: chunk does: a worker left alone with a chunk of 64 small files kept the other core idle
#: for about a tenth of a second; a chunk costs only a few pickled paths and pieces.
MAX_CHUNK = 16


def _as_is(report: Report) -> Report:
    return report


_WORKER_POLICY: TrustPolicy | None = None
_WORKER_FINISH: Callable[[Report], Any] = _as_is


#: prctl(2) option: the signal the kernel sends this process when its parent dies.
PR_SET_PDEATHSIG = 1


def _end_with_parent(parent: int) -> None:
    """On Linux, have the kernel kill this worker when the process that started it dies,
    even by SIGKILL (prctl ``PR_SET_PDEATHSIG``): a worker never outlives its run, waiting
    for work that will not come. ``parent`` is that process's id, to catch a parent that
    died before the request was made. Elsewhere, nothing. (To the kernel the parent is the
    thread that started the worker: the one reading the batch's results, alive until the
    batch ends.)"""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    if os.getppid() != parent:
        os._exit(1)


def _init_worker(policy: TrustPolicy, finish: Callable[[Report], Any], parent: int) -> None:
    global _WORKER_POLICY, _WORKER_FINISH
    _WORKER_POLICY, _WORKER_FINISH = policy, finish
    _end_with_parent(parent)
    # The parent's handlers, inherited, would unwind a worker into a pipe that nobody
    # reads any more: SIGTERM ends it at once; the group's signals are the parent's to act on.
    for number in TERMINATING_SIGNALS:
        ignored = number in GROUP_SIGNALS or signal.getsignal(number) is signal.SIG_IGN
        signal.signal(number, signal.SIG_IGN if ignored else signal.SIG_DFL)


def _verify_chunk_in_worker(paths: list[str]) -> list[Any]:
    from keel_verify.verifier import verify_path

    return [_WORKER_FINISH(verify_path(path, _WORKER_POLICY)) for path in paths]


#: Longest wait, in seconds, for a stopped pool's workers to finish the files in hand,
#: and again for its thread once they are killed.
STOP_WAIT_SECONDS = 2.0

#: Pool threads that did not end when their pool was stopped (see :func:`_stop`).
_WEDGED: list[threading.Thread] = []


def _stop(pool: Any) -> None:
    """Stop ``pool`` early: queued work cancelled, the workers left ``STOP_WAIT_SECONDS`` to
    finish the files in hand and leave, then killed, and its manager thread waited for as
    long again.

    Killing a worker can cut a result it is sending; that thread then waits for the rest
    for ever, and the interpreter's exit would wait for the thread (and, once it ends,
    race its closing of the pool's wake-up pipe: an ``OSError: [Errno 9]`` traceback
    after our last line). A thread still running is kept in :func:`wedged_pool_threads`,
    for the command to end with ``os._exit``."""
    processes = _workers(pool)
    manager = getattr(pool, "_executor_manager_thread", None)
    pool.shutdown(wait=False, cancel_futures=True)
    if manager is None:
        return
    manager.join(STOP_WAIT_SECONDS)
    if manager.is_alive():
        for process in processes:
            with contextlib.suppress(Exception):
                process.kill()
        manager.join(STOP_WAIT_SECONDS)
    if manager.is_alive():
        _WEDGED.append(manager)


def wedged_pool_threads() -> bool:
    """True when a stopped pool's thread is still running: this process cannot end with
    ``sys.exit`` (the interpreter would wait for that thread for ever), only ``os._exit``."""
    return any(thread.is_alive() for thread in _WEDGED)


#: How often, in seconds, a result awaited from the pool checks that no worker has died.
WATCH_SECONDS = 1.0


def _never_lost() -> bool:
    return False


def ordered_window(pool: Executor, work: Callable[[list[Item]], list[Result]], items: Iterable[Item],
                   chunk: int, window: int, lost: Callable[[], bool] = _never_lost
                   ) -> Iterator[Result]:
    """``work`` over ``items`` in chunks on ``pool``, results in input order, with at most
    ``window`` chunks submitted and not yet yielded (memory stays bounded; ``Executor.map``
    would submit everything at once). The first window is submitted before this returns,
    so a pool that cannot start fails here, not at the first result.

    ``lost()`` is asked every ``WATCH_SECONDS`` while a result is awaited; True (a worker
    died) raises ``concurrent.futures.BrokenExecutor``. A process pool notices a dead
    worker itself, except one killed while sending its result: the pool's thread then
    waits for the rest of that message for ever, and so would this."""
    from concurrent.futures import BrokenExecutor

    def result_of(future: Future[list[Result]]) -> list[Result]:
        while True:
            try:
                return future.result(timeout=WATCH_SECONDS)
            except TimeoutError:
                if lost():
                    raise BrokenExecutor("a worker process ended while its result was "
                                         "awaited") from None

    source = iter(items)
    pending: deque[Future[list[Result]]] = deque()

    def fill() -> None:
        while len(pending) < window:
            part = list(islice(source, chunk))
            if not part:
                return
            pending.append(pool.submit(work, part))

    def results() -> Iterator[Result]:
        while pending:
            done = pending.popleft()
            fill()  # keep the workers busy while this chunk's reports are consumed
            yield from result_of(done)

    fill()
    return results()


def _from_der(kind: str, der: bytes) -> Any:
    from cryptography import x509

    if kind == "crl":
        return x509.load_der_x509_crl(der)
    return x509.load_der_x509_certificate(der)


def _reduce(value: Any) -> tuple[Callable[[str, bytes], Any], tuple[str, bytes]]:
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    kind = "crl" if isinstance(value, x509.CertificateRevocationList) else "certificate"
    return _from_der, (kind, value.public_bytes(Encoding.DER))


def make_picklable(policy: TrustPolicy) -> None:
    """Teach :mod:`pickle` to carry the ``cryptography`` certificates and CRLs found in
    ``policy`` (TSA roots, helper certificates, revocation snapshots) as their DER bytes,
    so that a parsed :class:`TrustPolicy` travels to worker processes whatever their start
    method. Other members are plain data and pickle as they are."""
    from cryptography import x509

    pending: list[Any] = [policy]
    while pending:
        value = pending.pop()
        if isinstance(value, (x509.Certificate, x509.CertificateRevocationList)):
            copyreg.pickle(type(value), _reduce)
        elif dataclasses.is_dataclass(value) and not isinstance(value, type):
            pending.extend(getattr(value, f.name) for f in dataclasses.fields(value))
        elif isinstance(value, (tuple, list)):
            pending.extend(value)


def _error_report(item: Input) -> Report:
    # The path as shown, as verify_path shows it: a folder row's name may hold bytes that
    # are not UTF-8 (they broke the HTML report) or a line end.
    return Report(path=display_path(item.path), input_sha256=None, verdict=Verdict.ERROR,
                  error=item.error)


def verify_all(
    inputs: Sequence[Input],
    policy: TrustPolicy,
    jobs: int,
    warn: Callable[[str], None] = lambda line: print(line, file=sys.stderr),
) -> Generator[Report, None, None]:
    """Reports in input order; parallel processes when there are several files.

    ``warn`` receives one line when worker processes are unusable and the run falls back
    to this process (the reports are the same; only slower). Read to its end, the worker
    processes are shut down in order; closed before it (or ended by an exception), they
    are stopped within about twice ``STOP_WAIT_SECONDS`` (see :func:`wedged_pool_threads`
    for the one case a program must then end with ``os._exit``)."""
    return finish_all(inputs, policy, jobs, _as_is, warn)


def finish_all(
    inputs: Sequence[Input],
    policy: TrustPolicy,
    jobs: int,
    finish: Callable[[Report], Finished],
    warn: Callable[[str], None] = lambda line: print(line, file=sys.stderr),
) -> Generator[Finished, None, None]:
    """``finish(report)`` of every input's report, in input order: in worker processes
    next to the verification when there are several files (``finish`` must then be
    picklable, and its results too), else here. ``warn`` as for :func:`verify_all`."""
    from keel_verify.verifier import verify_path

    paths = [item.path for item in inputs if item.error is None]
    workers = min(jobs, len(paths))
    verified: Iterator[Finished] | None = None
    if workers > 1 and "-" not in paths:
        verified = _pool_results(paths, policy, finish, workers, warn)
    if verified is None:
        verified = (finish(verify_path(path, policy)) for path in paths)
    for item in inputs:
        raise_if_received()  # a signal whose exception Python lost stops the batch here
        yield finish(_error_report(item)) if item.error is not None else next(verified)
    # Run the results to their end: closed before it, the pool's generator would take the
    # batch for one that ended early and stop its workers rather than shut them down.
    for _ in verified:
        pass


def _pool_results(
    paths: list[str], policy: TrustPolicy, finish: Callable[[Report], Finished], workers: int,
    warn: Callable[[str], None],
) -> Iterator[Finished] | None:
    """Results from a process pool, or None (after one ``warn`` line) if no pool can be
    made. Started eagerly so that a failure to start is seen here."""
    try:
        from concurrent.futures import ProcessPoolExecutor

        make_picklable(policy)
        chunk = max(1, min(MAX_CHUNK, len(paths) // (workers * 8)))
        pool = ProcessPoolExecutor(workers, initializer=_init_worker,
                                   initargs=(policy, finish, os.getpid()))
        results: Iterator[Finished] = ordered_window(
            pool, _verify_chunk_in_worker, paths, chunk, workers * 4, lambda: _lost_worker(pool))
    except (OSError, ImportError, NotImplementedError) as error:
        reason = getattr(error, "strerror", None) or type(error).__name__
        warn(f"keel-verify: note: worker processes unavailable ({reason}); verifying in one process")
        return None
    return _drain(pool, results, paths, policy, finish, warn)


def _workers(pool: Any) -> list[Any]:
    """``pool``'s worker processes (``_processes``: CPython's ProcessPoolExecutor keeps
    them there; none once it is shut down, or for another kind of pool)."""
    return list((getattr(pool, "_processes", None) or {}).values())


def _lost_worker(pool: Any) -> bool:
    """Whether a worker process of ``pool`` has ended (a pool's workers live until it is
    shut down)."""
    return any(process.exitcode is not None for process in _workers(pool))


def _drain(
    pool: Any,
    results: Iterator[Finished],
    paths: list[str],
    policy: TrustPolicy,
    finish: Callable[[Report], Finished],
    warn: Callable[[str], None],
) -> Iterator[Finished]:
    """The pool's results; if the pool breaks (a worker killed), the rest in this process."""
    from concurrent.futures import BrokenExecutor

    from keel_verify.verifier import verify_path

    done = 0
    try:
        for result in results:
            done += 1
            yield result
    except (BrokenExecutor, OSError) as error:
        _stop(pool)  # bounded: a worker killed mid-send leaves the pool's thread stuck
        warn(f"keel-verify: note: worker processes failed ({type(error).__name__}); "
             "verifying the rest in one process")
    except BaseException:
        # Ended early (Ctrl-C, SIGTERM, an error or a reader that stopped asking): the
        # workers may be blocked writing results nobody reads, so waiting for them could
        # hang; they are stopped instead.
        _stop(pool)
        raise
    else:
        pool.shutdown(wait=True)
    for path in paths[done:]:
        yield finish(verify_path(path, policy))
