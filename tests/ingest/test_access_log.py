from __future__ import annotations

from datetime import UTC, datetime

import pytest

from lakehouse.ingest.access_log import parse_access_line
from tests.conftest import APACHE_SAMPLE


def _us(text: str) -> int:
    return int(datetime.fromisoformat(text).astimezone(UTC).timestamp() * 1_000_000)


def test_real_apache_sample_parses_all_but_the_truncated_line() -> None:
    lines = APACHE_SAMPLE.read_bytes().splitlines()
    assert len(lines) == 10_000
    rejected = [
        (number, result[2])
        for number, line in enumerate(lines, 1)
        if (result := parse_access_line(line))[1] is None
    ]
    assert [number for number, _ in rejected] == [8899]
    assert rejected[0][1].startswith("not_combined_log_format: unbalanced quotes")


def test_fields_of_a_real_line() -> None:
    line = APACHE_SAMPLE.read_bytes().splitlines()[0]
    date_key, row, reason = parse_access_line(line)
    assert reason is None
    assert date_key == "2015-05-17"
    (
        host,
        ident,
        user,
        ts,
        offset,
        _request,
        method,
        target,
        protocol,
        status,
        size,
        ref,
        agent,
    ) = row
    assert host == "83.149.9.216"
    assert (ident, user) == (None, None)
    assert ts == _us("2015-05-17T10:05:03+00:00")
    assert offset == 0
    assert (method, target, protocol) == (
        "GET",
        "/presentations/logstash-monitorama-2013/images/kibana-search.png",
        "HTTP/1.1",
    )
    assert (status, size) == (200, 203023)
    assert ref == "http://semicomplete.com/presentations/logstash-monitorama-2013/"
    assert agent.startswith("Mozilla/5.0 (Macintosh")


def test_offset_moves_the_line_to_its_utc_date() -> None:
    line = b'1.2.3.4 - jane@x.org [31/Oct/2026:22:30:00 -0500] "GET / HTTP/1.1" 200 12 "-" "curl/8"'
    date_key, row, _ = parse_access_line(line)
    assert date_key == "2026-11-01"
    assert row[2] == "jane@x.org"
    assert row[4] == -300
    assert row[3] == _us("2026-11-01T03:30:00+00:00")


def test_escaped_quotes_and_dashes() -> None:
    line = rb'1.2.3.4 - - [01/Nov/2026:00:00:00 +0000] "GET /a?q=\"x\" HTTP/1.1" - - "-" "agent \"v2\""'
    _, row, reason = parse_access_line(line)
    assert reason is None
    assert row[7] == '/a?q="x"'
    assert row[9] is None and row[10] is None and row[11] is None
    assert row[12] == 'agent "v2"'


def test_common_log_format_without_referrer_and_agent_is_accepted() -> None:
    _, row, reason = parse_access_line(
        b'1.2.3.4 - - [01/Nov/2026:00:00:00 +0000] "GET / HTTP/1.0" 304 0'
    )
    assert reason is None
    assert row[11] is None and row[12] is None


def test_unusual_request_line_is_kept_whole() -> None:
    _, row, reason = parse_access_line(
        b'1.2.3.4 - - [01/Nov/2026:00:00:00 +0000] "-" 408 0 "-" "-"'
    )
    assert reason is None
    assert row[5] == "-" and row[6] is None


@pytest.mark.parametrize(
    ("line", "code"),
    [
        (b"", "blank_line"),
        (b"\x16\x03\x01\x02\x00\x01\x00", "not_combined_log_format"),
        (
            b'1.2.3.4 - - [01/Nov/2026:00:00:00 +0000] "GET / HTTP/1.1" 200 12 "-" "trunc',
            "not_combined_log_format",
        ),
        (b'1.2.3.4 - - [2026-11-01 00:00:00] "GET / HTTP/1.1" 200 12 "-" "a"', "bad_timestamp"),
        (
            b'1.2.3.4 - - [31/Feb/2026:00:00:00 +0000] "GET / HTTP/1.1" 200 12 "-" "a"',
            "bad_timestamp",
        ),
        (
            b'1.2.3.4 - - [01/Nov/1999:00:00:00 +0000] "GET / HTTP/1.1" 200 12 "-" "a"',
            "bad_timestamp",
        ),
    ],
)
def test_bad_lines_get_a_reason(line: bytes, code: str) -> None:
    _, row, reason = parse_access_line(line)
    assert row is None
    assert reason.split(":")[0] == code
