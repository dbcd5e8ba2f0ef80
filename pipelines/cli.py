"""`python -m pipelines`: generate sample logs, run every asset in-process, benchmark."""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from pipelines.locations import DEFAULT_OUT_DIR, DEFAULT_RAW_DIR


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected a date as YYYY-MM-DD, got {text!r}") from exc


def _month(text: str) -> date:
    """A month as YYYY-MM (its first day); YYYY-MM-01 is accepted too."""
    try:
        if len(text) == 7:
            return date.fromisoformat(f"{text}-01")
        day = date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected a month as YYYY-MM, got {text!r}") from exc
    if day.day != 1:
        raise argparse.ArgumentTypeError(f"expected a month as YYYY-MM, got {text!r}")
    return day


def _add_command(commands, name: str, help: str) -> argparse.ArgumentParser:
    """A subcommand whose own --help starts with the line the command list shows."""
    return commands.add_parser(name, help=help, description=help)


def build_parser() -> argparse.ArgumentParser:
    """The command line: `generate`, `run`, `bench` and `utility`."""
    parser = argparse.ArgumentParser(prog="python -m pipelines", description=__doc__)
    parser.add_argument(
        "--debug", action="store_true", help="print full tracebacks here instead of to a log file"
    )
    commands = parser.add_subparsers(
        dest="command",
        required=True,
        metavar="COMMAND",
        help="what to do (COMMAND --help for more)",
    )

    gen = _add_command(
        commands, "generate", help="write deterministic sample logs and ground truth"
    )
    gen.add_argument("--out", type=Path, default=DEFAULT_RAW_DIR, help="raw folder to write")
    gen.add_argument("--days", type=int, default=31, help="days of logs (default 31)")
    gen.add_argument("--users", type=int, default=2000, help="distinct users (default 2000)")
    gen.add_argument(
        "--seed", type=int, default=7, help="random seed: same seed, same files (default 7)"
    )
    gen.add_argument("--start", type=_date, default=None, help="first day (UTC), YYYY-MM-DD")
    gen.add_argument("--events", type=int, default=None, help="total events (default 3/user/day)")
    gen.add_argument(
        "--no-shipper-markers",
        action="store_true",
        help="do not mark the generated days closed (<folder>/_closed/YYYY-MM-DD): their "
        "completeness then rests on the watermark alone",
    )

    quiet = _add_command(
        commands,
        "record-quiet",
        help="record, as the operator, that days were really quiet, so their periods can be "
        "published (written to the audit trail)",
    )
    quiet.add_argument(
        "--out", type=Path, default=DEFAULT_OUT_DIR, help="output folder (bronze ... warehouse)"
    )
    quiet.add_argument("--start", type=_date, required=True, help="first quiet day, YYYY-MM-DD")
    quiet.add_argument("--end", type=_date, default=None, help="last quiet day (default: --start)")
    quiet.add_argument("--reason", required=True, help="why the days had little or no input")
    quiet.add_argument(
        "--by", default=None, help="who records it (default: the login name of this shell)"
    )

    run = _add_command(commands, "run", help="materialize every asset for every date found")
    run.add_argument(
        "--raw", type=Path, default=DEFAULT_RAW_DIR, help="raw folder to read (events/, access/)"
    )
    run.add_argument(
        "--out", type=Path, default=DEFAULT_OUT_DIR, help="output folder (bronze ... warehouse)"
    )
    run.add_argument("--start", type=_date, default=None, help="first date to run (inclusive)")
    run.add_argument("--end", type=_date, default=None, help="last date to run (inclusive)")
    run.add_argument(
        "--wait",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="when another run holds the output folder, wait this long for it (default: refuse)",
    )
    run.add_argument(
        "--accept-rotated",
        action="append",
        default=[],
        metavar="RAW_FILE",
        help="a raw file (e.g. access/2026-10-01.log) that shrank because it was rotated on "
        "purpose: rebuild its days from what it holds now (repeatable)",
    )

    bench = _add_command(commands, "bench", help="measure bronze + silver against a naive baseline")
    bench.add_argument("--events", type=int, default=100_000, help="events to generate")
    bench.add_argument("--naive-sample", type=int, default=1_000, help="events for the baseline")
    bench.add_argument("--workers", type=int, default=0, help="NER processes (0 = one per core)")
    bench.add_argument("--keep", type=Path, default=None, help="keep the generated data here")
    bench.add_argument("--days", type=int, default=1, help="days the events are spread over")
    bench.add_argument(
        "--engine",
        choices=("in_process", "dask"),
        default="in_process",
        help="silver on this process's NER workers, or on a LocalCluster of --workers processes",
    )
    bench.add_argument(
        "--help-time-only",
        action="store_true",
        help="only time `python -m pipelines --help` (fresh processes, best of 3); no data",
    )
    utility = _add_command(
        commands, "utility", help="measure released tables against their exact values from silver"
    )
    utility.add_argument("--out", type=Path, default=DEFAULT_OUT_DIR, help="the warehouse folder")
    utility.add_argument("--month", type=_month, default=date(2026, 10, 1), help="YYYY-MM")
    utility.add_argument(
        "--scales", default="0.25,0.5,1,2,4", help="budget factors, comma-separated (1 = policy)"
    )
    utility.add_argument("--trials", type=int, default=3, help="releases drawn per scale")
    utility.add_argument("--json", type=Path, default=None, help="also write the figures here")
    evaluate = _add_command(
        commands,
        "evaluate-text",
        help="the scrubber and vanilla Presidio on labelled public texts and a generated set",
    )
    evaluate.add_argument(
        "--benchmarks",
        type=Path,
        default=None,
        help="folder with the public corpora (default ../shared/data/pii-benchmarks)",
    )
    evaluate.add_argument("--limit", type=int, default=None, help="texts per corpus (default all)")
    evaluate.add_argument("--json", type=Path, default=None, help="also write the figures here")
    evaluate.add_argument("--misses", type=int, default=0, help="print this many missed spans")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments and run the chosen command; returns the process exit code.

    An error prints one line, with what to do; its traceback goes to
    `<out>/logs/errors.log` (or the terminal with --debug).
    """
    args = build_parser().parse_args(argv)
    try:
        return _command(args)
    except Exception as exc:
        if args.debug:
            raise
        return _one_line_error(exc, getattr(args, "out", None))


def _one_line_error(exc: Exception, out: Path | None) -> int:
    """A configuration error is one line (its message says what to fix) and writes nothing;
    any other error also says where its traceback went."""
    from deidentify.configuration import ConfigurationError
    from pipelines.errors import exit_code_for, log_traceback

    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    print(f"error: {first}", file=sys.stderr)
    if not isinstance(exc, ConfigurationError):
        where = log_traceback(exc, out)
        print(f"  (traceback in {where}; --debug prints it here)", file=sys.stderr)
    return exit_code_for(exc)


def _command(args: argparse.Namespace) -> int:
    if args.command == "generate":
        return _generate(args)
    if args.command == "record-quiet":
        return _record_quiet(args)
    if args.command == "bench":
        return _bench(args)
    if args.command == "evaluate-text":
        from pipelines.text_evaluation import BENCHMARKS, run_evaluation

        return run_evaluation(args.benchmarks or BENCHMARKS, args.limit, args.json, args.misses)
    if args.command == "utility":
        from lakehouse.utility import run_utility

        scales = [float(s) for s in args.scales.split(",")]
        return run_utility(args.out, args.month, scales, args.trials, args.json)
    return _run(args)


def _bench(args: argparse.Namespace) -> int:
    from pipelines.bench import HELP_GOAL_SECONDS, help_seconds, print_figures, run_benchmark

    if args.help_time_only:
        print_figures({"help_seconds": help_seconds(), "help_goal_seconds": HELP_GOAL_SECONDS})
        return 0
    print_figures(
        run_benchmark(
            args.events, args.naive_sample, args.workers, args.keep, args.days, args.engine
        )
    )
    return 0


def _generate(args: argparse.Namespace) -> int:
    from pipelines.sample.generator import DEFAULT_START, GeneratorConfig, generate

    config = GeneratorConfig(
        out=args.out,
        days=args.days,
        users=args.users,
        seed=args.seed,
        start=args.start or DEFAULT_START,
        events=args.events,
        shipper_markers=not args.no_shipper_markers,
    )
    began = time.perf_counter()
    summary = generate(config)
    took = time.perf_counter() - began
    print(
        f"generated {summary.events:,} event lines and {summary.access_lines:,} access log lines "
        f"({summary.malformed} deliberately malformed) in {took:.1f}s into {args.out}\n"
        f"ground truth: {summary.identifiers:,} planted identifiers in "
        f"{args.out / 'ground_truth'}"
    )
    return 0


def _record_quiet(args: argparse.Namespace) -> int:
    import getpass

    from lakehouse.coverage import completeness_audit_file, record_quiet

    end = args.end or args.start
    if end < args.start:
        print("error: --start is after --end", file=sys.stderr)
        return 2
    if not args.reason.strip():
        print("error: --reason is empty: say why the days had little or no input", file=sys.stderr)
        return 2
    if end >= datetime.now(UTC).date():
        print(
            f"error: {end} has not ended (UTC): only a day that is over can be recorded quiet",
            file=sys.stderr,
        )
        return 2
    days = [
        (args.start + timedelta(days=n)).isoformat() for n in range((end - args.start).days + 1)
    ]
    recorded = record_quiet(args.out, days, args.reason, args.by or getpass.getuser())
    span = recorded[0] if len(recorded) == 1 else f"{recorded[0]} .. {recorded[-1]}"
    print(
        f"recorded {len(recorded)} quiet day(s), {span}, in {args.out / 'coverage' / '_quiet'} "
        f"(audit trail: {completeness_audit_file(args.out)}); the next run publishes their "
        "periods if nothing else is missing"
    )
    return 0


def _run(args: argparse.Namespace) -> int:
    from pipelines.runner import RunOptions, run_pipeline

    if args.start and args.end and args.start > args.end:
        print("error: --start is after --end", file=sys.stderr)
        return 2
    options = RunOptions(wait_seconds=args.wait, accept_rotated=tuple(args.accept_rotated))
    return run_pipeline(args.raw, args.out, args.start, args.end, options)
