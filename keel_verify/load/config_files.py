"""Reading trust and configuration files (trust roots, PEM files, policies, file lists):
regular files and pipes, bounded in bytes and in the wait for a writer.

Such a file may be a pipe: ``--trust-root <(cat trust-root.json)`` names ``/dev/fd/N``.
Opening a named FIFO that has no writer blocks for ever, so every file is opened with
``O_NONBLOCK``; a FIFO or pipe is then read once its first bytes (or its end) arrive,
within :data:`FIFO_WRITER_WAIT_SECONDS`, and blocking as usual after that. Other files
that are not regular (``/dev/zero``, ``/dev/urandom``, a terminal) are refused: they are
not trust files and may never end. Every refusal is a :class:`ConfigFileError` whose text
is one phrase for the caller to put after the file's name.
"""

from __future__ import annotations

import errno
import os
import select
import stat
from pathlib import Path

#: How long a FIFO or pipe may take to deliver its first byte (or its end) before it is
#: refused as having no writer, in seconds. Process substitution delivers at once.
FIFO_WRITER_WAIT_SECONDS = 10.0

#: What a file that is neither regular nor a folder is, by its type bits (one table for
#: every reader: the artifact's, the trust files', the outputs').
FILE_KINDS = {stat.S_IFIFO: "a FIFO", stat.S_IFCHR: "a character device",
              stat.S_IFBLK: "a block device", stat.S_IFSOCK: "a socket"}


def file_kind(mode: int) -> str:
    """``"a character device"`` and the like for a file of ``mode`` (st_mode)."""
    return FILE_KINDS.get(stat.S_IFMT(mode), "a special file")

_CHUNK_BYTES = 1 << 16


class ConfigFileError(Exception):
    """A trust or configuration file that cannot be read; str() is one phrase without the
    file's name (e.g. ``"no such file"``)."""


def read_config_file(path: str | Path, max_bytes: int,
                     wait_seconds: float | None = None) -> bytes:
    """The bytes of the regular file, FIFO or pipe at ``path``: at most ``max_bytes + 1``
    (one more than allowed, so that the caller can say "larger than"). A FIFO or pipe
    must deliver its first byte or its end within ``wait_seconds`` (default
    :data:`FIFO_WRITER_WAIT_SECONDS`). Raises :class:`ConfigFileError`."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        descriptor = os.open(path, flags)
    except FileNotFoundError:
        raise ConfigFileError("no such file") from None
    except IsADirectoryError:  # where a folder cannot be opened (Linux opens it: below)
        raise ConfigFileError("is a directory, not a file") from None
    except OSError as error:
        raise ConfigFileError(_unopened(path, error)) from None
    try:
        return _read_open(descriptor, max_bytes, wait_seconds)
    except OSError as error:
        raise ConfigFileError(f"cannot read: {error.strerror or error}") from None
    finally:
        os.close(descriptor)


def _unopened(path: str | Path, error: OSError) -> str:
    """Why ``path`` could not be opened: a socket cannot be opened at all (ENXIO), so it
    is told by its mode; anything else by the system's words."""
    if error.errno == errno.ENXIO:
        try:
            mode = os.stat(path).st_mode
        except OSError:
            mode = 0
        if stat.S_IFMT(mode) in FILE_KINDS and not stat.S_ISFIFO(mode):
            return f"{file_kind(mode)}, not a regular file or a pipe"
    return f"cannot read: {error.strerror or error}"


def _read_open(descriptor: int, max_bytes: int, wait_seconds: float | None) -> bytes:
    info = os.fstat(descriptor)
    mode = info.st_mode
    if stat.S_ISDIR(mode):
        raise ConfigFileError("is a directory, not a file")
    if stat.S_ISFIFO(mode):
        wait = FIFO_WRITER_WAIT_SECONDS if wait_seconds is None else wait_seconds
        if not _first_bytes_within(descriptor, wait):
            raise ConfigFileError(f"a FIFO with no writer or no data after {wait:g} s")
    elif not stat.S_ISREG(mode):
        raise ConfigFileError(f"{file_kind(mode)}, not a regular file or a pipe")
    os.set_blocking(descriptor, True)
    # A regular file's size is known first so that a small file costs one small read.
    want = info.st_size + 1 if stat.S_ISREG(mode) else _CHUNK_BYTES
    chunks: list[bytes] = []
    held = 0
    while held <= max_bytes:
        chunk = os.read(descriptor, min(want, max_bytes + 1 - held))
        if not chunk:
            break
        chunks.append(chunk)
        held += len(chunk)
        want = _CHUNK_BYTES
    return b"".join(chunks)


def _first_bytes_within(descriptor: int, seconds: float) -> bool:
    """Whether the FIFO has bytes to read, or its writer has come and gone, within
    ``seconds``. A FIFO opened before any writer reads as ended at once (``read`` gives
    b""), so the wait is on the descriptor, not on a read. (POLLHUP, a writer that came
    and closed, is reported although only POLLIN is asked for.)"""
    poller = select.poll()
    poller.register(descriptor, select.POLLIN)
    return bool(poller.poll(max(seconds, 0.0) * 1000))
