"""Standard output at the edge: whatever the terminal's encoding, a closed stdout or a
reader that goes away (``| head -1``), the report is written as far as it can be and the
exit code stays the verdict's.

* Text that the output encoding cannot carry is written as backslash escapes
  (``\\u20ac``), never an exception.
* ``--json`` is plain ASCII (non-ASCII as JSON ``\\uXXXX`` escapes) unless stdout is
  UTF-8, so the document is valid UTF-8 JSON under any encoding.
* A closed stdout (``>&-``) writes nothing, says so on stderr, and keeps the exit code; a
  reader that stops reading (broken pipe) is not an error: the exit code is still the
  verdict's.
"""

from __future__ import annotations

import codecs
import contextlib
import os
import sys
from collections.abc import Callable
from typing import IO


def stdout_or_none() -> IO[str] | None:
    """``sys.stdout`` set to escape what its encoding cannot carry; None when closed."""
    stream = sys.stdout
    if stream is None or stream.closed:  # Python sets None when fd 1 is closed at start
        return None
    if hasattr(stream, "reconfigure"):
        stream.reconfigure(errors="backslashreplace")
    return stream


def is_utf8(stream: IO[str]) -> bool:
    try:
        return codecs.lookup(getattr(stream, "encoding", None) or "ascii").name == "utf-8"
    except LookupError:
        return False


def write_stdout(write: Callable[[IO[str]], object]) -> None:
    """Run ``write(stdout)``; a closed stdout or a broken pipe ends the output quietly."""
    stream = stdout_or_none()
    if stream is None:
        print("keel-verify: note: standard output is closed; no report written", file=sys.stderr)
        return
    try:
        write(stream)
        stream.flush()
    except BrokenPipeError:
        # The reader went away: later writes (and the interpreter's final flush) go nowhere.
        with contextlib.suppress(OSError, ValueError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, stream.fileno())
            os.close(devnull)
