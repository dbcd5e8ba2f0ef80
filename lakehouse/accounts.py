"""The account directory: which account an access log's `remote_user` names.

Web servers log the authenticated user of a request in `remote_user`: the account's e-mail
address or its user id (docs/input-formats.md). The directory that resolves either to the
account's user id is built from bronze app_events, one file per UTC day under
`<out>/bronze/_accounts/date=YYYY-MM-DD/part-0.parquet`: every user id seen that day, and
every e-mail address a signup or profile_update gave for it. It holds raw e-mail addresses
and user ids, so it lives under bronze's protection (owner-only) and never leaves the
machine; silver carries only the account's pseudonym, `user_key`. The erasure sweep removes
an erased account's entries from it.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from deidentify.accounts import normalize_account_value
from lakehouse.storage import PARTITION_FILE, AtomicParquetWriter, partition_file

ACCOUNTS_DATASET = "_accounts"
EMAIL, USER_ID = "email", "user_id"
PROFILE_EVENTS = ("signup", "profile_update")
SCHEMA = pa.schema(
    [
        pa.field("lookup_value", pa.string(), nullable=False),
        pa.field("kind", pa.string(), nullable=False),
        pa.field("user_id", pa.string(), nullable=False),
        pa.field("seen_at", pa.timestamp("us", tz="UTC"), nullable=False),
    ]
)


def directory_file(out_dir: Path, date_key: str) -> Path:
    """`<out>/bronze/_accounts/date=<date>/part-0.parquet`."""
    return partition_file(out_dir, "bronze", ACCOUNTS_DATASET, date_key)


def directory_files(out_dir: Path) -> list[Path]:
    """Every day's directory file."""
    return sorted((out_dir / "bronze" / ACCOUNTS_DATASET).glob(f"date=*/{PARTITION_FILE}"))


class DayDirectory:
    """The directory entries of one day's bronze app_events, gathered batch by batch as
    bronze is written (so the day is not read back).

    One `user_id` entry per user id seen (at its last event of the day), one `email` entry
    per (address, user id) a signup or profile_update gave. Memory grows with the day's
    users, not its events.
    """

    def __init__(self) -> None:
        self._seen: pa.Table | None = None
        self._emails: dict[tuple[str, str, str], object] = {}

    def add(self, batch: pa.RecordBatch | pa.Table) -> None:
        """Take the entries of one batch of bronze rows (as written, erased users left out)."""
        with_user = pc.is_valid(batch.column("user_id"))
        known = batch.filter(with_user)
        users = pa.table({"user_id": known.column("user_id"), "ts": known.column("ts")})
        if self._seen is not None:
            users = pa.concat_tables([self._seen, users])
        latest = users.group_by("user_id").aggregate([("ts", "max")])
        self._seen = pa.table({"user_id": latest.column("user_id"), "ts": latest.column("ts_max")})
        # Only profile events carry an address: read their properties, not every event's.
        profiles = batch.filter(
            pc.and_(pc.is_in(batch.column("event"), pa.array(list(PROFILE_EVENTS))), with_user)
        )
        emails = self._emails
        for user_id, at, text in zip(
            profiles.column("user_id").to_pylist(),
            profiles.column("ts").to_pylist(),
            profiles.column("properties").to_pylist(),
            strict=True,
        ):
            properties = orjson.loads(text) if text else {}
            email = properties.get("email") if isinstance(properties, dict) else None
            address = normalize_account_value(email)
            if address and "@" in address:
                entry = (address, EMAIL, user_id)
                emails[entry] = max(at, emails.get(entry, at))

    def entries(self) -> pa.Table:
        """Every entry gathered, sorted, in `SCHEMA`."""
        rows = {}
        if self._seen is not None:
            for value, at in zip(
                self._seen.column("user_id").to_pylist(),
                self._seen.column("ts").to_pylist(),
                strict=True,
            ):
                if normalize_account_value(value) == value:
                    rows[(value, USER_ID, value)] = at
        rows.update(self._emails)
        ordered = sorted(rows.items())
        return pa.table(
            {
                "lookup_value": [entry[0] for entry, _ in ordered],
                "kind": [entry[1] for entry, _ in ordered],
                "user_id": [entry[2] for entry, _ in ordered],
                "seen_at": [at for _, at in ordered],
            },
            schema=SCHEMA,
        )


def day_entries(bronze_app_events: Path) -> pa.Table:
    """The directory entries of one bronze app_events partition, read from its file."""
    # One row group at a time (`iter_batches` and a filtered `read_table` read far ahead:
    # 966 MiB on a day of ten million events).
    directory = DayDirectory()
    source = pq.ParquetFile(bronze_app_events)
    for group in range(source.metadata.num_row_groups):
        directory.add(
            source.read_row_group(group, columns=["user_id", "ts", "event", "properties"])
        )
    return directory.entries()


def write_day_directory(out_dir: Path, date_key: str, entries: pa.Table) -> int:
    """Replace the day's directory file with `entries`; returns how many there are."""
    with AtomicParquetWriter(directory_file(out_dir, date_key), SCHEMA, private=True) as writer:
        writer.write(entries)
    return entries.num_rows


def resolve_accounts(out_dir: Path, values: Iterable[object]) -> dict[str, str]:
    """Normalized `remote_user` value -> the user id of the account it names.

    Only values the directory knows resolve, and only when exactly one account ever gave
    them: an address that several accounts gave (a shared practice mailbox) names nobody in
    particular, so a request logged under it is tied to no account. Reads only the entries of
    the values asked for, so memory grows with the day's logged-in users, not with the whole
    directory.
    """
    wanted = sorted({v for v in map(normalize_account_value, values) if v is not None})
    if not wanted:
        return {}
    wanted_array = pa.array(wanted, pa.string())
    accounts: dict[str, set[str]] = {}
    for path in directory_files(out_dir):
        table = pq.read_table(path, columns=["lookup_value", "user_id"])
        table = table.filter(pc.is_in(table.column("lookup_value"), wanted_array))
        for value, user_id in zip(
            table.column("lookup_value").to_pylist(),
            table.column("user_id").to_pylist(),
            strict=True,
        ):
            accounts.setdefault(value, set()).add(user_id)
    return {value: next(iter(ids)) for value, ids in accounts.items() if len(ids) == 1}


def resolve_bronze_accounts(out_dir: Path, bronze_access_log: Path) -> dict[str, str]:
    """The directory entries for every `remote_user` of one bronze access_log partition."""
    remote_users = pq.read_table(bronze_access_log, columns=["remote_user"]).column("remote_user")
    return resolve_accounts(out_dir, pc.unique(remote_users).to_pylist())
