from __future__ import annotations

import csv
import gzip
import json
from collections import defaultdict
from pathlib import Path
from urllib.parse import quote

import pytest

from deidentify.checksums import dea_is_valid, luhn_checksum_ok, npi_is_valid
from lakehouse.ingest.raw_lines import open_raw
from pipelines.sample.generator import GeneratorConfig, generate

CONTRACT_EVENT_TYPES = {
    "signup", "profile_update", "login", "page_view", "search", "file_upload", "file_share",
    "contact_import", "payment", "subscription_change", "survey_response", "support_ticket",
    "prescription_sent", "consent_update", "account_deleted",
}  # fmt: skip


def _tree(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _identifiers(raw: Path) -> list[dict[str, str]]:
    with gzip.open(raw / "ground_truth" / "identifiers.csv.gz", "rt", encoding="utf-8") as stream:
        return list(csv.DictReader(stream))


def _raw_text(raw: Path, folder: str) -> str:
    chunks = []
    for path in sorted(p for p in (raw / folder).iterdir() if p.is_file()):
        with open_raw(path) as stream:
            chunks.append(stream.read().decode("utf-8", errors="replace"))
    return "\n".join(chunks)


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path: Path) -> None:
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        generate(GeneratorConfig(out=tmp_path / name, days=2, users=40, seed=seed))
    a, b, c = (_tree(tmp_path / name) for name in "abc")
    assert a == b
    assert a != c


def test_event_count_is_exact_and_files_are_rotated_plain_and_gzip(tmp_path: Path) -> None:
    summary = generate(GeneratorConfig(out=tmp_path, days=3, users=50, events=1234))
    assert summary.events == 1234
    names = summary.files
    assert any(n.endswith(".jsonl.gz") for n in names) and any(n.endswith(".jsonl") for n in names)
    assert any(n.endswith(".log.gz") for n in names) and any(n.endswith(".log") for n in names)
    recorded = json.loads((tmp_path / "ground_truth" / "summary.json").read_text())
    assert recorded["events"] == 1234
    assert sum(v for k, v in recorded["lines_per_file"].items() if k.startswith("events/")) == 1234


@pytest.fixture(scope="module")
def month(tmp_path_factory: pytest.TempPathFactory) -> Path:
    raw = tmp_path_factory.mktemp("month")
    generate(GeneratorConfig(out=raw, days=31, users=400, seed=5))
    return raw


def test_every_event_type_of_the_contract_appears(month: Path) -> None:
    summary = json.loads((month / "ground_truth" / "summary.json").read_text())
    assert CONTRACT_EVENT_TYPES <= set(summary["event_types"])
    assert "feature_flag_evaluated" in summary["event_types"]


def test_ground_truth_covers_the_identifier_kinds_and_places_real_logs_leak(month: Path) -> None:
    planted = _identifiers(month)
    kinds = {row["kind"] for row in planted}
    assert {
        "person_name", "email", "phone", "ssn", "credit_card", "npi", "dea", "mrn",
        "patient_name", "date_of_birth", "street_address", "ip_address",
    } <= kinds  # fmt: skip
    places = {row["placement"] for row in planted}
    assert {
        "url_path",
        "url_query",
        "access_remote_user",
        "free_text:support_ticket.body",
    } <= places


def test_every_planted_identifier_is_really_in_the_raw_logs(tmp_path: Path) -> None:
    generate(GeneratorConfig(out=tmp_path, days=4, users=60, seed=9))
    events, access = _raw_text(tmp_path, "events"), _raw_text(tmp_path, "access")
    by_place = defaultdict(list)
    for row in _identifiers(tmp_path):
        by_place[row["placement"]].append(row["value"])
    missing = []
    for place, values in by_place.items():
        haystack = access if place.startswith("access_") else events
        for value in values:
            encoded = json.dumps(value)[1:-1]
            forms = {
                value,
                encoded,
                quote(value, safe=""),
                quote(value, safe="").replace("%20", "+"),
            }
            forms.add(value.replace(" ", "_"))
            forms.add(value.replace(" ", "+"))
            if not any(form in haystack for form in forms):
                missing.append((place, value))
    assert sum(len(v) for v in by_place.values()) > 300
    assert missing == []


def test_planted_numbers_pass_their_check_digits(month: Path) -> None:
    planted = _identifiers(month)
    for row in planted:
        digits = "".join(c for c in row["value"] if c.isdigit())
        if row["kind"] == "npi":
            assert npi_is_valid(digits), row
        elif row["kind"] == "dea":
            assert dea_is_valid(row["value"]), row
        elif row["kind"] == "credit_card":
            assert luhn_checksum_ok(digits), row


def test_emails_are_percent_encoded_in_urls(month: Path) -> None:
    events = _raw_text(month, "events")
    assert "%40" in events
    emails = [
        r["value"]
        for r in _identifiers(month)
        if r["placement"] == "url_path" and "%40" in r["value"]
    ]
    assert emails and all(f"/users/{e}/profile" in events for e in emails[:20])
