"""Parse a block of raw lines column-wise, falling back to the line parser where unsure.

The fast path reads a whole block at once. Application events in the application's own
shape (every contract field in order, flat `properties`, no escape) are proved by one
capture-free RE2 match through `pyarrow.compute` and cut at byte positions with numpy (the
plain path); a block's other lines go to DuckDB's JSON reader when there are many. The
Combined Log Format is matched by RE2 too, and timestamps are read with integer arithmetic
in numpy. The fast path accepts only lines it can prove the line parser would accept with
the same row: plain strings without escapes, a strict timestamp shape, no key twice, no
number too long for 64 bits, nothing nested deep. Every other line (a malformed line, an
escaped quote, an object nested in `properties`, a non-ASCII access log line) goes through
`source.parse`, the line parser, so its row or its quarantine reason is exactly what that
parser says. A test parses hostile and generated lines both ways, in every tier, and
compares.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lakehouse.ingest import access_log, app_events
from lakehouse.ingest.line_blocks import LineBlock
from lakehouse.ingest.sources import RawSource
from lakehouse.ingest.timestamps import EARLIEST, LATEST

_EARLIEST_US = int(EARLIEST.timestamp() * 1_000_000)
_LATEST_US = int(LATEST.timestamp() * 1_000_000)
_DAY_US = 86_400_000_000
_MONTH_DAYS = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int64)


@dataclass
class ParsedBlock:
    """What a block of lines became, position by position.

    `dates` is each line's own UTC date (null where its timestamp could not be read),
    `rows` the bronze columns (without source file and line) of the accepted positions
    `accepted`, in line order, and `reasons` the quarantine reason of every other position.
    `vectorized` marks the positions the fast path took (the rest went through the line
    parser).
    """

    block: LineBlock
    dates: pa.StringArray
    accepted: np.ndarray
    rows: pa.Table
    reasons: dict[int, str]
    vectorized: np.ndarray


def parse_block(source: RawSource, block: LineBlock) -> ParsedBlock:
    """Parse every line of `block` as `source.parse` would, vectorized where it is safe."""
    positions = np.array(
        [i for i in range(len(block)) if i not in block.errors]
        if block.errors
        else np.arange(len(block)),
        dtype=np.int64,
    )
    lines = block.content.take(pa.array(positions)) if block.errors else block.content
    fast = _fast_events(lines) if source.name == "app_events" else _fast_access(lines)
    fast_positions = positions[fast.positions]
    schema = _row_schema(source.schema)
    dates: list[str | None] = [None] * len(block)
    for position, date in zip(fast_positions.tolist(), fast.dates.to_pylist(), strict=True):
        dates[position] = date
    reasons: dict[int, str] = {i: error for i, (error, _) in block.errors.items()}
    slow_rows: list[tuple] = []
    slow_positions: list[int] = []
    content = block.content
    unproven = np.ones(len(positions), dtype=bool)
    unproven[fast.positions] = False
    for position in positions[unproven].tolist():
        own, row, why = source.parse(content[position].as_py())
        dates[position] = own
        if row is None:
            reasons[position] = why
        else:
            slow_rows.append(row)
            slow_positions.append(position)
    rows = fast.rows
    order = fast_positions
    if slow_rows:
        slow = pa.Table.from_arrays(
            [
                pa.array(list(values), type=field.type)
                for values, field in zip(zip(*slow_rows, strict=True), schema, strict=True)
            ],
            schema=schema,
        )
        rows = pa.concat_tables([rows, slow])
        order = np.concatenate([fast_positions, np.array(slow_positions, dtype=np.int64)])
    if len(order) > 1 and not (np.diff(order) > 0).all():
        rows = rows.take(pa.array(np.argsort(order, kind="stable")))
        order = np.sort(order)
    accepted = np.zeros(len(block), dtype=bool)
    accepted[order] = True
    vectorized = np.zeros(len(block), dtype=bool)
    vectorized[fast_positions] = True
    return ParsedBlock(block, pa.array(dates, pa.string()), accepted, rows, reasons, vectorized)


def _row_schema(schema: pa.Schema) -> pa.Schema:
    """A bronze schema without the source file and line, which the ingestion adds."""
    return pa.schema([f for f in schema if f.name not in ("source_file", "source_line")])


@dataclass
class _Fast:
    """The lines a fast path proved (`positions`, in the order of `rows`, not necessarily
    sorted), their bronze rows and their UTC dates."""

    positions: np.ndarray
    rows: pa.Table
    dates: pa.StringArray


def _utc_fields(
    year, month, day, hour, minute, second, micro, sign, offset_hours, offset_minutes
) -> tuple[np.ndarray, np.ndarray, np.ndarray, pa.StringArray]:
    """Validity, offset in minutes, microseconds since the epoch (UTC) and UTC date of local
    date-time fields and their UTC offset (`sign` +1 or -1, hours under 24, minutes under 60)."""
    offset = sign * (offset_hours * 60 + offset_minutes)
    leap = ((year % 4 == 0) & (year % 100 != 0)) | (year % 400 == 0)
    month_ok = (month >= 1) & (month <= 12)
    length = _MONTH_DAYS[np.clip(month, 0, 12)] + ((month == 2) & leap)
    valid = (
        month_ok
        & (day >= 1)
        & (day <= length)
        & (hour < 24)
        & (minute < 60)
        & (second < 60)
        & (year >= 1)
        & (offset_hours < 24)
        & (offset_minutes < 60)
    )
    y = year - (month <= 2)
    era = np.floor_divide(y, 400)
    yoe = y - era * 400
    mp = (month + 9) % 12
    doy = (153 * mp + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    days = era * 146097 + doe - 719468
    local_us = days * _DAY_US + ((hour * 60 + minute) * 60 + second) * 1_000_000 + micro
    utc_us = local_us - offset * 60_000_000
    valid &= (utc_us >= _EARLIEST_US) & (utc_us < _LATEST_US)
    utc_us = np.where(valid, utc_us, 0)
    dates = pc.cast(pc.cast(pa.array(utc_us, pa.timestamp("us")), pa.date32()), pa.string())
    return valid, offset, utc_us, dates


def _ints(array: pa.Array) -> np.ndarray:
    digits = pc.fill_null(array, "")
    digits = pc.if_else(pc.equal(digits, ""), "0", digits)
    return pc.cast(digits, pa.int64()).to_numpy(zero_copy_only=False)


_ISO = (
    r'^"(?P<y>\d{4})-(?P<mo>\d{2})-(?P<d>\d{2})T(?P<h>\d{2}):(?P<mi>\d{2}):(?P<s>\d{2})'
    r'(?:\.(?P<f>\d{1,6}))?(?:(?P<z>Z)|(?P<sign>[+-])(?P<oh>\d{2}):(?P<om>\d{2}))"$'
)
# What DuckDB's JSON reader accepts and the line parser (orjson) does not, or reads
# differently: a trailing comma, NaN and infinities, numbers beyond 64 bits or a double's
# range, lone UTF-16 surrogates, after any JSON whitespace. A line that may hold one goes to
# the line parser, and so does any line with a carriage return inside it.
_NOT_STRICT_JSON = "|".join(
    (
        r"\r",
        r",\s*[]}]",
        r"[:,\[]\s*-?(?i:nan|inf)",
        r"[0-9]{19}",
        r"[:,\[]\s*-?[0-9.]+[eE][+-]?[0-9]{3}",
        r"\\u[dD][89a-fA-F]",
    )
)
# DuckDB writes some floats its own way (`0.000001` where orjson writes `1e-6`, `1e21` for
# `1e+21`): a `properties` holding a float, as DuckDB writes it back, goes to the line parser,
# so that an event's text does not depend on the lines it shares a block with.
_FLOAT_WRITTEN = r"[:,\[]-?[0-9]+[.eE]"
_EVENT_FIELDS = ("event_id", "ts", "event", *app_events.STRING_FIELDS, "properties")
_CONTRACT = "[" + ", ".join(f"'{name}'" for name in sorted(app_events.CONTRACT_FIELDS)) + "]"
_PATHS = "[" + ", ".join(f"'$.{name}'" for name in _EVENT_FIELDS) + "]"
# A string the fast path copies as it stands: no escape, nothing to unquote.
_PLAIN = r'"[^"\\]*"'
# event_id and event: a plain string whose first character is printable ASCII, not blank.
_NAME = r'"[!#-\[\]-~][^"\\]*"'
# Fields outside the contract, after the contract's, that `extra` can hold as written: a
# name, then a plain string, a literal or an integer as orjson writes each one back.
_EXTRAS = r'(,"[A-Za-z0-9_]+":(?:"[^"\\\x00-\x1f]*"|null|true|false|0|-?[1-9][0-9]{0,17}))+\}'
# DuckDB hands an Arrow scan to its threads batch by batch: small batches keep both cores busy.
_DUCKDB_TASK_ROWS = 2048
_NAMES_PLAIN = " and ".join(
    f"regexp_full_match(coalesce({name}, ''), '{_NAME}')" for name in ("event_id", "event")
)
_STRINGS_PLAIN = " and ".join(
    f"({name} is null or regexp_full_match({name}, '{_PLAIN}'))"
    for name in app_events.STRING_FIELDS
)
_STRINGS_QUOTED = " and ".join(
    f"({name} is null or starts_with({name}, '\"'))" for name in app_events.STRING_FIELDS
)
_FIELD_VALUES = ", ".join(
    f"nullif(v[{i + 1}]::varchar, 'null') as {name}" for i, name in enumerate(_EVENT_FIELDS)
)
_FIELDS_WRITTEN = ", ".join(
    f"'\"{name}\":' || v[{i + 1}]::varchar" for i, name in enumerate(_EVENT_FIELDS)
)
_FLAGS = "[" + ", ".join(f"'$.{flag}'" for flag in app_events.CONSENT_FLAGS) + "]"
_FLAGS_STATED = " or ".join(f"flags[{i + 1}] is not null" for i in range(2))
_FLAGS_BOOLEAN = " and ".join(
    f"coalesce(flags[{i + 1}] in ('true', 'false'), true)" for i in range(2)
)
# One JSON parse per line gives every contract field as JSON text ('null' when written
# null, SQL NULL when absent). A line whose text is exactly those fields written back in
# the contract's order ("canonical"), optionally followed by simple extra fields
# ("extras"), has no whitespace, duplicate key or lenient token; any other line is checked
# key by key ("general"), as a line of another writer may be.
_EVENTS_SQL = f"""
with parsed as (
    select pos, text, try(json_extract(text, {_PATHS})) as v
    from lines
    where starts_with(text, '{{')
), fields as (
    select pos, text,
        {_FIELD_VALUES},
        '{{' || concat_ws(',', {_FIELDS_WRITTEN}) as head
    from parsed
    where v is not null
), shaped as (
    select *,
        case
            when contains(text, '\\') then 'general'
            when text = head || '}}' then 'canonical'
            when starts_with(text, head || ',')
                and regexp_full_match(substr(text, length(head) + 1), '{_EXTRAS}')
                then 'extras'
            else 'general'
        end as shape
    from fields
), checked as (
    select *,
        case when shape = 'extras'
            then regexp_extract_all(substr(text, length(head) + 1), ',"([A-Za-z0-9_]+)":', 1)
        end as extra_keys,
        case when shape = 'general' then try(json_keys(text)) end as k,
        case when properties is not null and properties <> '{{}}'
            then try(json_keys(properties))
        end as property_keys,
        case when event = '"{app_events.CONSENT_EVENT}"' and properties is not null
            then try(json_extract(properties, {_FLAGS}))
        end as flags
    from shaped
)
select pos, {", ".join(_EVENT_FIELDS)},
    case when shape = 'extras' then '{{' || substr(text, length(head) + 2) end as extra,
    case shape
        when 'canonical' then {_STRINGS_QUOTED}
        when 'extras' then {_STRINGS_QUOTED}
            and len(extra_keys) = len(list_distinct(extra_keys))
            and not list_has_any(extra_keys, {_CONTRACT})
        else k is not null and len(k) = len(list_distinct(k)) and list_has_all({_CONTRACT}, k)
            and not regexp_matches(text, '{_NOT_STRICT_JSON}')
            and {_STRINGS_PLAIN}
    end
        and {_NAMES_PLAIN}
        and (properties is null or properties = '{{}}' or (
            starts_with(properties, '{{')
            and not contains(substr(properties, 2), '{{')
            and not contains(properties, '\\u')
            and not regexp_matches(properties, '{_FLOAT_WRITTEN}')
            and property_keys is not null
            and len(property_keys) = len(list_distinct(property_keys))
            and not regexp_matches(properties, '{_NOT_STRICT_JSON}')
        ))
        and (event <> '"{app_events.CONSENT_EVENT}"' or (
            flags is not null and ({_FLAGS_STATED}) and {_FLAGS_BOOLEAN}
        )) as plain
from checked
"""


def _offsets(values: pa.Array) -> np.ndarray:
    """Where each value of a large (64-bit offset) string or binary array starts in its data
    buffer, and where the last one ends: `len(values) + 1` positions, without a copy."""
    return np.frombuffer(values.buffers()[1], dtype=np.int64)[
        values.offset : values.offset + len(values) + 1
    ]


def _as_text(lines: pa.Array) -> pa.Array:
    """`lines` as UTF-8 strings; a line that is not valid UTF-8 becomes empty (the line
    parser will say why).

    A line of ASCII bytes is valid UTF-8; a line holding any other byte is decoded on its
    own (rare in logs, and decoding the whole block instead copied it again at every bad
    line, in the exception raised there).
    """
    lines = lines.combine_chunks() if isinstance(lines, pa.ChunkedArray) else lines
    offsets = _offsets(lines)
    start, end = int(offsets[0]), int(offsets[-1])
    if end > start:
        data = lines.buffers()[2]
        high = np.flatnonzero(np.frombuffer(data, dtype=np.uint8)[start:end] >= 0x80) + start
        suspects = np.unique(np.searchsorted(offsets, high, side="right") - 1)
        view = memoryview(data)
        bad = np.zeros(len(lines), dtype=bool)
        for line in suspects.tolist():
            try:
                str(view[offsets[line] : offsets[line + 1]], "utf-8")
            except UnicodeDecodeError:
                bad[line] = True
        if bad.any():
            lines = pc.if_else(pa.array(bad), b"", lines)
    return lines.cast(pa.large_string())


def _too_nested(lines: pa.Array) -> np.ndarray:
    """Lines with more `{` and `[` than the depth limit (the line parser then measures)."""
    offsets = _offsets(lines)
    if offsets[-1] == offsets[0]:
        return np.zeros(len(lines), dtype=bool)
    data = np.frombuffer(lines.buffers()[2], dtype=np.uint8)[offsets[0] : offsets[-1]]
    opening = np.flatnonzero((data == 123) | (data == 91)) + offsets[0]
    line_of = np.searchsorted(offsets, opening, side="right") - 1
    return np.bincount(line_of, minlength=len(lines)) > app_events.MAX_JSON_DEPTH


def _json_database() -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB shared by the blocks this process parses, each parse on its own
    cursor (a connection of its own, safe on any thread).

    A database per block gave its memory back to the system after each and faulted it in
    again: a third of the events index's time was the kernel's. One database for a whole
    file kept more and more of it (the index of five million events crept from 505 to 637
    MiB), so a database serves `DATABASE_USES` blocks and is then replaced.

    The index of each file closes it when done (`json_database_scope`): a process that forks
    later (silver's NER workers, a test's process pool) must not hold a live DuckDB, whose
    threads do not follow a fork and can leave the child's next DuckDB waiting forever.
    """
    with _DATABASE_LOCK:
        pid = os.getpid()
        if _DATABASE.get("pid") != pid or _DATABASE["uses"] >= DATABASE_USES:
            _DATABASE.update(pid=pid, uses=0, database=duckdb.connect())
        _DATABASE["uses"] += 1
        return _DATABASE["database"]


@contextlib.contextmanager
def json_database_scope() -> Iterator[None]:
    """Index files inside this scope; when the last scope of the process ends, its JSON
    database is closed (see `_json_database`). Scopes may overlap on threads."""
    with _DATABASE_LOCK:
        _DATABASE_SCOPES[0] += 1
    try:
        yield
    finally:
        with _DATABASE_LOCK:
            _DATABASE_SCOPES[0] -= 1
            last = _DATABASE_SCOPES[0] == 0
            database = _DATABASE.pop("database", None) if last else None
            if last:
                _DATABASE.clear()
        if database is not None:
            database.close()


DATABASE_USES = 16
_DATABASE: dict = {}
_DATABASE_SCOPES = [0]
_DATABASE_LOCK = threading.Lock()


# The plain path proves a line's shape with one capture-free regular expression (RE2's DFA),
# then cuts its fields at byte positions. Its strings hold no escape, no control character,
# and do not end with a comma, so that in a plain line every `"` is structural (quotes pair
# up, opening then closing) and a comma before an opening quote separates two members.
_PLAIN_STRING = r'"(?:[^"\\\x00-\x1f]*[^",\\\x00-\x1f])?"'
_PLAIN_NAME = r'"[!#-\[\]-~](?:[^"\\\x00-\x1f]*[^",\\\x00-\x1f])?"'
_PLAIN_KEY = r'"[^"\\\x00-\x1f]*[^",\\\x00-\x1f]"'
_PLAIN_VALUE = rf"(?:{_PLAIN_STRING}|null|true|false|0|-?[1-9][0-9]{{0,17}})"
_PLAIN_ARRAY = rf"\[(?:{_PLAIN_VALUE}(?:,{_PLAIN_VALUE})*)?\]"
_PLAIN_MEMBER = rf"{_PLAIN_KEY}:(?:{_PLAIN_VALUE}|{_PLAIN_ARRAY})"
# Every contract field in the contract's order, `properties` flat, then any extra fields:
# the shape of nearly every line of the application's own writer, and one in which the
# text of `properties` and of the extras is already what orjson writes back.
_PLAIN_EVENT = (
    rf'^\{{"event_id":{_PLAIN_NAME},"ts":{_PLAIN_STRING},"event":{_PLAIN_NAME}'
    + "".join(f',"{name}":(?:{_PLAIN_STRING}|null)' for name in app_events.STRING_FIELDS)
    + rf',"properties":\{{(?:{_PLAIN_MEMBER}(?:,{_PLAIN_MEMBER})*)?\}}'
    + rf"(?:,{_PLAIN_KEY}:{_PLAIN_VALUE})*\}}$"
)
_CONTRACT_NAMES = pa.array(sorted(app_events.CONTRACT_FIELDS))
_CONSENT_FLAGS = pa.array(app_events.CONSENT_FLAGS)


def _sliced(data: pa.Buffer, starts: np.ndarray, ends: np.ndarray) -> pa.Array:
    """The strings `data[starts[i]:ends[i]]`, for increasing, non-overlapping ranges.

    The ranges and the gaps between them are read as one string array over `data`, without
    copying, and every other one is taken.
    """
    n = len(starts)
    offsets = np.empty(2 * n + 1, dtype=np.int64)
    offsets[0:-1:2] = starts
    offsets[1::2] = ends
    offsets[-1] = ends[-1] if n else 0
    both = pa.Array.from_buffers(pa.large_string(), 2 * n, [None, pa.py_buffer(offsets), data])
    return both.take(pa.array(np.arange(0, 2 * n, 2))).cast(pa.string())


@dataclass
class _PlainKeys:
    """The members of plain lines: where each key's opening and closing quotes are, in
    which line (`owner`, an index into the plain lines) and whether it is an extra field."""

    opening: np.ndarray
    closing: np.ndarray
    owner: np.ndarray
    extra: np.ndarray


def _plain_events(text: pa.LargeStringArray) -> tuple[np.ndarray, dict[str, pa.Array]]:
    """The positions of the lines that match `_PLAIN_EVENT`, name no key twice, add no
    contract field as an extra and, if consent updates, state their flags as booleans; and
    their bronze values (`ts` with its quotes).

    No JSON parser runs: the members of a plain line start at the commas before its opening
    quotes, the first ten of them end the contract's fields before `properties`, and the
    first whose comma follows a `}` is its first extra field.
    """
    matched = pc.fill_null(pc.match_substring_regex(text, _PLAIN_EVENT), False)
    rows = np.flatnonzero(matched.to_numpy(zero_copy_only=False))
    if not len(rows):
        return rows, {}
    offsets = _offsets(text)
    data = text.buffers()[2]
    raw = np.frombuffer(data, dtype=np.uint8)
    starts, stops = offsets[rows], offsets[rows + 1]
    quotes = np.flatnonzero(raw[starts[0] : stops[-1]] == ord('"')) + starts[0]
    after_comma = np.flatnonzero(raw[quotes[:-1] - 1] == ord(","))
    closing = quotes[after_comma + 1]
    is_key = raw[np.minimum(closing + 1, len(raw) - 1)] == ord(":")
    key_open, key_close = quotes[after_comma[is_key]], closing[is_key]
    first = np.searchsorted(key_open, starts)
    last = np.searchsorted(key_open, stops)
    head = len(_EVENT_FIELDS) - 1
    follows_brace = np.append(np.flatnonzero(raw[key_open - 2] == ord("}")), len(key_open))
    extra_first = np.minimum(follows_brace[np.searchsorted(follows_brace, first + head)], last)
    columns: dict[str, pa.Array] = {}
    begin = starts + len('{"event_id":')
    for i, name in enumerate(_EVENT_FIELDS[:head]):
        if i:
            begin = key_open[first + i - 1] + len(f'"{name}":')
        end = key_open[first + i] - 1
        if name == "ts":
            columns[name] = _sliced(data, begin, end)
            continue
        quoted = raw[begin] == ord('"')
        values = _sliced(data, np.where(quoted, begin + 1, begin), np.where(quoted, end - 1, begin))
        columns[name] = values if quoted.all() else pc.if_else(pa.array(quoted), values, None)
    properties_begin = key_open[first + head - 1] + len('"properties":')
    has_extra = extra_first < last
    extra_begin = key_open[np.minimum(extra_first, len(key_open) - 1)]
    properties_end = np.where(has_extra, extra_begin - 1, stops - 1)
    columns["properties"] = _sliced(data, properties_begin, properties_end)
    extra = _sliced(data, np.where(has_extra, extra_begin - 1, stops - 1), stops)
    extra = pc.utf8_replace_slice(extra, 0, 1, "{")
    columns["extra"] = extra if has_extra.all() else pc.if_else(pa.array(has_extra), extra, None)
    members = _members(quotes, key_open, key_close, first + head, last, extra_first)
    filled = raw[properties_begin + 1] == ord('"')
    first_open = properties_begin[filled] + 1
    first_close = _next(quotes, first_open, 1)
    keys = _PlainKeys(
        np.concatenate([first_open, members.opening]),
        np.concatenate([first_close, members.closing]),
        np.concatenate([np.flatnonzero(filled), members.owner]),
        np.concatenate([np.zeros(len(first_open), dtype=bool), members.extra]),
    )
    consent = pc.equal(columns["event"], app_events.CONSENT_EVENT).to_numpy(zero_copy_only=False)
    keep = ~_unfit_keys(raw, data, keys, consent)
    if not keep.all():
        chosen = pa.array(keep)
        columns = {name: values.filter(chosen) for name, values in columns.items()}
        rows = rows[keep]
    return rows, columns


def _members(
    quotes: np.ndarray,
    key_open: np.ndarray,
    key_close: np.ndarray,
    begin: np.ndarray,
    end: np.ndarray,
    extra_first: np.ndarray,
) -> _PlainKeys:
    """The keys `key_open[begin[i]:end[i]]` of each plain line `i` (those after the first
    of `properties`), extra from `extra_first[i]` on."""
    counts = end - begin
    owner = np.repeat(np.arange(len(begin)), counts)
    index = np.arange(len(owner)) - np.repeat(np.cumsum(counts) - counts, counts)
    index += np.repeat(begin, counts)
    return _PlainKeys(
        key_open[index], key_close[index], owner, index >= np.repeat(extra_first, counts)
    )


def _unfit_keys(
    raw: np.ndarray, data: pa.Buffer, keys: _PlainKeys, consent: np.ndarray
) -> np.ndarray:
    """Which plain lines the line parser must decide: those that name a key twice (in
    `properties`, or among the extras: orjson keeps a repeated key's last value, DuckDB its
    first), repeat a contract field as an extra, or are a consent update that does not
    state its flags as booleans."""
    if not len(keys.opening):
        return consent.copy()
    unfit = np.zeros(len(consent), dtype=bool)
    order = np.argsort(keys.opening, kind="stable")
    names = _sliced(data, keys.opening[order] + 1, keys.closing[order])
    encoded = pc.dictionary_encode(names)
    ids = np.empty(len(order), dtype=np.int64)
    ids[order] = encoded.indices.to_numpy()
    kinds = len(encoded.dictionary)
    pairs = np.sort((keys.owner * 2 + keys.extra) * kinds + ids)
    twice = pairs[1:][pairs[1:] == pairs[:-1]]
    unfit[twice // kinds // 2] = True
    contract = pc.is_in(encoded.dictionary, _CONTRACT_NAMES).to_numpy(zero_copy_only=False)
    unfit[keys.owner[keys.extra & contract[ids]]] = True
    flag = pc.is_in(encoded.dictionary, _CONSENT_FLAGS).to_numpy(zero_copy_only=False)[ids]
    flag &= ~keys.extra & consent[keys.owner]
    boolean = np.isin(raw[keys.closing + 2], (ord("t"), ord("f")))
    stated = np.bincount(keys.owner[flag], minlength=len(consent)) > 0
    unfit[keys.owner[flag & ~boolean]] = True
    unfit |= consent & ~stated
    return unfit


def _fast_events(lines: pa.Array) -> _Fast:
    n = len(lines)
    lines = lines.combine_chunks() if isinstance(lines, pa.ChunkedArray) else lines
    nested = _too_nested(lines)
    text = _as_text(lines)
    plain_rows, plain = _plain_events(text)
    others = np.ones(n, dtype=bool)
    others[plain_rows] = False
    others = np.flatnonzero(others)
    if len(others) >= QUERY_MIN_LINES:
        queried_rows, queried = _queried_events(text, others)
        rows = np.concatenate([plain_rows, queried_rows])
        found = {
            name: pa.concat_arrays([plain[name], values]) if len(plain_rows) else values
            for name, values in queried.items()
        }
    else:
        rows, found = plain_rows, plain or _no_events()
    ok = ~nested[rows]
    matched, fields = _iso_fields(found["ts"])
    valid, offset, utc_us, dates = _utc_fields(
        *(fields[name] for name in ("y", "mo", "d", "h", "mi", "s", "f", "sign", "oh", "om"))
    )
    ok &= matched & valid
    chosen = pa.array(ok)
    columns = {
        **{name: values.filter(chosen) for name, values in found.items()},
        "ts": pa.array(utc_us[ok], pa.timestamp("us", tz="UTC")),
        "ts_offset_minutes": pa.array(offset[ok], pa.int16()),
    }
    schema = _row_schema(app_events.SCHEMA)
    table = pa.Table.from_arrays([columns[f.name] for f in schema], schema=schema)
    return _Fast(rows[ok], table, dates.filter(chosen))


_VALUE_NAMES = ("event_id", "ts", "event", *app_events.STRING_FIELDS, "properties", "extra")
# Lines the plain path leaves go to DuckDB's JSON reader when a block holds this many, and
# to the line parser otherwise: a query costs about 12 ms however few its lines, then 4 to 7
# µs a line, against 11 µs a line for the line parser.
QUERY_MIN_LINES = 4096


def _no_events() -> dict[str, pa.Array]:
    return {name: pa.array([], pa.string()) for name in _VALUE_NAMES}


def _queried_events(text: pa.Array, rows: np.ndarray) -> tuple[np.ndarray, dict[str, pa.Array]]:
    """The positions, among `rows`, of the lines `_EVENTS_SQL` proves plain, and their
    bronze values (`ts` with its quotes)."""
    if not len(rows):
        return rows, _no_events()
    connection = _json_database().cursor()
    try:
        table = pa.table({"pos": pa.array(rows), "text": text.take(pa.array(rows))})
        table = pa.Table.from_batches(table.to_batches(max_chunksize=_DUCKDB_TASK_ROWS))
        connection.register("lines", table)
        table = connection.sql(_EVENTS_SQL).to_arrow_table()
    finally:
        connection.close()
    found = {name: table[name].combine_chunks() for name in table.column_names}
    ok = found["plain"].to_numpy(zero_copy_only=False).astype(bool)
    chosen = pa.array(ok)
    kept = {name: found[name].filter(chosen).cast(pa.string()) for name in _VALUE_NAMES}

    def inner(name: str) -> pa.Array:
        return pc.utf8_slice_codeunits(kept[name], 1, -1)

    values = {name: inner(name) for name in ("event_id", "event", *app_events.STRING_FIELDS)}
    values["ts"] = kept["ts"]
    values["properties"] = pc.fill_null(kept["properties"], "{}")
    values["extra"] = kept["extra"]
    return found["pos"].to_numpy()[ok], values


# The shape nearly every writer uses, `"2026-10-01T07:31:29.000-05:00"` with its quotes, read
# by byte position; any other shape goes through `_ISO`.
_ISO_WIDTH = 31
_ISO_DIGITS = np.array(
    [1, 2, 3, 4, 6, 7, 9, 10, 12, 13, 15, 16, 18, 19, 21, 22, 23, 25, 26, 28, 29]
)
_ISO_MARKS = {0: ord('"'), 5: ord("-"), 8: ord("-"), 11: ord("T"), 14: ord(":"), 17: ord(":")}
_ISO_MARKS |= {20: ord("."), 27: ord(":"), 30: ord('"')}


def _iso_fields(ts: pa.Array) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Which quoted timestamps match `_ISO`, and their fields as integers (`f` in
    microseconds, `sign` +1 or -1); zeros where they do not match."""
    n = len(ts)
    names = ("y", "mo", "d", "h", "mi", "s", "f", "oh", "om")
    fields = {name: np.zeros(n, dtype=np.int64) for name in names}
    fields["sign"] = np.ones(n, dtype=np.int64)
    ts = ts.cast(pa.large_string())
    starts = _offsets(ts)
    lengths = np.diff(starts)
    valid = pc.is_valid(ts).to_numpy(zero_copy_only=False)
    fixed = np.flatnonzero(valid & (lengths == _ISO_WIDTH))
    matched = np.zeros(n, dtype=bool)
    if len(fixed):
        data = np.frombuffer(ts.buffers()[2], dtype=np.uint8)
        chars = data[starts[fixed][:, None] + np.arange(_ISO_WIDTH)].astype(np.int64)
        digits = chars - ord("0")
        shaped = ((digits[:, _ISO_DIGITS] >= 0) & (digits[:, _ISO_DIGITS] <= 9)).all(axis=1)
        for column, mark in _ISO_MARKS.items():
            shaped &= chars[:, column] == mark
        shaped &= (chars[:, 24] == ord("+")) | (chars[:, 24] == ord("-"))
        rows = fixed[shaped]
        d = digits[shaped]

        def number(*columns: int) -> np.ndarray:
            value = np.zeros(len(d), dtype=np.int64)
            for column in columns:
                value = value * 10 + d[:, column]
            return value

        fields["y"][rows] = number(1, 2, 3, 4)
        fields["mo"][rows] = number(6, 7)
        fields["d"][rows] = number(9, 10)
        fields["h"][rows] = number(12, 13)
        fields["mi"][rows] = number(15, 16)
        fields["s"][rows] = number(18, 19)
        fields["f"][rows] = number(21, 22, 23) * 1000
        fields["oh"][rows] = number(25, 26)
        fields["om"][rows] = number(28, 29)
        fields["sign"][rows] = np.where(chars[shaped, 24] == ord("-"), -1, 1)
        matched[rows] = True
    others = np.flatnonzero(valid & ~matched)
    if len(others):
        parts = pc.extract_regex(ts.take(pa.array(others)), _ISO)
        found = pc.is_valid(parts).to_numpy(zero_copy_only=False)
        rows = others[found]
        parts = parts.filter(pa.array(found))
        for name in ("y", "mo", "d", "h", "mi", "s", "oh", "om"):
            fields[name][rows] = _ints(parts.field(name))
        fraction = pc.utf8_rpad(pc.fill_null(parts.field("f"), ""), 6, "0")
        fields["f"][rows] = _ints(fraction)
        minus = pc.fill_null(pc.equal(parts.field("sign"), "-"), False)
        fields["sign"][rows] = np.where(minus.to_numpy(zero_copy_only=False), -1, 1)
        matched[rows] = True
    return matched, fields


_CLF = (
    r"^(?P<host>\S+) (?P<ident>\S+) (?P<user>\S+) \[(?P<when>[^\]]+)\] "
    r'"(?P<request>[^"\\]*)" (?P<status>\d{3}|-) (?P<size>\d{1,18}|-)'
    r'(?: "(?P<referrer>[^"\\]*)" "(?P<agent>[^"\\]*)")?$'
)
# `17/May/2015:10:05:03 +0000`, the only shape the line parser reads, by byte position.
_CLF_TIME_WIDTH = 26
_CLF_TIME_DIGITS = np.array([0, 1, 7, 8, 9, 10, 12, 13, 15, 16, 18, 19, 22, 23, 24, 25])
_CLF_TIME_MARKS = {2: "/", 6: "/", 11: ":", 14: ":", 17: ":", 20: " "}
_MONTH_CODES = [
    (ord(name[0]) << 16) | (ord(name[1]) << 8) | ord(name[2])
    for name in ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
]


@dataclass
class _Spans:
    """Byte ranges `[begin, end)` in one buffer, one per line, null where `present` is
    false."""

    begin: np.ndarray
    end: np.ndarray
    present: np.ndarray | None = None

    def strings(self, data: pa.Buffer, absent_dash: bool = False) -> pa.Array:
        """The ranges as strings; with `absent_dash`, `-` and the empty string are null."""
        values = _sliced(data, self.begin, self.end)
        present = self.present
        if absent_dash:
            raw = np.frombuffer(data, dtype=np.uint8)
            length = self.end - self.begin
            dash = (length == 1) & (raw[np.minimum(self.begin, len(raw) - 1)] == ord("-"))
            filled = (length > 0) & ~dash
            present = filled if present is None else present & filled
        if present is None or present.all():
            return values
        return pc.if_else(pa.array(present), values, None)


def _next(positions: np.ndarray, after: np.ndarray, step: int = 0) -> np.ndarray:
    """The first of `positions` (sorted) at or after each of `after`, or the `step`-th one
    after it; the caller makes sure it exists (by padding `positions` past every line)."""
    return positions[np.searchsorted(positions, after) + step]


def _clf_fields(text: pa.LargeStringArray, rows: np.ndarray) -> dict[str, _Spans]:
    """The fields of the lines `rows` of `text`, which match `_CLF`, cut at byte positions
    (a match with captures costs ten times one without).

    In a printable line that matches, host, ident and user hold no space, the time no `]`,
    and the request, referrer and user agent no `"`: so the first three spaces end the first
    three fields, the first `]` after them the time, and the quotes that follow the request,
    the status, the size and the quoted pair.
    """
    offsets = _offsets(text)
    raw = np.frombuffer(text.buffers()[2], dtype=np.uint8)
    starts, stops = offsets[rows], offsets[rows + 1]
    low, high = int(starts[0]), int(stops[-1])
    region = raw[low:high]
    padding = np.full(6, high, dtype=np.int64)
    spaces = np.concatenate([np.flatnonzero(region == ord(" ")) + low, padding])
    brackets = np.concatenate([np.flatnonzero(region == ord("]")) + low, padding])
    quotes = np.concatenate([np.flatnonzero(region == ord('"')) + low, padding])
    first_spaces = [_next(spaces, starts, step) for step in range(3)]
    when_end = _next(brackets, first_spaces[2])
    request_begin = when_end + 3
    request_end = _next(quotes, request_begin)
    status_begin = request_end + 2
    status_end = status_begin + np.where(raw[status_begin] == ord("-"), 1, 3)
    tail = [_next(quotes, status_end, step) for step in range(4)]
    quoted = tail[0] < stops
    split = [_next(spaces, request_begin, step) for step in range(3)]
    three = (split[1] < request_end) & (split[2] >= request_end)
    return {
        "host": _Spans(starts, first_spaces[0]),
        "ident": _Spans(first_spaces[0] + 1, first_spaces[1]),
        "user": _Spans(first_spaces[1] + 1, first_spaces[2]),
        "when": _Spans(first_spaces[2] + 2, when_end),
        "request": _Spans(request_begin, request_end),
        "method": _Spans(request_begin, np.where(three, split[0], request_begin), three),
        "target": _Spans(
            np.where(three, split[0] + 1, request_begin),
            np.where(three, split[1], request_begin),
            three,
        ),
        "protocol": _Spans(
            np.where(three, split[1] + 1, request_begin),
            np.where(three, request_end, request_begin),
            three,
        ),
        "status": _Spans(status_begin, status_end),
        "size": _Spans(status_end + 1, np.where(quoted, tail[0] - 1, stops)),
        "referrer": _Spans(
            np.where(quoted, tail[0] + 1, stops), np.where(quoted, tail[1], stops), quoted
        ),
        "agent": _Spans(
            np.where(quoted, tail[2] + 1, stops), np.where(quoted, tail[3], stops), quoted
        ),
    }


def _clf_time_fields(raw: np.ndarray, when: _Spans) -> tuple[np.ndarray, list[np.ndarray]]:
    """Which times have the Common Log Format's shape and a known month, and their fields
    (day, month, year, hour, minute, second, sign, offset hours, offset minutes)."""
    shaped = when.end - when.begin == _CLF_TIME_WIDTH
    wide = np.flatnonzero(shaped)
    chars = np.zeros((len(shaped), _CLF_TIME_WIDTH), dtype=np.int64)
    chars[wide] = raw[when.begin[wide][:, None] + np.arange(_CLF_TIME_WIDTH)]
    digits = chars - ord("0")
    shaped &= ((digits[:, _CLF_TIME_DIGITS] >= 0) & (digits[:, _CLF_TIME_DIGITS] <= 9)).all(axis=1)
    for column, mark in _CLF_TIME_MARKS.items():
        shaped &= chars[:, column] == ord(mark)
    shaped &= (chars[:, 21] == ord("+")) | (chars[:, 21] == ord("-"))
    code = (chars[:, 3] << 16) | (chars[:, 4] << 8) | chars[:, 5]
    month = np.zeros(len(code), dtype=np.int64)
    for number, name in enumerate(_MONTH_CODES, 1):
        month[code == name] = number
    shaped &= month > 0

    def number(*columns: int) -> np.ndarray:
        value = np.zeros(len(digits), dtype=np.int64)
        for column in columns:
            value = value * 10 + digits[:, column]
        return value

    sign = np.where(chars[:, 21] == ord("-"), -1, 1)
    fields = [
        number(7, 8, 9, 10),
        month,
        number(0, 1),
        number(12, 13),
        number(15, 16),
        number(18, 19),
        np.zeros(len(code), dtype=np.int64),
        sign,
        number(22, 23),
        number(24, 25),
    ]
    return shaped, fields


def _fast_access(lines: pa.Array) -> _Fast:
    printable = pc.fill_null(pc.match_substring_regex(lines, r"^[ -~]+$"), False)
    text = pc.cast(pc.if_else(printable, lines, b""), pa.large_string())
    ok = pc.fill_null(pc.match_substring_regex(text, _CLF), False).to_numpy(zero_copy_only=False)
    ok &= printable.to_numpy(zero_copy_only=False)
    matched = np.flatnonzero(ok)
    schema = _row_schema(access_log.SCHEMA)
    if not len(matched):
        return _Fast(matched, schema.empty_table(), pa.array([], pa.string()))
    raw = np.frombuffer(text.buffers()[2], dtype=np.uint8)
    spans = _clf_fields(text, matched)
    shaped, fields = _clf_time_fields(raw, spans["when"])
    valid, offset, utc_us, dates = _utc_fields(*fields)
    good = shaped & valid
    ok[matched] = good
    kept = {
        name: _Spans(
            span.begin[good], span.end[good], None if span.present is None else span.present[good]
        )
        for name, span in spans.items()
    }
    data = text.buffers()[2]
    status, size = kept["status"].strings(data), kept["size"].strings(data)
    columns = {
        "remote_host": kept["host"].strings(data),
        "ident": kept["ident"].strings(data, absent_dash=True),
        "remote_user": kept["user"].strings(data, absent_dash=True),
        "ts": pa.array(utc_us[good], pa.timestamp("us", tz="UTC")),
        "ts_offset_minutes": pa.array(offset[good], pa.int16()),
        "request_line": kept["request"].strings(data),
        "method": kept["method"].strings(data),
        "target": kept["target"].strings(data),
        "protocol": kept["protocol"].strings(data),
        "status": pc.cast(pc.if_else(pc.equal(status, "-"), None, status), pa.int16()),
        "bytes_sent": pc.cast(pc.if_else(pc.equal(size, "-"), None, size), pa.int64()),
        "referrer": kept["referrer"].strings(data, absent_dash=True),
        "user_agent": kept["agent"].strings(data, absent_dash=True),
    }
    rows = pa.Table.from_arrays([pc.cast(columns[f.name], f.type) for f in schema], schema=schema)
    return _Fast(np.flatnonzero(ok), rows, dates.filter(pa.array(good)))
