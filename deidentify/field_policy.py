"""The field policy: one action for every input field, declared in YAML and checked on load."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import yaml

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


class FieldPolicyError(ValueError):
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


def _rule(source: str, field: str, spec: object) -> FieldRule:
    where = f"{source}.{field}"
    if not isinstance(spec, dict) or "action" not in spec:
        raise FieldPolicyError(f"{where}: expected a mapping with an `action`, got {spec!r}")
    unknown_keys = set(spec) - {"action", "column", "method", "namespace", "type"}
    if unknown_keys:
        raise FieldPolicyError(f"{where}: unknown key(s) {sorted(unknown_keys)}")
    action = spec["action"]
    if action not in ACTIONS:
        raise FieldPolicyError(f"{where}: unknown action {action!r}; use one of {sorted(ACTIONS)}")
    method, namespace, kind = spec.get("method"), spec.get("namespace"), spec.get("type")
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
    return FieldRule(field, action, spec.get("column"), method, namespace, kind)


def load_field_policy(path: Path = DEFAULT_POLICY_PATH) -> FieldPolicy:
    """Read and validate the YAML field policy; raise FieldPolicyError naming what to fix."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise FieldPolicyError(f"cannot read field policy {path}: {exc}") from exc
    if not isinstance(document, dict) or not isinstance(document.get("version"), int):
        raise FieldPolicyError(f"{path}: expected a mapping with an integer `version`")
    sources = {}
    for name in SOURCES:
        section = document.get(name)
        if not isinstance(section, dict) or not isinstance(section.get("fields"), dict):
            raise FieldPolicyError(f"{path}: section `{name}.fields` is missing")
        fields = {f: _rule(name, f, s) for f, s in section["fields"].items()}
        properties = {
            p: _rule(f"{name}.properties", p, s)
            for p, s in (section.get("properties") or {}).items()
        }
        policy = SourcePolicy(name, fields, properties)
        policy.silver_schema("date")
        sources[name] = policy
    url = document.get("url") or {}
    engines = url.get("search_engines") or {}
    if not isinstance(engines, dict):
        raise FieldPolicyError(f"{path}: url.search_engines must map a domain to a query key")
    rules = UrlRules(
        known_path_segments=frozenset(str(s).lower() for s in url.get("known_path_segments") or []),
        kept_query_keys=frozenset(str(k).lower() for k in url.get("kept_query_keys") or []),
        search_engines={str(k): str(v) for k, v in engines.items()},
    )
    return FieldPolicy(document["version"], sources, rules)
