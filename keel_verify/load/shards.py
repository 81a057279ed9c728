"""The chain pass shared with a worker process, by chunks of entries.

A forked worker does whole chunks -- decode, schema, hashes, canonical bytes, every
check's visitor -- for the chunks it owns (a fixed pattern over the chunk numbers),
while this process does the others; this process takes each worker chunk's canonical
bytes and visitor results back in chain order, so the message streams into its digests
in order and nothing is held but a chunk in flight. The worker shares the input bytes
copy-on-write and never decodes what this process decodes.

Exactness. A visitor's result for a chunk depends on the chunk and on the state it
carries in from the chunk before (:meth:`ShardableVisitor.carried`). The worker cannot
know that state, so it *seeds* fresh visitors from the entry just before the chunk, as
that state would be after a sound chain (:meth:`ShardableVisitor.seed`). This process
accepts a worker result only for visitors whose real carried state equals the seed --
then the result is the one a sequential pass computes -- and does the chunk again itself
for any other visitor. A chunk the worker could not do is done here from scratch, so a
worker failure changes nothing but the time.

Stopping. This process alone decides, at each chunk boundary, which visitors stop being
fed (:meth:`keel_verify.load.chainpass.EntriesPass.stopping_before`), and from then on it
takes nothing of theirs from the worker. It also raises a flag per stopped visitor in a
page shared with the worker (an anonymous shared mapping made before the fork), so that
the worker stops visiting for it too; for such a visitor the worker sends a seed that
equals nothing (:data:`UNSEEDED`), so even a flag read wrongly could only make this
process do that visitor's chunk itself.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import pickle
import signal
import struct
from typing import TYPE_CHECKING, Any, BinaryIO, Protocol

from keel_verify.load.chainpass import Chunk, EntryVisitor
from keel_verify.load.loader import LazyEntries

if TYPE_CHECKING:
    from keel_verify.load.chainpass import EntriesPass

#: Below this many entries a worker costs more than it saves.
MIN_ENTRIES = 8192
#: Nor does it save anything when entries are this small on average (input bytes per
#: entry): the work per entry is then less than what sharing it costs (the worker's and
#: this process's copies of the pages that hold millions of small objects, the results
#: sent back per chunk). A sound entry is several times larger (two hashes alone take
#: 150 bytes); a chain of ``{}`` is 3 bytes an entry.
MIN_ENTRY_BYTES = 64
#: Of every CYCLE chunks, the worker does those whose number modulo CYCLE is at least
#: HERE_PER_CYCLE (this process also feeds the digests, so it takes fewer).
CYCLE = 5
HERE_PER_CYCLE = 2
#: Pipe capacity asked for: a chunk's bytes in flight without blocking the worker.
PIPE_BYTES = 1 << 20

_HEADER = struct.Struct("<BQQ")  # status, bytes of the piece, bytes of the pickled results
# _LEFT: a chunk this process does at less cost than taking its results (see _left_here).
_DONE, _FAILED, _LEFT = 0, 1, 2


class ShardableVisitor(EntryVisitor, Protocol):
    """A visitor whose chunks can be done in another process (see the module docstring)."""

    def carried(self) -> object:
        """The state a chunk's results depend on (compared with ``==``); accumulated
        findings are not part of it."""
        ...

    def seed(self, previous: Any) -> None:
        """On a fresh visitor: the carried state after the entry ``previous``, as a
        sound chain would leave it."""
        ...

    def absorb(self, later: Any) -> None:
        """Take in the visitor (of this class) that did the next chunk from this one's
        carried state: its findings after ours, its carried state from now on."""
        ...

    # Optional: ``prime(earlier)`` gives a fresh visitor in the worker what the worker's
    # previous chunk's visitor knew; it may only save work, never change a result.


def usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _shardable(visitors: Any) -> bool:
    return all(
        callable(getattr(v, name, None)) for v in visitors for name in ("carried", "seed", "absorb")
    )


def start_worker(entries: EntriesPass) -> Worker | None:
    """A worker for this pass, or None when the pass is better done here alone: the
    exact path, a short chain, small entries, one usable CPU, no fork, a visitor that
    cannot shard."""
    chain = entries.artifact.chain
    if (chain is None or chain.raw_items is None or len(chain) < MIN_ENTRIES
            or len(chain) <= entries.chunk_entries
            or entries.artifact.size < len(chain) * MIN_ENTRY_BYTES or not hasattr(os, "fork")
            or usable_cpus() < 2 or not _shardable(entries.visitors.values())):
        return None
    try:
        stopped = mmap.mmap(-1, max(1, len(entries.visitors)))  # anonymous, shared on fork
    except OSError:
        return None
    reader, writer = os.pipe()
    with contextlib.suppress(AttributeError, OSError):  # F_SETPIPE_SZ: Linux only
        import fcntl

        fcntl.fcntl(writer, fcntl.F_SETPIPE_SZ, PIPE_BYTES)
    try:
        pid = os.fork()
    except OSError:
        os.close(reader)
        os.close(writer)
        stopped.close()
        return None
    if pid == 0:  # the worker: do its chunks, report them, and leave without running anything else
        status = 1
        try:
            os.close(reader)
            with os.fdopen(writer, "wb", buffering=PIPE_BYTES) as out:
                _work(entries, out, StopFlags(list(entries.visitors), stopped))
            status = 0
        finally:
            os._exit(status)
    os.close(writer)
    return Worker(entries, pid, os.fdopen(reader, "rb", buffering=PIPE_BYTES),
                  StopFlags(list(entries.visitors), stopped))


class StopFlags:
    """One byte per visitor in a page shared by this process and its worker: non-zero
    once this process stopped feeding that visitor."""

    def __init__(self, names: list[str], page: mmap.mmap) -> None:
        self.slots = {name: slot for slot, name in enumerate(names)}
        self.page = page

    def raise_for(self, name: str) -> None:
        self.page[self.slots[name]] = 1

    def raised(self, name: str) -> bool:
        return bool(self.page[self.slots[name]])

    def close(self) -> None:
        with contextlib.suppress(BufferError, OSError):
            self.page.close()


class _Unseeded:
    """The seed sent for a visitor the worker did not run: equal to nothing."""

    def __eq__(self, other: object) -> bool:
        return False

    def __ne__(self, other: object) -> bool:
        return True

    __hash__ = object.__hash__


UNSEEDED = _Unseeded()


def owns(index: int) -> bool:
    """Whether the worker does chunk number ``index``."""
    return index % CYCLE >= HERE_PER_CYCLE


def _work(entries: EntriesPass, out: BinaryIO, stopped: StopFlags) -> None:
    """In the worker: each owned chunk with fresh visitors seeded from the entry before
    (none for a visitor this process has stopped: its seed is :data:`UNSEEDED`)."""
    chain = entries.artifact.chain
    assert chain is not None
    earlier: dict[str, Any] = {}
    for index, first in enumerate(range(0, len(chain), entries.chunk_entries)):
        if not owns(index):
            continue
        try:
            parts = entries.parts(first)  # a chunk over the value limit: by parts, as here
            chunk, piece = next(parts)
            if chunk.first + len(chunk.entries) == min(first + entries.chunk_entries,
                                                       len(chain)) and _left_here(chunk):
                out.write(_HEADER.pack(_LEFT, 0, 0))
                out.flush()
                continue
            visitors = {name: make(entries.artifact) for name, make in entries.factories.items()
                        if not stopped.raised(name)}
            previous = entries.decoded(first - 1, 1).entries[0]
            for name, visitor in visitors.items():
                visitor.seed(previous)  # type: ignore[attr-defined]
                prime = getattr(visitor, "prime", None)
                if prime is not None and name in earlier:
                    prime(earlier[name])  # hints from this worker's earlier chunks
            seeds = {name: visitor.carried() for name, visitor in visitors.items()}  # type: ignore[attr-defined]
            pieces = [piece]
            for visitor in visitors.values():
                visitor.visit(chunk)
            del chunk
            for chunk, piece in parts:  # the rest of a chunk over the value limit
                pieces.append(piece)
                for visitor in visitors.values():
                    visitor.visit(chunk)
                del chunk
            piece = b",".join(pieces) if len(pieces) > 1 else pieces[0]
            results = pickle.dumps((seeds, visitors), protocol=pickle.HIGHEST_PROTOCOL)
            earlier = visitors
        except Exception:  # this process does the chunk itself, and meets the same fault
            out.write(_HEADER.pack(_FAILED, 0, 0))
            out.flush()
            continue
        out.write(_HEADER.pack(_DONE, len(piece), len(results)))
        out.write(piece)
        out.write(results)
        out.flush()


def _left_here(chunk: Chunk) -> bool:
    """Whether the worker leaves ``chunk`` to this process: a chunk of entries proven to
    need no decode (keel_verify.load.loader.LazyEntries), or of one value that is not an
    object repeated (decoded once, and the chunks after it are that chunk moved). Only
    the checks that report entries that are not objects look into such a chunk, until
    each has found enough problems; proving or decoding it again here costs less than
    pickling the worker's visitors and taking them back. A choice of where, never of
    what: this process does a left chunk as any other."""
    return isinstance(chunk.entries, LazyEntries) or (chunk.same and not chunk.object_offsets())


class Worker:
    """This process's side: takes the worker's chunks in order (see :func:`start_worker`)."""

    def __init__(self, entries: EntriesPass, pid: int, incoming: BinaryIO,
                 stopped: StopFlags) -> None:
        self.entries = entries
        self.pid = pid
        self.incoming = incoming
        self.stopped = stopped
        self.broken = False

    @staticmethod
    def owns(index: int) -> bool:
        return owns(index)

    def stop_visitor(self, name: str) -> None:
        """This process feeds ``name`` no more chunks: the worker need not visit for it."""
        self.stopped.raise_for(name)

    def take(self, index: int, first: int) -> None:
        """Chunk number ``index`` (entries from ``first``): the worker's bytes and results,
        or, for what the worker could not do or left to it, this process's own work (only
        for the visitors still fed)."""
        entries = self.entries
        received = None if self.broken else self._receive()
        if received is None:
            entries.here(first)
            return
        piece, seeds, done = received
        entries.out.write(piece)
        again = []
        for name in entries.active():
            visitor = entries.visitors[name]
            if visitor.carried() == seeds.get(name, UNSEEDED):  # type: ignore[attr-defined]
                visitor.absorb(done[name])  # type: ignore[attr-defined]
            else:
                again.append(name)
        if again:  # the chain was not sound just before: a sequential pass's results
            entries.here(first, only=again, write=False)

    def _receive(self) -> tuple[bytes, dict[str, Any], dict[str, Any]] | None:
        try:
            header = self.incoming.read(_HEADER.size)
            if len(header) != _HEADER.size:
                raise EOFError("the worker stopped")
            status, piece_size, results_size = _HEADER.unpack(header)
            if status != _DONE:
                return None
            piece = self.incoming.read(piece_size)
            results = self.incoming.read(results_size)
            if len(piece) != piece_size or len(results) != results_size:
                raise EOFError("the worker stopped")
            seeds, done = pickle.loads(results)
            return piece, seeds, done
        except (OSError, EOFError, pickle.UnpicklingError):
            self.broken = True  # from here on, every chunk is done in this process
            return None

    def stop(self) -> None:
        """Close the pipe and reap the worker (killed if it is not done: the pass ended
        early, with an error)."""
        with contextlib.suppress(OSError):
            self.incoming.close()
        with contextlib.suppress(OSError):
            finished, _ = os.waitpid(self.pid, os.WNOHANG)
            if finished == 0:
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
        self.stopped.close()
