"""The field policy: one action for every input field, declared in YAML and checked on load."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import pyarrow as pa

from deidentify.config_yaml import ConfigModel, read_config, validate
from deidentify.configuration import ConfigurationError
from deidentify.urls import UrlRules

DEFAULT_POLICY_PATH = Path(__file__).parent / "policy" / "field_policy.yaml"
ACTIONS = frozenset(
    {
        "drop",
        "keep",
        "pseudonymize",
        "account",
        "generalize",
        "scrub_text",
        "url",
        "referrer",
        "user_agent",
    }
)
GENERALIZE_METHODS = {
    "timestamp": pa.timestamp("us", tz="UTC"),
    "age_band": pa.string(),
    "zip3": pa.string(),
    "practice_size_band": pa.string(),
    "file_extension": pa.string(),
    "count": pa.int64(),
}
KEEP_TYPES = {
    "string": pa.string(),
    "int64": pa.int64(),
    "bool": pa.bool_(),
    "double": pa.float64(),
}
SOURCES = ("app_events", "access_log")


class FieldPolicyError(ConfigurationError, ValueError):
    """The field policy file is not valid; the message names the field and the fix."""


@dataclass(frozen=True)
class FieldRule:
    """What happens to one input field."""

    field: str
    action: str
    column: str | None = None
    method: str | None = None
    namespace: str | None = None
    type: str | None = None

    def output_columns(self) -> list[pa.Field]:
        """The silver columns this rule produces (none for `drop`)."""
        if self.action == "drop":
            return []
        if self.action == "generalize" and self.method == "ip":
            return [pa.field("country", pa.string()), pa.field("ip_network", pa.string())]
        if self.action == "user_agent":
            return [
                pa.field("browser_family", pa.string()),
                pa.field("os_family", pa.string()),
                pa.field("device_type", pa.string()),
                pa.field("is_bot", pa.bool_()),
            ]
        if self.action == "referrer":
            return [
                pa.field("referrer_domain", pa.string()),
                pa.field("referrer_search_terms", pa.string()),
            ]
        if self.action == "generalize":
            return [pa.field(self.column or self.field, GENERALIZE_METHODS[self.method or ""])]
        if self.action == "keep":
            return [pa.field(self.column or self.field, KEEP_TYPES[self.type or "string"])]
        return [pa.field(self.column or self.field, pa.string())]


@dataclass(frozen=True)
class SourcePolicy:
    """Rules for one raw source: top-level fields and (for events) properties."""

    name: str
    fields: dict[str, FieldRule]
    properties: dict[str, FieldRule]

    def rule_for(self, field: str) -> FieldRule:
        """The field's rule; an unknown field is dropped."""
        return self.fields.get(field) or FieldRule(field, "drop")

    def property_rule(self, name: str) -> FieldRule:
        """The property's rule; an unknown property is dropped."""
        return self.properties.get(name) or FieldRule(name, "drop")

    def silver_schema(self, date_column: str) -> pa.Schema:
        """Columns of the silver table, in policy order, plus the date and key version."""
        columns = [pa.field(date_column, pa.date32(), nullable=False)]
        for rule in [*self.fields.values(), *self.properties.values()]:
            columns.extend(rule.output_columns())
        columns.append(pa.field("key_version", pa.string(), nullable=False))
        names = [c.name for c in columns]
        duplicates = {n for n in names if names.count(n) > 1}
        if duplicates:
            raise FieldPolicyError(
                f"{self.name}: two rules write the same column(s) {sorted(duplicates)}"
            )
        return pa.schema(columns)


@dataclass(frozen=True)
class FieldPolicy:
    """The whole field policy: per-source rules and the URL allowlists."""

    version: int
    sources: dict[str, SourcePolicy]
    url_rules: UrlRules

    def source(self, name: str) -> SourcePolicy:
        """The rules of one source."""
        return self.sources[name]


class RuleEntry(ConfigModel):
    """One field's rule as written: `{action: ..., column: ..., method: ..., ...}`."""

    example: ClassVar[str] = "{action: drop}"
    action: str
    column: str | None = None
    method: str | None = None
    namespace: str | None = None
    type: str | None = None


class SourceSection(ConfigModel):
    """`app_events:` or `access_log:`: rules for top-level fields and (events) properties."""

    fields: dict[str, RuleEntry]
    properties: dict[str, RuleEntry] | None = None


class UrlSection(ConfigModel):
    """`url:`: the allowlists of URL scrubbing."""

    known_path_segments: list[str] | None = None
    kept_query_keys: list[str] | None = None
    search_engines: dict[str, str] | None = None


class FieldPolicyFile(ConfigModel):
    """field_policy.yaml as a whole."""

    version: int
    app_events: SourceSection
    access_log: SourceSection
    url: UrlSection | None = None


def _rule(source: str, field: str, spec: RuleEntry) -> FieldRule:
    where = f"{source}.{field}"
    action = spec.action
    if action not in ACTIONS:
        raise FieldPolicyError(f"{where}: unknown action {action!r}; use one of {sorted(ACTIONS)}")
    method, namespace, kind = spec.method, spec.namespace, spec.type
    if action == "generalize" and method not in {*GENERALIZE_METHODS, "ip"}:
        raise FieldPolicyError(
            f"{where}: generalize needs a `method` among {sorted({*GENERALIZE_METHODS, 'ip'})}, "
            f"got {method!r}"
        )
    if action in ("pseudonymize", "account") and not namespace:
        raise FieldPolicyError(f"{where}: {action} needs a `namespace` (e.g. user, org)")
    if action == "keep" and (kind or "string") not in KEEP_TYPES:
        raise FieldPolicyError(
            f"{where}: keep `type` must be one of {sorted(KEEP_TYPES)}, got {kind!r}"
        )
    return FieldRule(field, action, spec.column, method, namespace, kind)


def load_field_policy(path: Path = DEFAULT_POLICY_PATH) -> FieldPolicy:
    """Read and validate the YAML field policy; raise FieldPolicyError naming what to fix.

    The message is one line: the file, the key (a dotted path) and the fix.
    """
    document = read_config(path, FieldPolicyError)
    if isinstance(document, dict):
        for name in SOURCES:
            section = document.get(name)
            if section is None or (isinstance(section, dict) and section.get("fields") is None):
                raise FieldPolicyError(
                    f"{path.name}: section `{name}.fields` is missing; give every field of "
                    f"{name} a rule (docs/input-formats.md lists them)"
                )
    parsed = validate(FieldPolicyFile, document, path.name, FieldPolicyError)
    try:
        return _field_policy(parsed)
    except FieldPolicyError as exc:
        raise FieldPolicyError(f"{path.name}: {exc}") from None


def _field_policy(parsed: FieldPolicyFile) -> FieldPolicy:
    sources = {}
    for name in SOURCES:
        section: SourceSection = getattr(parsed, name)
        fields = {f: _rule(name, f, s) for f, s in section.fields.items()}
        properties = {
            p: _rule(f"{name}.properties", p, s) for p, s in (section.properties or {}).items()
        }
        policy = SourcePolicy(name, fields, properties)
        policy.silver_schema("date")
        sources[name] = policy
    url = parsed.url or UrlSection()
    rules = UrlRules(
        known_path_segments=frozenset(s.lower() for s in url.known_path_segments or []),
        kept_query_keys=frozenset(k.lower() for k in url.kept_query_keys or []),
        search_engines=dict(url.search_engines or {}),
    )
    return FieldPolicy(parsed.version, sources, rules)
