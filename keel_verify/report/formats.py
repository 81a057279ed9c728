"""The output formats by name (``--format``, ``--output FORMAT=PATH``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import IO

from keel_verify.report.github import GithubSink
from keel_verify.report.json_report import JsonSink
from keel_verify.report.junit import JunitSink
from keel_verify.report.rows import JsonlSink
from keel_verify.report.sarif import SarifSink
from keel_verify.report.sink import RenderContext, Sink
from keel_verify.report.terminal import TextSink

FORMATS: dict[str, Callable[[IO[str], RenderContext], Sink]] = {
    "text": TextSink,
    "json": JsonSink,
    "jsonl": JsonlSink,
    "junit": JunitSink,
    "sarif": SarifSink,
    "github": GithubSink,
}
