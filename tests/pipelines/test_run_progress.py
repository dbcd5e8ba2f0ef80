"""Progress bars of `python -m pipelines run`: drawn on a terminal, absent elsewhere, and the
run's own lines and summary unchanged either way."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console

from pipelines.progress import RunProgress
from pipelines.runner import RunOptions, run_pipeline
from pipelines.sample.generator import GeneratorConfig, generate
from tests.conftest import record_sample_edges_quiet


def _terminal() -> tuple[Console, io.StringIO]:
    screen = io.StringIO()
    return Console(file=screen, force_terminal=True, width=100), screen


def test_bars_are_drawn_on_a_terminal_and_grow_as_stages_are_known() -> None:
    console, screen = _terminal()
    with RunProgress(console) as progress:
        progress.add("days (bronze+silver)", 2)
        progress.advance("days (bronze+silver)")
        progress.add("releases and exports", 1)
        progress.add("releases and exports", 2)  # corrections found later
        progress.advancer("releases and exports")(3)
        progress.advance("no such stage")  # a stage without a bar: nothing happens
    drawn = screen.getvalue()
    assert "days (bronze+silver)" in drawn and "1/2" in drawn and "3/3" in drawn


def test_nothing_is_drawn_when_the_output_is_not_a_terminal() -> None:
    screen = io.StringIO()
    with RunProgress(Console(file=screen)) as progress:
        progress.add("days (bronze+silver)", 1)
        progress.advance("days (bronze+silver)")
    assert screen.getvalue() == ""


def test_a_run_on_a_terminal_draws_its_bars_and_still_prints_its_summary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setenv("PSEUDONYMIZATION_KEY", "progress-test-pseudonymization-key-0123")
    monkeypatch.setenv("EXPORT_SIGNING_KEY", "5a" * 32)
    raw, out = tmp_path / "raw", tmp_path / "out"
    config = GeneratorConfig(out=raw, days=2, users=30, seed=3, malformed_rate=0.0)
    generate(config)
    record_sample_edges_quiet(raw, out, settle=False)
    console, screen = _terminal()
    code = run_pipeline(raw, out, None, None, RunOptions(console=console))
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "running" in printed and "2 day(s)" in printed
    assert "\noutputs:" in printed and "bronze/" in printed
    drawn = screen.getvalue()
    assert "indexing raw files" in drawn and "days (bronze+silver)" in drawn
    assert "2/2" in drawn
