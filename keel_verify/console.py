"""Standard output at the edge: whatever the terminal's encoding, a closed stdout or a
reader that goes away (``| head -1``), the run goes on to its end and the exit code stays
the verdicts'.

* Text that the output encoding cannot carry is written as ``\\uXXXX`` escapes (astral
  characters as a surrogate pair, as JSON writes them), never an exception.
* Machine formats (JSON, JSON Lines, SARIF, JUnit, annotations) are documents defined in
  UTF-8: they are written in UTF-8 whatever the locale, so ``--json`` is valid UTF-8 JSON
  under a Latin-1 or ASCII terminal too.
* A closed stdout (``>&-``) writes nothing and says so once on stderr; a reader that
  stops reading (broken pipe) ends the output quietly. Verification continues, so the exit
  code is the verdicts' in both cases.
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
    """A text stream that outlives its reader: after a broken pipe every write succeeds
    and goes nowhere (the descriptor is pointed at the null device, so the interpreter's
    last flush is quiet too)."""

    def __init__(self, inner: IO[str] | None) -> None:
        super().__init__()
        self.inner = inner
        self.gone = inner is None

    def write(self, text: str) -> int:
        if not self.gone and self.inner is not None:
            try:
                self.inner.write(text)
            except BrokenPipeError:
                self._reader_gone()
        return len(text)

    def flush(self) -> None:
        if not self.gone and self.inner is not None:
            try:
                self.inner.flush()
            except BrokenPipeError:
                self._reader_gone()

    def isatty(self) -> bool:
        return bool(self.inner is not None and not self.gone and self.inner.isatty())

    @property
    def encoding(self) -> str:  # type: ignore[override]  # io.TextIOBase declares an attribute
        return getattr(self.inner, "encoding", None) or "utf-8"

    def _reader_gone(self) -> None:
        self.gone = True
        if self.inner is not None:
            with contextlib.suppress(OSError, ValueError):
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, self.inner.fileno())
                os.close(devnull)


def open_stdout(*, machine: bool) -> IO[str]:
    """``sys.stdout`` made safe for the whole run (see the module docstring); ``machine``
    for a format that is a UTF-8 document. A closed stdout is noted on stderr."""
    stream = sys.stdout
    if stream is None or stream.closed:  # Python sets None when fd 1 is closed at start
        print("keel-verify: note: standard output is closed; no report written", file=sys.stderr)
        return cast(IO[str], ForgivingStream(None))
    if hasattr(stream, "reconfigure"):
        with contextlib.suppress(ValueError, io.UnsupportedOperation):  # e.g. already written
            if machine:
                stream.reconfigure(encoding="utf-8", errors=ESCAPE_ERRORS)
            else:
                stream.reconfigure(errors=ESCAPE_ERRORS)
    return cast(IO[str], ForgivingStream(stream))
