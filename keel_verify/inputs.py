"""Turning the command line's FILE arguments into the list of inputs to verify.

A directory argument stands for every file below it whose name ends in ``.json`` (any
letter case), in sorted order. Directory links are followed, each real directory visited
once (a link back to an ancestor is not a loop). Nothing that looks like an input is
skipped silently: a dangling ``*.json`` link or a folder that cannot be listed becomes an
input with an error, and is reported (exit code 2) like any unreadable file. ``--exclude``
globs drop paths on purpose.
"""

from __future__ import annotations

import fnmatch
import heapq
import os
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import click

from keel_verify.load.config_files import ConfigFileError, read_config_file

STDIN = "-"
INPUT_SUFFIX = ".json"
#: A ``--files-from`` list larger than this is refused (about 500,000 paths of 128 bytes).
MAX_FILE_LIST_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class Input:
    """One input to verify, or (``error`` set) one that cannot be, and why (one line)."""

    path: str
    error: str | None = None


def file_list_text(path: str) -> str:
    """The text of the ``--files-from`` list at ``path`` (a regular file, a FIFO or a pipe
    such as ``<(git diff --name-only)``: read as trust files are, so that a FIFO with no
    writer or ``/dev/zero`` is refused in bounded time), with line ends translated as
    :func:`open` does and file-name bytes that are not UTF-8 kept as lone surrogates.
    ConfigFileError (one phrase, without the file's name) when it cannot be read or is
    larger than :data:`MAX_FILE_LIST_BYTES`."""
    data = read_config_file(path, MAX_FILE_LIST_BYTES)
    if len(data) > MAX_FILE_LIST_BYTES:
        raise ConfigFileError(f"larger than {MAX_FILE_LIST_BYTES} bytes")
    return file_list_of(data)


def file_list_of(data: bytes) -> str:
    """A ``--files-from`` list's bytes as text: line ends translated as :func:`open` does,
    file-name bytes that are not UTF-8 kept as lone surrogates."""
    return data.decode("utf-8", "surrogateescape").replace("\r\n", "\n").replace("\r", "\n")


def excluded(path: str, patterns: Sequence[str], root: str | None = None) -> bool:
    """Whether ``path`` matches one of the ``--exclude`` globs (:mod:`fnmatch` rules).

    A glob is tried against the file name, the path as shown, and (under a directory
    argument ``root``) the path relative to that root, so ``trust-root.json``,
    ``*/drafts/*`` and ``drafts/*`` all do what they say."""
    if not patterns:
        return False
    candidates = {os.path.basename(path), path}
    if root is not None:
        candidates.add(os.path.relpath(path, root))
    return any(fnmatch.fnmatchcase(candidate, pattern)
               for candidate in candidates for pattern in patterns)


def _looks_like_input(name: str) -> bool:
    return name.lower().endswith(INPUT_SUFFIX)


def _strerror(error: OSError) -> str:
    return (error.strerror or type(error).__name__).lower()


def walk_directory(root: str, patterns: Sequence[str] = ()) -> list[Input]:
    """Every ``*.json`` below ``root`` (links followed, loops cut), sorted by path, with an
    error input for each dangling link and each folder that cannot be listed.

    A real directory reached by several paths is walked once, under one name that does
    not depend on the order the file system lists entries in: its path without a
    directory link when it has one (every such folder is walked before any link is
    followed), else the first link to it in sorted order."""
    found: list[Input] = []
    seen: set[tuple[int, int]] = set()
    pending = [root]  # a stack: children pushed in reverse so the smallest is walked first
    links: list[str] = []  # a heap of directory links not yet followed
    while pending or links:
        directory = pending.pop() if pending else heapq.heappop(links)
        try:
            info = os.stat(directory)
        except OSError as error:  # a dangling directory link was caught below; this races
            found.append(Input(directory, f"cannot open directory: {_strerror(error)}"))
            continue
        if (info.st_dev, info.st_ino) in seen:
            continue  # reached again through a link: already walked
        seen.add((info.st_dev, info.st_ino))
        try:
            with os.scandir(directory) as entries:
                listed = sorted(entries, key=lambda entry: entry.name)
        except OSError as error:
            found.append(Input(directory, f"cannot list directory: {_strerror(error)}"))
            continue
        children: list[str] = []
        for entry in listed:
            path = entry.path
            if excluded(path, patterns, root):
                continue
            try:
                is_dir = entry.is_dir(follow_symlinks=True)
            except OSError:
                is_dir = False
            if is_dir:
                if entry.is_symlink():
                    heapq.heappush(links, path)
                else:
                    children.append(path)
            elif _looks_like_input(entry.name):
                found.append(_file_input(entry))
        pending.extend(reversed(children))
    found.sort(key=lambda item: item.path)
    return found


def _file_input(entry: os.DirEntry[str]) -> Input:
    if entry.is_symlink():
        try:
            os.stat(entry.path)
        except FileNotFoundError:
            return Input(entry.path, "dangling symbolic link (its target does not exist)")
        except OSError as error:
            return Input(entry.path, f"cannot follow symbolic link: {_strerror(error)}")
    return Input(entry.path)


def _is_directory(path: str) -> bool:
    try:
        return stat.S_ISDIR(os.stat(path).st_mode)
    except (OSError, ValueError):
        return False


def expand_inputs(inputs: Iterable[str], exclude: Sequence[str] = ()) -> list[Input]:
    """Inputs in order: files as given (``-`` is standard input), a directory as
    :func:`walk_directory` finds it; paths matching an ``exclude`` glob are dropped.
    A directory that yields nothing to verify is an input in error (its row says why; the
    other inputs are still verified). UsageError when no path is named, or when
    ``exclude`` drops every file named."""
    expanded: list[Input] = []
    named = 0
    for item in inputs:
        named += 1
        if item != STDIN and _is_directory(item):
            found = walk_directory(item, exclude)
            if not found:
                found = [Input(item, "every *.json file in this directory matches --exclude"
                               if exclude and walk_directory(item) else
                               "directory holds no *.json file")]
            expanded.extend(found)
        elif item == STDIN or not excluded(item, exclude):
            expanded.append(Input(item))
    if not named:  # e.g. `git diff --name-only | keel-verify --files-from -` with no change
        raise click.UsageError("no input: no FILE given and the --files-from list names no path")
    if not expanded:
        raise click.UsageError("every input is excluded by --exclude")
    return expanded
