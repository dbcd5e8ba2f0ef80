"""The columnar parser gives every line the date, row or reason the line parser gives it.

Its fast path must accept only what the line parser accepts, with the same values; anything
else must fall back. These tests parse the same lines both ways and compare position by
position, on hostile lines written here, on random JSON and random bytes, and on the
generator's output with its deliberate breakage.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import orjson
import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lakehouse.ingest import app_events, columnar
from lakehouse.ingest.columnar import parse_block
from lakehouse.ingest.line_blocks import LineBlock, iter_line_blocks
from lakehouse.ingest.sources import ACCESS_LOG, APP_EVENTS, RawSource

TS = "2026-10-01T12:00:00.123-05:00"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# A minimal event up to its `event` field, for lines that go on as a test needs.
_HEAD = b'{"event_id":"a","ts":"' + TS.encode() + b'","event":"x"'


def _block(lines: list[bytes]) -> LineBlock:
    return LineBlock(
        numbers=np.arange(1, len(lines) + 1, dtype=np.int64),
        content=pa.array(lines, pa.large_binary()),
        lengths=np.array([len(line) + 1 for line in lines], dtype=np.int64),
    )


def _file_lines(path: Path) -> list[bytes]:
    """Every line of a raw file the line splitter delivers (too long or unreadable ones out)."""
    return [
        line
        for block in iter_line_blocks(path)
        for i, line in enumerate(block.content.to_pylist())
        if i not in block.errors
    ]


def _comparable(row: dict) -> dict:
    row = dict(row)
    if row.get("ts") is not None and not isinstance(row["ts"], int):
        row["ts"] = (row["ts"] - EPOCH) // timedelta(microseconds=1)
    if "properties" in row:
        row["properties"] = json.loads(row["properties"], object_pairs_hook=list)
    return row


# The event lines the plain path leaves go to DuckDB's reader or to the line parser by their
# number; a regular expression matching nothing leaves every line to DuckDB's reader.
EVENT_TIERS = {
    "plain, then the line parser": {"QUERY_MIN_LINES": 1 << 60},
    "plain, then DuckDB": {"QUERY_MIN_LINES": 0},
    "DuckDB alone": {"QUERY_MIN_LINES": 0, "_PLAIN_EVENT": r"[^\s\S]"},
}


@contextmanager
def event_tier(settings: dict[str, object]) -> Iterator[None]:
    """Run the columnar parser with `settings` in place of its module constants."""
    saved = {name: getattr(columnar, name) for name in settings}
    for name, value in settings.items():
        setattr(columnar, name, value)
    try:
        yield
    finally:
        for name, value in saved.items():
            setattr(columnar, name, value)


def assert_parsed_as_the_line_parser(source: RawSource, lines: list[bytes]) -> int:
    """Compare both parsers on `lines` (events in each tier); returns how many lines the
    fast path took (events: with the module's own settings)."""
    if source is not APP_EVENTS:
        return _assert_parsed_as_the_line_parser(source, lines)
    for constants in EVENT_TIERS.values():
        with event_tier(constants):
            _assert_parsed_as_the_line_parser(source, lines)
    return _assert_parsed_as_the_line_parser(source, lines)


def _assert_parsed_as_the_line_parser(source: RawSource, lines: list[bytes]) -> int:
    """The JSON texts (`properties`, `extra`) must be the line parser's byte for byte: the
    same event must not get two texts, whichever tier read it."""
    parsed = parse_block(source, _block(lines))
    names = parsed.rows.schema.names
    rows = iter(parsed.rows.to_pylist())
    dates = parsed.dates.to_pylist()
    for position, line in enumerate(lines):
        own, row, why = source.parse(line)
        assert dates[position] == own, line
        assert bool(parsed.accepted[position]) == (row is not None), line
        if row is None:
            assert parsed.reasons[position] == why, line
        else:
            expected = dict(zip(names, row, strict=True))
            got = next(rows)
            assert _comparable(got) == _comparable(expected), line
            if source is APP_EVENTS:
                assert (got["properties"], got["extra"]) == (
                    expected["properties"],
                    expected["extra"],
                ), line
    return int(parsed.vectorized.sum())


def _event(**fields: object) -> bytes:
    record: dict = {"event_id": "e1", "ts": TS, "event": "page_view", "user_id": "usr_1"}
    record.update(fields)
    return orjson.dumps({k: v for k, v in record.items() if v is not ...})


def _written(**fields: object) -> bytes:
    """An event as the application writes it: every contract field, in the contract's order,
    then any extra field."""
    record: dict = {"event_id": "e1", "ts": TS, "event": "page_view"}
    record |= {name: None for name in app_events.STRING_FIELDS} | {"user_id": "usr_1"}
    record["properties"] = {}
    record.update(fields)
    return orjson.dumps({k: v for k, v in record.items() if v is not ...})


_WRITTEN_HEAD = _written(event_id="a", event="x", user_id=None)[: -len(',"properties":{}}')]
_CONSENT_HEAD = _WRITTEN_HEAD.replace(b'"x"', b'"consent_update"')
PLAIN_ATTACKS = [
    _WRITTEN_HEAD + b',"properties":{"a":["x","y"],"b":"z"}}',
    _WRITTEN_HEAD + b',"properties":{"a":["x",1,true,null,"y"],"c":[]}}',
    _WRITTEN_HEAD + b',"properties":{"a":[[]]}}',
    _WRITTEN_HEAD + b',"properties":{"a":["b",{"c":1}]}}',
    _WRITTEN_HEAD + b',"properties":{"a":"x,","b":1}}',
    _WRITTEN_HEAD + b',"properties":{"a":"x,",":":1}}',
    _WRITTEN_HEAD + b',"properties":{"a":"x},",":":1}}',
    _WRITTEN_HEAD + b',"properties":{"x},":":"}}',
    _WRITTEN_HEAD + b',"properties":{"x},":":","y":2},"z":3}',
    _WRITTEN_HEAD + b',"properties":{"a":"x,",":b":1,"c":2}}',
    _WRITTEN_HEAD + b',"properties":{"a":["x,",":"],"b":1}}',
    _WRITTEN_HEAD + b',"properties":{"a":"x"},"b":"x,",":":1}',
    _WRITTEN_HEAD + b',"properties":{"a,":1,"b":2}}',
    _WRITTEN_HEAD + b',"properties":{"a":"}, b","c":1}}',
    _WRITTEN_HEAD + b',"properties":{"a":"x}","c":1}}',
    _WRITTEN_HEAD + b',"properties":{"a":"k:","b":"c:d","e":["f:",":"]}}',
    _WRITTEN_HEAD + b',"properties":{"a":"x"},"b":"}"}',
    _WRITTEN_HEAD + b',"properties":{"a":"x"},"b":"},"}',
    _WRITTEN_HEAD + b',"properties":{"a":1},"properties":{}}',
    _WRITTEN_HEAD + b',"properties":{},"user_id":"u"}',
    _WRITTEN_HEAD + b',"properties":{},"event":"y"}',
    _WRITTEN_HEAD + b',"properties":{"v":1},"v":2}',
    _WRITTEN_HEAD + b',"properties":{"v":1,"w":2},"w":[1]}',
    _WRITTEN_HEAD + b',"properties":{},"v":1,"v":2}',
    _WRITTEN_HEAD + b',"properties":{},"v":"1","w":null,"x":true,"y":-3}',
    _WRITTEN_HEAD + b',"properties":{"":1}}',
    _WRITTEN_HEAD + b',"properties":{},"":1}',
    _WRITTEN_HEAD + b',"properties":{"a":"\x7f","b":"\xe2\x80\xa8","c":"\xf0\x9f\x98\x80"}}',
    _WRITTEN_HEAD + b',"properties":{"a":123456789012345678,"b":-123456789012345678}}',
    _WRITTEN_HEAD + b',"properties":{"a":1234567890123456789}}',
    _WRITTEN_HEAD + b',"properties":{"a":-0}}',
    _WRITTEN_HEAD + b',"properties":{"a":0.5}}',
    _WRITTEN_HEAD + b',"properties":{"a":1e5}}',
    *(
        head + b',"properties":{"n":%s,"m":[%s]}}' % (number, number)
        for head in (_WRITTEN_HEAD, _HEAD)
        for number in (b"1e-6", b"1.5e-6", b"1e16", b"1e17", b"1e21", b"1e+21", b"0.1", b"-2.50")
    ),
    _WRITTEN_HEAD + b',"properties":{"\xc3\xa9":1,"\xc3\xa9":2}}',
    _WRITTEN_HEAD + b',"properties":{"\xc3\xa9":1,"e\xcc\x81":2}}',
    _WRITTEN_HEAD + b',"properties":{' + b",".join(b'"k%d":%d' % (i, i) for i in range(80)) + b"}}",
    _WRITTEN_HEAD
    + b',"properties":{'
    + b",".join(b'"k%d":%d' % (i % 40, i) for i in range(41))
    + b"}}",
    _WRITTEN_HEAD + b',"properties":{"a":"' + b"[" * 70 + b'"}}',
    _WRITTEN_HEAD + b',"properties":{"a":"x","a":"x"}}',
    _WRITTEN_HEAD + b',"properties":{"a":"\t"}}',
    _WRITTEN_HEAD + b',"properties":{"a":"b"} }',
    _WRITTEN_HEAD + b',"properties":{"a":"b"}}}',
    _WRITTEN_HEAD + b',"properties":{"a":"b",}}',
    _WRITTEN_HEAD + b',"properties":{"a" :"b"}}',
    _WRITTEN_HEAD + b',"properties":{"a":tru}}',
    _WRITTEN_HEAD.replace(b'"user_id":null', b'"user_id":"u,"') + b',"properties":{}}',
    _WRITTEN_HEAD.replace(b'"user_id":null', b'"user_id":""') + b',"properties":{}}',
    _WRITTEN_HEAD.replace(b'"user_id":null', b'"user_id":",x"') + b',"properties":{}}',
    _WRITTEN_HEAD.replace(b'"user_id":null', b'"user_id":"a:b"') + b',"properties":{}}',
    _WRITTEN_HEAD.replace(b'"user_id":null', b'"user_id":"}"') + b',"properties":{}}',
    _WRITTEN_HEAD.replace(b'"user_id":null', b'"user_id":1') + b',"properties":{}}',
    _WRITTEN_HEAD.replace(b'"user_id":null', b'"user_id":true') + b',"properties":{}}',
    _WRITTEN_HEAD.replace(b'"user_id":null,', b"") + b',"properties":{}}',
    _WRITTEN_HEAD.replace(b'"event":"x"', b'"event":" x"') + b',"properties":{}}',
    _WRITTEN_HEAD.replace(b'"event":"x"', b'"event":"x,"') + b',"properties":{}}',
    _WRITTEN_HEAD.replace(b'"event_id":"a"', b'"event_id":"\xc3\xa9"') + b',"properties":{}}',
    _CONSENT_HEAD + b',"properties":{"marketing":true},"share_with_partners":"no"}',
    _CONSENT_HEAD + b',"properties":{"note":"x"},"marketing":true}',
    _CONSENT_HEAD + b',"properties":{"marketing":"true"}}',
    _CONSENT_HEAD + b',"properties":{"marketing":null}}',
    _CONSENT_HEAD + b',"properties":{"marketing":[true]}}',
    _CONSENT_HEAD + b',"properties":{"marketing":true,"share_with_partners":1}}',
    _CONSENT_HEAD + b',"properties":{"marketing":true,"share_with_partners":false}}',
    _CONSENT_HEAD + b',"properties":{"share_with_partners":false,"note":"marketing"}}',
    _CONSENT_HEAD + b',"properties":{"note":"marketing"}}',
    _CONSENT_HEAD + b',"properties":{}}',
    _CONSENT_HEAD + b',"properties":{"marketing":false,"marketing":true}}',
    _CONSENT_HEAD + b',"properties":{"Marketing":true}}',
    _CONSENT_HEAD + b',"properties":{"marketing":true,"x":[false,"marketing"]}}',
]


def _hostile_events(event: Callable[..., bytes], head: bytes) -> list[bytes]:
    """Hostile lines, built with `event` and `head` in one writer's shape."""
    return [
        event(),
        event(properties={"q": "a", "n": 1.5, "big": 2**62, "deep": [[{"x": None}]]}),
        event(properties=None),
        event(properties=[1]),
        event(properties="text"),
        event(extra_field=1),
        event(event_id=7),
        event(event_id=""),
        event(event_id="   "),
        event(event_id="\u00a0"),
        event(event_id="\u00a0x"),
        event(event=None),
        event(event=...),
        event(event="consent_update", properties={"marketing": True}),
        event(event="consent_update", properties={"marketing": "false"}),
        event(user_id=5),
        event(user_id=None),
        event(url='a"b'),
        event(url="caf\u00e9"),
        event(url="line\nbreak"),
        event(ts="2026-10-01T12:00:00z"),
        event(ts="2026-13-01T12:00:00.123-05:00"),
        event(ts="2026-10-01T12:00:00.123-05:60"),
        event(ts="2026-10-01T12:00:00.123-24:00"),
        event(ts="2026-10-01T12:00:00.123+05:30"),
        event(ts="2026-10-01T12:00:00.123 05:00"),
        event(ts="2026-10-01T12:00:00,123-05:00"),
        event(ts="2026-10-01t12:00:00.123-05:00"),
        event(ts="2026-10-01T12:00:00.12a-05:00"),
        event(ts="2028-02-29T23:59:59.999+00:00"),
        event(ts="2026-02-29T12:00:00.123-05:00"),
        event(ts="2026-10-01T12:00:00.123-05:00 "),
        event(ts="2026-10-01T12:00:00.123\u002d05:00"),
        event(ts="2026-10-01T12:00:00.1234567Z"),
        event(ts="2026-10-01T12:00:00.1Z"),
        event(ts="2026-10-01T12:00:00+24:00"),
        event(ts="2026-10-01T12:00:00+23:60"),
        event(ts="2026-10-01T12:00:00+23:59"),
        event(ts="2026-02-30T12:00:00Z"),
        event(ts="2028-02-29T12:00:00Z"),
        event(ts="2026-02-29T12:00:00Z"),
        event(ts="2026-10-01T24:00:00Z"),
        event(ts="2026-10-01T23:59:60Z"),
        event(ts="2099-12-31T23:59:59-01:00"),
        event(ts="1999-12-31T23:00:00-02:00"),
        event(ts="2026-10-01 12:00:00Z"),
        event(ts="2026-10-01T12:00:00"),
        event(ts=1759300000),
        event(ts="\uff12026-10-01T12:00:00Z"),
        b'{"event_id":"a","event_id":"b","ts":"' + TS.encode() + b'","event":"x"}',
        head + b',"properties":{"n":18446744073709551616}}',
        head + b',"properties":{"n":9223372036854775808}}',
        head + b',"properties":{"n":1e400}}',
        head + b',"properties":{"n":NaN}}',
        head + b',"properties":{"s":"\\ud800"}}',
        head + b',"properties":{"s":"\\u00e9\\/"}}',
        head + b',"properties":{"a":1,}}',
        head + b"} trailing",
        head + b'}{"event_id":"b"}',
        head + b" /* c */}",
        event(event="consent_update", properties={"share_with_partners": False, "marketing": True}),
        event(event="consent_update", properties={"marketing": None}),
        event(event="consent_update", properties={"marketing": 0}),
        event(event="consent_update", properties={"other": True}),
        event(event="consent_update", properties={}),
        event(event="consent_update", properties=None),
        event(event="consent_update", properties={"marketing": True, "note": "x"}),
        event(event="consent_update", properties={"marketing": {"v": True}}),
        event(event="consent_update") + b" ",
        b'{"event_id":"a","ts":"' + TS.encode() + b'","event":"consent_update",'
        b'"properties":{"marketing":true,"marketing":"no"}}',
        b'{"event_id":"a","ts":"' + TS.encode() + b'","event":"consent_update",'
        b'"properties":{"marketing":"no","marketing":true}}',
        head + b',"properties":{"a":1,"a":2}}',
        head + b',"properties":{"a":{"b":1,"b":2}}}',
        head + b',"properties":{"a":[{"b":1}]}}',
        head + b',"properties":{"a":"{"}}',
        event(app_version="5.12.1"),
        event(app_version="5.12.1", trace_id="fe20c2e2e99bc93e"),
        event(properties={"q": "x"}, app_version="5.12.1"),
        event(app_version=7, n=-12, z=0, t=True, f=False, nothing=None),
        event(app_version=-0.0),
        event(app_version=1.5),
        event(app_version=2**62),
        event(app_version=[1]),
        event(app_version={"a": 1}),
        event(app_version='caf\u00e9 "q"'),
        event(app_version="café"),
        event(app_version="tab\there"),
        event(**{"app version": "x"}),
        event(**{"app-version": "x"}),
        head + b',"v":"1","v":"2"}',
        head + b',"v":-0}',
        head + b',"v":01}',
        head + b',"v":1,}',
        head + b',"event":"y"}',
        head + b',"v":"1","user_id":"u2"}',
        head + b',"v":"1","ts":"' + TS.encode() + b'"}',
        b'{"event_id":"a","v":"1","ts":"' + TS.encode() + b'","event":"x"}',
        head + b',"v":"1"} ',
        head + b',"v":"\\u0041"}',
        head + b',"v":"a\\/b"}',
        b'{"event_id": "a", "ts": "' + TS.encode() + b'", "event": "x", "v": "1"}',
        head + b',"v":"1"}}',
        head + b',"v":99999999999999999999}',
        b" " + event(),
        event() + b" ",
        b'{"event_id":"a","ts":"' + TS.encode() + b'","event":"x\ty"}',
        b'{"event_id":"\xff","ts":"' + TS.encode() + b'","event":"x"}',
        head + b',"properties":' + b"[" * 70 + b"]" * 70 + b"}",
        head + b',"properties":{"t":"' + b"[" * 70 + b'"}}',
        b"\xc2",
        b"\x80",  # with the line before, a valid character: each alone is not UTF-8
        event(url="caf\u00e9"),
        b"",
        b"[1, 2]",
        b"null",
        b"{",
        b"\xef\xbb\xbf" + event(),
    ]


# Each hostile line twice: in the application's shape (every contract field, in order: the
# plain path's shape) and in a sparse writer's (absent fields left out: DuckDB's or the line
# parser's), plus lines aimed at the plain path's byte-position cutting.
HOSTILE_EVENTS = [
    *_hostile_events(_written, _WRITTEN_HEAD),
    *_hostile_events(_event, _HEAD),
    *PLAIN_ATTACKS,
]

ACCESS = b'1.2.3.4 - - [01/Oct/2026:15:47:14 -0500] "GET /a?b=c HTTP/1.1" 200 123 "-" "curl/8"'
HOSTILE_ACCESS = [
    ACCESS,
    ACCESS.replace(b"1.2.3.4", b"h\xc3\xa9te"),
    ACCESS.replace(b"1.2.3.4", b"h\xa0x"),
    ACCESS.replace(b" - - ", b" -\t- "),
    ACCESS.replace(b" - - ", b" -\x0b- "),
    ACCESS.replace(b"curl/8", b'a \\"q\\" b'),
    ACCESS.replace(b"GET /a?b=c HTTP/1.1", b"GET  /a HTTP/1.1"),
    ACCESS.replace(b"GET /a?b=c HTTP/1.1", b"GET /a"),
    ACCESS.replace(b"GET /a?b=c HTTP/1.1", b"-"),
    ACCESS.replace(b"GET /a?b=c HTTP/1.1", b"GET /a b HTTP/1.1"),
    ACCESS.replace(b" 200 ", b" - "),
    ACCESS.replace(b" 123 ", b" - "),
    ACCESS.replace(b" 123 ", b" 99999999999999999999 "),
    ACCESS.replace(b" 123 ", b" 9223372036854775807 "),
    ACCESS.replace(b"Oct", b"OCT"),
    ACCESS.replace(b"Oct", b"Sept"),
    ACCESS.replace(b"Oct", b"Foo"),
    ACCESS.replace(b"-0500", b"+2400"),
    ACCESS.replace(b"-0500", b"+0060"),
    ACCESS.replace(b"-0500", b"+0099"),
    ACCESS.replace(b"-0500", b"-2359"),
    ACCESS.replace(b"01/Oct/2026", b"29/Feb/2026"),
    ACCESS.replace(b"01/Oct/2026", b"29/Feb/2028"),
    ACCESS.replace(b"15:47:14", b"24:00:00"),
    ACCESS.replace(b"15:47:14", b"23:59:60"),
    ACCESS.replace(b"01/Oct/2026:15:47:14 -0500", b"31/Dec/1999:23:00:00 -0200"),
    ACCESS.replace(b"01/Oct/2026:15:47:14 -0500", b"31/Dec/2099:23:30:00 -0100"),
    ACCESS + b"   ",
    ACCESS + b"\t",
    ACCESS.replace(b' "-" "curl/8"', b""),
    ACCESS.replace(b' "-" "curl/8"', b' "" ""'),
    ACCESS.replace(b' "-" "curl/8"', b' "-"'),
    ACCESS.replace(b'"curl/8"', b'"trunc'),
    ACCESS.replace(b"[01/Oct/2026:15:47:14 -0500]", b"[2026-10-01 15:47:14]"),
    b"",
    b"\x16\x03\x01\x02\x00",
]


def test_hostile_event_lines_parse_as_the_line_parser_says() -> None:
    fast = assert_parsed_as_the_line_parser(APP_EVENTS, HOSTILE_EVENTS)
    assert fast >= 5


def test_hostile_access_lines_parse_as_the_line_parser_says() -> None:
    fast = assert_parsed_as_the_line_parser(ACCESS_LOG, HOSTILE_ACCESS)
    assert fast >= 5


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=12,
)
fields = st.sampled_from(
    ["event_id", "ts", "event", "user_id", "url", "properties", "referrer", "x"]
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    records=st.lists(
        st.dictionaries(
            fields,
            json_values
            | st.sampled_from([TS, "2026-10-01T00:00:00Z", "consent_update", "page_view"]),
            max_size=8,
        ),
        min_size=1,
        max_size=30,
    )
)
def test_random_event_records_parse_as_the_line_parser_says(records: list[dict]) -> None:
    lines = [json.dumps(r).encode() for r in records]
    lines += [json.dumps({"ts": TS, **r}).encode() for r in records]
    assert_parsed_as_the_line_parser(APP_EVENTS, lines)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    stamps=st.lists(
        st.tuples(
            st.text("0123456789", min_size=21, max_size=21),
            st.sampled_from("+-Z "),
            st.sampled_from(["-", ":", "T", "."]),
        ),
        min_size=1,
        max_size=40,
    )
)
def test_fixed_width_timestamps_parse_as_the_line_parser_says(
    stamps: list[tuple[str, str, str]],
) -> None:
    """The common timestamp shape is read by byte position: any digits in it, valid or not
    as a date, must give what the line parser gives."""
    lines = []
    for g, sign, mark in stamps:
        ts = f"{g[:4]}-{g[4:6]}{mark}{g[6:8]}T{g[8:10]}:{g[10:12]}:{g[12:14]}.{g[14:17]}"
        ts += f"{sign}{g[17:19]}:{g[19:21]}"
        lines.append(_event(ts=ts))
        lines.append(_event(ts="2026-10-01T" + ts[11:]))
    assert_parsed_as_the_line_parser(APP_EVENTS, lines)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    cuts=st.lists(st.tuples(st.integers(0, 120), st.binary(max_size=3)), min_size=1, max_size=20),
    source=st.sampled_from([APP_EVENTS, ACCESS_LOG]),
)
def test_mutated_lines_parse_as_the_line_parser_says(
    cuts: list[tuple[int, bytes]], source: RawSource
) -> None:
    base = _event(properties={"q": "x"}) if source is APP_EVENTS else ACCESS
    lines = [base[:at] + insert + base[at + len(insert) :] for at, insert in cuts]
    assert_parsed_as_the_line_parser(source, [base, *lines])


def test_generated_sample_parses_as_the_line_parser_says(tmp_path) -> None:
    from pipelines.sample.generator import GeneratorConfig, generate

    generate(GeneratorConfig(out=tmp_path, days=2, users=60, seed=5, events=3000))
    for source, folder in ((APP_EVENTS, "events"), (ACCESS_LOG, "access")):
        for path in sorted((tmp_path / folder).iterdir()):
            lines = _file_lines(path)
            fast = assert_parsed_as_the_line_parser(source, lines)
            assert fast >= 0.97 * len(lines) or len(lines) < 50


def test_consent_updates_and_simple_extra_fields_take_the_fast_path() -> None:
    """The generator's schema drift (extra fields after the contract's), consent updates and
    arrays in properties are common: the line parser would make them the slow part of every
    file."""
    lines = [
        _written(event="consent_update", properties={"share_with_partners": False}),
        _written(
            event="consent_update", properties={"marketing": True, "share_with_partners": True}
        ),
        _written(app_version="5.12.1"),
        _written(properties={"q": "x", "n": 2}, trace_id="fe20c2e2e99bc93e", build=-7, beta=True),
        _written(properties={"tags": ["a", "b", 3], "none": []}, n=None),
        _written(properties={"tags": ["a", "b", "a", "tags"], "b": 1}),
    ]
    parsed = parse_block(APP_EVENTS, _block(lines))
    assert parsed.vectorized.all()
    assert parsed.rows["extra"].to_pylist() == [
        None,
        None,
        '{"app_version":"5.12.1"}',
        '{"trace_id":"fe20c2e2e99bc93e","build":-7,"beta":true}',
        '{"n":null}',
        None,
    ]
    assert_parsed_as_the_line_parser(APP_EVENTS, lines)


def test_duplicate_keys_are_left_to_the_line_parser() -> None:
    """orjson keeps a duplicate key's last value, DuckDB's reader its first: the fast path
    must not decide such a line, at the top level, among extra fields or in properties."""
    lines = [
        _HEAD + b',"properties":{"email":"a@b.example","email":"x"}}',
        _HEAD + b',"v":"1","v":"2"}',
        _HEAD + b',"v":"1","event":"y"}',
        _HEAD + b',"event":"y"}',
        _WRITTEN_HEAD + b',"properties":{"email":"a@b.example","email":"x"}}',
        _WRITTEN_HEAD + b',"properties":{},"v":"1","v":"2"}',
        _WRITTEN_HEAD + b',"properties":{},"v":"1","event":"y"}',
        _WRITTEN_HEAD + b',"properties":{},"event":"y"}',
    ]
    parsed = parse_block(APP_EVENTS, _block(lines))
    assert not parsed.vectorized.any()
    assert_parsed_as_the_line_parser(APP_EVENTS, lines)


def test_escaped_control_characters_in_properties_are_written_as_the_line_parser_writes_them() -> (
    None
):
    """DuckDB writes `\\u001F` where orjson writes `\\u001f`: the same event must not get two
    texts (found by a differential attack on the fast path)."""
    head = _HEAD + b',"properties":'
    lines = [
        head + b'{"s":"\\u001f"}}',
        head + b'{"\\u000b":1}}',
        head + b'{"s":["\\u001F"]}}',
        head + b'{"s":"\\\\u001F"}}',
        head.replace(b'"x"', b'"consent_update"') + b'{"marketing":true,"note":"tab\\u001b"}}',
    ]
    parsed = parse_block(APP_EVENTS, _block(lines))
    expected = [APP_EVENTS.parse(line)[1][-2] for line in lines]
    assert parsed.rows["properties"].to_pylist() == expected


def test_a_block_shorter_than_a_time_parses_as_the_line_parser_says() -> None:
    """The time is read by byte position only where it is 26 bytes wide: a block whose whole
    text is shorter must not be read past its end (found by a differential attack)."""
    assert_parsed_as_the_line_parser(ACCESS_LOG, [b'- - - [-] "" - -'])
    assert_parsed_as_the_line_parser(ACCESS_LOG, [b"\xff" * 100, b'- - - [-] "" - -'])
    assert_parsed_as_the_line_parser(ACCESS_LOG, [b'a b c [x] "GET / H" 200 1 "-" "-"'])


def test_the_real_apache_log_parses_as_the_line_parser_says() -> None:
    """10,000 lines a real server wrote: the fields are cut at delimiters, not captured, so
    every shape it holds must give the line parser's row."""
    from tests.conftest import APACHE_SAMPLE

    lines = _file_lines(APACHE_SAMPLE)
    fast = assert_parsed_as_the_line_parser(ACCESS_LOG, lines)
    assert len(lines) == 10_000
    assert fast >= 0.99 * len(lines)
