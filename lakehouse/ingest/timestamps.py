"""Timestamp parsing shared by both log formats: everything is normalised to UTC."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone, tzinfo

EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_MONTHS = {
    m: i
    for i, m in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1
    )
}
_CLF_TIME = re.compile(
    r"([0-9]{2})/([A-Z][a-z]{2})/([0-9]{4}):([0-9]{2}):([0-9]{2}):([0-9]{2}) "
    r"([+-])([0-9]{2})([0-9]{2})"
)


class TimestampError(ValueError):
    """A timestamp that cannot be placed on the UTC time line; its message is the reason."""


def to_utc_fields(moment: datetime) -> tuple[int, int, str]:
    """Return (microseconds since epoch UTC, UTC offset in minutes, UTC date 'YYYY-MM-DD')."""
    offset = moment.utcoffset()
    if offset is None:
        raise TimestampError("timestamp has no UTC offset")
    try:
        utc = moment.astimezone(UTC)
    except OverflowError as exc:
        raise TimestampError(
            f"timestamp {moment.isoformat()} falls outside the calendar once converted to UTC"
        ) from exc
    if not EARLIEST <= utc < LATEST:
        raise TimestampError(
            f"timestamp {utc.isoformat()} outside the accepted range "
            f"[{EARLIEST.date()}, {LATEST.date()})"
        )
    return (utc - _EPOCH) // _MICROSECOND, int(offset.total_seconds() // 60), utc.date().isoformat()


def parse_iso8601(text: str) -> tuple[int, int, str]:
    """Parse an ISO-8601 timestamp that carries an offset (or `Z`) into UTC fields."""
    if not text.isascii():
        raise TimestampError(f"not an ISO-8601 timestamp (non-ASCII characters): {text[:64]!r}")
    if text[-1:] == "z":  # RFC 3339 allows a lower-case z; fromisoformat does not
        text = text[:-1] + "Z"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise TimestampError(f"not an ISO-8601 timestamp: {text[:64]!r}") from exc
    return to_utc_fields(moment)


def parse_clf_time(text: str) -> tuple[int, int, str]:
    """Parse a Common Log Format time such as `17/May/2015:10:05:03 +0000` into UTC fields."""
    match = _CLF_TIME.fullmatch(text)
    if match is None:
        raise TimestampError(f"not a Common Log Format time: {text[:64]!r}")
    day, month, year, hour, minute, second, sign, off_h, off_m = match.groups()
    if month not in _MONTHS:
        raise TimestampError(f"unknown month {month!r}")
    offset = timedelta(hours=int(off_h), minutes=int(off_m))
    if sign == "-":
        offset = -offset
    try:
        moment = datetime(
            int(year),
            _MONTHS[month],
            int(day),
            int(hour),
            int(minute),
            int(second),
            tzinfo=_fixed_zone(offset),
        )
    except ValueError as exc:
        raise TimestampError(f"impossible date or time: {text[:64]!r}") from exc
    return to_utc_fields(moment)


_ZONES: dict[timedelta, tzinfo] = {}


def _fixed_zone(offset: timedelta) -> tzinfo:
    zone = _ZONES.get(offset)
    if zone is None:
        if not timedelta(hours=-24) < offset < timedelta(hours=24):
            raise TimestampError(f"UTC offset out of range: {offset}")
        zone = _ZONES[offset] = timezone(offset)
    return zone
