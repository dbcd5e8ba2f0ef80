"""Erasure: a deleted account or a deletion request removes the user from every stored partition.

Two things start an erasure: an `account_deleted` event (seen in silver/user_profiles) and a
deletion request file, `<raw>/requests/*.csv`, one raw or pseudonymous user id per line.
Each becomes an entry of the erasure ledger (`<out>/erasure/ledger.parquet`), which holds
pseudonyms only, never a raw id. A sweep then rewrites every bronze, quarantine and silver
partition that holds the user's rows, marks the gold months built from them stale, and marks
the entry applied. Ingestion filters every later partition against the whole ledger, so a
re-ingest of old raw logs cannot bring an erased user back.

A user is matched by the pseudonym of their user id (namespace `user`): bronze `user_id`,
silver `user_key` (app events, and web requests linked to the account), and any token of a
quarantined raw line. An access log names the logged-in account in `remote_user`, usually by
its e-mail address: the account directory (lakehouse/accounts.py) gives the user's
addresses, which are recorded as namespace `email` entries, so a re-ingested log line with
the address is recognised after the directory entry itself was erased. The visitors (host +
user agent) of the user's logged-in requests are erased with them, as namespace `visitor`
entries: the same visitor's requests that no log line ties to the account.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from deidentify.accounts import normalize_account_value
from deidentify.derived import DERIVED_FIELDS, derived_values
from deidentify.pseudonymize import PseudonymKey, pseudonym
from lakehouse.accounts import EMAIL as EMAIL_KIND
from lakehouse.accounts import directory_files
from lakehouse.faults import crash_point
from lakehouse.ingest.raw_lines import display_name, open_regular
from lakehouse.ingest.staging import drop_staged
from lakehouse.locks import erasure_lock
from lakehouse.periods import period_label
from lakehouse.storage import (
    PARTITION_FILE,
    AtomicParquetWriter,
    iter_row_groups,
    make_dirs,
    write_bytes_atomically,
)

REQUESTS_FOLDER = "requests"
USER, VISITOR, EMAIL = "user", "visitor", "email"
MAX_ID_CHARS = 128
_PSEUDONYM = re.compile(r"[0-9a-f]{32}")
_HEADERS = {"user_id", "user_key", "id"}
_TOKEN = re.compile(rb"[\w.@+-]{3,128}")
# A user id in a deletion request: letters, digits and _.+-, with at least one digit.
_USER_ID = re.compile(r"(?=[^\d]*\d)[\w.+-]{3,128}")
MAX_REQUEST_FILE_BYTES = 16 << 20
_ACCESS_VISITOR = DERIVED_FIELDS["access_log"][VISITOR]
_APP_VISITOR = DERIVED_FIELDS["app_events"][VISITOR]

LEDGER_SCHEMA = pa.schema(
    [
        pa.field("namespace", pa.string(), nullable=False),
        pa.field("pseudonym", pa.string(), nullable=False),
        pa.field("key_version", pa.string(), nullable=False),
        pa.field("origin", pa.string(), nullable=False),
        pa.field("recorded_at", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("applied", pa.bool_(), nullable=False),
    ]
)


def ledger_path(out_dir: Path) -> Path:
    """`<out>/erasure/ledger.parquet`: every erasure ever recorded (pseudonyms only)."""
    return out_dir / "erasure" / "ledger.parquet"


def stale_marker(out_dir: Path, table: str, label: str) -> Path:
    """The file whose presence says gold `table` of a period must be rebuilt.

    `label` is a month (`2026-10`) or an ISO week (`2026-W42`).
    """
    return out_dir / "gold" / "_stale" / table / f"period={label}.json"


def stale_periods(out_dir: Path, table: str | None = None) -> list[str]:
    """Periods whose gold (of `table`, or of any table) an erasure made stale."""
    folder = out_dir / "gold" / "_stale"
    pattern = f"{table or '*'}/period=*.json"
    return sorted({p.stem.removeprefix("period=") for p in folder.glob(pattern)})


def clear_stale(out_dir: Path, table: str, label: str) -> None:
    """Gold `table` of a period was rebuilt from the swept silver: it is current again."""
    stale_marker(out_dir, table, label).unlink(missing_ok=True)


class Ledger:
    """The erasure ledger: (namespace, pseudonym, key version) entries with their origin."""

    def __init__(self, rows: list[dict]) -> None:
        self.rows = rows
        self._known = {(r["namespace"], r["pseudonym"], r["key_version"]) for r in rows}

    @classmethod
    def load(cls, out_dir: Path) -> Ledger:
        """The ledger on disk, or an empty one."""
        path = ledger_path(out_dir)
        return cls(pq.read_table(path).to_pylist() if path.exists() else [])

    def save(self, out_dir: Path) -> None:
        """Replace the ledger file atomically (owner-only: it lists who asked to be erased)."""
        table = pa.Table.from_pylist(self.rows, schema=LEDGER_SCHEMA)
        with AtomicParquetWriter(ledger_path(out_dir), LEDGER_SCHEMA, private=True) as writer:
            writer.write(table)

    def add(
        self, namespace: str, key: PseudonymKey, value: str, origin: str, applied: bool = False
    ) -> bool:
        """Record one pseudonym; False when it was already recorded."""
        identity = (namespace, value, key.version)
        if identity in self._known:
            return False
        self._known.add(identity)
        self.rows.append(
            {
                "namespace": namespace,
                "pseudonym": value,
                "key_version": key.version,
                "origin": origin,
                "recorded_at": datetime.now(UTC),
                "applied": applied,
            }
        )
        return True

    def pseudonyms(self, namespace: str, key: PseudonymKey, pending_only: bool) -> set[str]:
        """Pseudonyms of a namespace recorded under `key`'s version (only unapplied ones)."""
        return {
            r["pseudonym"]
            for r in self.rows
            if r["namespace"] == namespace
            and r["key_version"] == key.version
            and not (pending_only and r["applied"])
        }

    def mark_applied(self) -> None:
        """Every entry has been swept."""
        for row in self.rows:
            row["applied"] = True

    def other_key_versions(self, key: PseudonymKey) -> int:
        """Entries made under another key version: they no longer match anything."""
        return sum(1 for r in self.rows if r["key_version"] != key.version)


def read_deletion_requests(
    raw_dir: Path, key: PseudonymKey
) -> tuple[dict[tuple[str, str], str], list[str]]:
    """(namespace, pseudonym) -> origin of every line of `<raw>/requests/*.csv`, and the lines
    not understood.

    A line is a raw user id, its 32-hex-digit pseudonym, or the account's e-mail address
    (namespace `email`: the account directory turns it into the account); blank lines, `#`
    comments and a `user_id` header are skipped. Anything else (a comma, a space, an overlong
    value, a word without a digit such as `event` or `Mozilla`, which would match tokens of
    every quarantined line) is reported, never guessed at. Only regular files are read: a
    link (which may point outside the raw folder), a pipe or a folder is reported.
    """
    found: dict[tuple[str, str], str] = {}
    problems: list[str] = []
    folder = raw_dir / REQUESTS_FOLDER
    if folder.is_symlink():
        return found, [f"{REQUESTS_FOLDER}/ is a symbolic link: its files are not read"]
    for path in sorted(folder.glob("*.csv")):
        where = f"{REQUESTS_FOLDER}/{display_name(path.name)}"
        try:
            with open_regular(path) as stream:
                data = stream.read(MAX_REQUEST_FILE_BYTES + 1)
            if len(data) > MAX_REQUEST_FILE_BYTES:
                problems.append(f"{where}: larger than {MAX_REQUEST_FILE_BYTES:,} bytes")
                continue
            text = data.decode("utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(f"{where}: not read ({exc})")
            continue
        for number, line in enumerate(text.splitlines(), 1):
            value = line.strip().strip('"')
            if not value or value.startswith("#") or (number == 1 and value.lower() in _HEADERS):
                continue
            if len(value) > MAX_ID_CHARS or re.search(r"[\s,;]", value):
                problems.append(
                    f"{where}:{number}: expected one user id or e-mail address per line (no "
                    f"commas or spaces, at most {MAX_ID_CHARS} characters)"
                )
                continue
            if _PSEUDONYM.fullmatch(value):
                entry = (USER, value)
            elif "@" in value:
                entry = (EMAIL, pseudonym(key, EMAIL, normalize_account_value(value) or value))
            elif _USER_ID.fullmatch(value):
                entry = (USER, pseudonym(key, USER, value))
            else:
                problems.append(
                    f"{where}:{number}: {value[:40]!r} is not a user id (letters, digits and "
                    "_.+- with at least one digit), a pseudonym or an e-mail address"
                )
                continue
            found.setdefault(entry, f"{where}:{number}")
    return found, problems


def deleted_accounts(out_dir: Path) -> dict[str, str]:
    """Pseudonym -> origin of every user with an account_deleted event in silver."""
    found: dict[str, str] = {}
    for path in sorted((out_dir / "silver" / "user_profiles").glob(f"date=*/{PARTITION_FILE}")):
        table = pq.read_table(path, columns=["user_key", "deleted"])
        deleted = table.filter(table.column("deleted")).column("user_key").to_pylist()
        for user in deleted:
            found.setdefault(user, f"account_deleted {path.parent.name}")
    return found


class ErasedSubjects:
    """Decides which rows belong to erased users; pseudonyms of seen values are memoized."""

    def __init__(
        self,
        key: PseudonymKey,
        users: set[str],
        visitors: set[str],
        emails: set[str] | None = None,
    ) -> None:
        self.key = key
        self.users = users
        self.visitors = visitors
        self.emails = emails if emails is not None else set()
        self._memo: dict[tuple[str, str], str] = {}

    @classmethod
    def from_ledger(
        cls, out_dir: Path, key_source: Callable[[], PseudonymKey]
    ) -> ErasedSubjects | None:
        """Every ledger entry, or None when nobody was ever erased (then no key is needed)."""
        ledger = Ledger.load(out_dir)
        if not ledger.rows:
            return None
        key = key_source()
        return cls(
            key,
            ledger.pseudonyms(USER, key, pending_only=False),
            ledger.pseudonyms(VISITOR, key, pending_only=False),
            ledger.pseudonyms(EMAIL, key, pending_only=False),
        )

    def __bool__(self) -> bool:
        return bool(self.users or self.visitors or self.emails)

    def _pseudonyms(self, namespace: str, values: list) -> list[str | None]:
        out = []
        for value in values:
            if value is None or value in ("", "-"):
                out.append(None)
                continue
            memo_key = (namespace, value)
            result = self._memo.get(memo_key)
            if result is None:
                result = self._memo[memo_key] = pseudonym(self.key, namespace, value)
            out.append(result)
        return out

    def matches(self, namespace: str, values: list, wanted: set[str]) -> list[bool]:
        """For each value: is its pseudonym among `wanted`?"""
        return [p in wanted for p in self._pseudonyms(namespace, values)]

    def bronze_mask(self, source: str, batch: pa.RecordBatch | pa.Table) -> list[bool]:
        """True for every bronze row of an erased user (or an erased visitor)."""
        if source == "app_events":
            return self.matches(USER, batch.column("user_id").to_pylist(), self.users)
        by_account = self.account_mask(batch.column("remote_user").to_pylist())
        visitors = self.visitor_values(batch)
        by_visitor = self.matches(VISITOR, visitors, self.visitors)
        return [u or v for u, v in zip(by_account, by_visitor, strict=True)]

    def account_mask(self, remote_users: list) -> list[bool]:
        """For each logged `remote_user`: does it name an erased account (id or e-mail)?"""
        values = [normalize_account_value(v) for v in remote_users]
        by_id = self.matches(USER, values, self.users)
        by_email = self.matches(EMAIL, values, self.emails)
        return [a or b for a, b in zip(by_id, by_email, strict=True)]

    def visitor_values(self, batch: pa.RecordBatch | pa.Table) -> list[str]:
        """The visitor field (host|agent) of access-log rows, as silver derives it."""
        return derived_values([batch.column(c).to_pylist() for c in _ACCESS_VISITOR])

    def quarantine_mask(self, batch: pa.RecordBatch | pa.Table) -> list[bool]:
        """True for every quarantined raw line holding a token that is an erased user's id or
        e-mail address."""
        mask = []
        for raw in batch.column("raw_line").to_pylist():
            tokens = [
                t.decode("utf-8", "replace")
                for t in _TOKEN.findall(raw or b"")
                if b"@" in t or any(48 <= c <= 57 for c in t)
            ]
            mask.append(any(self.account_mask(tokens)))
        return mask

    def silver_mask(self, dataset: str, batch: pa.RecordBatch | pa.Table) -> list[bool]:
        """True for every silver row keyed by an erased user (or visitor)."""
        users = [u in self.users for u in batch.column("user_key").to_pylist()]
        if dataset != "web_requests":
            return users
        visitors = [v in self.visitors for v in batch.column("visitor_key").to_pylist()]
        return [u or v for u, v in zip(users, visitors, strict=True)]

    def directory_mask(self, batch: pa.RecordBatch | pa.Table) -> list[bool]:
        """True for every account-directory entry of an erased account."""
        return self.matches(USER, batch.column("user_id").to_pylist(), self.users)


@dataclass
class SweepReport:
    """What one sweep removed, and which days it touched."""

    rows_removed: Counter[str] = field(default_factory=Counter)
    dates: set[str] = field(default_factory=set)
    files_rewritten: int = 0
    silver_rewritten: set[tuple[str, str]] = field(default_factory=set)
    """(silver dataset, day) of every published silver partition the sweep rewrote."""


def _rewrite(
    path: Path,
    columns: list[str],
    mask_of: Callable[[pa.RecordBatch], list[bool]],
    private: bool,
) -> int:
    """Remove the masked rows from one partition file, streaming; 0 when none matched."""
    source = pq.ParquetFile(path)
    matched = sum(sum(mask_of(b)) for b in iter_row_groups(source, columns=columns))
    if not matched:
        return 0
    with AtomicParquetWriter(path, source.schema_arrow, private=private) as writer:
        for batch in iter_row_groups(source):
            writer.write(batch.filter(pa.array([not m for m in mask_of(batch)])))
            crash_point("erasure")
    return matched


def _partitions(out_dir: Path, layer: str, dataset: str) -> list[tuple[str, Path]]:
    root = out_dir / layer / dataset
    return [
        (p.parent.name.removeprefix("date="), p)
        for p in sorted(root.glob(f"date=*/{PARTITION_FILE}"))
    ]


def sweep(out_dir: Path, subjects: ErasedSubjects) -> tuple[SweepReport, set[str]]:
    """Remove the subjects' rows from bronze, quarantine and silver of every day, and drop
    the staged lines of raw files not yet ingested (a cache the next ingestion rebuilds).

    Returns the report and the devices (host|agent) of the users' logged-in requests and app
    events (their pseudonyms are added to `subjects.visitors` before silver web_requests is
    swept).
    """
    report = SweepReport()
    drop_staged(out_dir)
    widen_to_addresses(out_dir, subjects)

    def account(dataset: str, date_key: str, removed: int) -> None:
        if removed:
            report.rows_removed[dataset] += removed
            report.dates.add(date_key)
            report.files_rewritten += 1

    # The devices of the users' logged-in requests, and those their own app events came from:
    # their web requests from those devices are theirs too, logged in or not.
    found_visitors = _devices_of(
        out_dir, "access_log", "remote_user", subjects.account_mask, _ACCESS_VISITOR
    ) | _devices_of(
        out_dir,
        "app_events",
        "user_id",
        lambda ids: subjects.matches(USER, ids, subjects.users),
        _APP_VISITOR,
    )
    subjects.visitors |= {pseudonym(subjects.key, VISITOR, v) for v in found_visitors}

    bronze_columns = {
        "app_events": ["user_id"],
        "access_log": ["remote_user", *_ACCESS_VISITOR],
    }
    for source, columns in bronze_columns.items():
        for date_key, path in _partitions(out_dir, "bronze", source):
            mask = lambda b, s=source: subjects.bronze_mask(s, b)  # noqa: E731
            account(f"bronze/{source}", date_key, _rewrite(path, columns, mask, private=True))
        for date_key, path in _partitions(out_dir, "quarantine", source):
            removed = _rewrite(path, ["raw_line"], subjects.quarantine_mask, private=True)
            account(f"quarantine/{source}", date_key, removed)
    for path in directory_files(out_dir):
        date_key = path.parent.name.removeprefix("date=")
        removed = _rewrite(path, ["user_id"], subjects.directory_mask, private=True)
        account("bronze/_accounts", date_key, removed)
    silver_columns = {
        "deidentified_events": ["user_key"],
        "user_profiles": ["user_key"],
        "web_requests": ["user_key", "visitor_key"],
    }
    for dataset, columns in silver_columns.items():
        candidates = _partitions(out_dir, "silver", f"_candidates/{dataset}")
        published = [(*partition, True) for partition in _partitions(out_dir, "silver", dataset)]
        for date_key, path, is_published in [*published, *((*c, False) for c in candidates)]:
            mask = lambda b, d=dataset: subjects.silver_mask(d, b)  # noqa: E731
            removed = _rewrite(path, columns, mask, private=False)
            account(f"silver/{dataset}", date_key, removed)
            if removed and is_published:
                report.silver_rewritten.add((dataset, date_key))
    return report, found_visitors


def widen_to_addresses(out_dir: Path, subjects: ErasedSubjects) -> None:
    """Add to `subjects` the accounts that gave an erased e-mail address (a request by e-mail),
    then every address the account directory knows for an erased account, reading the
    directory's e-mail entries once."""
    tables = [
        pq.read_table(p, columns=["lookup_value", "kind", "user_id"])
        for p in directory_files(out_dir)
    ]
    if not tables:
        return
    entries = pa.concat_tables(tables)
    entries = entries.filter(pc.equal(entries.column("kind"), EMAIL_KIND))
    addresses = entries.column("lookup_value").to_pylist()
    owners = entries.column("user_id").to_pylist()
    requested = subjects.matches(EMAIL, addresses, subjects.emails)
    subjects.users |= {
        pseudonym(subjects.key, USER, u) for u, hit in zip(owners, requested, strict=True) if hit
    }
    erased = subjects.matches(USER, owners, subjects.users)
    subjects.emails |= {
        pseudonym(subjects.key, EMAIL, a) for a, hit in zip(addresses, erased, strict=True) if hit
    }


def _devices_of(
    out_dir: Path,
    source: str,
    account_column: str,
    is_erased: Callable[[list], list[bool]],
    device_columns: tuple[str, ...],
) -> set[str]:
    """The devices (host|agent) on the bronze rows of `source` that belong to erased accounts."""
    found: set[str] = set()
    for _, path in _partitions(out_dir, "bronze", source):
        columns = [account_column, *device_columns]
        for batch in iter_row_groups(pq.ParquetFile(path), columns=columns):
            hits = is_erased(batch.column(account_column).to_pylist())
            devices = derived_values([batch.column(c).to_pylist() for c in device_columns])
            found.update(d for d, hit in zip(devices, hits, strict=True) if hit and d)
    return found


@dataclass
class ErasureOutcome:
    """What one erasure run recorded and removed."""

    requested: int = 0
    deleted_accounts: int = 0
    new_entries: int = 0
    ledger_entries: int = 0
    other_key_versions: int = 0
    problems: list[str] = field(default_factory=list)
    sweep: SweepReport = field(default_factory=SweepReport)
    stale_periods: list[str] = field(default_factory=list)


def run_erasure(
    raw_dir: Path, out_dir: Path, key: PseudonymKey, gold_tables: list[tuple[str, str]]
) -> ErasureOutcome:
    """Record new deletion requests and deleted accounts, then sweep every pending entry.

    Every gold table (name, `month` or `week`) of every period the sweep touched is marked
    stale.

    Holds the erasure lock exclusively, so no partition is written meanwhile. Safe to rerun:
    entries are marked applied only after their sweep finished, and a sweep of rows already
    gone rewrites nothing.
    """
    outcome = ErasureOutcome()
    with erasure_lock(out_dir, exclusive=True):
        make_dirs(out_dir / "erasure", private=True)
        ledger = Ledger.load(out_dir)
        requests, outcome.problems = read_deletion_requests(raw_dir, key)
        accounts = {(USER, user): origin for user, origin in deleted_accounts(out_dir).items()}
        outcome.requested, outcome.deleted_accounts = len(requests), len(accounts)
        for (namespace, value), origin in {**accounts, **requests}.items():
            outcome.new_entries += ledger.add(namespace, key, value, origin)
        ledger.save(out_dir)
        users = ledger.pseudonyms(USER, key, pending_only=True)
        visitors = ledger.pseudonyms(VISITOR, key, pending_only=True)
        emails = ledger.pseudonyms(EMAIL, key, pending_only=True)
        if users or visitors or emails:
            subjects = ErasedSubjects(key, users, visitors, emails)
            outcome.sweep, found_visitors = sweep(out_dir, subjects)
            for visitor in found_visitors:
                ledger.add(VISITOR, key, pseudonym(key, VISITOR, visitor), "logged-in requests")
            for address in subjects.emails:
                ledger.add(EMAIL, key, address, "account directory")
            for user in subjects.users:
                ledger.add(USER, key, user, "account of a requested e-mail address")
            marker = {"reason": "erasure", "rows_removed": dict(outcome.sweep.rows_removed)}
            stale: set[str] = set()
            for table, period in gold_tables:
                days = {date.fromisoformat(d) for d in outcome.sweep.dates}
                for label in {period_label(period, day) for day in days}:
                    stale.add(label)
                    write_bytes_atomically(
                        stale_marker(out_dir, table, label),
                        json.dumps(marker).encode(),
                        private=False,
                    )
            outcome.stale_periods = sorted(stale)
        ledger.mark_applied()
        ledger.save(out_dir)
        outcome.ledger_entries = len(ledger.rows)
        outcome.other_key_versions = ledger.other_key_versions(key)
    return outcome


def erase_from_batch(
    subjects: ErasedSubjects | None, source: str, batch: pa.RecordBatch
) -> tuple[pa.RecordBatch, int]:
    """Drop an erased user's rows from a bronze batch at ingestion; returns (kept, removed)."""
    if not subjects:
        return batch, 0
    return _drop(batch, subjects.bronze_mask(source, batch))


def erase_from_quarantine(
    subjects: ErasedSubjects | None, batch: pa.RecordBatch
) -> tuple[pa.RecordBatch, int]:
    """Drop quarantined raw lines that hold an erased user's id; returns (kept, removed)."""
    if not subjects or not subjects.users:
        return batch, 0
    return _drop(batch, subjects.quarantine_mask(batch))


def _drop(batch: pa.RecordBatch, mask: list[bool]) -> tuple[pa.RecordBatch, int]:
    removed = sum(mask)
    return (batch.filter(pc.invert(pa.array(mask))) if removed else batch), removed
