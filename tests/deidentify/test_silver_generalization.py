"""Silver generalizes what one person typed before anyone else's release can see it.

User-agent families and typed profile values are closed onto the sharing policy's
vocabularies, and a value in which the identifier re-scan finds something is generalized at
silver (counted), so the silver identifier check passes on hostile input.
"""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pyarrow as pa
import pytest

from deidentify.engine import structured_engine
from deidentify.field_policy import load_field_policy
from deidentify.profiles import build_user_profiles
from deidentify.pseudonymize import PseudonymKey
from deidentify.raw_ids import raw_id_findings
from deidentify.scan import scan_table
from deidentify.scrubber import Scrubber
from deidentify.sharing_policy import load_sharing_policy
from deidentify.transform import Deidentifier, replace_raw_ids, silver_vocabularies
from deidentify.vocabularies import close_to_vocabulary
from lakehouse.ingest.app_events import SCHEMA as APP_EVENTS_SCHEMA

POLICY = load_field_policy()
VOCABULARIES = load_sharing_policy().release.vocabularies
KEY = PseudonymKey(b"silver-generalization-key-0123456789abcdef", "g1")
TOKEN_AGENT = "usr_8f3a2b/1.0 CFNetwork/1410.0.3 Darwin/22.6.0"
EMAIL_AGENT = "jane.doe@example.com/1.0 CFNetwork/1410.0.3 Darwin/22.6.0"
APP_AGENT = "JaneSmithClinic/3.1 CFNetwork/1410.0.3 Darwin/22.6.0"
PHONE_AGENT = "(415) 555-0123/1.0 CFNetwork/1410.0.3 Darwin/22.6.0"
CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36"
)


@pytest.fixture(scope="module")
def scrubber():
    with Scrubber(workers=1) as scrubber:
        yield scrubber


def _bronze(rows: list[dict]) -> pa.Table:
    base = {name: None for name in APP_EVENTS_SCHEMA.names}
    full = []
    for i, row in enumerate(rows):
        properties = row.pop("properties", {})
        full.append(
            {
                **base,
                "event_id": f"e{i}",
                "ts": datetime(2026, 10, 1, 9, i, tzinfo=UTC),
                "ts_offset_minutes": 0,
                "event": "profile_update",
                "ip": "203.0.113.7",
                "properties": orjson.dumps(properties).decode(),
                "source_file": "events.jsonl",
                "source_line": i + 1,
                **row,
            }
        )
    return pa.Table.from_pylist(full, schema=APP_EVENTS_SCHEMA)


def _silver(scrubber: Scrubber, rows: list[dict]) -> tuple[pa.Table, Deidentifier]:
    deidentifier = Deidentifier(POLICY, "app_events", KEY, scrubber)
    return deidentifier.transform(_bronze(rows)), deidentifier


def test_a_product_token_in_a_user_agent_never_becomes_a_browser_family(scrubber) -> None:
    silver, deidentifier = _silver(
        scrubber,
        [
            {"user_id": "u1", "user_agent": TOKEN_AGENT},
            {"user_id": "u2", "user_agent": CHROME},
            {"user_id": "u3", "user_agent": None},
            {"user_id": "u4", "user_agent": APP_AGENT},
        ],
    )
    families = silver.column("browser_family").to_pylist()
    assert families == ["other", "Chrome", "unknown", "other"]
    assert not any("usr_8f3a2b" in str(v) for v in silver.column("os_family").to_pylist())
    for column in ("browser_family", "os_family"):
        allowed = {*VOCABULARIES[column], "other", "unknown"}
        assert set(silver.column(column).to_pylist()) <= allowed
    # The token has the shape of a raw user id (the re-scan), the app name is outside the
    # vocabulary: each counted once, where it was caught.
    assert deidentifier.stats.rescan_findings == {"browser_family: RAW_USER_ID": 1}
    assert deidentifier.stats.values_outside_vocabulary["browser_family"] == 1


def test_free_typed_profile_values_become_other(scrubber) -> None:
    silver, deidentifier = _silver(
        scrubber,
        [
            {
                "user_id": "u1",
                "properties": {
                    "specialty": "Dr Jane Smith's clinic",
                    "title": '=HYPERLINK("http://evil.example","x")',
                    "state": "Springfield",
                },
            },
            {
                "user_id": "u2",
                "properties": {"specialty": " cardiology", "title": "MD", "state": "fl"},
            },
            {"user_id": "u3", "properties": {"plan": "pro"}},
        ],
    )
    rows = silver.select(["specialty", "title", "state"]).to_pylist()
    assert rows[0] == {"specialty": "other", "title": "other", "state": "other"}
    assert rows[1] == {"specialty": "Cardiology", "title": "MD", "state": "FL"}
    assert rows[2] == {"specialty": None, "title": None, "state": None}
    outside = deidentifier.stats.values_outside_vocabulary
    assert outside["specialty"] == outside["title"] == outside["state"] == 1
    profiles = {p["user_key"]: p for p in build_user_profiles(silver).to_pylist()}
    assert sorted(p["specialty"] for p in profiles.values() if p["specialty"]) == [
        "Cardiology",
        "other",
    ]


def test_profiles_close_values_written_before_silver_did(scrubber) -> None:
    silver, _ = _silver(scrubber, [{"user_id": "u1", "properties": {"specialty": "Pediatrics"}}])
    typed = silver.set_column(
        silver.schema.get_field_index("specialty"),
        silver.schema.field("specialty"),
        pa.array(["Dr Jane Smith's clinic"], pa.string()),
    )
    assert build_user_profiles(typed).column("specialty").to_pylist() == ["Dr Jane Smith's clinic"]
    closed = build_user_profiles(typed, silver_vocabularies())
    assert closed.column("specialty").to_pylist() == ["other"]


def test_an_identifier_in_a_user_agent_is_generalized_and_counted(scrubber) -> None:
    silver, deidentifier = _silver(
        scrubber,
        [
            {"user_id": "u1", "user_agent": EMAIL_AGENT},
            {"user_id": "u2", "user_agent": PHONE_AGENT},
            {"user_id": "u3", "user_agent": EMAIL_AGENT},
            {"user_id": "u4", "user_agent": CHROME},
        ],
    )
    assert silver.column("browser_family").to_pylist() == ["other", "other", "other", "Chrome"]
    stats = deidentifier.stats
    assert stats.values_generalized_by_rescan["browser_family"] == 3
    assert stats.rescan_findings["browser_family: EMAIL_ADDRESS"] == 2
    assert stats.rescan_findings["browser_family: PHONE_NUMBER"] == 1
    # Not counted twice: a value generalized by the re-scan is not also "outside".
    assert stats.values_outside_vocabulary["browser_family"] == 0
    # What the silver identifier check scans, it no longer finds anything in.
    assert not scan_table(silver, structured_engine())


def test_an_identifier_in_a_referrer_domain_is_generalized_and_counted(scrubber) -> None:
    """Referrer domains are no vocabulary: the re-scan is what keeps identifiers out."""
    silver, deidentifier = _silver(
        scrubber,
        [
            {"user_id": "u1", "referrer": "https://jane%40example.com/"},
            {"user_id": "u2", "referrer": "http://[2001:db8::1]/page"},
            {"user_id": "u3", "referrer": "https://www.google.com/search?q=pediatrics"},
            {"user_id": "u4", "properties": {"card_brand": "visa"}},
        ],
    )
    assert silver.column("referrer_domain").to_pylist() == ["other", "other", "google.com", None]
    assert deidentifier.stats.values_generalized_by_rescan["referrer_domain"] == 2
    assert silver.column("card_brand").to_pylist()[3] == "visa"
    assert not scan_table(silver, structured_engine())


def test_the_re_scan_without_it_the_check_would_fail(scrubber, monkeypatch) -> None:
    """Guard for the test above: the user agent really carries what the check looks for."""
    monkeypatch.setattr(Deidentifier, "_generalize_findings", lambda self, columns: None)
    monkeypatch.setattr(Deidentifier, "_close_vocabularies", lambda self, columns: None)
    silver, _ = _silver(scrubber, [{"user_id": "u1", "user_agent": EMAIL_AGENT}])
    assert scan_table(silver, structured_engine())[("browser_family", "EMAIL_ADDRESS")] == 1


def test_close_to_vocabulary_spells_values_as_the_vocabulary_does() -> None:
    closed, outside = close_to_vocabulary(
        ["Chrome", "chrome ", "Other", "Unknown", None, "usr_8f3a2b", "=SUM(A1)"],
        VOCABULARIES["browser_family"],
    )
    assert closed == ["Chrome", "Chrome", "other", "unknown", None, "other", "other"]
    assert outside == 2


def test_raw_ids_typed_into_derived_and_scrubbed_values_do_not_block_the_day(scrubber) -> None:
    """The silver check also looks for the input contract's raw ids: a referrer host, a kept
    query value or a search typed as `usr_...` is generalized or replaced at silver."""
    silver, deidentifier = _silver(
        scrubber,
        [
            {"user_id": "u1", "referrer": "http://usr_8f3a2b1c/x"},
            {"user_id": "u2", "url": "https://app.example/dashboard?utm_source=usr_8f3a2b1c"},
            {"user_id": "u3", "referrer": "https://www.google.com/search?q=org_1234abcd+pricing"},
        ],
    )
    assert silver.column("referrer_domain").to_pylist() == ["other", None, "google.com"]
    assert silver.column("url_template").to_pylist()[1] == "/dashboard?utm_source=<RAW_USER_ID>"
    assert silver.column("referrer_search_terms").to_pylist()[2] == "<RAW_ORG_ID> pricing"
    generalized = deidentifier.stats.values_generalized_by_rescan
    assert generalized == {"referrer_domain": 1, "url_template": 1, "referrer_search_terms": 1}
    assert not raw_id_findings([silver], silver.schema)


def test_a_raw_id_in_a_kept_field_still_fails_the_check(scrubber) -> None:
    """Kept strings are not rewritten: a raw id there is a field-policy fault, for the check."""
    silver, _ = _silver(scrubber, [{"user_id": "u1", "properties": {"card_brand": "usr_8f3a2b1c"}}])
    assert raw_id_findings([silver], silver.schema) == {("card_brand", "RAW_USER_ID"): 1}


def test_replace_raw_ids_keeps_the_separators() -> None:
    text = "s_0123456789abcdef s_0123456789abcdef,usr_abcd1234 01234567-89ab-cdef-0123-456789abcdef"
    assert replace_raw_ids(text) == (
        "<RAW_SESSION_ID> <RAW_SESSION_ID>,<RAW_USER_ID> <RAW_EVENT_ID>",
        ("RAW_EVENT_ID", "RAW_SESSION_ID", "RAW_USER_ID"),
    )
    assert replace_raw_ids("user_key pricing") == ("user_key pricing", ())
