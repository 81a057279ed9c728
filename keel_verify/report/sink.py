"""The contract every output format follows: reports arrive one at a time (a batch is
never held in memory), then the totals. Renderers show; they decide nothing.

Each sink splits its per-report work in two: ``renderer`` (a pure, picklable function of
one report, so that a worker process can run it next to the verification and send back
a few rendered strings instead of the whole report) and ``write`` (what is left for the
process that owns the output: appending the rendered piece, in input order, and the
running state such as counts). ``add(report)`` is ``write(renderer(report))``."""

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
        self.add_keys(report_keys(report))

    def add_keys(self, keys: ReportKeys) -> None:
        """What :func:`report_keys` found in one report, in report order."""
        signer, named = keys
        if signer:
            self.signers[signer] = None
        for key in named:
            if len(self.named) >= NAMED_KEYS_KEPT:
                return
            self.named[key] = None

    def ordered(self) -> list[str]:
        return list(dict.fromkeys([*self.signers, *self.named]))


#: A report's signer key (or None) and the keys its other signature entries name that the
#: policy makes a statement about (distinct, in order, at most NAMED_KEYS_KEPT).
ReportKeys = tuple[str | None, tuple[str, ...]]


def report_keys(report: Report) -> ReportKeys:
    """The keys of ``report`` that :class:`FeaturedKeys` may feature. Only the first
    NAMED_KEYS_KEPT distinct named keys can ever be kept, whatever was kept before."""
    signer = report.signer.public_key if report.signer is not None else None
    named: dict[str, None] = {}
    for check in report.checks:
        if check.name != "issuer_signature" or not isinstance(check.details, Mapping):
            continue
        entries = check.details.get("signatures")
        for entry in entries if isinstance(entries, list) else ():
            if len(named) >= NAMED_KEYS_KEPT:
                break
            if (isinstance(entry, Mapping) and isinstance(entry.get("public_key"), str)
                    and (entry.get("trust_source") or entry.get("trust_problem"))):
                named[entry["public_key"]] = None
    return signer or None, tuple(named)


def trust_featuring(trust: Mapping[str, Any], public_keys: Sequence[str]) -> Mapping[str, Any]:
    """``trust`` listing first the statements about ``public_keys`` (in that order of
    priority) when it lists a policy in part (a ``PolicyDescription``); any other mapping
    as it is."""
    featuring: Callable[[Sequence[str]], Mapping[str, Any]] | None = getattr(
        trust, "featuring", None)
    return featuring(public_keys) if callable(featuring) else trust


class Sink(Protocol):
    #: One report -> its rendered piece: pure, picklable, and cheap to pickle.
    renderer: Callable[[Report], Any]

    def add(self, report: Report) -> None:
        """Render one report (written at once: output streams)."""

    def write(self, piece: Any) -> None:
        """Write one report's piece made by ``renderer`` (pieces arrive in input order)."""

    def close(self, totals: Totals) -> None:
        """Finish the output (closing elements, the totals line)."""


class PieceSink:
    """A sink's ``add`` as ``write(renderer(report))``; subclasses set ``renderer`` and
    define ``write`` and ``close``."""

    renderer: Callable[[Report], Any]

    def add(self, report: Report) -> None:
        self.write(self.renderer(report))

    def write(self, piece: Any) -> None:
        raise NotImplementedError


def render_all(sink: Sink, reports: Iterable[Report]) -> Totals:
    """Feed ``reports`` to ``sink`` one by one, close it, and return the totals."""
    totals = Totals()
    for report in reports:
        sink.add(report)
        totals.add(report)
    sink.close(totals)
    return totals
