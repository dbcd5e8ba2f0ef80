"""Parse application events (JSON Lines) into typed bronze rows.

A line is one JSON object with `event_id`, `ts` (ISO-8601 with offset) and `event`, the
optional string-or-null fields in `STRING_FIELDS`, and an optional `properties` object.
Fields outside the contract are kept, as JSON text, in `extra`.
"""

from __future__ import annotations

import json
import re

import orjson
import pyarrow as pa

from lakehouse.ingest import reasons
from lakehouse.ingest.timestamps import TimestampError, parse_iso8601

STRING_FIELDS = ("user_id", "org_id", "session_id", "ip", "user_agent", "url", "referrer")
# orjson writes at most 255 levels back out; a limit well below keeps every kept line writable.
MAX_JSON_DEPTH = 64
CONTRACT_FIELDS = frozenset({"event_id", "ts", "event", "properties", *STRING_FIELDS})
CONSENT_EVENT = "consent_update"
CONSENT_FLAGS = ("share_with_partners", "marketing")

INT64_RANGE = (-(2**63), 2**63 - 1)
# A bare number of 19 or more digits: the only way to write an integer outside int64.
_LONG_NUMBER = re.compile(rb"(?<![\w.\"])-?\d{19,}")

SCHEMA = pa.schema(
    [
        pa.field("event_id", pa.string(), nullable=False),
        pa.field("ts", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("ts_offset_minutes", pa.int16(), nullable=False),
        pa.field("event", pa.string(), nullable=False),
        *(pa.field(name, pa.string()) for name in STRING_FIELDS),
        pa.field("properties", pa.string(), nullable=False),
        pa.field("extra", pa.string()),
        pa.field("source_file", pa.string(), nullable=False),
        pa.field("source_line", pa.int64(), nullable=False),
    ]
)

ParseResult = tuple[str | None, tuple | None, str | None]


def parse_event_line(data: bytes) -> ParseResult:
    """Parse one JSON line into (UTC date, row, None) or (UTC date or None, None, reason).

    The row holds the values of SCHEMA up to `extra`, `ts` as microseconds since the epoch.
    A rejected line keeps its date when its timestamp could be read, so that it is
    quarantined with the partition it belongs to.
    """
    if not data.strip():
        return None, None, reasons.reason(reasons.BLANK_LINE, "empty line")
    try:
        record = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        code = reasons.INVALID_UTF8 if "UTF-8" in str(exc) else reasons.INVALID_JSON
        if "depth limit" in str(exc):
            code = reasons.TOO_DEEPLY_NESTED
        return None, None, reasons.reason(code, str(exc))
    if not isinstance(record, dict):
        return None, None, reasons.reason(reasons.NOT_AN_OBJECT, type(record).__name__)

    ts = record.get("ts")
    if not isinstance(ts, str):
        detail = "ts is missing" if ts is None else f"ts must be a string, got {_kind(ts)}"
        return None, None, reasons.reason(reasons.BAD_TIMESTAMP, detail)
    try:
        ts_us, offset_minutes, date_key = parse_iso8601(ts)
    except TimestampError as exc:
        return None, None, reasons.reason(reasons.BAD_TIMESTAMP, str(exc))

    if data.count(b"{") + data.count(b"[") > MAX_JSON_DEPTH and _depth(record) > MAX_JSON_DEPTH:
        return (
            date_key,
            None,
            reasons.reason(
                reasons.TOO_DEEPLY_NESTED, f"JSON nested deeper than {MAX_JSON_DEPTH} levels"
            ),
        )
    problem = _contract_problem(record)
    if problem is None and _LONG_NUMBER.search(data):
        problem = _integer_out_of_range(data)
    if problem is not None:
        return date_key, None, problem

    properties = record.get("properties")
    extra = {key: value for key, value in record.items() if key not in CONTRACT_FIELDS}
    row = (
        record["event_id"],
        ts_us,
        offset_minutes,
        record["event"],
        *(record.get(name) for name in STRING_FIELDS),
        orjson.dumps(properties if properties is not None else {}).decode(),
        orjson.dumps(extra).decode() if extra else None,
    )
    return date_key, row, None


def _integer_out_of_range(data: bytes) -> str | None:
    """A reason when the line holds a JSON integer outside int64 (orjson reads those as
    floats or not at all, and they would overflow every 64-bit column downstream)."""
    try:
        record = json.loads(data)
    except ValueError:
        return reasons.reason(
            reasons.NUMBER_OUT_OF_RANGE, "an integer too long to read (over 4,300 digits)"
        )
    stack = [record]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, int) and not INT64_RANGE[0] <= item <= INT64_RANGE[1]:
            digits = str(item)
            shown = digits if len(digits) <= 40 else digits[:40] + "..."
            return reasons.reason(reasons.NUMBER_OUT_OF_RANGE, f"{shown} does not fit in 64 bits")
    return None


def _depth(value: object) -> int:
    """How deeply objects and arrays nest in a loaded JSON value (iterative: no recursion)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, level)
        stack.extend((child, level + 1) for child in children)
    return deepest


def _contract_problem(record: dict) -> str | None:
    for required in ("event_id", "event"):
        value = record.get(required)
        if value is None:
            return reasons.reason(reasons.MISSING_FIELD, f"{required} is missing")
        if not isinstance(value, str):
            return reasons.reason(
                reasons.WRONG_TYPE, f"{required} must be a string, got {_kind(value)}"
            )
        if not value.strip():
            return reasons.reason(reasons.MISSING_FIELD, f"{required} is empty")
    for name in STRING_FIELDS:
        value = record.get(name)
        if value is not None and not isinstance(value, str):
            return reasons.reason(
                reasons.WRONG_TYPE, f"{name} must be a string or null, got {_kind(value)}"
            )
    properties = record.get("properties")
    if properties is not None and not isinstance(properties, dict):
        return reasons.reason(
            reasons.WRONG_TYPE, f"properties must be an object, got {_kind(properties)}"
        )
    if record["event"] == CONSENT_EVENT:
        return _consent_problem(properties or {})
    return None


def _consent_problem(properties: dict) -> str | None:
    """A consent update must state each flag it carries as a JSON boolean, and carry one.

    Anything else (`"false"`, `0`, null) is never read as consent, nor as its absence.
    """
    stated = [name for name in CONSENT_FLAGS if name in properties]
    if not stated:
        return reasons.reason(
            reasons.INVALID_CONSENT,
            f"a consent_update must carry {' or '.join(CONSENT_FLAGS)} as true or false",
        )
    for name in stated:
        value = properties[name]
        if not isinstance(value, bool):
            return reasons.reason(
                reasons.INVALID_CONSENT,
                f"properties.{name} must be true or false, got {_kind(value)}",
            )
    return None


def _kind(value: object) -> str:
    return {
        dict: "object",
        list: "array",
        str: "string",
        bool: "boolean",
        type(None): "null",
        int: "number",
        float: "number",
    }.get(type(value), type(value).__name__)
