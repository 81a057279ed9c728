"""The cyclic collector is paused while an input is read, and left as it was found:
by nested and overlapping readers, by a verification that errors, and when it was off
to begin with."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from keel_verify import verify_bytes
from keel_verify.gc_pause import collector_paused
from keel_verify.load import chainpass

SAMPLE = Path(__file__).resolve().parents[1] / "sample" / "voice_session_v3.json"


@pytest.fixture
def collector_on() -> Iterator[None]:
    was = gc.isenabled()
    gc.enable()
    yield
    if not was:
        gc.disable()


@pytest.mark.usefixtures("collector_on")
def test_the_collector_is_off_inside_and_on_after() -> None:
    with collector_paused():
        assert not gc.isenabled()
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the outer reader is still reading
    assert gc.isenabled()


def test_a_collector_that_was_off_stays_off() -> None:
    was = gc.isenabled()
    gc.disable()
    try:
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        if was:
            gc.enable()


@pytest.mark.usefixtures("collector_on")
def test_overlapping_readers_resume_it_when_the_last_one_leaves() -> None:
    first_in, second_in, first_out = threading.Event(), threading.Event(), threading.Event()
    seen: list[bool] = []

    def first() -> None:
        with collector_paused():
            first_in.set()
            second_in.wait(5)
        first_out.set()

    def second() -> None:
        first_in.wait(5)
        with collector_paused():
            second_in.set()
            first_out.wait(5)
            seen.append(gc.isenabled())  # the first reader left; this one still reads

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert seen == [False]
    assert gc.isenabled()


@pytest.mark.usefixtures("collector_on")
def test_verification_pauses_it_while_reading_and_resumes_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    states: list[bool] = []
    real = chainpass.read_strictly

    def spy(*args: object, **kwargs: object) -> object:
        states.append(gc.isenabled())
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr("keel_verify.verifier.read_strictly", spy)
    assert verify_bytes(SAMPLE.read_bytes()).verdict.name == "UNTRUSTED"
    assert verify_bytes(b"{not json").verdict.name == "ERROR"
    assert states == [False, False]
    assert gc.isenabled()


@pytest.mark.usefixtures("collector_on")
def test_an_internal_error_while_reading_still_resumes_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_args: object, **_kwargs: object) -> object:
        raise RuntimeError("a bug")

    monkeypatch.setattr("keel_verify.verifier.read_strictly", broken)
    report = verify_bytes(SAMPLE.read_bytes())
    assert report.verdict.name == "ERROR" and "internal error" in (report.error or "")
    assert gc.isenabled()
