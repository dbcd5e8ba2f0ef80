"""Adversarial inputs on which the block reader or the columnar parser disagree with the
line reader or the line parser. A helper session wrote them, attacking the fast path with fresh
eyes; every test here failed when it was written, and passes since the fixes.

1. `_NOT_STRICT_JSON` screens DuckDB's leniencies (NaN and infinities, numbers beyond a
   double, trailing commas) only when the separator before them is followed by spaces or
   tabs (`[ \\t]*`). JSON whitespace also includes the carriage return, which a line can
   hold anywhere but at its end (the readers strip only a trailing `\\r`). DuckDB skips the
   `\\r`, accepts the line and the fast path takes it; orjson rejects it as invalid_json.
   The accepted row's `properties` is then not JSON at all (`{"n":NaN}`, `{"n":1e400}`):
   silver's `orjson.loads` of it would fail.
2. The block reader measures a line's length after stripping its trailing carriage returns,
   the line reader before (`readline(max + 1)` sees them): a line of exactly `max` bytes
   ended by `\\r\\n` is `line_too_long` for the line reader and an ordinary line for the
   block reader.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from lakehouse.ingest.sources import APP_EVENTS
from tests.ingest.test_columnar import TS, assert_parsed_as_the_line_parser
from tests.ingest.test_line_blocks import _from_blocks, _from_lines

_HEAD = b'{"event_id":"e1","ts":"' + TS.encode() + b'","event":"page_view"'

CARRIAGE_RETURN_LENIENCIES = {
    "nan": _HEAD + b',"properties":{"n":\rNaN}}',
    "infinity": _HEAD + b',"properties":{"n":\rInfinity}}',
    "minus_infinity": _HEAD + b',"properties":{"n":\r-Infinity}}',
    "nan_in_array": _HEAD + b',"properties":{"n":[\rnan]}}',
    "number_beyond_double": _HEAD + b',"properties":{"n":\r1e400}}',
    "trailing_comma_in_properties": _HEAD + b',"properties":{"n":1,\r}}',
    "trailing_comma_in_array": _HEAD + b',"properties":{"n":[1,\r]}}',
    "trailing_comma_top_level": _HEAD + b",\r}",
    "trailing_comma_after_user_id": _HEAD + b',"user_id":"u1",\r}',
}


@pytest.mark.parametrize(
    "line", list(CARRIAGE_RETURN_LENIENCIES.values()), ids=list(CARRIAGE_RETURN_LENIENCIES)
)
def test_a_carriage_return_before_a_lenient_token_is_not_accepted(line: bytes) -> None:
    # The line parser: (None, None, "invalid_json: ..."); the fast path: accepted, dated.
    assert_parsed_as_the_line_parser(APP_EVENTS, [line])


@pytest.mark.parametrize(
    "data",
    [
        b"a" * 1024 + b"\r\n" + b"next\n",
        b"a" * 1023 + b"\r\r\n",
        b"\xef\xbb\xbf" + b"a" * 1024 + b"\r\nx\n",
    ],
    ids=["crlf_at_limit", "two_cr_at_limit", "bom_crlf_at_limit"],
)
@pytest.mark.parametrize("compressed", [False, True], ids=["plain", "gzip"])
@pytest.mark.parametrize("block_bytes", [3, 1 << 20])
def test_a_line_at_the_limit_ended_by_carriage_returns_is_too_long_in_both(
    tmp_path: Path, data: bytes, compressed: bool, block_bytes: int
) -> None:
    path = tmp_path / ("a.log.gz" if compressed else "a.log")
    path.write_bytes(gzip.compress(data) if compressed else data)
    assert _from_blocks(path, 1024, block_bytes) == _from_lines(path, 1024)
