"""Every rejection of the strict loader (docs/format.md §2, §9.5): one line, never a traceback."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest

from keel_verify.errors import LoadError
from keel_verify.load import accel
from keel_verify.load.chainpass import read_strictly
from keel_verify.load.loader import MAX_DEPTH, load_bytes, parse_json, read_input
from tests.helpers import PUBLIC_V3, public_v3, to_bytes


@pytest.fixture(params=["fast", "exact"])
def reading_path(request: pytest.FixtureRequest) -> str:
    """Every rejection must be the same on the msgspec fast path and the stdlib path."""
    return str(request.param)


def _reject(path: str, data: bytes, fragment: str) -> str:
    with pytest.raises(LoadError) as caught:
        read_strictly(data, exact=path == "exact")
    message = str(caught.value)
    assert fragment in message
    assert "\n" not in message
    return message


def _with(**changes: object) -> bytes:
    document = public_v3()
    document.update(changes)
    return to_bytes(document)


def test_accepts_the_public_sample(reading_path: str) -> None:
    artifact, chain_pass = read_strictly(PUBLIC_V3.read_bytes(), exact=reading_path == "exact")
    fast_possible = accel.fast_json_available()
    assert artifact.exact_path == (reading_path == "exact" or not fast_possible)
    assert chain_pass.content_hash.endswith("0d954c5d")
    assert artifact.schema_version == 3


def test_invalid_utf8_names_the_byte_and_line(reading_path: str) -> None:
    message = _reject(reading_path, b'{\n"a": "\xff"}', "invalid UTF-8")
    assert "byte 8 (line 2, column 7)" in message


def test_byte_order_mark_rejected(reading_path: str) -> None:
    _reject(reading_path, b"\xef\xbb\xbf{}", "byte order mark")


def test_invalid_json_has_line_and_column(reading_path: str) -> None:
    message = _reject(reading_path, b'{\n  "a": tru\n}', "invalid JSON")
    assert "line 2, column 8" in message


def test_empty_input(reading_path: str) -> None:
    assert _reject(reading_path, b"", "empty input") == "empty input"
    assert _reject(reading_path, b" \r\n\t", "empty input") == "empty input (only whitespace)"


def test_duplicate_keys_anywhere(reading_path: str) -> None:
    _reject(reading_path, b'{"a": {"b": 1, "b": 2}}', 'duplicate object key "b"')
    top = PUBLIC_V3.read_bytes().replace(b'"issued_at"', b'"issued_at": "x", "issued_at"', 1)
    _reject(reading_path, top, 'duplicate object key "issued_at"')


@pytest.mark.parametrize("constant", [b"NaN", b"Infinity", b"-Infinity"])
def test_non_finite_constants(reading_path: str, constant: bytes) -> None:
    _reject(reading_path, b'{"a": ' + constant + b"}", "is not a JSON number")


def test_overflowing_float(reading_path: str) -> None:
    _reject(reading_path, b'{"a": 1e400}', "overflows a double")


def test_integer_beyond_digit_limit(reading_path: str) -> None:
    _reject(reading_path, b'{"a": ' + b"9" * 5000 + b"}", "invalid JSON number")


def test_lone_surrogate_rejected_but_pairs_accepted(reading_path: str) -> None:
    _reject(reading_path, b'{"a": "\\ud800"}', "lone UTF-16 surrogate")
    _reject(reading_path, b'{"\\udfff": 1}', "lone UTF-16 surrogate")
    assert parse_json(b'{"a": "\\ud83d\\ude00"}') == {"a": "\U0001f600"}
    assert parse_json(b'{"a": "\\\\ud800"}') == {"a": "\\ud800"}  # an escaped backslash


def test_nesting_limit_is_exact(reading_path: str) -> None:
    assert parse_json(b"[" * MAX_DEPTH + b"]" * MAX_DEPTH) is not None
    # Inside an object: an array at the top level is refused before it is parsed.
    too_deep = b'{"a":' + b"[" * MAX_DEPTH + b"]" * MAX_DEPTH + b"}"  # MAX_DEPTH + 1 levels
    _reject(reading_path, too_deep, f"limit of {MAX_DEPTH} levels")
    deep_objects = b'{"a":' * (MAX_DEPTH + 1) + b"1" + b"}" * (MAX_DEPTH + 1)
    _reject(reading_path, deep_objects, "nesting deeper")


def test_absurd_nesting_does_not_crash(reading_path: str) -> None:
    # unclosed, but too deep long before the end
    _reject(reading_path, b'{"a":' + b"[" * 200_000, "nesting deeper")
    _reject(reading_path, b'{"a":' + b"[" * 100_000 + b"]" * 100_000 + b"}", "nesting deeper")


def test_size_limit(tmp_path: Path) -> None:
    path = tmp_path / "big.json"
    path.write_bytes(b" " * 101)
    with pytest.raises(LoadError, match="larger than the limit of 100 bytes"):
        read_input(path, max_bytes=100)
    assert read_input(io.BytesIO(b"x" * 100), max_bytes=100) == b"x" * 100
    path.write_bytes(b" " * 100)
    assert read_input(path, max_bytes=100) == b" " * 100


@pytest.mark.skipif(not Path("/proc/self/status").is_file(), reason="needs Linux's /proc")
def test_a_file_longer_than_its_stated_size_is_read_to_its_end_or_the_limit() -> None:
    """A file is read by its size as stated when opened, then on while there is more (a
    file that grows, or a /proc file whose stated size is 0), up to the same limit."""
    path = "/proc/self/cmdline"  # stated size 0; this process's command line never changes
    assert os.stat(path).st_size == 0
    whole = read_input(path)
    assert whole == Path(path).read_bytes() and len(whole) > 10
    with pytest.raises(LoadError, match="larger than the limit of 5 bytes"):
        read_input(path, max_bytes=5)


def test_unreadable_paths(tmp_path: Path) -> None:
    with pytest.raises(LoadError, match="no such file"):
        read_input(tmp_path / "missing.json")
    with pytest.raises(LoadError, match="is a directory"):
        read_input(tmp_path)


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (b"[]", "top level is an array, not an object"),
        (b'"x"', "top level is a string, not an object"),
        (b"null", "top level is null, not an object"),
        (b'{"schema": "keel.voice.attestation.phase_a"}', 'no "verifier_compatibility" object'),
        (b'{"verifier_compatibility": true}', 'no "verifier_compatibility" object'),
    ],
)
def test_not_an_attestation(reading_path: str, data: bytes, fragment: str) -> None:
    _reject(reading_path, data, fragment)


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"schema": "keel.voice.attestation.phase_b"}, "unsupported schema"),
        ({"schema_version": 2}, "unsupported schema_version 2"),
        ({"schema_version": "3"}, 'unsupported schema_version "3"'),
        ({"schema_version": True}, "unsupported schema_version true"),
        ({"schema_version": 3.0}, "unsupported schema_version 3.0"),
        ({"canonicalization_profile": "jcs"}, "unsupported canonicalization_profile"),
    ],
)
def test_unsupported_versions_are_never_guessed(
    reading_path: str, changes: dict[str, object], fragment: str
) -> None:
    _reject(reading_path, _with(**changes), fragment)


@pytest.mark.skipif(not accel.fast_json_available(), reason="needs the msgspec fast path")
def test_document_is_what_the_bytes_say() -> None:
    data = PUBLIC_V3.read_bytes()
    exact = load_bytes(data, exact=True)
    fast = load_bytes(data)
    expected = json.loads(data)
    assert exact.document == expected
    assert fast.document == {k: v for k, v in expected.items() if k != "chain"}
    assert fast.chain is not None and exact.chain is not None
    fast_entries = [e for chunk in fast.chain.chunks(1, MAX_DEPTH) for e in chunk.entries]
    assert fast_entries == expected["chain"] == list(exact.chain.items or ())


def test_a_top_level_array_is_refused_before_it_is_parsed(monkeypatch: pytest.MonkeyPatch) -> None:
    # A 10^7-element array at the top level used to be parsed in full only to be refused.
    from keel_verify.load import accel, loader

    def never(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the input was parsed")

    monkeypatch.setattr(loader, "parse_json", never)
    monkeypatch.setattr(accel, "decoder", never)
    for data in (b"[" + b"0," * 100_000 + b"0]", b" \r\n\t[1, 2", b"[\xff"):
        with pytest.raises(LoadError, match=r"^top level is an array, not an object$"):
            loader.load_bytes(data)
        with pytest.raises(LoadError, match=r"^top level is an array, not an object$"):
            loader.load_bytes(data, exact=True)


@pytest.mark.skipif(not accel.fast_json_available(), reason="needs the msgspec fast path")
def test_a_huge_array_member_is_read_in_one_piece(monkeypatch: pytest.MonkeyPatch) -> None:
    # An array member outside the chain is decoded whole by the typed decoder, never as
    # one raw slice (an object) per element: 10^7 zeros would cost gigabytes that way.
    from keel_verify.load import accel, loader
    from tests import hostile_inputs

    data = hostile_inputs.zeros_member(100_000)
    scans: list[int] = []
    keys_within_bmp = accel.keys_within_bmp

    def counted(raw: bytes) -> bool:
        scans.append(len(raw))
        return keys_within_bmp(raw)

    monkeypatch.setattr(accel, "keys_within_bmp", counted)
    artifact = loader.load_bytes(data)
    assert not artifact.exact_path
    assert len(scans) <= len(artifact.document) + 1  # once per member at most
    assert max(scans) > 100_000  # the zeros were scanned as one piece
