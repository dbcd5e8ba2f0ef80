"""De-identify one bronze partition into silver, in this process or on a Dask cluster.

Both engines stream: bronze is read in record batches of `batch_rows`, each batch is
de-identified by the same `Deidentifier`, and the results are written in order through one
`AtomicParquetWriter`. So the silver file is the same row for row whichever engine made it,
and peak memory depends on the batch size (times the batches in flight), not on the size of
the partition.

On Dask the driver (the Dagster step) reads the batches and submits each to the cluster as
a future; no more than two batches per worker thread are in flight, so a slow cluster cannot
make the driver buffer the whole partition. Workers need the project installed, nothing
else: batches travel with the task, no shared filesystem is required.
"""

from __future__ import annotations

import functools
import itertools
import multiprocessing
from collections import Counter, deque
from collections.abc import Iterator, Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from deidentify.field_policy import FieldPolicy
from deidentify.pseudonymize import PseudonymKey
from deidentify.scrubber import Scrubber
from deidentify.transform import Deidentifier, InProgress
from lakehouse.faults import crash_point
from lakehouse.storage import AtomicParquetWriter, iter_row_groups

ENGINES = ("in_process", "dask")


@dataclass
class PartitionDeidentified:
    """What de-identifying one partition did, for the asset's metadata."""

    schema: pa.Schema
    rows: int = 0
    entities: Counter[str] = field(default_factory=Counter)
    fields_dropped: Counter[str] = field(default_factory=Counter)
    distinct_analyzed: int = 0
    values_generalized_by_rescan: Counter[str] = field(default_factory=Counter)
    rescan_findings: Counter[str] = field(default_factory=Counter)
    values_outside_vocabulary: Counter[str] = field(default_factory=Counter)

    def add(self, counts: Mapping) -> None:
        """Add one batch's counts (as `deidentify_batch` returns them)."""
        self.entities.update(counts["entities"])
        self.distinct_analyzed += counts["distinct_analyzed"]
        for name in _STATS_COUNTERS:
            getattr(self, name).update(counts[name])


# The counters of `DeidentifyStats` a partition's metadata reports.
_STATS_COUNTERS = (
    "fields_dropped",
    "values_generalized_by_rescan",
    "rescan_findings",
    "values_outside_vocabulary",
)


def deidentify_in_process(
    bronze: Path,
    target: Path,
    policy: FieldPolicy,
    source: str,
    key: PseudonymKey,
    workers: int,
    batch_rows: int,
    accounts: Mapping[str, str] | None = None,
    vocabularies: Mapping[str, tuple[str, ...]] | None = None,
) -> PartitionDeidentified:
    """Stream bronze through one Deidentifier here; NER spread over `workers` processes.

    While the workers run NER on one batch's free text, this process does the structured
    work of the next batch (`Deidentifier.begin`), then finishes the first: the two cores
    are not left waiting on each other.

    When a full batch brings almost no free text the scrubber has not seen (a day's access
    log, whose search terms the app events had: `structured_bound`), the NER workers would
    idle while this process does all the structured work alone; the rest of the partition
    is then spread over `workers` forked processes, each de-identifying whole batches
    (`deidentify_batch`, the Dask engine's task) with a copy of the scrubber's memo, and the
    results are written in bronze order. The silver file is the same either way.

    `accounts` is the account directory for the partition's logged-in requests (access_log);
    `vocabularies` the sharing policy's closed vocabularies (default: the shipped policy's).
    """
    with Scrubber(workers=workers) as scrubber:
        deidentifier = Deidentifier(policy, source, key, scrubber, accounts, vocabularies)
        with AtomicParquetWriter(target, deidentifier.schema, background=True) as writer:
            started = None
            batches = _first_cut_small(
                iter_row_groups(pq.ParquetFile(bronze), batch_rows),
                max(1, batch_rows // FIRST_BATCH_SHARE),
            )
            for batch in batches:
                following = deidentifier.begin(batch)
                if started is not None:
                    writer.write(deidentifier.finish(started))
                    crash_point("silver")
                started = following
                if workers > 1 and batch.num_rows >= batch_rows and structured_bound(following):
                    break
            if started is not None:
                writer.write(deidentifier.finish(started))
                crash_point("silver")
            scrubber.close()
            spread = _spread(
                batches, writer, workers, (policy, source, key, accounts, vocabularies)
            )
    result = PartitionDeidentified(schema=deidentifier.schema, rows=deidentifier.stats.rows)
    result.add(_counts(deidentifier, Counter(scrubber.entities), scrubber.distinct_analyzed))
    result.rows += spread.rows
    result.add(_counts_of(spread))
    return result


# A batch with fewer new free-text values than this share of its rows is structured-bound.
STRUCTURED_BOUND_NEW_TEXTS_PER_ROW = 1 / 500


def structured_bound(started: InProgress) -> bool:
    """Whether a begun batch left its NER workers next to nothing to do."""
    new = len(started.text.new) if started.text is not None else 0
    return new < started.rows * STRUCTURED_BOUND_NEW_TEXTS_PER_ROW


def _spread(
    batches: Iterator[pa.RecordBatch],
    writer: AtomicParquetWriter,
    workers: int,
    arguments: tuple,
) -> PartitionDeidentified:
    """De-identify the remaining batches on `workers` forked processes, written in order."""
    done = PartitionDeidentified(schema=writer.schema)
    first = next(batches, None)
    if first is None:
        return done
    pending: deque[Future] = deque()
    writer.flush()
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        for batch in itertools.chain([first], batches):
            pending.append(pool.submit(deidentify_batch, batch, *arguments))
            if len(pending) >= 2 * workers:
                _write_spread(pending.popleft(), writer, done)
        while pending:
            _write_spread(pending.popleft(), writer, done)
    return done


def _write_spread(future: Future, writer: AtomicParquetWriter, done: PartitionDeidentified) -> None:
    table, counts = future.result()
    writer.write(table)
    crash_point("silver")
    done.rows += table.num_rows
    done.add(counts)


def _counts_of(done: PartitionDeidentified) -> dict:
    return {
        "entities": done.entities,
        "distinct_analyzed": done.distinct_analyzed,
        **{name: getattr(done, name) for name in _STATS_COUNTERS},
    }


# The first batch of a partition is cut to a tenth: the NER workers wait for the structured
# work of the first batch before they have anything to do.
FIRST_BATCH_SHARE = 10


def _first_cut_small(
    batches: Iterator[pa.RecordBatch], first_rows: int
) -> Iterator[pa.RecordBatch]:
    """The batches, with the first `first_rows` rows made a batch of their own."""
    for index, batch in enumerate(batches):
        if index == 0 and batch.num_rows > first_rows:
            yield batch.slice(0, first_rows)
            yield batch.slice(first_rows)
        else:
            yield batch


def _counts(deidentifier: Deidentifier, entities: Counter[str], analyzed: int) -> dict:
    stats = deidentifier.stats
    return {
        "entities": entities,
        "distinct_analyzed": analyzed,
        **{name: Counter(getattr(stats, name)) for name in _STATS_COUNTERS},
    }


@functools.cache
def _worker_scrubber() -> Scrubber:
    """One scrubber per worker process, so its memo serves every batch the worker gets."""
    return Scrubber(workers=1)


def deidentify_batch(
    batch: pa.RecordBatch,
    policy: FieldPolicy,
    source: str,
    key: PseudonymKey,
    accounts: Mapping[str, str] | None = None,
    vocabularies: Mapping[str, tuple[str, ...]] | None = None,
) -> tuple[pa.Table, dict]:
    """Run on a Dask worker: one bronze batch in, its silver rows and counts out."""
    scrubber = _worker_scrubber()
    entities_before = Counter(scrubber.entities)
    analyzed_before = scrubber.distinct_analyzed
    deidentifier = Deidentifier(policy, source, key, scrubber, accounts, vocabularies)
    table = deidentifier.transform(batch)
    return table, _counts(
        deidentifier,
        scrubber.entities - entities_before,
        scrubber.distinct_analyzed - analyzed_before,
    )


def deidentify_on_dask(
    bronze: Path,
    target: Path,
    policy: FieldPolicy,
    source: str,
    key: PseudonymKey,
    batch_rows: int,
    client,
    accounts: Mapping[str, str] | None = None,
    vocabularies: Mapping[str, tuple[str, ...]] | None = None,
) -> PartitionDeidentified:
    """Submit every bronze batch to the cluster and write the results in bronze order."""
    schema = policy.source(source).silver_schema("event_date")
    result = PartitionDeidentified(schema=schema)
    in_flight_limit = max(2, 2 * sum(client.nthreads().values()))
    pending: deque = deque()

    def collect(writer: AtomicParquetWriter) -> None:
        _, future = pending.popleft()
        table, counts = future.result()
        writer.write(table)
        result.rows += table.num_rows
        result.add(counts)

    # The policy and key go to every worker once; each batch is scattered, not embedded in
    # the task graph (Dask's advice for data of megabytes). hash=False: with content keys, the
    # next partition's scatter of the same policy gets the key this one's release is freeing.
    shared_policy, shared_key, shared_accounts, shared_vocabularies = client.scatter(
        [policy, key, accounts, vocabularies], broadcast=True, hash=False
    )
    with AtomicParquetWriter(target, schema) as writer:
        try:
            for batch in iter_row_groups(pq.ParquetFile(bronze), batch_rows):
                # The scattered batch's future is kept until its task is done: a dropped
                # reference lets the scheduler release the data before the task reads it.
                data = client.scatter(batch, hash=False)
                pending.append(
                    (
                        data,
                        client.submit(
                            deidentify_batch,
                            data,
                            shared_policy,
                            source,
                            shared_key,
                            shared_accounts,
                            shared_vocabularies,
                        ),
                    )
                )
                if len(pending) >= in_flight_limit:
                    collect(writer)
            while pending:
                collect(writer)
        except BaseException:
            for _, future in pending:
                future.cancel()
            raise
    return result


@contextmanager
def dask_client(scheduler: str | None, workers: int) -> Iterator:
    """A client of the cluster at `scheduler`, or of a LocalCluster of `workers` processes."""
    from dask.distributed import Client, LocalCluster

    if scheduler:
        with Client(scheduler) as client:
            yield client
        return
    with (
        LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client
