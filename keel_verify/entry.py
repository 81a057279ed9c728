"""The console scripts' entry points (``keel-verify``, ``keel-emit``, ``python -m
keel_verify``), kept light: they import the commands themselves, so that a Ctrl-C while
the commands' modules load (about a tenth of a second) is one line and exit 130 as it is
later, never a ``KeyboardInterrupt`` traceback."""

from __future__ import annotations

import sys

TYPE_CHECKING = False  # typing itself is not imported: see keel_verify/__init__.py
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import NoReturn


def interrupted(program: str) -> NoReturn:
    """End ``program`` after Ctrl-C: one line on stderr (if it can be written), exit 130."""
    _say_interrupted(program)
    sys.exit(130)


def _say_interrupted(program: str) -> None:
    try:
        sys.stderr.write(f"{program}: interrupted\n")
        sys.stderr.flush()
    except (OSError, ValueError, AttributeError):  # closed, full, or None (2>&-)
        pass


def keel_verify() -> None:
    """``keel-verify``: :func:`keel_verify.cli.main`."""
    try:
        from keel_verify.signals import install_quiet_hook

        install_quiet_hook()  # a Ctrl-C Python cannot raise while modules load: kept for main
        from keel_verify.cli import main
    except BaseException as error:
        _end_if_interrupted("keel-verify", error)
        raise
    _run(main, "keel-verify")


def keel_emit() -> None:
    """``keel-emit``: :func:`keel_verify.emit.cli.main`."""
    try:
        from keel_verify.emit.cli import main
    except BaseException as error:
        _end_if_interrupted("keel-emit", error)
        raise
    _run(main, "keel-emit")


def _run(main: Callable[[], None], program: str) -> None:
    try:
        main()
    except KeyboardInterrupt as error:  # before main's own handlers are in place
        _end_if_interrupted(program, error)
    except SystemExit:
        _exit_code_stands()
        raise


def _end_if_interrupted(program: str, error: BaseException) -> None:
    """End the process as :func:`interrupted` does if ``error`` is, or was caused by, a
    Ctrl-C before the command took charge of it (an import turns a KeyboardInterrupt
    raised in ``__set_name__`` into a RuntimeError). It ends with ``os._exit`` (nothing
    is open yet): raised inside this handling, SystemExit made ``python -m`` end by
    SIGINT instead of exit 130."""
    seen: BaseException | None = error
    for _ in range(8):  # the cause and context chain, bounded
        if seen is None:
            return
        if isinstance(seen, KeyboardInterrupt):
            break
        seen = seen.__cause__ or seen.__context__
    else:
        return
    import os

    _say_interrupted(program)
    os._exit(130)


def _exit_code_stands() -> None:
    """The command has ended and its exit code is decided: a terminating signal in the
    few milliseconds the interpreter takes to exit is disregarded (it ended the process
    by the signal, with no line, in place of the verdicts' exit code)."""
    from keel_verify.signals import ignore_to_the_end

    for _ in range(3):  # a Ctrl-C that arrives just now is disregarded as well
        try:
            ignore_to_the_end()
            return
        except KeyboardInterrupt:
            continue
