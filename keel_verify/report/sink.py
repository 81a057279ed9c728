"""The contract every output format follows: reports arrive one at a time (a batch is
never held in memory), then the totals. Renderers show; they decide nothing."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
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


#: How many keys named by signature entries other than the signer's are kept for the
#: trust listing (the listing itself shows at most 50 statements).
NAMED_KEYS_KEPT = 50


@dataclass
class FeaturedKeys:
    """The public keys (``"ed25519:"`` + base64) a trust listing shows first: each
    report's signer (the key that verified, or the one the counted signature names), then
    the keys that other signature entries name and the policy makes a statement about
    (``issuer_signature`` details), at most :data:`NAMED_KEYS_KEPT` of those."""

    signers: dict[str, None] = field(default_factory=dict)
    named: dict[str, None] = field(default_factory=dict)

    @classmethod
    def of(cls, reports: Iterable[Report]) -> FeaturedKeys:
        featured = cls()
        for report in reports:
            featured.add(report)
        return featured

    def add(self, report: Report) -> None:
        if report.signer is not None and report.signer.public_key:
            self.signers[report.signer.public_key] = None
        for check in report.checks:
            if check.name != "issuer_signature" or not isinstance(check.details, Mapping):
                continue
            entries = check.details.get("signatures")
            for entry in entries if isinstance(entries, list) else ():
                if len(self.named) >= NAMED_KEYS_KEPT:
                    return
                if (isinstance(entry, Mapping) and isinstance(entry.get("public_key"), str)
                        and (entry.get("trust_source") or entry.get("trust_problem"))):
                    self.named[entry["public_key"]] = None

    def ordered(self) -> list[str]:
        return list(dict.fromkeys([*self.signers, *self.named]))


def trust_featuring(trust: Mapping[str, Any], public_keys: Sequence[str]) -> Mapping[str, Any]:
    """``trust`` listing first the statements about ``public_keys`` (in that order of
    priority) when it lists a policy in part (a ``PolicyDescription``); any other mapping
    as it is."""
    featuring: Callable[[Sequence[str]], Mapping[str, Any]] | None = getattr(
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
