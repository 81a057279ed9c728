"""benchmarks/hostile.py decides what each variant runs (no timing here): ours every case
in every round; the reference verifier once, on the case's one input file with its own
trust root, never on the FIFO nor with other options of ours; a case it did not run shows
dashes, not "timeout"."""

from __future__ import annotations

import pytest

from tests.helpers import benchmark_module

hostile = benchmark_module("hostile")

CASES = {case.name: case for case in hostile.CASES}
SAMPLE_ROOT = str(hostile.TRUST_ROOT)


@pytest.mark.parametrize("name, arguments, expected", [
    ("sample", ["--trust-root", SAMPLE_ROOT, "s.json"], ["s.json"]),  # its own trust root
    ("deep_token", ["--trust-root", SAMPLE_ROOT, "d.json"], ["d.json"]),
    ("deep_token", ["d.json"], ["d.json"]),
    ("fifo", ["fifo.json"], None),  # it would wait as long as the timeout
    ("trust_100k", ["--trust-root", "r.json", "a.json"], None),  # another trust root
    ("trust_100k_json", ["--json", "--trust-root", SAMPLE_ROOT, "a.json"], None),  # not its own
])
def test_the_reference_verifier_runs_each_case_once_on_its_file(
    name: str, arguments: list[str], expected: list[str] | None,
) -> None:
    case = CASES[name]
    assert hostile.arguments_for("reference", case, arguments, 0) == expected
    assert hostile.arguments_for("reference", case, arguments, 1) is None
    for ours in ("after", "before"):
        assert [hostile.arguments_for(ours, case, arguments, repeat)
                for repeat in range(3)] == [arguments] * 3


def test_a_case_not_run_shows_dashes_and_one_that_timed_out_says_so() -> None:
    skipped = hostile.Measured()
    assert hostile.cells(skipped, 0.2) == "- | - | - | -"
    timed_out = hostile.Measured(attempted=True)
    assert hostile.cells(timed_out, 0.2) == "timeout | - | - | -"
    ran = hostile.Measured(walls=[0.5, 0.4, 0.6], peaks=[100.0, 120.0], code=1, attempted=True)
    assert hostile.cells(ran, 0.2) == "0.50 s | 2.5x | 120 MiB | 1"
