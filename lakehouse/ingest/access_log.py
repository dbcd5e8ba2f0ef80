"""Parse web server access logs in the Combined Log Format (the Apache and nginx default).

    host ident authuser [day/Mon/year:HH:MM:SS +zone] "request" status bytes "referer" "agent"

`-` stands for an absent value. Lines in the plain Common Log Format (without referer and
agent) are accepted too, with those two fields null.
"""

from __future__ import annotations

import re

import pyarrow as pa

from lakehouse.ingest import reasons
from lakehouse.ingest.app_events import ParseResult
from lakehouse.ingest.timestamps import TimestampError, parse_clf_time

SCHEMA = pa.schema(
    [
        pa.field("remote_host", pa.string(), nullable=False),
        pa.field("ident", pa.string()),
        pa.field("remote_user", pa.string()),
        pa.field("ts", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("ts_offset_minutes", pa.int16(), nullable=False),
        pa.field("request_line", pa.string(), nullable=False),
        pa.field("method", pa.string()),
        pa.field("target", pa.string()),
        pa.field("protocol", pa.string()),
        pa.field("status", pa.int16()),
        pa.field("bytes_sent", pa.int64()),
        pa.field("referrer", pa.string()),
        pa.field("user_agent", pa.string()),
        pa.field("source_file", pa.string(), nullable=False),
        pa.field("source_line", pa.int64(), nullable=False),
    ]
)

_QUOTED = r'"((?:[^"\\]|\\.)*)"'
_LINE = re.compile(
    r"(\S+) (\S+) (\S+) \[([^\]]+)\] "
    + _QUOTED
    + r" (\d{3}|-) (\d+|-)"
    + rf"(?: {_QUOTED} {_QUOTED})?"
    + r"[ \t]*"
)
_ESCAPE = re.compile(r"\\(.)")
INT64_MAX = 2**63 - 1


def parse_access_line(data: bytes) -> ParseResult:
    """Parse one access log line into (UTC date, row, None) or (date or None, None, reason)."""
    if not data.strip():
        return None, None, reasons.reason(reasons.BLANK_LINE, "empty line")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    match = _LINE.fullmatch(text)
    if match is None:
        return None, None, reasons.reason(reasons.NOT_COMBINED_LOG_FORMAT, _why_not(text))
    host, ident, user, when, request, status, size, referrer, agent = match.groups()
    try:
        ts_us, offset_minutes, date_key = parse_clf_time(when)
    except TimestampError as exc:
        return None, None, reasons.reason(reasons.BAD_TIMESTAMP, str(exc))
    if size != "-" and (len(size) > 19 or int(size) > INT64_MAX):
        return (
            date_key,
            None,
            reasons.reason(
                reasons.NUMBER_OUT_OF_RANGE,
                f"bytes {size[:40]}{'...' if len(size) > 40 else ''} does not fit in 64 bits",
            ),
        )
    request = _unescape(request)
    parts = request.split(" ")
    method, target, protocol = parts if len(parts) == 3 else (None, None, None)
    row = (
        host,
        _absent(ident),
        _absent(user),
        ts_us,
        offset_minutes,
        request,
        method,
        target,
        protocol,
        None if status == "-" else int(status),
        None if size == "-" else int(size),
        _absent(_unescape(referrer)) if referrer is not None else None,
        _absent(_unescape(agent)) if agent is not None else None,
    )
    return date_key, row, None


def _absent(value: str | None) -> str | None:
    return None if value in (None, "-", "") else value


def _unescape(value: str) -> str:
    return _ESCAPE.sub(r"\1", value) if "\\" in value else value


def _why_not(text: str) -> str:
    if text.count('"') % 2:
        return "unbalanced quotes (truncated line?)"
    if "[" not in text or "]" not in text:
        return "no [time] field"
    return 'does not match host ident user [time] "request" status bytes "referer" "agent"'
