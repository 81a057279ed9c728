"""Standard output at the edge: whatever the terminal's encoding, a closed stdout or a
reader that goes away (``| head -1``), the run goes on to its end and the exit code stays
the verdicts'.

* Text that the output encoding cannot carry is written as ``\\uXXXX`` escapes (astral
  characters as a surrogate pair, as JSON writes them), never an exception.
* Machine formats (JSON, JSON Lines, SARIF, JUnit, annotations) are documents defined in
  UTF-8: they are written in UTF-8 whatever the locale, so ``--json`` is valid UTF-8 JSON
  under a Latin-1 or ASCII terminal too.
* A closed stderr (``2>&-``), or one that fails, takes its lines nowhere
  (:func:`open_stderr`): errors still set the exit code, and stdout still gets the report.
* A closed stdout (``>&-``) writes nothing and says so once on stderr; a reader that
  stops reading (broken pipe) ends the output quietly; any other failed write (a full disk,
  ``> /dev/full``, an I/O error) drops the rest of the output with one note on stderr that
  names standard output. Verification continues, so the exit code is the verdicts' in
  every case.
"""

from __future__ import annotations

import codecs
import contextlib
import io
import os
import sys
from typing import IO, cast

ESCAPE_ERRORS = "keel-verify-escape"


def _escape(error: UnicodeError) -> tuple[str, int]:
    """``\\uXXXX`` for each character the codec cannot write (UTF-16 code units, so that
    inside a JSON string the escape is valid JSON, and in text it is readable)."""
    if not isinstance(error, UnicodeEncodeError):
        raise error
    escaped = []
    for char in error.object[error.start : error.end]:
        point = ord(char)
        if point > 0xFFFF:
            point -= 0x10000
            escaped.append(f"\\u{0xD800 + (point >> 10):04x}\\u{0xDC00 + (point & 0x3FF):04x}")
        else:
            escaped.append(f"\\u{point:04x}")
    return "".join(escaped), error.end


codecs.register_error(ESCAPE_ERRORS, _escape)


class ForgivingStream(io.TextIOBase):
    """A text stream that outlives its reader: after a failed write every write succeeds
    and goes nowhere (the descriptor is pointed at the null device, so the interpreter's
    last flush is quiet too). A broken pipe is the reader's choice and passes quietly;
    any other OSError is noted once on ``notes`` (default ``sys.stderr``)."""

    def __init__(self, inner: IO[str] | None, notes: IO[str] | None = None,
                 program: str = "keel-verify") -> None:
        super().__init__()
        self.inner = inner
        self.notes = notes
        self.program = program
        self.gone = inner is None

    def write(self, text: str) -> int:
        if not self.gone and self.inner is not None:
            try:
                self.inner.write(text)
            except OSError as error:
                self._reader_gone(error)
        return len(text)

    def flush(self) -> None:
        if not self.gone and self.inner is not None:
            try:
                self.inner.flush()
            except OSError as error:
                self._reader_gone(error)

    def isatty(self) -> bool:
        return bool(self.inner is not None and not self.gone and self.inner.isatty())

    @property
    def encoding(self) -> str:  # type: ignore[override]  # io.TextIOBase declares an attribute
        return getattr(self.inner, "encoding", None) or "utf-8"

    def _reader_gone(self, error: OSError) -> None:
        self.gone = True
        if not isinstance(error, BrokenPipeError):
            notes = self.notes or sys.stderr
            with contextlib.suppress(OSError, ValueError):
                notes.write(f"{self.program}: note: cannot write to standard output "
                            f"({error.strerror or error}); nothing more is written there\n")
        if self.inner is not None:
            point_at_null_device(self.inner)


def point_at_null_device(stream: IO[str]) -> None:
    """Point ``stream``'s descriptor at the null device, after a write to it failed: what
    is still buffered, and the interpreter's last flush, then go nowhere quietly (a failing
    last flush makes Python print a note and exit 120)."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())
        os.close(devnull)


def open_stderr() -> IO[str]:
    """``sys.stderr`` made safe for the whole run: closed at start (``2>&-``: Python sets
    None), or failing later (``2>/dev/full``), its writes go nowhere and the run goes on
    to its end with the verdicts' exit code (nothing can be noted about it: it is where
    notes go)."""
    stream = sys.stderr
    if stream is None or stream.closed:
        return cast(IO[str], ForgivingStream(None))
    return cast(IO[str], ForgivingStream(stream, notes=cast(IO[str], ForgivingStream(None))))


def forgiving_stdout(stream: IO[str] | None, notes: IO[str],
                     program: str = "keel-verify") -> IO[str]:
    """``stream`` (the process's stdout: None or closed when closed at start) for click's
    own text (--help, --version) while a command runs: a write that fails is noted once
    on ``notes`` (a reader gone: quietly) and the command goes on."""
    return cast(IO[str], ForgivingStream(None if stream is None or stream.closed else stream,
                                         notes, program))


def open_stdout(stream: IO[str] | None, *, machine: bool, notes: IO[str]) -> IO[str]:
    """``stream``, the process's stdout (None when closed at start), made safe for the
    whole run (see the module docstring); ``machine`` for a format that is a UTF-8
    document. A closed stdout is noted on ``notes``, and so is a write that fails later."""
    if stream is None or stream.closed:  # Python sets None when fd 1 is closed at start
        print("keel-verify: note: standard output is closed; no report written", file=notes)
        return cast(IO[str], ForgivingStream(None))
    if hasattr(stream, "reconfigure"):
        with contextlib.suppress(ValueError, io.UnsupportedOperation):  # e.g. already written
            if machine:
                stream.reconfigure(encoding="utf-8", errors=ESCAPE_ERRORS)
            else:
                stream.reconfigure(errors=ESCAPE_ERRORS)
    return cast(IO[str], ForgivingStream(stream, notes))
