"""What a sharing policy version stands for: its content hash and the values that protect people.

A sharing policy is identified by its `version` and by the sha256 of its canonical content
(the parsed YAML as sorted, compact JSON: comments and layout do not count). The first time
a version is used, `<out>/audit/sharing_policy_versions.jsonl` records its hash and its
protective values; a later content under the same version that protects less than that first
content (a lower k, an exclusion turned off, a larger budget, ...) is refused: weakening
protection needs a new version, so that every gold build and delivery names the rules it was
made under. A content that protects at least as much is accepted and recorded too (so that
a tightening can be undone back to the version's first content).

Which values protect, and in which direction (more protection when):

- `disclosure_control.k`, `min_k`: higher;
- `disclosure_control.dominance_share`: lower (a cell dominated by fewer is suppressed);
- `exclude_opted_out_users.value`: true;
- `categories.<c>.aggregate_sharing`: `forbidden`;
- `recipient_classes.<c>.datasets`, and the `categories` of a dataset already listed: fewer;
- in `differential_privacy`, every budget's rho and delta, `selection_delta` and
  `rho_scale_by_period`: lower (a budget left out is no limit at all);
- `differential_privacy.correction_after_days`: lower (erasures and opt-outs reach
  recipients sooner);
- `released_datasets.<d>.rho` (the sum over its breakdowns): lower.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

RECORD_FILE = "sharing_policy_versions.jsonl"

# (pattern of a protective value's name, how it protects more)
_RULES = (
    (re.compile(r"disclosure_control\.(k|min_k)"), "higher"),
    (re.compile(r"exclude_opted_out_users\.value"), "true"),
    (re.compile(r"categories\.[^.]+\.aggregate_sharing"), "forbidden"),
    (re.compile(r"recipient_classes\.[^.]+\.datasets"), "fewer"),
    (re.compile(r"(released_)?datasets\.[^.]+\.categories"), "fewer_when_kept"),
    (re.compile(r"released_datasets\.[^.]+\.rho"), "lower_when_kept"),
    (re.compile(r"disclosure_control\.dominance_share|differential_privacy\..*"), "lower"),
)


def canonical_sha256(document: object) -> str:
    """sha256 of the document as sorted, compact JSON (the same content, the same hash)."""
    text = json.dumps(
        document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def protective_values(document: dict) -> dict[str, object]:
    """The values of the policy that protect people, by dotted name (see the module doc)."""
    values: dict[str, object] = {}
    control = document.get("disclosure_control") or {}
    for key in ("k", "min_k", "dominance_share"):
        if control.get(key) is not None:
            values[f"disclosure_control.{key}"] = control[key]
    exclusion = document.get("exclude_opted_out_users") or {}
    values["exclude_opted_out_users.value"] = bool(exclusion.get("value"))
    for name, spec in (document.get("categories") or {}).items():
        values[f"categories.{name}.aggregate_sharing"] = spec.get("aggregate_sharing")
    for name, spec in (document.get("recipient_classes") or {}).items():
        values[f"recipient_classes.{name}.datasets"] = sorted(spec.get("datasets") or [])
    for name, spec in (document.get("datasets") or {}).items():
        values[f"datasets.{name}.categories"] = sorted(spec.get("categories") or [])
    dp = document.get("differential_privacy") or {}
    values["differential_privacy.selection_delta"] = dp.get("selection_delta")
    for budget in ("budget_per_recipient_per_month", "budget_all_recipients_per_month"):
        for part in ("rho", "delta"):
            values[f"differential_privacy.{budget}.{part}"] = (dp.get(budget) or {}).get(part)
    for name, spec in (dp.get("budget_per_class_per_month") or {}).items():
        for part in ("rho", "delta"):
            values[f"differential_privacy.budget_per_class_per_month.{name}.{part}"] = spec.get(
                part
            )
    values["differential_privacy.correction_after_days"] = dp.get("correction_after_days", 28)
    scale = dp.get("rho_scale_by_period") or {}
    for period in ("month", "week"):
        values[f"differential_privacy.rho_scale_by_period.{period}"] = scale.get(period, 1.0)
    for name, spec in (document.get("released_datasets") or {}).items():
        breakdowns = spec.get("breakdowns") or {}
        values[f"released_datasets.{name}.rho"] = round(
            sum(float(b.get("rho", 0)) for b in breakdowns.values()), 12
        )
        values[f"released_datasets.{name}.categories"] = sorted(spec.get("categories") or [])
    return values


def weakenings(before: dict[str, object], after: dict[str, object]) -> list[str]:
    """How `after` protects less than `before`: `name old -> new` for each value."""
    changes = []
    for name in sorted(set(before) | set(after)):
        old, new = before.get(name), after.get(name)
        if _weaker(_rule_of(name), old, new):
            changes.append(f"{name} {_show(old)} -> {_show(new)}")
    return changes


def _rule_of(name: str) -> str | None:
    return next((rule for pattern, rule in _RULES if pattern.fullmatch(name)), None)


def _weaker(rule: str | None, old: object, new: object) -> bool:
    if rule == "higher":
        return old is not None and (new is None or new < old)  # type: ignore[operator]
    if rule == "true":
        return old is True and new is not True
    if rule == "forbidden":
        return old == "forbidden" and new != "forbidden"
    if rule == "fewer":
        return bool(set(new or []) - set(old or []))  # type: ignore[arg-type]
    if rule == "fewer_when_kept":
        # A dataset new to the policy is checked by the rules of its categories and reaches
        # nobody unless a recipient class lists it (which "fewer" above catches).
        return old is not None and bool(set(new or []) - set(old))  # type: ignore[arg-type]
    if rule == "lower_when_kept":
        return old is not None and new is not None and new > old  # type: ignore[operator]
    if rule == "lower":
        # A value left out (a budget, a delta) is no limit at all.
        return old is not None and (new is None or new > old)  # type: ignore[operator]
    return False


def _show(value: object) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        return "[" + ", ".join(map(str, value)) + "]"
    return str(value)


def read_records(audit_dir: Path) -> list[dict]:
    """Every recorded (version, sha256, protective values), oldest first."""
    path = audit_dir / RECORD_FILE
    if not path.exists():
        return []
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue  # a line cut by a crash: the next use records the policy again
        if isinstance(record, dict) and "version" in record and "sha256" in record:
            records.append(record)
    return records


@contextmanager
def locked_records(audit_dir: Path) -> Iterator[list[dict]]:
    """The records, read under an exclusive lock held until the block ends."""
    audit_dir.mkdir(parents=True, exist_ok=True)
    lock = audit_dir / f".{RECORD_FILE}.lock"
    with open(lock, "a") as handle:
        try:
            import fcntl

            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        except ImportError:  # pragma: no cover - no advisory locks on this platform
            pass
        yield read_records(audit_dir)


def append_record(audit_dir: Path, version: int, sha256: str, values: dict[str, object]) -> None:
    """Record a version's content as used (one JSON line, appended)."""
    line = json.dumps(
        {
            "version": version,
            "sha256": sha256,
            "first_used": datetime.now(UTC).isoformat(timespec="seconds"),
            "protective": values,
        },
        sort_keys=True,
    )
    with open(audit_dir / RECORD_FILE, "a", encoding="utf-8") as stream:
        stream.write(line + "\n")
