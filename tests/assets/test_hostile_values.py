"""Hostile values end to end: generalized at silver, counted, and the month still released.

Before: an e-mail or phone number in one user agent failed silver's identifier check, the day
was not published, and no recipient received the month; a product token in a user agent became
a browser family and free text typed into a profile became a specialty in partner files.
"""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import pyarrow.parquet as pq
import pytest

from pipelines.definitions import RECIPIENTS
from pipelines.sample.generator import GeneratorConfig, generate
from tests.assets.conftest import MONTH, materialize_days, materialize_month
from tests.conftest import record_sample_edges_quiet

DAY = "2026-10-02"
TOKEN = "usr_8f3a2b"
HOSTILE_AGENTS = (
    f"{TOKEN}/1.0 CFNetwork/1410.0.3 Darwin/22.6.0",
    "jane.doe@example.com/1.0 CFNetwork/1410.0.3 Darwin/22.6.0",
    "(415) 555-0123/1.0 CFNetwork/1410.0.3 Darwin/22.6.0",
)
TYPED = {"specialty": "Dr Jane Smith's clinic", "title": '=HYPERLINK("http://evil.example")'}
LEAKS = (TOKEN, "jane.doe", "555-0123", "Jane Smith", "HYPERLINK")
MONTHLY = next(r for r in RECIPIENTS if r.cadence == "monthly")


def _plant(raw: Path) -> None:
    """Hostile user agents in the day's access log and app events, and typed profile values."""
    events = raw / "events" / f"events-{DAY}.jsonl"
    first = json.loads(events.read_text().splitlines()[0])
    lines = []
    for i, agent in enumerate(HOSTILE_AGENTS):
        lines.append(
            json.dumps(
                {
                    **first,
                    "event_id": f"0000000{i}-0000-4000-8000-00000000000{i}",
                    "event": "profile_update",
                    "user_agent": agent,
                    "properties": dict(TYPED),
                }
            )
        )
    search = {
        **first,
        "event_id": "00000009-0000-4000-8000-000000000009",
        "event": "search",
        "properties": {"query": f"prescriptions of {TOKEN}"},
    }
    lines.append(json.dumps(search))
    with events.open("a") as handle:
        handle.write("\n".join(lines) + "\n")
    access = raw / "access" / f"access-{DAY}.log"
    host = access.read_text().split(" ", 1)[0]
    with access.open("a") as handle:
        for agent in HOSTILE_AGENTS:
            handle.write(
                f'{host} - - [02/Oct/2026:10:00:00 -0500] "GET /dashboard HTTP/1.1" 200 512 '
                f'"http://{TOKEN}/x" "{agent}"\n'
            )


@pytest.fixture(scope="module")
def hostile_month(tmp_path_factory: pytest.TempPathFactory):
    base = tmp_path_factory.mktemp("hostile")
    raw, out = base / "raw", base / "out"
    generate(GeneratorConfig(out=raw, days=2, users=40, seed=5, malformed_rate=0))
    _plant(raw)
    with dg.instance_for_test() as instance:
        silver = materialize_days(raw, out, instance)
    for result in silver.values():
        checks = list(result.get_asset_check_evaluations())
        assert checks and all(c.passed for c in checks), [
            (c.asset_key, c.metadata) for c in checks if not c.passed
        ]
    record_sample_edges_quiet(raw, out, MONTH)
    keys = [dg.AssetKey([layer, MONTHLY.name]) for layer in ("releases", "exports")]
    released = materialize_month(raw, out, keys)
    return out, silver, released


def test_silver_generalizes_and_counts_the_hostile_values(hostile_month) -> None:
    _, silver, _ = hostile_month
    result = silver[DAY]
    for node in ("silver__deidentified_events", "silver__web_requests"):
        metadata = result.asset_materializations_for_node(node)[0].metadata
        assert metadata["published"].value is True
        # The e-mail and the phone number: found by the re-scan, generalized, counted.
        assert metadata["values_generalized_by_rescan"].value >= 2
        table = metadata["rescan_generalized"].value
        assert "browser_family: EMAIL_ADDRESS" in table
        assert "browser_family: PHONE_NUMBER" in table
        # The product token has the shape of a raw user id.
        assert "browser_family: RAW_USER_ID" in table
    requests = result.asset_materializations_for_node("silver__web_requests")[0].metadata
    assert "referrer_domain: RAW_USER_ID" in requests["rescan_generalized"].value
    events = result.asset_materializations_for_node("silver__deidentified_events")[0].metadata
    assert "search_query: RAW_USER_ID" in events["rescan_generalized"].value
    outside = events["values_outside_vocabulary"].value
    assert "| specialty | 3 |" in outside and "| title | 3 |" in outside


def test_the_month_is_released_and_no_hostile_value_reaches_a_recipient(hostile_month) -> None:
    out, _, released = hostile_month
    assert released.success
    assert all(c.passed for c in released.get_asset_check_evaluations())
    package = out / "exports" / MONTHLY.name / MONTH[:7]
    files = sorted(package.glob("*.csv"))
    assert files
    texts = {path: path.read_text() for path in files}
    for path in (out / "silver").rglob("*.parquet"):
        texts[path] = pq.read_table(path).to_pandas().astype(str).to_csv()
    for path, text in texts.items():
        for leak in LEAKS:
            assert leak not in text, (path, leak)
    traffic = (package / "traffic_by_segment.csv").read_text()
    assert "other" in traffic
