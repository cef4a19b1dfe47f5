"""Benchmark goals and the summary: nothing passes on a failed, empty or stale measurement.

Pure functions over figures and result dictionaries: no benchmark runs here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from benchmarks.bench_serving import judge_runs
from benchmarks.goals import Figure, Statistic, Verdict, judge, ratio
from benchmarks.harness import disk_usage
from benchmarks.report import BenchmarkResult, all_passed, goal_lines, select_results, summary_lines
from benchmarks.wrk import Load


def _under_two(figure: Figure, statistic: Statistic = Statistic.MEDIAN):
    return judge(
        "under 2",
        figure.value,
        lambda value: value < 2,
        lambda value: f"{value:.2f}",
        statistic=statistic,
        runs=len(figure),
    )


def test_a_goal_whose_run_failed_is_a_fail_not_a_pass() -> None:
    goal = _under_two(Figure.of([1.0, None, 1.1]))
    assert goal.verdict is Verdict.NOT_MEASURED
    assert not goal.passed
    assert goal.measured.startswith("not measured")


def test_a_goal_without_any_run_is_a_fail() -> None:
    goal = _under_two(Figure.of([]))
    assert goal.verdict is Verdict.NOT_MEASURED and not goal.passed


def test_a_goal_is_judged_by_its_stated_statistic_and_shows_the_other_when_they_disagree() -> None:
    # The artifacts case: medians at 1.62x pass "within 2x", the fastest runs at 2.39x do not.
    versus_numpy = judge(
        "within 2x of numpy",
        lambda s: ratio(
            Figure.of([4.24, 4.01, 4.4]).value(s), Figure.of([2.61, 1.68, 2.7]).value(s)
        ),
        lambda factor: factor <= 2,
        lambda factor: f"{factor:.2f}x",
        runs=3,
    )
    assert versus_numpy.statistic == "median of 3 runs"
    assert versus_numpy.verdict is Verdict.PASS
    assert versus_numpy.measured == "1.62x"
    assert versus_numpy.otherwise == "best of 3 runs: 2.39x, would fail"
    by_best = _under_two(Figure.of([1.5, 2.5, 3.0]), Statistic.BEST)
    assert (by_best.statistic, by_best.verdict) == ("best of 3 runs", Verdict.PASS)
    assert by_best.otherwise == "median of 3 runs: 2.50, would fail"


def test_statistics_agreeing_add_nothing_and_best_follows_the_direction_of_better() -> None:
    assert _under_two(Figure.of([1.0, 1.2, 1.1])).otherwise == ""
    assert Figure.of([3.0, 1.0, 2.0]).value(Statistic.BEST) == 1.0
    assert Figure.of([3.0, 1.0, 2.0], lower_is_better=False).value(Statistic.BEST) == 3.0
    assert Figure.of([3.0, 1.0, 2.0]).value(Statistic.MEDIAN) == 2.0


def _result(name: str, commit: str | None, **fields: Any) -> dict[str, Any]:
    result = BenchmarkResult(name, f"{name} title", **fields).to_json(quick=False, seconds=1.0)
    result["commit"] = commit
    return result


def test_an_incomplete_benchmark_reads_as_fail_in_the_goals() -> None:
    passing = _under_two(Figure.of([1.0]))
    crashed = _result("fanout", "abc", goals=[passing], error="Traceback...\nOSError: disk full")
    failed = _result("startup", "abc", goals=[passing], failed=["setup: exited with 1"])
    lines = goal_lines([crashed, failed])
    assert ["fanout", "runs to its end", "—", "OSError: disk full", "FAIL"] in lines
    assert ["startup", "every case succeeds", "—", "setup: exited with 1", "FAIL"] in lines
    assert not all_passed([crashed]) and not all_passed([failed])
    assert all_passed([_result("fanout", "abc", goals=[passing])])


def test_the_summary_holds_only_results_of_the_current_commit() -> None:
    found = [
        _result("serving", "new", goals=[_under_two(Figure.of([1.0]))]),
        _result("fanout", "old", goals=[_under_two(Figure.of([1.0]))]),
        _result("dedup", None),
    ]
    results = select_results(found, "new")
    assert [r["name"] for r in results.current] == ["serving"]
    assert [r["name"] for r in results.left_out] == ["fanout", "dedup"]
    text = "\n".join(summary_lines(results))
    assert "Measured at commit **new**" in text
    assert "- fanout: measured at commit old" in text
    assert "| fanout |" not in text and "| serving |" in text
    # An unknown checkout (not a git work tree) has no current results at all.
    assert select_results(found, None).current == []


def test_a_folder_the_run_never_made_has_no_size(tmp_path: Path) -> None:
    assert disk_usage(tmp_path / "blobs") is None
    (tmp_path / "blobs").mkdir()
    assert disk_usage(tmp_path / "blobs") == (0, 0)
    (tmp_path / "blobs" / "a").write_bytes(b"x" * 10)
    usage = disk_usage(tmp_path / "blobs")
    assert usage is not None and usage[1] == 10


def _load(correct: int, wrong: int = 0, timeouts: int = 0, p50: float = 10.0) -> Load:
    return Load(
        seconds=10.0,
        correct=correct,
        wrong=wrong,
        socket_errors={"connect": 0, "read": 0, "write": 0, "timeout": timeouts},
        latency_ms={"p50": p50, "p90": 2 * p50, "p99": 2 * p50, "p99.9": 3 * p50, "max": 40.0},
    )


def test_a_load_run_counts_only_if_every_reply_was_correct() -> None:
    assert _load(12000).ok and _load(12000).throughput == 1200
    assert not _load(12000, wrong=1).ok
    assert not _load(12000, timeouts=1).ok
    assert not _load(0).ok


def test_serving_goals_fail_on_a_failed_run_or_on_servers_that_disagree() -> None:
    good = {"shipyard": [_load(12000)], "mlflow": [_load(1000, p50=100.0)]}
    result = BenchmarkResult("serving", "t")
    judge_runs(result, good, None)
    assert result.complete and all(goal.passed for goal in result.goals)

    errors = {"shipyard": [_load(12000, wrong=3)], "mlflow": [_load(1000, p50=100.0)]}
    result = BenchmarkResult("serving", "t")
    judge_runs(result, errors, None)
    assert not result.complete and "3 other replies" in result.failed[0]
    assert [goal.verdict for goal in result.goals] == [Verdict.NOT_MEASURED] * 4

    result = BenchmarkResult("serving", "t")
    judge_runs(result, good, "the servers disagree on the same 50 rows")
    assert result.failed == ["the servers disagree on the same 50 rows"]
    assert not any(goal.passed for goal in result.goals)
