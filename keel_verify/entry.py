"""The console scripts' entry points (``keel-verify``, ``keel-emit``, ``python -m
keel_verify``), kept light: they import the commands themselves, so that a Ctrl-C while
the commands' modules load (about a tenth of a second) is one line and exit 130 as it is
later, never a ``KeyboardInterrupt`` traceback."""

from __future__ import annotations

import contextlib
import sys
from typing import NoReturn


def interrupted(program: str) -> NoReturn:
    """End ``program`` after Ctrl-C: one line on stderr (if it can be written), exit 130."""
    with contextlib.suppress(Exception):
        sys.stderr.write(f"{program}: interrupted\n")
        sys.stderr.flush()
    sys.exit(130)


def keel_verify() -> None:
    """``keel-verify``: :func:`keel_verify.cli.main`."""
    try:
        from keel_verify.cli import main

        main()
    except KeyboardInterrupt:  # before main's own handlers are in place
        interrupted("keel-verify")


def keel_emit() -> None:
    """``keel-emit``: :func:`keel_verify.emit.cli.main`."""
    try:
        from keel_verify.emit.cli import main

        main()
    except KeyboardInterrupt:
        interrupted("keel-emit")
