"""Hostile input: the parsers never raise, never hang, and every line ends as a row or a reason.

The default run is fast (CI). `PIPELINES_FUZZ=1` multiplies every example count by 50 for a
long fuzzing session: `PIPELINES_FUZZ=1 .venv/bin/python -m pytest tests/ingest/test_hostile_input.py`.
"""

from __future__ import annotations

import gzip
import os
import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import orjson
import pyarrow.parquet as pq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lakehouse.ingest.access_log import parse_access_line
from lakehouse.ingest.app_events import MAX_JSON_DEPTH, parse_event_line
from lakehouse.ingest.bronze import (
    UNDATED_PARTITION,
    IngestSettings,
    ingest_partition,
    quarantine_refused_files,
)
from lakehouse.ingest.routing import dates_found, index_source
from lakehouse.ingest.sources import APP_EVENTS
from lakehouse.storage import partition_file

SCALE = 50 if os.environ.get("PIPELINES_FUZZ") == "1" else 1
PARSE_DEADLINE = timedelta(seconds=2)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=400 * SCALE, deadline=PARSE_DEADLINE)
@given(data=st.binary(max_size=400))
def test_random_bytes_never_raise(data: bytes) -> None:
    for parse in (parse_event_line, parse_access_line):
        date_key, row, reason = parse(data)
        assert (row is None) != (reason is None)
        assert date_key is None or len(date_key) == 10


@settings(max_examples=400 * SCALE, deadline=PARSE_DEADLINE)
@given(
    record=st.dictionaries(
        st.sampled_from(["event_id", "ts", "event", "user_id", "properties", "url", "x"]),
        json_values,
        max_size=7,
    )
)
def test_wrong_types_in_every_field_are_rejected_with_a_reason_or_kept_faithfully(
    record: dict,
) -> None:
    date_key, row, reason = parse_event_line(orjson.dumps(record))
    if row is None:
        assert reason and ":" in reason
    else:
        assert isinstance(record.get("event_id"), str) and isinstance(record.get("event"), str)
        assert date_key is not None


@settings(
    max_examples=40 * SCALE,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(lines=st.lists(st.binary(max_size=120), min_size=1, max_size=40), cut=st.integers(0, 400))
def test_every_line_of_a_hostile_gzip_file_is_accounted_for(
    tmp_path_factory, lines: list[bytes], cut: int
) -> None:
    base = tmp_path_factory.mktemp("hostile")
    raw, out = base / "raw", base / "out"
    (raw / "events").mkdir(parents=True)
    good = orjson.dumps({"event_id": "e", "ts": "2026-10-01T00:00:00Z", "event": "login"})
    body = b"\n".join([good, *[line.replace(b"\n", b" ") for line in lines]]) + b"\n"
    compressed = gzip.compress(body)
    path = raw / "events" / "hostile.jsonl.gz"
    path.write_bytes(compressed[: max(20, len(compressed) - cut)])
    indexes = index_source(APP_EVENTS, raw, out, 1 << 20, workers=1)
    settings_ = IngestSettings(max_rejected_share=1.0)
    total = sum(i.lines for i in indexes)
    seen = 0
    for date_key in dates_found(indexes):
        report = ingest_partition(APP_EVENTS, raw, out, date_key, settings_)
        assert report.accounted_for
        seen += report.rows + report.rejected
    refused = quarantine_refused_files(APP_EVENTS, raw, out, indexes)
    if refused:
        # No dated line: every line kept; unreadable from its first line: one entry (line 0).
        assert set(refused) <= {"undated_file", "unreadable_file"}, refused
        undated = pq.read_table(partition_file(out, "quarantine", "app_events", UNDATED_PARTITION))
        seen += sum(1 for n in undated.column("line_number").to_pylist() if n > 0)
    assert seen == total


def test_a_ten_megabyte_line_is_quarantined_without_stopping_the_good_ones(tmp_path: Path) -> None:
    raw, out = tmp_path / "raw", tmp_path / "out"
    (raw / "events").mkdir(parents=True)
    good = orjson.dumps({"event_id": "e", "ts": "2026-10-01T00:00:00Z", "event": "login"})
    huge = (
        b'{"event_id": "big", "ts": "2026-10-01T00:00:00Z", "event": "x", "p": "'
        + b"a" * 10_000_000
        + b'"}'
    )
    (raw / "events" / "big.jsonl").write_bytes(b"\n".join([good, huge, good]) + b"\n")
    report = ingest_partition(
        APP_EVENTS, raw, out, "2026-10-01", IngestSettings(max_rejected_share=1.0)
    )
    assert (report.rows, report.rejected) == (2, 1)
    assert report.reason_counts["line_too_long"] == 1


GOOD_EVENT = {"event_id": "e1", "ts": "2026-10-01T12:00:00Z", "event": "login", "user_id": "u"}
GOOD_REQUEST = (
    b'203.0.113.9 - - [01/Oct/2026:12:00:00 +0000] "GET /a HTTP/1.1" 200 12 "-" "Mozilla/5.0"'
)


@settings(max_examples=300 * SCALE, deadline=PARSE_DEADLINE)
@given(
    moment=st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)),
    offset_minutes=st.integers(-23 * 60, 23 * 60),
)
def test_timestamps_far_in_the_past_or_future_get_a_reason_or_their_utc_day(
    moment: datetime, offset_minutes: int
) -> None:
    aware = moment.replace(tzinfo=timezone(timedelta(minutes=offset_minutes)))
    record = {**GOOD_EVENT, "ts": aware.isoformat()}
    date_key, row, reason = parse_event_line(orjson.dumps(record))
    stamp = aware.strftime("%d/%b/%Y:%H:%M:%S ") + (
        f"{'-' if offset_minutes < 0 else '+'}{abs(offset_minutes) // 60:02d}"
        f"{abs(offset_minutes) % 60:02d}"
    )
    line = GOOD_REQUEST.replace(b"01/Oct/2026:12:00:00 +0000", stamp.encode())
    access_date, access_row, access_reason = parse_access_line(line)
    for key, parsed, why in ((date_key, row, reason), (access_date, access_row, access_reason)):
        if parsed is None:
            assert why is not None and why.startswith("bad_timestamp:")
        else:
            expected = aware.astimezone(UTC).date().isoformat()
            assert key == expected and "2000" <= key < "2100"


@settings(max_examples=300 * SCALE, deadline=PARSE_DEADLINE)
@given(
    field=st.sampled_from(sorted(GOOD_EVENT)),
    junk=st.binary(min_size=1, max_size=12).filter(lambda b: not _is_utf8(b)),
)
def test_invalid_utf8_in_any_field_is_quarantined_as_invalid_utf8(field: str, junk: bytes) -> None:
    marker = "__JUNK__"
    line = orjson.dumps({**GOOD_EVENT, field: marker}).replace(marker.encode(), junk)
    _, row, reason = parse_event_line(line)
    assert row is None and reason is not None
    assert reason.split(":")[0] in ("invalid_utf8", "invalid_json")


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


@settings(max_examples=60 * SCALE, deadline=PARSE_DEADLINE)
@given(depth=st.integers(1, 20_000) | st.integers(55, 75), kind=st.sampled_from(["list", "object"]))
def test_deeply_nested_json_is_kept_or_rejected_quickly(depth: int, kind: str) -> None:
    nested = (
        b"[" * depth + b"]" * depth if kind == "list" else b'{"a":' * depth + b"1" + b"}" * depth
    )
    inner = b'{"p":' + nested + b"}"
    line = orjson.dumps({**GOOD_EVENT, "properties": "X"}).replace(b'"X"', inner)
    _, row, reason = parse_event_line(line)
    levels = depth + 2  # the record and `properties` are a level each
    if levels > MAX_JSON_DEPTH:
        assert row is None and reason is not None and reason.startswith("too_deeply_nested:")
    else:
        assert row is not None and orjson.loads(row[-2])


def test_pathological_access_lines_are_rejected_in_linear_time() -> None:
    hostile = [
        GOOD_REQUEST.replace(b'"Mozilla/5.0"', b'"' + b'\\"' * 300_000),
        b'203.0.113.9 - - [01/Oct/2026:12:00:00 +0000] "' + b'a"' * 300_000,
        b" " * 1_000_000,
        b"[" * 1_000_000,
        GOOD_REQUEST.replace(b"01/Oct/2026:12:00:00 +0000", b"01/Jan/0001:00:00:00 +1400"),
        GOOD_REQUEST.replace(b"01/Oct/2026:12:00:00 +0000", b"31/Dec/9999:23:59:59 -1400"),
    ]
    for line in hostile:
        began = time.perf_counter()
        _, row, reason = parse_access_line(line)
        assert row is None and reason, line[:60]
        assert time.perf_counter() - began < 1.0, f"{reason} took too long"
