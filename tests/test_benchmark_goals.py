"""The benchmark harness judges keel-emit's goals from a results dict (no timing here):
``goals()`` prints the ingest and end lines with their figures, ``n/a`` when the emit
part was not run or failed, and ``--only emit`` selects that part."""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers import benchmark_module

run = benchmark_module("run")

INGEST = "emit ingest >= 20,000 events/s at 100 atoms per request"
END = "emit end at 100,000 events <= 2x its floor"


def emit_results(*, one: int = 38_000, four: int = 41_000, ratio: float = 1.4,
                 events: int = 100_000) -> dict[str, Any]:
    """What ``emit_bench.measure(parts=("ingest", "end"))`` returns (figures made up)."""
    return {
        "load_average": 0.4,
        "ingest": [
            {"clients": 1, "signed": False, "events": 30_000, "events_per_s": one,
             "p50_ms": 2.1, "server_cpu_us_per_event": 19.5},
            {"clients": 4, "signed": False, "events": 30_000, "events_per_s": four,
             "runs_events_per_s": [four - 1_000, four, four + 2_000],
             "p50_ms": 9.0, "server_cpu_us_per_event": 20.1},
            {"clients": 1, "signed": True, "events": 30_000, "events_per_s": 90_000,
             "p50_ms": 20.0, "server_cpu_us_per_event": 98.0},  # never judged
        ],
        "ingest_floor": {"events": 30_000, "events_per_s": 135_000, "cpu_us_per_event": 2.9},
        "end": {"events": events, "end_s": 2.1, "floor_s": 2.1 / ratio, "ratio": ratio,
                "answer_mib": 114.6},
    }


def emit_lines(results: dict[str, Any]) -> list[dict[str, str]]:
    lines: list[dict[str, str]] = run.goals(results)
    return [line for line in lines if line["what"].startswith("emit ")]


def test_goals_print_the_emit_lines_with_their_figures() -> None:
    ingest, end = emit_lines({"emit": emit_results()})
    assert ingest == {
        "status": "ok", "what": INGEST,
        "measured": "41,000 events/s (4 client(s), median of 3 runs; server CPU 20.1 us per "
                    "event); plain SQLite with the same rows 135,000 events/s, ours 0.30x of it"}
    assert end == {"status": "ok", "what": END, "measured": "1.40x (2.10 s / 1.50 s)"}


@pytest.mark.parametrize(("one", "four", "ratio", "verdicts"), [
    (19_999, 12_000, 2.01, ("MISS", "MISS")),
    (20_000, 12_000, 2.0, ("ok", "ok")),
    (5_000, 25_000, 2.5, ("ok", "MISS")),
])
def test_the_emit_lines_are_judged_against_the_goals(one: int, four: int, ratio: float,
                                                     verdicts: tuple[str, str]) -> None:
    lines = emit_lines({"emit": emit_results(one=one, four=four, ratio=ratio)})
    assert tuple(line["status"] for line in lines) == verdicts


def test_the_emit_lines_are_na_when_not_measured_or_failed() -> None:
    for results, measured in (({}, "not measured"),
                              ({"emit": {"error": "keel-emit serve did not start"}},
                               "failed: keel-emit serve did not start")):
        assert emit_lines(results) == [
            {"status": "n/a", "what": INGEST, "measured": measured},
            {"status": "n/a", "what": END, "measured": measured}]
    partial = emit_results()
    del partial["end"]
    assert emit_lines({"emit": partial})[1] == {"status": "n/a", "what": END,
                                                "measured": "not measured"}


def test_a_smaller_end_says_so() -> None:
    end = emit_lines({"emit": emit_results(events=10_000)})[1]
    assert end["what"] == END + " [measured at 10,000 events, not 100,000]"


def test_the_emit_part_is_selectable_and_in_the_default_run() -> None:
    assert "emit" in run.parse_args([]).only
    assert run.parse_args(["--only", "emit"]).only == {"emit"}
    with pytest.raises(SystemExit):
        run.parse_args(["--only", "emitter"])


def _artifact(version: int, *, wall: float, floor: float, peak: float, limit: float,
              reference: float | None = None, one_core: tuple[float, float] | None = None
              ) -> dict[str, Any]:
    """One 100k-event row of the artifacts part (figures made up)."""
    row: dict[str, Any] = {
        "case": {"name": f"v{version}-ascii-100000-pretty", "version": version,
                 "events": 100_000},
        "verifier": {"median_wall_s": wall, "peak_rss_mib": peak},
        "floor": {"median_wall_s": floor},
        "ratio_wall": wall / floor, "memory_limit_mib": limit, "errors": [],
    }
    if reference is not None:
        row["reference"] = {"median_wall_s": reference}
        row["ratio_reference"] = wall / reference
    if one_core is not None:
        row["verifier_one_core"] = {"median_wall_s": one_core[0]}
        row["floor_one_core"] = {"median_wall_s": one_core[1]}
        row["ratio_one_core"] = one_core[0] / one_core[1]
    return row


def _speed_results(*, v3_one_core: float = 1.30, batch_wall: float = 1.2) -> dict[str, Any]:
    return {
        "quick": False,
        "artifacts": [
            _artifact(1, wall=1.40, floor=1.34, peak=235, limit=275, reference=8.7),
            _artifact(3, wall=0.98, floor=0.97, peak=190, limit=224,
                      one_core=(v3_one_core, 0.97)),
        ],
        "memory": [{"case": {"name": "v3-ascii-760000-pretty"}, "verifier_peak_mib": 1112,
                    "limit_mib": 1285, "errors": []}],
        "batch": {"files": 1000, "ratio_floor": batch_wall / 0.8,
                  "failures": {"one_invocation": 0, "separate": 0},
                  "one_invocation": {"median_wall_s": batch_wall},
                  "floor": {"median_wall_s": 0.8}},
    }


def _line(results: dict[str, Any], starts: str) -> dict[str, str]:
    [line] = [g for g in run.goals(results) if g["what"].startswith(starts)]
    return dict(line)


def test_the_speed_memory_and_batch_goals_print_their_ratio_and_mark() -> None:
    results = _speed_results()
    assert _line(results, "v1 100k: wall <= 1.5x the floor") == {
        "status": "ok", "what": "v1 100k: wall <= 1.5x the floor",
        "measured": "worst 1.04x (v1-ascii-100000-pretty: 1.40 s / 1.34 s)"}
    assert _line(results, "v1 100k: wall <= 0.33x")["measured"].startswith("worst 0.16x")
    assert _line(results, "v3 100k: wall <= 1.2x")["status"] == "ok"
    one_core = _line(results, "v3 100k: wall <= 1.5x the floor, one core")
    assert one_core["status"] == "ok" and one_core["measured"].startswith("worst 1.34x")
    memory = _line(results, "v3 peak memory")
    assert memory["status"] == "ok" and memory["measured"].startswith("worst 0.87 of the limit")
    batch = _line(results, "batch: one invocation <= 2.0x")
    assert batch == {"status": "ok",
                     "what": "batch: one invocation <= 2.0x the floor in one process",
                     "measured": "1.50x (1.20 s / 0.80 s)"}


def test_a_missed_goal_is_marked_miss() -> None:
    results = _speed_results(v3_one_core=1.6, batch_wall=1.9)
    assert _line(results, "v3 100k: wall <= 1.5x the floor, one core")["status"] == "MISS"
    assert _line(results, "batch: one invocation")["status"] == "MISS"


@pytest.mark.parametrize("quick", [True, False])
def test_goals_not_measured_say_why_naming_quick_only_in_a_quick_run(quick: bool) -> None:
    lines = run.goals({"quick": quick, "artifacts": [], "memory": [], "batch": None})
    reasons = [g["measured"] for g in lines if (g["status"] == "n/a" and "100k" in g["what"])
               or g["what"] == "peak memory at 1 GiB"]
    assert reasons and all(("--quick" in reason) is quick for reason in reasons)
