"""Input that cannot be an artifact is refused after a bounded read (docs/format.md §11).

An artifact is one JSON object text: after RFC 8259 whitespace its first byte is "{", and
no control byte U+0000-U+001F other than tab, LF and CR appears anywhere (RFC 8259
section 7: not even inside a string). An input longer than JUDGED_PREFIX_BYTES is judged
on its first bytes before the rest is read, and standard input on every block as it
arrives. The bound is proven by counting the bytes taken from endless sources, never by
timing. Shorter inputs keep the loader's exact messages."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from keel_verify import verify_bytes
from keel_verify.errors import LoadError
from keel_verify.load import loader
from keel_verify.load.loader import (
    JUDGED_PREFIX_BYTES,
    READ_BLOCK_BYTES,
    load_bytes,
    read_input,
)
from keel_verify.results import Verdict
from tests.helpers import PUBLIC_V3

MiB = 1024**2

NUL_FIRST = 'not a JSON object: its first byte after whitespace, 0x00 at offset 0, is not "{"'
WHITESPACE_ONLY = (f"only whitespace in the first {JUDGED_PREFIX_BYTES:,} bytes (an "
                   "artifact's \"{\" must come within them)")


def control_byte(value: int, offset: int) -> str:
    return (f"not JSON: control byte 0x{value:02x} at offset {offset} (RFC 8259 allows "
            f"U+{value:04X} nowhere in JSON text, not even in a string)")


class EndlessRaw(io.RawIOBase):
    """``head``, then ``fill`` forever (``tail`` after ``tail_at`` bytes, if given);
    ``taken`` counts every byte handed out. Reads return at most ``most`` bytes, as a
    pipe may."""

    def __init__(self, head: bytes, fill: bytes = b"\x00", *, most: int = 1 << 16,
                 tail: bytes = b"", tail_at: int | None = None) -> None:
        self.head, self.fill, self.most = head, fill, most
        self.tail, self.tail_at = tail, tail_at
        self.taken = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        size = min(len(buffer), self.most)
        memoryview(buffer).cast("B")[:size] = self._bytes(self.taken, self.taken + size)
        self.taken += size
        return size

    def _bytes(self, position: int, end: int) -> bytes:
        out = bytearray(self.head[position:end])
        position += len(out)
        while position < end:
            if self.tail_at is not None and self.tail_at <= position < self.tail_at + len(self.tail):
                piece = self.tail[position - self.tail_at : end - self.tail_at]
            else:
                stop = end if self.tail_at is None or position >= self.tail_at else min(end, self.tail_at)
                piece = (self.fill * ((stop - position) // len(self.fill) + 1))[: stop - position]
            out += piece
            position += len(piece)
        return bytes(out)


def stream(raw: io.RawIOBase) -> io.BufferedReader:
    return io.BufferedReader(raw)


def refusal(source: Any) -> str:
    with pytest.raises(LoadError) as caught:
        read_input(source)
    return str(caught.value)


# Bytes a buffered reader may take ahead of what read_input asked for.
SLACK = io.DEFAULT_BUFFER_SIZE + (1 << 16)


@pytest.mark.parametrize(
    ("head", "fill", "message"),
    [
        pytest.param(b"", b"\x00", NUL_FIRST, id="/dev/zero"),
        pytest.param(b"", b" \n", WHITESPACE_ONLY, id="yes ' '"),
        pytest.param(b"{", b"\x00", control_byte(0, 1), id="{ then zeros"),
        pytest.param(b" \r\n\t{\"a\": ", b"\x1f", control_byte(0x1F, 10), id="unit separators"),
        pytest.param(b"\xef\xbb\xbf{", b" ", "UTF-8 byte order mark is not allowed at the start of JSON",
                     id="byte order mark"),
        pytest.param(b"\n[", b"0,", "top level is an array, not an object", id="array"),
        pytest.param(b"  1", b"0", 'not a JSON object: its first byte after whitespace, 0x31 '
                     "('1') at offset 2, is not \"{\"", id="integer"),
        pytest.param(b'"', b"a", 'not a JSON object: its first byte after whitespace, 0x22 '
                     "('\"') at offset 0, is not \"{\"", id="string"),
        pytest.param(b"\xff", b"\xff", 'not a JSON object: its first byte after whitespace, '
                     '0xff at offset 0, is not "{"', id="not UTF-8"),
    ],
)
def test_an_endless_stream_is_refused_after_its_judged_prefix(head: bytes, fill: bytes,
                                                               message: str) -> None:
    raw = EndlessRaw(head, fill)
    assert refusal(stream(raw)) == message
    assert raw.taken <= JUDGED_PREFIX_BYTES + 1 + SLACK


def test_a_control_byte_after_the_prefix_stops_the_read_at_its_block() -> None:
    # "{" and valid-looking JSON whitespace for 3 MiB, then zeros forever: the read stops
    # in the block that holds the first zero.
    at = 3 * MiB
    raw = EndlessRaw(b"{", b" ", tail=b"\x00", tail_at=at)
    assert refusal(stream(raw)) == control_byte(0, at)
    assert raw.taken <= at + READ_BLOCK_BYTES + SLACK


def test_short_reads_and_an_end_keep_every_byte() -> None:
    # An artifact padded past the judged prefix (trailing whitespace is JSON whitespace),
    # read from a stream that returns a few KiB at a time: the bytes are the input's.
    data = PUBLIC_V3.read_bytes() + b"\n" * (2 * JUDGED_PREFIX_BYTES + 12345)
    assert read_input(_Limited(data)) == data  # type: ignore[arg-type]
    assert read_input(io.BytesIO(data)) == data
    report = verify_bytes(read_input(io.BytesIO(data)))
    assert report.verdict is not Verdict.ERROR, report.error


class _Limited(io.RawIOBase):
    """``data``, then the end, at most 4099 bytes per read (a raw stream may return less
    than asked)."""

    def __init__(self, data: bytes) -> None:
        self.data, self.at = data, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        size = min(len(buffer), 4099, len(self.data) - self.at)
        memoryview(buffer).cast("B")[:size] = self.data[self.at : self.at + size]
        self.at += size
        return size


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"1", "top level is an integer, not an object"),
        (b"x", "invalid JSON: Expecting value (line 1, column 1)"),
        (b"\x00", "invalid JSON: Expecting value (line 1, column 1)"),
        (b"{\x00}", "invalid JSON: Expecting property name enclosed in double quotes (line 1, column 2)"),
        (b'{"a": "\x01"}', "invalid JSON: Invalid control character at (line 1, column 8)"),
        (b" \t\r\n", "empty input (only whitespace)"),
        (b" " * JUDGED_PREFIX_BYTES, "empty input (only whitespace)"),
        (b"\x00" * JUDGED_PREFIX_BYTES, "invalid JSON: Expecting value (line 1, column 1)"),
        (b"\xef\xbb\xbf{}", "UTF-8 byte order mark is not allowed at the start of JSON"),
    ],
)
def test_an_input_within_the_prefix_keeps_the_loaders_message(tmp_path: Path, data: bytes,
                                                             message: str) -> None:
    path = tmp_path / "input.json"
    path.write_bytes(data)
    for source in (io.BytesIO(data), stream(_Limited(data)), path):
        read = read_input(source)
        assert read == data
        for exact in (False, True):
            with pytest.raises(LoadError) as caught:
                load_bytes(read, exact=exact)
            assert str(caught.value) == message


def test_one_byte_past_the_prefix_is_judged() -> None:
    assert refusal(io.BytesIO(b" " * (JUDGED_PREFIX_BYTES + 1))) == WHITESPACE_ONLY
    assert refusal(io.BytesIO(b"\x00" * (JUDGED_PREFIX_BYTES + 1))) == NUL_FIRST


class _CountingFile:
    """A regular file's handle that counts the bytes read from it."""

    def __init__(self, handle: Any) -> None:
        self.handle = handle
        self.taken = 0

    def __enter__(self) -> _CountingFile:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.handle.close()

    def fileno(self) -> int:
        return int(self.handle.fileno())

    def seek(self, offset: int) -> int:
        return int(self.handle.seek(offset))

    def read(self, size: int = -1) -> bytes:
        data: bytes = self.handle.read(size)
        self.taken += len(data)
        return data


@pytest.fixture
def counted_files(monkeypatch: pytest.MonkeyPatch) -> list[_CountingFile]:
    opened: list[_CountingFile] = []
    real = loader._open_regular

    def counting(path: Any) -> _CountingFile:
        opened.append(_CountingFile(real(path)))
        return opened[-1]

    monkeypatch.setattr(loader, "_open_regular", counting)
    return opened


@pytest.mark.parametrize(
    ("head", "message"),
    [
        pytest.param(b"", NUL_FIRST, id="600 MB of NUL bytes"),
        pytest.param(b"{", control_byte(0, 1), id="{ then NUL bytes"),
        pytest.param(b" " * (JUDGED_PREFIX_BYTES + 1), WHITESPACE_ONLY, id="whitespace"),
    ],
)
def test_a_large_file_is_judged_on_its_prefix_before_it_is_read(
        tmp_path: Path, counted_files: list[_CountingFile], head: bytes, message: str) -> None:
    path = tmp_path / "large.json"
    with path.open("wb") as handle:
        handle.write(head)
        handle.truncate(600 * 1000**2)  # sparse: reads as NUL bytes, costs no disk
    assert refusal(path) == message
    assert counted_files[0].taken == JUDGED_PREFIX_BYTES + 1


def test_a_large_artifact_file_is_read_whole(tmp_path: Path,
                                             counted_files: list[_CountingFile]) -> None:
    data = PUBLIC_V3.read_bytes() + b" " * (2 * JUDGED_PREFIX_BYTES)
    path = tmp_path / "padded.json"
    path.write_bytes(data)
    assert read_input(path) == data
    # the prefix, then the file from its start
    assert counted_files[0].taken == JUDGED_PREFIX_BYTES + 1 + len(data)


def test_other_json_inputs_are_read_unjudged() -> None:
    # keel-emit's scenario (a JSON array) and recordings (JSON Lines) are not artifacts.
    data = b"[" + b"0," * JUDGED_PREFIX_BYTES + b"0]"
    assert read_input(io.BytesIO(data), json_object=False) == data


@pytest.mark.parametrize(
    ("data", "message"),
    [
        pytest.param(b"{" + b" " * 5000 + b'"a": "\x01"}', control_byte(1, 5007), id="control byte"),
        pytest.param(b' "' + b"a" * 5000 + b'"', "not a JSON object: its first byte after "
                     "whitespace, 0x22 ('\"') at offset 1, is not \"{\"", id="string"),
    ],
)
def test_too_large_for_the_exact_path_says_what_is_wrong(monkeypatch: pytest.MonkeyPatch,
                                                         data: bytes, message: str) -> None:
    # Input the fast reader refuses goes to the exact path; too large for it, bytes that
    # prove they are not an object are refused for that, not as "only the exact path".
    monkeypatch.setattr(loader, "MAX_EXACT_PATH_BYTES", 4096)
    for exact in (False, True):
        with pytest.raises(LoadError) as caught:
            load_bytes(data, exact=exact)
        assert str(caught.value) == message
    report = verify_bytes(data)
    assert report.verdict is Verdict.ERROR and report.error == message


def test_a_byte_order_mark_too_large_for_the_exact_path_keeps_its_refusal(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loader, "MAX_EXACT_PATH_BYTES", 4096)
    with pytest.raises(LoadError, match="only the exact reading path can judge"):
        load_bytes(b"\xef\xbb\xbf{" + b" " * 5000 + b"}")


def _feed(process: subprocess.Popen[bytes], raw: EndlessRaw) -> None:
    """Write ``raw`` into the process's standard input until it stops reading."""
    assert process.stdin is not None
    block = bytearray(1 << 16)
    try:
        while True:
            process.stdin.write(block[: raw.readinto(block)])
    except (BrokenPipeError, OSError):
        pass


@pytest.mark.parametrize(
    ("head", "fill", "message"),
    [
        pytest.param(b"", b"\x00", NUL_FIRST, id="cat /dev/zero"),
        pytest.param(b"", b" \n", WHITESPACE_ONLY, id="yes ' '"),
        pytest.param(b"{", b"\x00", control_byte(0, 1), id="{ then /dev/zero"),
    ],
)
def test_keel_verify_refuses_an_endless_standard_input_with_exit_2(
        head: bytes, fill: bytes, message: str) -> None:
    environment = {k: v for k, v in os.environ.items() if k != "KEEL_VERIFY_TRUST_ROOT"}
    process = subprocess.Popen([sys.executable, "-m", "keel_verify", "-"],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, env=environment)
    raw = EndlessRaw(head, fill)
    feeder = threading.Thread(target=_feed, args=(process, raw))
    feeder.start()
    assert process.stdout is not None and process.stderr is not None
    stderr = process.stderr.read().decode()
    process.stdout.read()
    code = process.wait(timeout=120)
    feeder.join(timeout=120)
    assert code == 2
    assert stderr == f"keel-verify: error: -: {message}\n"
    # Whatever was taken beyond the prefix sat in the pipe and the reader's buffer.
    assert raw.taken <= JUDGED_PREFIX_BYTES + 4 * MiB


def test_keel_verify_refuses_a_large_file_of_nul_bytes_with_exit_2(tmp_path: Path) -> None:
    path = tmp_path / "zeros.json"
    with path.open("wb") as handle:
        handle.truncate(600 * 1000**2)
    environment = {k: v for k, v in os.environ.items() if k != "KEEL_VERIFY_TRUST_ROOT"}
    result = subprocess.run([sys.executable, "-m", "keel_verify", str(path)],
                            capture_output=True, text=True, env=environment, timeout=120,
                            check=False)
    assert result.returncode == 2
    assert result.stderr == f"keel-verify: error: {path}: {NUL_FIRST}\n"
