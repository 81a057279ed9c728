"""``keel-verify --list-checks``: every check, what it establishes, and every stable reason
code it can give with the outcome that code always carries."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence

from keel_verify.results import CheckInfo


def catalogue_lines(catalogue: Sequence[CheckInfo], reference_names: Collection[str]) -> Iterator[str]:
    width = max(len(info.name) for info in catalogue)
    code_width = max(len(code.code) for info in catalogue for code in info.codes)
    for index, info in enumerate(catalogue):
        if index:
            yield ""
        origin = "reference" if info.name in reference_names else (
            "gate" if info.name == "policy" else "keel-verify")
        yield f"{info.name:<{width}}  {origin:<11}  {info.summary}"
        for code in info.codes:
            yield f"  {code.code:<{code_width}}  {code.outcome.value:<4}  {code.meaning}"
