"""The signals that end a run, and how a run stops listening to them. Light (only the
standard ``signal`` module): the commands' entry points use it too."""

from __future__ import annotations

import signal
import sys

TYPE_CHECKING = False  # typing is not imported: the commands' entry uses this module
if TYPE_CHECKING:
    from collections.abc import Callable
    from types import FrameType
    from typing import Any

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


def disregard_from_now_on(handler: object) -> None:
    """Every terminating signal whose handler is ``handler`` is disregarded from now on:
    the run is unwinding and a later signal must not change that. Only in the main
    thread, where handlers can be set."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        return
    for number in TERMINATING_SIGNALS:
        if signal.getsignal(number) is handler:
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


class Terminated(BaseException):
    """Ctrl-C (SIGINT), SIGTERM or SIGHUP arrived (a BaseException, as KeyboardInterrupt
    is: no handler for errors takes it for one; and not KeyboardInterrupt itself, which
    click answers with an empty line on stderr)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def raise_if_received() -> None:
    """Terminated for the first terminating signal recorded and not yet forgotten, if any:
    a checkpoint for a signal whose exception Python lost. A handler's exception raised
    while Python runs a weakref callback or a ``__del__`` (the import system's module-lock
    callbacks, during a lazy import) is only printed as "Exception ignored in ..." (which
    :func:`quiet_lost_interrupts` silences) and lost."""
    if _RECEIVED:
        raise Terminated(_RECEIVED[0])


#: The terminating signals received during the command, in order.
_RECEIVED: list[int] = []


def note_received(signum: int) -> None:
    """Record that ``signum`` arrived: its handler's exception may be lost (below)."""
    _RECEIVED.append(signum)


def forget_received() -> None:
    _RECEIVED.clear()


def quiet_lost_interrupts(previous: Callable[[Any], object]) -> Callable[[Any], None]:
    """A ``sys.unraisablehook`` that prints nothing for a signal's exception Python could
    not raise (recorded instead: a KeyboardInterrupt as SIGINT) and passes every other
    unraisable exception to ``previous``."""

    def hook(unraisable: Any) -> None:
        error = unraisable.exc_value
        if isinstance(error, KeyboardInterrupt):
            note_received(signal.SIGINT)
            return
        if isinstance(error, Terminated):
            return
        previous(unraisable)

    return hook


def install_quiet_hook() -> Callable[[Any], object]:
    """Install :func:`quiet_lost_interrupts` over the current hook; return that hook."""
    previous = sys.unraisablehook
    sys.unraisablehook = quiet_lost_interrupts(previous)
    return previous
