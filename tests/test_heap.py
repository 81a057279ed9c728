"""The command-line process keeps freed heap for reuse (keel_verify.heap): asked of glibc
only, never an error elsewhere, and the CLI asks before verifying anything."""

from __future__ import annotations

import os
import sys

import pytest

from keel_verify import cli, heap


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt: Linux only")
def test_glibc_accepts_the_top_pad() -> None:
    if os.confstr("CS_GNU_LIBC_VERSION") is None:
        pytest.skip("not glibc")
    assert heap.keep_freed_heap() is True


def test_without_glibc_nothing_is_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_such_name(name: str) -> str | None:
        raise ValueError(f"unrecognized configuration name {name!r}")

    monkeypatch.setattr(os, "confstr", no_such_name)
    assert heap.keep_freed_heap() is False
    monkeypatch.setattr(os, "confstr", lambda name: None)  # a libc that is not glibc
    assert heap.keep_freed_heap() is False


def test_the_cli_asks_before_verifying(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[bool] = []

    def keep() -> bool:
        asked.append(True)
        return True

    monkeypatch.setattr(cli, "keep_freed_heap", keep)
    with pytest.raises(SystemExit) as done:
        cli.main(["--version"])
    assert done.value.code == 0
    assert asked == [True]
