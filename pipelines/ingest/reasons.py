"""Quarantine reasons: a stable code for counting, and a detail for the person reading it."""

from __future__ import annotations

BLANK_LINE = "blank_line"
INVALID_UTF8 = "invalid_utf8"
INVALID_JSON = "invalid_json"
TOO_DEEPLY_NESTED = "too_deeply_nested"
NOT_AN_OBJECT = "not_an_object"
MISSING_FIELD = "missing_field"
WRONG_TYPE = "wrong_type"
BAD_TIMESTAMP = "bad_timestamp"
INVALID_CONSENT = "invalid_consent"
NOT_COMBINED_LOG_FORMAT = "not_combined_log_format"
LINE_TOO_LONG = "line_too_long"
UNREADABLE_FILE = "unreadable_file"


def reason(code: str, detail: str) -> str:
    """Format a quarantine reason as `code: detail`."""
    return f"{code}: {detail}"


def reason_code(text: str) -> str:
    """The stable code of a reason produced by `reason`."""
    return text.split(":", 1)[0]
