"""Hostile input: the parsers never raise, and every line ends as a row or a reason."""

from __future__ import annotations

import gzip
from pathlib import Path

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.ingest.access_log import parse_access_line
from pipelines.ingest.app_events import parse_event_line
from pipelines.ingest.bronze import IngestSettings, ingest_partition
from pipelines.ingest.routing import dates_found, index_source
from pipelines.ingest.sources import APP_EVENTS

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


@settings(max_examples=400, deadline=None)
@given(data=st.binary(max_size=400))
def test_random_bytes_never_raise(data: bytes) -> None:
    for parse in (parse_event_line, parse_access_line):
        date_key, row, reason = parse(data)
        assert (row is None) != (reason is None)
        assert date_key is None or len(date_key) == 10


@settings(max_examples=400, deadline=None)
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
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
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
