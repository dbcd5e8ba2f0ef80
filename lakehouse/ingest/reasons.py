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
NUMBER_OUT_OF_RANGE = "number_out_of_range"
OUT_OF_WINDOW = "out_of_window"
UNDATED_FILE = "undated_file"
DECOMPRESSION_LIMIT = "decompression_limit"
NOT_A_REGULAR_FILE = "not_a_regular_file"
RAW_FILE_SHRANK = "raw_file_shrank"
# Reasons that refuse a whole file rather than one line of it.
FILE_REASONS = frozenset({UNDATED_FILE, DECOMPRESSION_LIMIT, NOT_A_REGULAR_FILE})


def reason(code: str, detail: str) -> str:
    """Format a quarantine reason as `code: detail`."""
    return f"{code}: {detail}"


def reason_code(text: str) -> str:
    """The stable code of a reason produced by `reason`."""
    return text.split(":", 1)[0]
