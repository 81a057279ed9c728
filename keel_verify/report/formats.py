"""The output formats by name (``--format``, ``--output FORMAT=PATH``).

Each renderer's module is imported when its format is first used, so a run pays the
import of the formats it writes only (XML for JUnit, for instance, is rarely wanted)."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import IO

from keel_verify.report.sink import RenderContext, Sink

SinkFactory = Callable[[IO[str], RenderContext], Sink]


def _sink(module: str, name: str) -> SinkFactory:
    def make(stream: IO[str], context: RenderContext) -> Sink:
        factory: SinkFactory = getattr(importlib.import_module(module), name)
        return factory(stream, context)

    make.__qualname__ = make.__name__ = name
    return make


FORMATS: dict[str, SinkFactory] = {
    "text": _sink("keel_verify.report.terminal", "TextSink"),
    "json": _sink("keel_verify.report.json_report", "JsonSink"),
    "jsonl": _sink("keel_verify.report.rows", "JsonlSink"),
    "junit": _sink("keel_verify.report.junit", "JunitSink"),
    "sarif": _sink("keel_verify.report.sarif", "SarifSink"),
    "github": _sink("keel_verify.report.github", "GithubSink"),
}
