"""The signals that end a run, and how a run stops listening to them. Light (only the
standard ``signal`` module): the commands' entry points use it too."""

from __future__ import annotations

import signal
from types import FrameType

#: The signals that end a run by unwinding it (keel_verify.cli): Ctrl-C, a CI timeout's
#: SIGTERM, a closed terminal's SIGHUP.
TERMINATING_SIGNALS: tuple[signal.Signals, ...] = tuple(
    number for number in (signal.SIGINT, signal.SIGTERM, getattr(signal, "SIGHUP", None))
    if number is not None)

#: The signals a terminal sends to the whole process group (Ctrl-C, hangup): a worker
#: ignores them and is stopped by the parent (keel_verify.runner), as one killed while
#: sending its result leaves the pool's thread waiting for the rest of it for ever.
GROUP_SIGNALS: tuple[signal.Signals, ...] = tuple(
    number for number in (signal.SIGINT, getattr(signal, "SIGHUP", None)) if number is not None)


def disregarded(signum: int, frame: FrameType | None) -> None:
    """A handler that does nothing. Not ``SIG_IGN``: a signal already received but not yet
    handled when its handler becomes ``SIG_IGN`` makes Python print "OSError: Signal N
    ignored due to race condition" with a traceback."""


def disregard_from_now_on(handlers: tuple[object, ...] = ()) -> None:
    """Every terminating signal whose handler is one of ``handlers`` (all of them when
    empty, except those ignored) is disregarded from now on: the run is ending (its exit
    code decided, or its unwinding under way) and a signal must not change that. Only in
    the main thread, where handlers can be set."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        return
    for number in TERMINATING_SIGNALS:
        current = signal.getsignal(number)
        if (current in handlers) if handlers else current is not signal.SIG_IGN:
            signal.signal(number, disregarded)


def ignore_to_the_end() -> None:
    """Every terminating signal ignored (``SIG_IGN``) for the rest of the process: its exit
    code is decided. A Python handler would not do: the interpreter puts the default
    actions back as it finalizes, and a signal in those last milliseconds then ended the
    process by the signal. Signals already received are handled first (``signal.signal``
    does so), so no "ignored due to race condition" note; a Ctrl-C handled that way by
    Python's own handler raises KeyboardInterrupt, for the caller to disregard too. Only
    in the main thread."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        return
    for number in TERMINATING_SIGNALS:
        signal.signal(number, signal.SIG_IGN)
