"""Strict loader: bytes -> JSON value -> detected attestation artifact (docs/format.md §2, §9.5).

Everything here rejects with a :class:`LoadError` whose message is one line. Limits are
documented in the README ("Input limits") and are keyword arguments so that a caller
(and the tests) can tighten them.
"""

from __future__ import annotations

import json
import math
import os
import re
import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from keel_verify.crypto.canonical import PROFILE, tagged_sha256
from keel_verify.errors import LoadError
from keel_verify.load import accel
from keel_verify.load.access import type_name

SCHEMA = "keel.voice.attestation.phase_a"

#: schema_version -> artifact_version (docs/format.md §2).
SUPPORTED_VERSIONS = {1: "1.0.0", 3: "1.2.0"}

MAX_INPUT_BYTES = 512 * 1024 * 1024
MAX_DEPTH = 128

# A lone surrogate can only enter through a \uD800-\uDFFF escape (the bytes are valid
# UTF-8 by then); this cheap scan decides whether the expensive string walk is needed.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")

# An escaped colon would upset the colon counts of the fast path's duplicate-key proof.
# (A regex scans for it three times faster than two bytes searches, measured.)
_ESCAPED_COLON = re.compile(rb"\\u003[aA]")


class NeedsExactPath(Exception):
    """The fast path met something only the strict stdlib path judges exactly (a float,
    an escaped colon, input msgspec refuses): verification restarts on that path."""


@dataclass(frozen=True)
class ChainSource:
    """The chain array's entries, decoded chunk by chunk during the single chain pass.

    Fast path: ``raw_items`` are msgspec raw slices of the input, so a 100,000-entry
    chain is never held as Python objects all at once. Exact path: ``items`` are the
    entries already parsed by the strict stdlib parser.
    """

    raw_items: Sequence[Any] | None = None
    items: Sequence[Any] | None = None

    def __len__(self) -> int:
        if self.raw_items is not None:
            return len(self.raw_items)
        return len(self.items or ())

    def chunks(self, size: int, max_depth: int) -> Iterator[tuple[int, list[Any], bool, bool]]:
        """Yield ``(first_index, entries, within_jcs, flat)``. Fast-path chunks are strictly
        decoded here. ``within_jcs``: proven to hold no value outside the RFC 8785 domain;
        ``flat``: proven to be objects of strings, integers, booleans and nulls only.
        False means "not proven": look."""
        if self.raw_items is None:
            items = self.items or ()
            for start in range(0, len(items), size):
                yield start, list(items[start : start + size]), False, False
            return
        errors = accel.decode_errors()
        for start in range(0, len(self.raw_items), size):
            joined = b"[" + b",".join(self.raw_items[start : start + size]) + b"]"
            try:
                # Flat entries whose integers are JCS-safe decode with this typed decoder
                # at no extra cost (and are then 3 levels deep: artifact, chain, entry).
                entries: list[Any] = accel.decoder("flat_entries").decode(joined)
                flat = True
            except errors:
                try:
                    entries = accel.decoder("any").decode(joined)
                except errors:
                    raise NeedsExactPath from None
                flat = False
                for entry in entries:
                    _check_depth_and_strings(entry, max_depth, False, start_depth=3)
            yield start, entries, flat and not accel.has_astral_utf8(joined), flat


@dataclass(frozen=True)
class Artifact:
    """A parsed, detected voice-session attestation. Nothing here is ever mutated.

    The chain's entries are read through ``chain`` (None when ``document["chain"]`` is
    missing or not an array). On the fast path ``document`` has no ``"chain"`` member when
    the chain is an array; on the exact path it has the parsed list.
    """

    document: dict[str, Any]
    schema_version: int
    size: int
    chain: ChainSource | None = None
    raw: bytes = b""  # the input, kept on the fast path for the duplicate-key proof
    raw_colons: int | None = None  # colons in the input; None on the exact path

    @property
    def is_hash_only(self) -> bool:
        return self.schema_version == 3

    @property
    def exact_path(self) -> bool:
        return self.raw_colons is None


def read_input(source: str | Path | BinaryIO, *, max_bytes: int = MAX_INPUT_BYTES) -> bytes:
    """Read at most ``max_bytes`` (plus one, to detect excess) without touching anything else.

    A path must name a regular file: a FIFO (which could wait forever for a writer), a
    device or a socket is refused before any read. Standard input is read as a stream."""
    try:
        if isinstance(source, (str, Path)):
            with _open_regular(source) as handle:
                data = handle.read(max_bytes + 1)
        else:
            data = source.read(max_bytes + 1)
    except IsADirectoryError:
        raise LoadError("is a directory, not a file") from None
    except FileNotFoundError:
        raise LoadError("no such file") from None
    except PermissionError:
        raise LoadError("permission denied") from None
    except OSError as error:
        raise LoadError(f"cannot read: {error.strerror or error}") from None
    if len(data) > max_bytes:
        raise LoadError(f"input larger than the limit of {max_bytes} bytes")
    return data


_KINDS = {stat.S_IFIFO: "a FIFO", stat.S_IFCHR: "a character device",
          stat.S_IFBLK: "a block device", stat.S_IFSOCK: "a socket"}


def _open_regular(path: str | Path) -> BinaryIO:
    """Open ``path`` for reading only if it is a regular file. ``O_NONBLOCK`` makes opening
    a FIFO return at once (instead of waiting for a writer) so that it can be refused."""
    descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    try:
        mode = os.fstat(descriptor).st_mode
        if stat.S_ISDIR(mode):
            raise IsADirectoryError
        if not stat.S_ISREG(mode):
            kind = _KINDS.get(stat.S_IFMT(mode), "a special file")
            raise LoadError(f"{kind}, not a regular file (pipe it to standard input as '-')")
        if hasattr(os, "set_blocking"):
            os.set_blocking(descriptor, True)
        return os.fdopen(descriptor, "rb")
    except BaseException:
        os.close(descriptor)
        raise


def _line_and_column(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return line, column


def _reject_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise LoadError(f"duplicate object key {json.dumps(key, ensure_ascii=True)}")
            seen.add(key)
    return result


def _reject_constant(name: str) -> Any:
    raise LoadError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    number = float(text)
    if math.isinf(number):
        raise LoadError(f"number {text[:40]} overflows a double")
    return number


def _check_depth_and_strings(
    value: Any, max_depth: int, check_surrogates: bool, *, start_depth: int = 1
) -> None:
    """One iterative walk: container depth and (only if escapes suggest it) lone surrogates."""
    stack: list[tuple[Any, int]] = [(value, start_depth)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            if depth > max_depth:
                raise LoadError(f"nesting deeper than the limit of {max_depth} levels")
            for key, child in node.items():
                if check_surrogates:
                    _check_string(key)
                if isinstance(child, (dict, list)) or (check_surrogates and isinstance(child, str)):
                    stack.append((child, depth + 1))
        elif isinstance(node, list):
            if depth > max_depth:
                raise LoadError(f"nesting deeper than the limit of {max_depth} levels")
            for child in node:
                if isinstance(child, (dict, list)) or (check_surrogates and isinstance(child, str)):
                    stack.append((child, depth + 1))
        elif isinstance(node, str):
            _check_string(node)


def _check_string(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise LoadError("string contains a lone UTF-16 surrogate escape") from None


def parse_json(data: bytes, *, max_depth: int = MAX_DEPTH) -> Any:
    """Parse strictly: UTF-8 only, no duplicate keys, no NaN/Infinity, bounded depth."""
    if not data.strip(b" \t\r\n"):
        raise LoadError("empty input" if not data else "empty input (only whitespace)")
    if data.startswith(b"\xef\xbb\xbf"):
        raise LoadError("UTF-8 byte order mark is not allowed at the start of JSON")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        prefix = data[: error.start].decode("utf-8", errors="replace")
        line, column = _line_and_column(prefix, len(prefix))
        raise LoadError(f"invalid UTF-8 at byte {error.start} (line {line}, column {column})") from None
    try:
        value = json.loads(
            text,
            object_pairs_hook=_reject_duplicate_keys,
            parse_constant=_reject_constant,
            parse_float=_finite_float,
        )
    except json.JSONDecodeError as error:
        raise LoadError(
            f"invalid JSON: {error.msg} (line {error.lineno}, column {error.colno})"
        ) from None
    except RecursionError:
        raise LoadError(f"nesting deeper than the limit of {max_depth} levels") from None
    except ValueError as error:  # e.g. an integer beyond CPython's digit limit
        raise LoadError(f"invalid JSON number: {str(error).splitlines()[0]}") from None
    _check_depth_and_strings(value, max_depth, bool(_SURROGATE_ESCAPE.search(data)))
    return value


def detect(
    value: Any,
    *,
    size: int,
    chain: ChainSource | None = None,
    raw: bytes = b"",
    raw_colons: int | None = None,
) -> Artifact:
    """Decide whether a JSON value is a supported voice-session attestation (docs/format.md §2)."""
    if not isinstance(value, dict):
        raise LoadError(f"top level is {type_name(value)}, not an object")
    if not isinstance(value.get("verifier_compatibility"), dict):
        raise LoadError(
            "not a voice session attestation: no \"verifier_compatibility\" object at the top level"
        )
    schema = value.get("schema")
    version = value.get("schema_version")
    profile = value.get("canonicalization_profile")
    if schema != SCHEMA:
        raise LoadError(f"unsupported schema {_show(schema)} (expected {SCHEMA!r})")
    if type(version) is not int or version not in SUPPORTED_VERSIONS:
        raise LoadError(f"unsupported schema_version {_show(version)} (supported: 1, 3)")
    if profile != PROFILE:
        raise LoadError(f"unsupported canonicalization_profile {_show(profile)}")
    if chain is None and isinstance(value.get("chain"), list):
        chain = ChainSource(items=value["chain"])
    return Artifact(
        document=value,
        schema_version=version,
        size=size,
        chain=chain,
        raw=raw,
        raw_colons=raw_colons,
    )


def load_bytes(data: bytes, *, max_depth: int = MAX_DEPTH, exact: bool = False) -> Artifact:
    """Bytes -> artifact: the fast path unless ``exact`` (or ``KEEL_VERIFY_PURE``); what
    the fast path cannot judge exactly goes to the strict stdlib path, which also words
    every error. The chain's entries are judged during the chain pass."""
    if not exact and accel.fast_json_available():
        try:
            return _load_fast(data, max_depth)
        except (NeedsExactPath, LoadError):
            pass  # errors are always judged and worded by the exact path
    value = parse_json(data, max_depth=max_depth)
    return detect(value, size=len(data))


def _load_fast(data: bytes, max_depth: int) -> Artifact:
    """Top-level members decoded, chain entries kept as raw slices.

    msgspec refuses what the strict parser refuses (invalid UTF-8, NaN, lone surrogates,
    overflowing numbers, over-long integers), except duplicate keys: the chain pass
    proves their absence by counting colons (:mod:`keel_verify.load.chainpass`).
    """
    if data.startswith(b"\xef\xbb\xbf") or _ESCAPED_COLON.search(data):
        raise NeedsExactPath
    errors = accel.decode_errors()
    document: dict[str, Any] = {}
    chain: ChainSource | None = None
    try:
        members = accel.decoder("members").decode(data)
        for key, raw in members.items():
            if key == "chain":
                try:
                    chain = ChainSource(raw_items=accel.decoder("items").decode(raw))
                    continue
                except errors:
                    pass  # not an array: decoded as it is, and the checks say so
            document[key] = accel.decoder("any").decode(raw)
    except errors:
        raise NeedsExactPath from None
    _check_depth_and_strings(document, max_depth, False)
    return detect(
        document,
        size=len(data),
        chain=chain,
        raw=data,
        raw_colons=data.count(b":"),
    )


def sha256_of_input(data: bytes) -> str:
    return tagged_sha256(data)


def _show(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=True)
    return text if len(text) <= 60 else text[:57] + "..."
