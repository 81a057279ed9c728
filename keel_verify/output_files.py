"""Report files named on the command line (``--output FORMAT=PATH``): opened without
waiting, written whole or not at all, with every failure named.

``PATH`` may be a regular file, a device such as ``/dev/stdout``, or a pipe with a reader
(``>(gzip > out.gz)``, seen as ``/dev/fd/N``). Opening a named FIFO that has no reader
would wait for ever, so such a file is opened with ``O_NONBLOCK``: a FIFO with no reader,
and a socket, then fail at once (ENXIO) and are named as such. A regular file (or one
not there yet) is opened at once but changed only when the whole run has written every
output (:class:`OutputFiles`): an error in any output, or in the run, leaves every file
as it was, never half a report. A write that fails (a full
disk, ``/dev/full``) is a :class:`~keel_verify.errors.ReportWriteError` naming the option
and the file, never a bare OSError. No output may be a file the run reads
(:func:`written_onto_read`).
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import signal
import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import IO, cast

from keel_verify.errors import ReportWriteError
from keel_verify.results import display_path
from keel_verify.signals import TERMINATING_SIGNALS

_CANNOT_OPEN = {stat.S_IFIFO: "a FIFO with no reader", stat.S_IFSOCK: "a socket, not a file or a pipe"}


class OutputOpenError(ReportWriteError):
    """An ``--output`` file that cannot be opened (a usage problem: nothing was written)."""


class NamedOutput(io.TextIOBase):
    """A UTF-8 text file whose write, flush and close failures say which output failed:
    :class:`~keel_verify.errors.ReportWriteError` ``"<label>: cannot write: <why>"``."""

    def __init__(self, inner: IO[str], label: str) -> None:
        super().__init__()
        self.inner = inner
        self.label = label

    def write(self, text: str) -> int:
        try:
            return self.inner.write(text)
        except OSError as error:
            raise self._failed(error) from None

    def flush(self) -> None:
        if self.inner.closed:  # io's own close() flushes once more
            return
        try:
            self.inner.flush()
        except OSError as error:
            raise self._failed(error) from None

    def close(self) -> None:
        if self.closed:
            return
        try:
            self.inner.close()
        except OSError as error:
            raise self._failed(error) from None
        finally:
            super().close()

    def _failed(self, error: OSError) -> ReportWriteError:
        return ReportWriteError(f"{self.label}: cannot write: {error.strerror or error}")


class OutputFiles:
    """The ``--output`` files of one run, as a context manager: :meth:`open` each, write,
    then :meth:`commit`. Each regular file (or new one) is opened at once, so that a path
    that cannot be written is refused before anything is verified, but nothing of it is
    changed until the commit: the report is held meanwhile (in memory, on disk past
    :data:`HELD_IN_MEMORY_BYTES`), then written in place, as ``open(path, "w")`` would
    (the same file: its links, owner and mode kept). Leaving without a commit (an error
    anywhere, Ctrl-C, SIGTERM) leaves every file as it was and removes those it created.
    Pipes and devices are written as the run goes."""

    def __init__(self) -> None:
        self._held: list[_Held] = []
        self._direct: list[NamedOutput] = []
        self._committed = False

    def __enter__(self) -> OutputFiles:
        return self

    def open(self, path: str, label: str) -> IO[str]:
        """``path`` for writing, as described above. OutputOpenError in one line."""
        try:
            mode = os.stat(path).st_mode
        except (OSError, ValueError):
            mode = None  # not there (yet): created, as open() would
        if mode is not None and not stat.S_ISREG(mode):  # a pipe (/dev/fd/N), a device
            direct = cast(NamedOutput, open_output(path, label))
            self._direct.append(direct)
            return cast(IO[str], direct)
        flags = os.O_WRONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOCTTY", 0)
        try:
            try:
                descriptor, created = os.open(path, flags | os.O_CREAT | os.O_EXCL, 0o666), True
            except FileExistsError:
                descriptor, created = os.open(path, flags), False
        except OSError as error:
            raise OutputOpenError(f"{label}: {_why_unopened(path, error)}") from None
        import tempfile  # only a run that writes an --output pays for it

        spool = tempfile.SpooledTemporaryFile(  # noqa: SIM115 - closed by commit() or on exit
            max_size=HELD_IN_MEMORY_BYTES, mode="w+", encoding="utf-8", newline="\n")
        held = _Held(NamedOutput(cast(IO[str], spool), label), descriptor, path, created)
        self._held.append(held)
        return cast(IO[str], held.output)

    def commit(self) -> None:
        """Write every held report into its file, in place. ReportWriteError naming the
        output whose writing failed (that file may then hold part of its report). Ctrl-C,
        SIGTERM and SIGHUP wait until it is done: the run then unwinds with every file whole."""
        with _terminating_signals_held():
            self._write_held()
            self._committed = True  # before a held signal is delivered, on leaving

    def _write_held(self) -> None:
        from shutil import copyfileobj  # only a run that writes an --output pays for it

        for direct in self._direct:
            direct.close()
        for held in self._held:
            spool = held.output.inner
            spool.seek(0)
            try:
                os.ftruncate(held.descriptor, 0)
                with open(held.descriptor, "w", encoding="utf-8", newline="\n",
                          closefd=False) as target:
                    copyfileobj(spool, target, 1 << 20)
            except OSError as error:
                raise ReportWriteError(
                    f"{held.output.label}: cannot write: {error.strerror or error}") from None

    def __exit__(self, *_: object) -> None:
        for direct in self._direct:
            if not direct.closed:
                with contextlib.suppress(OSError, ReportWriteError, ValueError):
                    direct.close()
        for held in self._held:
            with contextlib.suppress(OSError, ReportWriteError, ValueError):
                held.output.close()
            with contextlib.suppress(OSError):
                os.close(held.descriptor)
            if held.created and not self._committed:
                with contextlib.suppress(OSError):
                    os.unlink(held.path)


@contextlib.contextmanager
def _terminating_signals_held() -> Iterator[None]:
    """Ctrl-C, SIGTERM and SIGHUP held back (delivered on leaving) where the platform can."""
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    before = signal.pthread_sigmask(signal.SIG_BLOCK, TERMINATING_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, before)


#: A held report larger than this (bytes of text) waits in a temporary file.
HELD_IN_MEMORY_BYTES = 1 << 24


@dataclass
class _Held:
    output: NamedOutput  # writes to a spooled temporary file
    descriptor: int  # the target, opened for writing, not yet truncated
    path: str
    created: bool  # it did not exist: removed if the run does not commit


def written_onto_read(outputs: Sequence[tuple[str, str]],
                      read: Sequence[tuple[str, str]]) -> str | None:
    """Why a run must not start: an output (``(label, path)``) that is a file the run
    reads (``(what, path)``: an input, a trust or policy file), which writing the report
    would replace; None when there is none. Files are compared by device and inode, so a
    link or another spelling of the same file is found; pipes and devices are not
    compared (writing to ``/dev/stdout`` destroys nothing)."""
    identities: dict[tuple[int, int], str] = {}
    for what, path in read:
        with contextlib.suppress(OSError, ValueError):
            info = os.stat(path)
            if stat.S_ISREG(info.st_mode):
                identities.setdefault((info.st_dev, info.st_ino), what)
    for label, path in outputs:
        with contextlib.suppress(OSError, ValueError):
            info = os.stat(path)
            reader = identities.get((info.st_dev, info.st_ino))
            if reader is not None:
                return f"{label}: is {reader}, which this run reads; it would be overwritten"
    return None


def open_output(path: str, label: str) -> IO[str]:
    """``path`` opened for writing as UTF-8 text with ``\\n`` line ends, created or
    truncated (``label``, e.g. ``--output junit=PATH``, names it in every error). Raises
    :class:`OutputOpenError` in one line when it cannot be opened: a FIFO with no reader
    or a socket (told at once, never waited for), a missing folder, no permission."""
    flags = (os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NONBLOCK", 0)
             | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0))
    try:
        descriptor = os.open(path, flags, 0o666)
    except OSError as error:
        raise OutputOpenError(f"{label}: {_why_unopened(path, error)}") from None
    os.set_blocking(descriptor, True)  # a pipe with a reader is then written as usual
    return cast(IO[str], NamedOutput(open(descriptor, "w", encoding="utf-8", newline="\n"), label))


def _why_unopened(path: str, error: OSError) -> str:
    if error.errno == errno.ENXIO:  # no reader on a FIFO, or a socket: told by its mode
        try:
            kind = _CANNOT_OPEN.get(stat.S_IFMT(os.stat(path).st_mode))
        except OSError:
            kind = None
        if kind is not None:
            return kind
    return f"cannot write: {error.strerror or error}"


def output_label(name: str, path: str) -> str:
    """How an ``--output`` is named in an error line (file names as reports show them)."""
    return f"--output {name}={display_path(path)}"


__all__ = ["NamedOutput", "OutputFiles", "OutputOpenError", "open_output", "output_label",
           "written_onto_read"]
