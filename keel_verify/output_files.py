"""Report files named on the command line (``--output FORMAT=PATH``): opened without
waiting, written with every failure named.

``PATH`` may be a regular file, a device such as ``/dev/stdout``, or a pipe with a reader
(``>(gzip > out.gz)``, seen as ``/dev/fd/N``). Opening a named FIFO that has no reader
would wait for ever, so the file is opened with ``O_NONBLOCK``: a FIFO with no reader,
and a socket, then fail at once (ENXIO) and are named as such. A write that fails later
(a full disk, ``/dev/full``) is a :class:`~keel_verify.errors.ReportWriteError` naming
the option and the file, never a bare OSError.
"""

from __future__ import annotations

import errno
import io
import os
import stat
from typing import IO, cast

from keel_verify.errors import ReportWriteError
from keel_verify.results import display_path

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


__all__ = ["NamedOutput", "OutputOpenError", "open_output", "output_label"]
