from __future__ import annotations

import orjson
import pytest

from lakehouse.ingest.app_events import SCHEMA, STRING_FIELDS, parse_event_line

GOOD = {
    "event_id": "e-1",
    "ts": "2026-10-31T21:15:00.250-05:00",
    "event": "search",
    "user_id": "usr_1",
    "org_id": None,
    "session_id": "s_1",
    "ip": "203.0.113.9",
    "user_agent": "Mozilla/5.0",
    "url": "https://app.example/search",
    "referrer": None,
    "properties": {"query": "amoxicillin"},
}


def _line(**changes: object) -> bytes:
    record = {**GOOD, **changes}
    return orjson.dumps({k: v for k, v in record.items() if v is not ...})


def test_good_line_becomes_a_typed_row_on_its_utc_date() -> None:
    date_key, row, reason = parse_event_line(_line())
    assert reason is None
    assert date_key == "2026-11-01"
    assert len(row) == len(SCHEMA) - 2
    names = [f.name for f in SCHEMA][: len(row)]
    values = dict(zip(names, row, strict=True))
    assert values["ts_offset_minutes"] == -300
    assert values["event"] == "search"
    assert orjson.loads(values["properties"]) == {"query": "amoxicillin"}
    assert values["extra"] is None
    assert all(values[name] == GOOD[name] for name in STRING_FIELDS)


def test_extra_fields_unknown_events_and_missing_optionals_are_kept() -> None:
    line = orjson.dumps(
        {
            "event_id": "e-2",
            "ts": "2026-11-01T00:00:00Z",
            "event": "brand_new_event",
            "app_version": "5.1",
        }
    )
    date_key, row, reason = parse_event_line(line)
    assert reason is None and date_key == "2026-11-01"
    assert row[3] == "brand_new_event"
    assert row[-2] == "{}"
    assert orjson.loads(row[-1]) == {"app_version": "5.1"}


@pytest.mark.parametrize(
    ("line", "code", "dated"),
    [
        (b"", "blank_line", False),
        (b'{"event_id": "e", "ts": ', "invalid_json", False),
        (
            b'{"event_id": "\xff\xfe", "ts": "2026-11-01T00:00:00Z", "event": "x"}',
            "invalid_utf8",
            False,
        ),
        (b"[1, 2]", "not_an_object", False),
        (_line(ts=...), "bad_timestamp", False),
        (_line(ts="yesterday"), "bad_timestamp", False),
        (_line(ts="2026-11-01T10:00:00"), "bad_timestamp", False),
        (_line(ts=1730000000), "bad_timestamp", False),
        (_line(ts="1899-01-01T00:00:00Z"), "bad_timestamp", False),
        (_line(ts="2300-01-01T00:00:00Z"), "bad_timestamp", False),
        (_line(event_id=...), "missing_field", True),
        (_line(event_id=""), "missing_field", True),
        (_line(event=...), "missing_field", True),
        (_line(event_id=17), "wrong_type", True),
        (_line(user_id=12345), "wrong_type", True),
        (_line(url=["a"]), "wrong_type", True),
        (_line(properties=[1]), "wrong_type", True),
    ],
)
def test_bad_lines_get_a_reason_and_keep_a_readable_date(
    line: bytes, code: str, dated: bool
) -> None:
    date_key, row, reason = parse_event_line(line)
    assert row is None
    assert reason.split(":")[0] == code
    assert (date_key == "2026-11-01") if dated else (date_key is None)


def test_deep_nesting_is_rejected_not_crashing() -> None:
    deep = (
        b'{"event_id":"e","ts":"2026-11-01T00:00:00Z","event":"x","properties":'
        + b"[" * 5000
        + b"]" * 5000
        + b"}"
    )
    _, row, reason = parse_event_line(deep)
    assert row is None and reason.startswith("too_deeply_nested")


@pytest.mark.parametrize(
    "properties",
    [
        {"share_with_partners": "false"},
        {"share_with_partners": 0},
        {"share_with_partners": None},
        {"share_with_partners": True, "marketing": "no"},
        {},
    ],
)
def test_a_consent_that_is_not_a_json_boolean_is_quarantined(properties: dict) -> None:
    """A string "false" must never be read as consent (nor as its absence)."""
    date_key, row, reason = parse_event_line(_line(event="consent_update", properties=properties))
    assert row is None and date_key == "2026-11-01"
    assert reason.startswith("invalid_consent: ")


def test_a_boolean_consent_is_accepted() -> None:
    for properties in ({"share_with_partners": False}, {"marketing": True}):
        _, row, reason = parse_event_line(_line(event="consent_update", properties=properties))
        assert reason is None and row is not None
