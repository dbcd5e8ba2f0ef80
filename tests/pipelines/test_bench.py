"""The benchmark command runs end to end on a small input (no timing asserted here)."""

from __future__ import annotations

from pipelines.bench import run_benchmark


def test_bench_reports_every_figure_on_a_small_run() -> None:
    figures = run_benchmark(events=3000, naive_sample=60, workers=1, keep=None)
    assert figures["bronze"]["events"] == figures["silver"]["events"] > 2900
    assert figures["silver_events_per_second"] > 0 and figures["naive"]["events_per_second"] > 0
    assert figures["bronze"]["peak_rss_mib"] > 0 and figures["silver"]["peak_rss_mib"] > 0
    recall = figures["recall_on_naive_sample"]
    assert recall["identifiers"] > 20
    assert recall["pipeline"] >= recall["naive"]
    assert figures["recall_full_run"]["structured_leaked"] == 0
