"""The contract every output format follows: reports arrive one at a time (a batch is
never held in memory), then the totals. Renderers show; they decide nothing."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from keel_verify.results import CheckInfo, Report, Totals


def _no_source(_path: str) -> str | None:
    return None


@dataclass(frozen=True)
class RenderContext:
    """What every renderer may show besides the reports.

    ``catalogue``: every check and its reason codes (SARIF rules, JUnit test cases);
    ``trust`` and ``policy``: descriptions of what the files were judged under;
    ``source``: the text of an input file (None when unavailable, e.g. standard input),
    used only to locate reported JSON Pointers; ``quiet``: human output shows only files
    that are not VERIFIED, and the totals.
    """

    catalogue: tuple[CheckInfo, ...]
    trust: Mapping[str, Any] = field(default_factory=dict)
    policy: Mapping[str, Any] | None = None
    quiet: bool = False
    source: Callable[[str], str | None] = _no_source


def signer_keys(reports: Iterable[Report]) -> set[str]:
    """The public keys (``"ed25519:"`` + base64) the reports' artifacts signed with or
    named for their signer."""
    return {report.signer.public_key for report in reports
            if report.signer is not None and report.signer.public_key}


def trust_featuring(trust: Mapping[str, Any], public_keys: Collection[str]) -> Mapping[str, Any]:
    """``trust`` listing first the statements about ``public_keys`` when it lists a policy
    in part (a ``PolicyDescription``); any other mapping as it is."""
    featuring: Callable[[Collection[str]], Mapping[str, Any]] | None = getattr(
        trust, "featuring", None)
    return featuring(public_keys) if callable(featuring) else trust


class Sink(Protocol):
    def add(self, report: Report) -> None:
        """Render one report (written at once: output streams)."""

    def close(self, totals: Totals) -> None:
        """Finish the output (closing elements, the totals line)."""


def render_all(sink: Sink, reports: Iterable[Report]) -> Totals:
    """Feed ``reports`` to ``sink`` one by one, close it, and return the totals."""
    totals = Totals()
    for report in reports:
        sink.add(report)
        totals.add(report)
    sink.close(totals)
    return totals
