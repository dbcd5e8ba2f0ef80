"""A sensor that starts ingestion when raw log files land or change."""

from __future__ import annotations

import hashlib
import json

import dagster as dg

from pipelines.erasure import REQUESTS_FOLDER, stale_months
from pipelines.ingest.raw_lines import DEFAULT_MAX_LINE_BYTES
from pipelines.ingest.routing import index_source
from pipelines.ingest.sources import SOURCES
from pipelines.jobs import erasure_job, gold_job, ingest_job
from pipelines.partitions import daily_partitions, monthly_partitions
from pipelines.resources import StorageResource


def _file_states(storage: StorageResource) -> dict[str, list[int]]:
    states = {}
    for source in SOURCES.values():
        for path in source.files(storage.raw_path):
            stat = path.stat()
            states[path.relative_to(storage.raw_path).as_posix()] = [stat.st_size, stat.st_mtime_ns]
    return states


@dg.sensor(
    job=ingest_job,
    minimum_interval_seconds=300,
    description=(
        "Every 5 minutes: looks for new or changed files under <raw>/events and <raw>/access, "
        "and requests ingest_job for every UTC day those files hold lines of."
    ),
    default_status=dg.DefaultSensorStatus.STOPPED,
)
def raw_files_sensor(
    context: dg.SensorEvaluationContext, storage: StorageResource
) -> dg.SensorResult | dg.SkipReason:
    """Run requests for the days touched by files that are new or changed since the last tick."""
    seen = json.loads(context.cursor) if context.cursor else {}
    current = _file_states(storage)
    changed = {name for name, state in current.items() if seen.get(name) != state}
    if not changed:
        return dg.SkipReason(f"no new or changed raw files ({len(current)} known)")
    dates: set[str] = set()
    for source in SOURCES.values():
        for index in index_source(
            source, storage.raw_path, storage.out_path, DEFAULT_MAX_LINE_BYTES
        ):
            if index.relative_path in changed:
                dates.update(index.date_counts)
    valid = [d for d in sorted(dates) if daily_partitions.has_partition_key(d)]
    versions = json.dumps({name: current[name] for name in sorted(changed)})
    digest = hashlib.sha256(versions.encode()).hexdigest()[:16]
    return dg.SensorResult(
        run_requests=[
            dg.RunRequest(run_key=f"{date}:{digest}", partition_key=date) for date in valid
        ],
        cursor=json.dumps(current, sort_keys=True),
    )


@dg.sensor(
    job=erasure_job,
    minimum_interval_seconds=300,
    description=(
        "Every 5 minutes: runs erasure_job when a deletion request file under <raw>/requests "
        "is new or changed, so a request does not wait for the nightly erasure."
    ),
    default_status=dg.DefaultSensorStatus.STOPPED,
)
def deletion_requests_sensor(
    context: dg.SensorEvaluationContext, storage: StorageResource
) -> dg.SensorResult | dg.SkipReason:
    """One erasure run per new state of the request files."""
    current = {}
    for path in sorted((storage.raw_path / REQUESTS_FOLDER).glob("*.csv")):
        stat = path.stat()
        current[path.name] = [stat.st_size, stat.st_mtime_ns]
    if not current or context.cursor == json.dumps(current, sort_keys=True):
        return dg.SkipReason(f"no new or changed deletion requests ({len(current)} files)")
    cursor = json.dumps(current, sort_keys=True)
    digest = hashlib.sha256(cursor.encode()).hexdigest()[:16]
    return dg.SensorResult(run_requests=[dg.RunRequest(run_key=digest)], cursor=cursor)


@dg.sensor(
    job=gold_job,
    minimum_interval_seconds=600,
    description=(
        "Every 10 minutes: requests gold_job for every month an erasure marked stale, so the "
        "month's aggregates are rebuilt without the erased users."
    ),
    default_status=dg.DefaultSensorStatus.STOPPED,
)
def stale_gold_sensor(
    context: dg.SensorEvaluationContext, storage: StorageResource
) -> dg.SensorResult | dg.SkipReason:
    """A gold run per stale month, keyed by the markers' times so each erasure asks once."""
    months = stale_months(storage.out_path)
    if not months:
        return dg.SkipReason("no gold month is stale")
    requests = []
    for month in months:
        markers = sorted((storage.out_path / "gold" / "_stale").glob(f"*/month={month}.json"))
        stamp = max(p.stat().st_mtime_ns for p in markers)
        partition = f"{month}-01"
        if monthly_partitions.has_partition_key(partition):
            requests.append(dg.RunRequest(run_key=f"{month}:{stamp}", partition_key=partition))
    return dg.SensorResult(run_requests=requests)


SENSORS = [raw_files_sensor, deletion_requests_sensor, stale_gold_sensor]
