"""Sensors: raw files land, deletion requests arrive, corrections fall due.

Stale gold after an erasure is rebuilt by declarative automation (assets/gold.py).
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg

from assets.partitions import daily_partitions, monthly_partitions, weekly_partitions
from lakehouse.erasure import REQUESTS_FOLDER
from lakehouse.ingest.raw_lines import DEFAULT_MAX_LINE_BYTES
from lakehouse.ingest.routing import index_source
from lakehouse.ingest.sources import SOURCES
from lakehouse.periods import is_week, partition_key
from lakehouse.releases import CORRECTION_TAG, corrections_due
from pipelines.jobs import (
    erasure_job,
    ingest_job,
    release_job,
    weekly_release_job,
)
from pipelines.resources import SharingPolicyResource, StorageResource


def _file_states(root: Path, paths: list[Path]) -> dict[str, list[int]]:
    """Size and modification time of each file, by its path under `root` (a sensor's cursor)."""
    states = {}
    for path in paths:
        stat = path.stat()
        states[path.relative_to(root).as_posix()] = [stat.st_size, stat.st_mtime_ns]
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
    raw_files = [path for source in SOURCES.values() for path in source.files(storage.raw_path)]
    current = _file_states(storage.raw_path, raw_files)
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
    folder = storage.raw_path / REQUESTS_FOLDER
    current = _file_states(folder, sorted(folder.glob("*.csv")))
    if not current or context.cursor == json.dumps(current, sort_keys=True):
        return dg.SkipReason(f"no new or changed deletion requests ({len(current)} files)")
    cursor = json.dumps(current, sort_keys=True)
    digest = hashlib.sha256(cursor.encode()).hexdigest()[:16]
    return dg.SensorResult(run_requests=[dg.RunRequest(run_key=digest)], cursor=cursor)


def _correction_run(label: str) -> dg.RunRequest | None:
    """The tagged release run (monthly or weekly) that draws a period's scheduled correction;
    None for a period that is not closed."""
    job, partitions = (
        (weekly_release_job, weekly_partitions)
        if is_week(label)
        else (release_job, monthly_partitions)
    )
    partition = partition_key(label)
    if not partitions.has_partition_key(partition):
        return None
    return dg.RunRequest(
        run_key=f"correction:{label}",
        partition_key=partition,
        job_name=job.name,
        tags={CORRECTION_TAG: "due"},
    )


@dg.sensor(
    jobs=[release_job, weekly_release_job],
    minimum_interval_seconds=3600,
    description=(
        "Hourly: for every month (or week) whose first draws are `correction_after_days` old and "
        "not yet corrected, runs release_job (or weekly_release_job) tagged to draw the one "
        "scheduled correction. Only the calendar decides, never the data."
    ),
    default_status=dg.DefaultSensorStatus.STOPPED,
)
def release_corrections_sensor(
    context: dg.SensorEvaluationContext, storage: StorageResource, sharing: SharingPolicyResource
) -> dg.SensorResult | dg.SkipReason:
    """One tagged release run per period whose scheduled correction is due, asked once."""
    after = sharing.policy().release.correction_after_days
    labels = corrections_due(storage.out_path, after, datetime.now(UTC))
    if not labels:
        return dg.SkipReason("no correction is due")
    requests = [_correction_run(label) for label in labels]
    return dg.SensorResult(run_requests=[r for r in requests if r is not None])


SENSORS = [
    raw_files_sensor,
    deletion_requests_sensor,
    release_corrections_sensor,
]
