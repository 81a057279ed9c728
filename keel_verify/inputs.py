"""Turning the command line's FILE arguments into the list of inputs to verify."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import click


def expand_inputs(inputs: Sequence[str]) -> list[str]:
    """Files as given; a directory becomes every ``*.json`` below it, in sorted order."""
    paths: list[str] = []
    for item in inputs:
        if item != "-" and os.path.isdir(item):
            found = sorted(str(p) for p in Path(item).rglob("*.json") if p.is_file())
            if not found:
                raise click.UsageError(f"directory {item} holds no *.json file")
            paths.extend(found)
        else:
            paths.append(item)
    return paths
