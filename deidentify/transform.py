"""Apply the field policy to batches of bronze rows: Arrow in, de-identified Arrow out.

A `Deidentifier` is made per partition (it carries the key, the scrubber's memo and the
counts for metadata) and is fed record batches; it holds no state beyond that partition,
so the same code runs in a Dagster step, a test, or a distributed worker.

Two last steps make what one person typed harmless for everybody else's releases:

- the categorical values silver derives from untrusted strings and no scrubber sees (what
  ua-parser reads out of a user agent, a referrer's domain) are re-scanned here with the
  recognizers of the silver identifier check and its raw-id shapes (`deidentify.raw_ids`),
  and a value with a finding is generalized to `other` and counted: an e-mail in one user
  agent no longer fails the day's check, which would hold back every recipient's month;
- URL templates and scrubbed free text (search terms, comments, tickets) get a raw id of the
  input contract typed into them replaced by `<RAW_USER_ID>` (etc.), counted likewise; the
  Presidio scrubbers do not know those shapes. Kept strings are left to the check: a raw id or
  a finding there is a scrubber or field-policy fault (a policy that keeps `user_id`), and
  fails it, by design;
- the user-agent families and the typed profile fields are closed onto the sharing policy's
  vocabularies (`vocabularies.CLOSED_AT_SILVER`): a value outside them is `other`.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from deidentify import generalize
from deidentify import scrubber as scrubber_module
from deidentify.accounts import account_keys
from deidentify.derived import DERIVED_FIELDS, derived_array
from deidentify.factorized import Factorized, from_arrow, sparse
from deidentify.field_policy import FieldPolicy, FieldRule, SourcePolicy
from deidentify.pseudonymize import PseudonymKey, pseudonyms
from deidentify.raw_ids import RAW_ID_SHAPES
from deidentify.scrubber import PendingText as PendingScrub
from deidentify.scrubber import Scrubber
from deidentify.sharing_policy import DEFAULT_SHARING_POLICY_PATH, load_sharing_policy
from deidentify.urls import referrer_parts, url_template
from deidentify.user_agents import classify_many
from deidentify.vocabularies import CLOSED_AT_SILVER, OTHER, close_to_vocabulary

DATE_COLUMN = "event_date"
# Actions whose string outputs are derived from untrusted text without scrubbing: re-scanned.
RESCANNED_ACTIONS = ("user_agent", "referrer")
# ...except the referrer's search terms, which are free text scrubbed by Presidio.
NOT_RESCANNED = frozenset({"referrer_search_terms"})
# Actions whose string outputs are scrubbed text: raw ids in them become placeholders.
RAW_ID_SCRUBBED_ACTIONS = ("url", "scrub_text", "referrer")
_RAW_IDS = {shape: re.compile(pattern) for shape, pattern in RAW_ID_SHAPES.items()}
_GENERALIZERS: dict[str, Callable[[object], object]] = {
    "zip3": generalize.zip3,
    "practice_size_band": generalize.practice_size_band,
    "file_extension": generalize.file_extension,
    "count": generalize.count_items,
}


@functools.cache
def silver_vocabularies(
    path: Path = DEFAULT_SHARING_POLICY_PATH,
) -> dict[str, tuple[str, ...]]:
    """The sharing policy's vocabularies of the columns silver closes (`CLOSED_AT_SILVER`)."""
    vocabularies = load_sharing_policy(path).release.vocabularies
    return {c: vocabularies[c] for c in CLOSED_AT_SILVER if c in vocabularies}


def replace_raw_ids(text: str) -> tuple[str, tuple[str, ...]]:
    """`text` with every raw id of the input contract replaced by `<SHAPE>` (`<RAW_USER_ID>`),
    and the shapes found; the separators around an id are kept."""
    found = []
    for shape, pattern in _RAW_IDS.items():

        def placeholder(match: re.Match, shape: str = shape) -> str:
            lead = match.group(1) or ""
            trail = (match.group(2) or "") if match.re.groups >= 2 else ""
            return f"{lead}<{shape}>{trail}"

        # Adjacent ids share a separator, which one substitution consumes: repeat.
        for _ in range(8):
            text, count = pattern.subn(placeholder, text)
            if not count:
                break
            found.append(shape)
    return text, tuple(sorted(set(found)))


@dataclass(frozen=True)
class _PendingText:
    """Free text waiting for the batch's single NER pass."""

    column: Factorized


@dataclass
class InProgress:
    """A batch between `Deidentifier.begin` and `Deidentifier.finish`."""

    columns: dict
    rows: int
    text: PendingScrub | None


@dataclass
class DeidentifyStats:
    """What de-identification did to a partition, for the asset's metadata."""

    rows: int = 0
    fields_dropped: Counter[str] = field(default_factory=Counter)
    # column -> values (rows) generalized because the identifier re-scan found something
    values_generalized_by_rescan: Counter[str] = field(default_factory=Counter)
    # "column: entity" -> of those, the values with that finding
    rescan_findings: Counter[str] = field(default_factory=Counter)
    # column -> values (rows) outside the column's vocabulary, now `other`
    values_outside_vocabulary: Counter[str] = field(default_factory=Counter)


class Deidentifier:
    """Turn bronze batches of one source into silver batches under the field policy."""

    def __init__(
        self,
        policy: FieldPolicy,
        source: str,
        key: PseudonymKey,
        scrubber: Scrubber,
        accounts: Mapping[str, str] | None = None,
        vocabularies: Mapping[str, tuple[str, ...]] | None = None,
    ) -> None:
        """`accounts` maps a logged account value (normalized) to its user id; a source whose
        policy links requests to accounts needs it (the plumbing builds it from bronze).

        `vocabularies` are the closed vocabularies of the sharing policy (column -> values);
        by default those of the policy shipped with the code (`silver_vocabularies()`).
        """
        self.policy = policy
        self.rules: SourcePolicy = policy.source(source)
        if accounts is None and any(r.action == "account" for r in self.rules.fields.values()):
            raise ValueError(
                f"{source}: the field policy links requests to accounts; pass the account "
                "directory (lakehouse.accounts.resolve_bronze_accounts)"
            )
        self.accounts: Mapping[str, str] = accounts or {}
        self.key = key
        self.scrubber = scrubber
        self.schema = self.rules.silver_schema(DATE_COLUMN)
        self.vocabularies = {
            c: v
            for c, v in (silver_vocabularies() if vocabularies is None else vocabularies).items()
            if c in CLOSED_AT_SILVER and c in self.schema.names
        }
        self._rescanned = list(
            dict.fromkeys(
                f.name
                for rule in [*self.rules.fields.values(), *self.rules.properties.values()]
                if rule.action in RESCANNED_ACTIONS
                for f in rule.output_columns()
                if pa.types.is_string(f.type) and f.name not in NOT_RESCANNED
            )
        )
        self._raw_id_scrubbed = list(
            dict.fromkeys(
                f.name
                for rule in [*self.rules.fields.values(), *self.rules.properties.values()]
                if rule.action in RAW_ID_SCRUBBED_ACTIONS
                for f in rule.output_columns()
                if pa.types.is_string(f.type) and f.name not in self._rescanned
            )
        )
        self._findings: dict[str, tuple[str, ...]] = {}
        self._raw_id_memo: dict[str, tuple[str, tuple[str, ...]]] = {}
        self.stats = DeidentifyStats()
        self._urls: dict[str, tuple[str | None, tuple[str, ...]]] = {}
        self._url_segments: dict[tuple[str, bool], str] = {}
        self._pseudonyms: dict[str, dict[str, str]] = {}
        self._referrers: dict[str, tuple[str | None, str | None]] = {}

    def transform(self, batch: pa.RecordBatch | pa.Table) -> pa.Table:
        """De-identify one batch; the result has exactly `self.schema`."""
        return self.finish(self.begin(batch))

    def begin(self, batch: pa.RecordBatch | pa.Table) -> InProgress:
        """The structured work of one batch, with its free text sent to the NER workers.

        `finish` completes it. Between the two, this process is free for the next batch's
        `begin` while the workers run NER: batches must be finished in the order begun.
        """
        table = pa.table(batch) if isinstance(batch, pa.RecordBatch) else batch
        rows = table.num_rows
        ts = table.column("ts")
        columns: dict[str, object] = {DATE_COLUMN: pc.cast(ts, pa.date32())}
        for name, rule in self.rules.fields.items():
            self._apply(rule, self._field_column(table, name), columns, ts)
        if "properties" in table.column_names:
            by_name = self._property_columns(table)
            for name, rule in self.rules.properties.items():
                self._apply(rule, by_name[name], columns, ts)
        self._count_dropped_fields(table)
        return InProgress(columns, rows, self._submit_pending_text(columns))

    def finish(self, started: InProgress) -> pa.Table:
        """Complete a batch `begin` started: its scrubbed free text, then the re-scans."""
        columns, rows = started.columns, started.rows
        self._collect_pending_text(columns, started.text)
        self._generalize_findings(columns)
        self._replace_raw_ids(columns)
        self._close_vocabularies(columns)
        columns["key_version"] = pa.repeat(pa.scalar(self.key.version, pa.string()), rows)
        self.stats.rows += rows
        arrays = [_as_arrow(columns[f.name], f.type) for f in self.schema]
        return pa.Table.from_arrays(arrays, schema=self.schema)

    def _submit_pending_text(self, columns: dict) -> PendingScrub | None:
        """Send every free-text column of the batch in one call, so NER sees one big batch."""
        pending = [v.column for v in columns.values() if isinstance(v, _PendingText)]
        if not pending:
            return None
        texts = [value for column in pending for value in column.values]
        weights = np.concatenate([column.counts() for column in pending])
        return self.scrubber.submit_text(texts, weights)

    def _collect_pending_text(self, columns: dict, submitted: PendingScrub | None) -> None:
        if submitted is None:
            return
        pending = {n: v.column for n, v in columns.items() if isinstance(v, _PendingText)}
        scrubbed = self.scrubber.collect(submitted)
        start = 0
        for name, texts in pending.items():
            columns[name] = texts.with_values(scrubbed[start : start + len(texts.values)])
            start += len(texts.values)

    def _generalize_findings(self, columns: dict) -> None:
        """Re-scan the derived categorical values as the silver identifier check would (same
        engine, `<ENTITY>` placeholders ignored); a value with a finding becomes `other` and is
        counted."""
        for name in self._rescanned:
            column = _factorized(columns, name)
            if column is None:
                continue
            found = self._findings_of(column.values)
            if not any(found.get(v) for v in column.values if v):
                continue
            values, counts = list(column.values), column.counts()
            for i, value in enumerate(column.values):
                entities = found.get(value) if value else None
                if entities and counts[i]:
                    values[i] = OTHER
                    self.stats.values_generalized_by_rescan[name] += int(counts[i])
                    for entity in entities:
                        self.stats.rescan_findings[f"{name}: {entity}"] += int(counts[i])
            columns[name] = column.with_values(values)

    def _findings_of(self, values: list) -> dict[str, tuple[str, ...]]:
        """Entity types found in each distinct value (memoized for the partition)."""
        distinct = [v for v in dict.fromkeys(values) if isinstance(v, str) and v]
        new = [v for v in distinct if v not in self._findings]
        if new:
            if len(self._findings) + len(new) > scrubber_module.MEMO_LIMIT:
                self._findings.clear()
                new = distinct
            engine = self.scrubber.structured
            for text, results in zip(new, engine.analyze_many(new), strict=True):
                found = {
                    r.entity_type for r in results if not text[r.start : r.end].startswith("<")
                }
                found.update(shape for shape, pattern in _RAW_IDS.items() if pattern.search(text))
                self._findings[text] = tuple(sorted(found))
        return {v: self._findings[v] for v in distinct}

    def _replace_raw_ids(self, columns: dict) -> None:
        """Raw ids of the input contract in URL templates and scrubbed text: placeholders."""
        for name in self._raw_id_scrubbed:
            column = _factorized(columns, name)
            if column is None:
                continue
            values, counts = list(column.values), column.counts()
            for i, value in enumerate(column.values):
                if not value or not counts[i]:
                    continue
                memo = self._raw_id_memo.get(value)
                if memo is None:
                    if len(self._raw_id_memo) >= scrubber_module.MEMO_LIMIT:
                        self._raw_id_memo.clear()
                    memo = self._raw_id_memo[value] = replace_raw_ids(value)
                replaced, shapes = memo
                if shapes:
                    values[i] = replaced
                    self.stats.values_generalized_by_rescan[name] += int(counts[i])
                    for shape in shapes:
                        self.stats.rescan_findings[f"{name}: {shape}"] += int(counts[i])
            columns[name] = column.with_values(values)

    def _close_vocabularies(self, columns: dict) -> None:
        """User-agent families and typed profile values: their vocabulary's value or `other`."""
        for name, vocabulary in self.vocabularies.items():
            column = _factorized(columns, name)
            if column is None:
                continue
            closed, outside = close_to_vocabulary(column.values, vocabulary, column.counts())
            columns[name] = column.with_values(closed)
            if outside:
                self.stats.values_outside_vocabulary[name] += outside

    def _field_column(self, table: pa.Table, name: str) -> Factorized:
        derived = DERIVED_FIELDS[self.rules.name].get(name)
        if derived:
            return from_arrow(derived_array([table.column(p) for p in derived]))
        if name == "ts" or name not in table.column_names:
            return Factorized([None], np.zeros(table.num_rows, dtype=np.int64))
        return from_arrow(table.column(name))

    def _property_columns(self, table: pa.Table) -> dict[str, Factorized]:
        """The properties the policy names, one column each, with one pass over the keys the
        rows hold; properties the policy drops are counted on the way."""
        wanted = self.rules.properties
        present: dict[str, tuple[list[int], list]] = {name: ([], []) for name in wanted}
        given: Counter[str] = Counter()
        for row, text in enumerate(table.column("properties").to_pylist()):
            found = orjson.loads(text) if text else None
            if not isinstance(found, dict):
                continue
            for name, value in found.items():
                if value is None:
                    continue
                given[name] += 1
                slot = present.get(name)
                if slot is not None:
                    slot[0].append(row)
                    slot[1].append(value)
        for name, count in given.items():
            if self.rules.property_rule(name).action == "drop":
                self.stats.fields_dropped[f"properties.{name}"] += count
        rows = table.num_rows
        return {name: sparse(rows, *present[name]) for name in wanted}

    def _apply(self, rule: FieldRule, values: Factorized, out: dict, ts: pa.ChunkedArray) -> None:
        """One field's action on its distinct values; the rows follow by their indices."""
        action, column = rule.action, rule.column or rule.field
        if action == "drop":
            return
        if action == "pseudonymize":
            namespace = rule.namespace or rule.field
            memo = self._pseudonyms.setdefault(namespace, {})
            if len(memo) > scrubber_module.MEMO_LIMIT:
                memo.clear()
            texts = [_as_text(v) for v in values.values]
            out[column] = values.with_values(pseudonyms(self.key, namespace, texts, memo))
        elif action == "account":
            namespace = rule.namespace or "user"
            keys = account_keys(self.key, namespace, values.values, self.accounts)
            out[column] = values.with_values(keys)
        elif action == "generalize":
            self._generalize(rule, values, out, ts)
        elif action == "keep":
            out[column] = self._keep(rule, values)
        elif action == "scrub_text":
            out[column] = _PendingText(values.map(_as_str))
        elif action == "url":
            templates = [self._url(_as_str(v)) for v in values.values]
            out[column] = values.with_values([template for template, _ in templates])
            self._count_entities(values, [found for _, found in templates])
        elif action == "referrer":
            parts = [self._referrer(_as_str(v)) for v in values.values]
            out["referrer_domain"] = values.with_values([p[0] for p in parts])
            out["referrer_search_terms"] = _PendingText(values.with_values([p[1] for p in parts]))
        elif action == "user_agent":
            agents = classify_many([_as_str(v) for v in values.values])
            out["browser_family"] = values.with_values([a.browser_family for a in agents])
            out["os_family"] = values.with_values([a.os_family for a in agents])
            out["device_type"] = values.with_values([a.device_type for a in agents])
            out["is_bot"] = values.with_values([a.is_bot for a in agents])

    def _generalize(
        self, rule: FieldRule, values: Factorized, out: dict, ts: pa.ChunkedArray
    ) -> None:
        column = rule.column or rule.field
        if rule.method == "timestamp":
            out[column] = pc.floor_temporal(ts, unit="minute")
        elif rule.method == "ip":
            addresses = [_as_str(v) for v in values.values]
            out["country"] = values.with_values(generalize.countries(addresses))
            out["ip_network"] = values.with_values(generalize.ip_networks(addresses))
        elif rule.method == "age_band":
            out[column] = _age_bands(values, ts)
        else:
            out[column] = values.map(_GENERALIZERS[rule.method or ""])

    def _keep(self, rule: FieldRule, values: Factorized) -> Factorized:
        kind = rule.type or "string"
        if kind == "string":
            texts = [_as_scalar_text(v) for v in values.values]
            return values.with_values(self.scrubber.scrub_structured(texts, values.counts()))
        if kind == "int64":
            return values.map(
                lambda v: v if isinstance(v, int) and not isinstance(v, bool) else None
            )
        if kind == "bool":
            return values.map(lambda v: v if isinstance(v, bool) else None)
        return values.map(
            lambda v: float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None
        )

    def _url(self, url: str | None) -> tuple[str | None, tuple[str, ...]]:
        """A URL's template and the entity types found in its kept query values."""
        if url is None:
            return None, ()
        known = self._urls.get(url)
        if known is None:
            if len(self._urls) >= scrubber_module.MEMO_LIMIT:
                self._urls.clear()
            if len(self._url_segments) >= scrubber_module.MEMO_LIMIT:
                self._url_segments.clear()
            found: list[str] = []

            def scrub_value(value: str) -> str:
                scrubbed, entities = self.scrubber.scrub_structured_found(value)
                found.extend(entities)
                return scrubbed

            template = url_template(url, self.policy.url_rules, scrub_value, self._url_segments)
            known = self._urls[url] = (template, tuple(found))
        return known

    def _count_entities(self, values: Factorized, found: list[tuple[str, ...]]) -> None:
        """Entities found in each distinct value, counted once per row that holds it."""
        counts = values.counts()
        for i, entities in enumerate(found):
            for entity in entities:
                self.scrubber.entities[entity] += int(counts[i])

    def _referrer(self, referrer: str | None) -> tuple[str | None, str | None]:
        if referrer is None:
            return None, None
        parts = self._referrers.get(referrer)
        if parts is None:
            if len(self._referrers) >= scrubber_module.MEMO_LIMIT:
                self._referrers.clear()
            parts = self._referrers[referrer] = referrer_parts(referrer, self.policy.url_rules)
        return parts

    def _count_dropped_fields(self, table: pa.Table) -> None:
        for name in table.column_names:
            if name in ("properties", "source_file", "source_line", "ts_offset_minutes"):
                continue
            if name == "extra":
                for text in table.column("extra").drop_null().to_pylist():
                    for extra in orjson.loads(text):
                        self.stats.fields_dropped[extra] += 1
                continue
            if self.rules.rule_for(name).action == "drop":
                self.stats.fields_dropped[name] += table.num_rows - table.column(name).null_count


def _age_bands(birth_years: Factorized, ts: pa.ChunkedArray) -> Factorized:
    """The age band of each row's birth year at the row's event year (rows with a birth year
    only: profile events are few)."""
    known = np.fromiter((v is not None for v in birth_years.values), bool, len(birth_years.values))
    present = np.flatnonzero(known[birth_years.indices])
    if not len(present):
        return Factorized([None], np.zeros(birth_years.rows, dtype=np.int64))
    years = pc.year(pc.take(ts, pa.array(present))).to_pylist()
    pairs = list(zip(birth_years.indices[present].tolist(), years, strict=True))
    bands = sparse(birth_years.rows, present, pairs)
    return bands.map(
        lambda pair: (
            None if pair is None else generalize.age_band(birth_years.values[pair[0]], pair[1])
        )
    )


def _factorized(columns: dict, name: str) -> Factorized | None:
    """An output column as distinct values and indices, whatever form it is in so far."""
    column = columns.get(name)
    if column is None or isinstance(column, Factorized):
        return column
    column = from_arrow(
        column if isinstance(column, pa.Array | pa.ChunkedArray) else pa.array(column)
    )
    columns[name] = column
    return column


def _as_arrow(column: object, type: pa.DataType) -> pa.Array | pa.ChunkedArray:
    if isinstance(column, Factorized):
        return column.to_arrow(type)
    if isinstance(column, pa.Array | pa.ChunkedArray):
        return column if column.type == type else column.cast(type)
    return pa.array(column, type=type)


def _as_str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _as_text(value: object) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else orjson.dumps(value).decode()


def _as_scalar_text(value: object) -> str | None:
    if value is None or isinstance(value, dict | list):
        return None
    return value if isinstance(value, str) else str(value)
