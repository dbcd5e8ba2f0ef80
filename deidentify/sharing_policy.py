"""The sharing policy: which aggregates may be built and shared, checked against its clauses."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from deidentify.config_yaml import ConfigModel, read_config, validate
from deidentify.configuration import ConfigurationError
from deidentify.disclosure import MIN_K, DisclosureRules
from deidentify.policy_versions import (
    RECORD_FILE,
    append_record,
    canonical_sha256,
    locked_records,
    protective_values,
    weakenings,
)
from deidentify.release_policy import (
    DifferentialPrivacyEntry,
    ReleasedDatasetEntry,
    ReleasePolicy,
    ReleasePolicyError,
    Subject,
    parse_release_policy,
)

DEFAULT_SHARING_POLICY_PATH = Path(__file__).parent / "policy" / "sharing_policy.yaml"
RECIPIENT_CLASSES = ("partner", "advertiser", "internal_analyst")


class SharingPolicyError(ConfigurationError, ValueError):
    """The sharing policy file itself is invalid."""


class PolicyViolation(PermissionError):
    """A dataset or delivery the policy does not allow; the message quotes the clause."""


@dataclass(frozen=True)
class Clause:
    """A clause of the privacy policy."""

    key: str
    section: str
    text: str

    def cite(self) -> str:
        """`[key] SECTION: "text"` for error messages and documentation."""
        return f'[{self.key}] {self.section}: "{self.text}"'


@dataclass(frozen=True)
class SharingPolicy:
    """The parsed sharing policy."""

    version: int
    clauses: dict[str, Clause]
    categories: dict[str, dict]
    datasets: dict[str, dict]
    recipient_classes: dict[str, dict]
    k: int
    dominance_share: float
    exclude_opted_out: bool
    release: ReleasePolicy
    # sha256 of the policy's canonical content (comments and layout do not count) and the
    # values that protect people, by name: recorded with every gold build and delivery.
    sha256: str = ""
    protective: dict[str, object] = field(default_factory=dict)

    def is_released(self, dataset: str) -> bool:
        """Whether `dataset` is a differentially private release (rather than internal gold)."""
        return dataset in self.release.datasets

    def rules(self, k: int | None = None) -> DisclosureRules:
        """Disclosure rules at the policy's k, or at a recipient's higher k."""
        wanted = self.k if k is None else k
        if wanted < MIN_K:
            raise PolicyViolation(
                f"k={wanted} is below the policy's floor of {MIN_K}: "
                f"{self.clauses['aggregate-data'].cite()}"
            )
        return DisclosureRules(k=wanted, dominance_share=self.dominance_share)

    def check_dataset(self, name: str, categories: Iterable[str]) -> None:
        """Refuse a dataset that reads a forbidden category or is not declared as it is."""
        wanted = sorted(set(categories))
        for category in wanted:
            spec = self.categories.get(category)
            if spec is None:
                raise PolicyViolation(f"dataset {name!r} reads unknown category {category!r}")
            if spec["aggregate_sharing"] != "allowed":
                clause = self.clauses[spec["because"]]
                raise PolicyViolation(
                    f"dataset {name!r} may not be derived from {category}: {clause.cite()}"
                )
        if name not in self.datasets:
            raise PolicyViolation(
                f"dataset {name!r} is not in the sharing policy (v{self.version}); only the "
                f"datasets it lists may be built for sharing: "
                f"{self.clauses['no-personal-information'].cite()}"
            )
        declared = set(self.datasets[name]["categories"])
        undeclared = [c for c in wanted if c not in declared]
        if undeclared:
            clause = self.clauses[self.datasets[name]["clause"]]
            raise PolicyViolation(
                f"dataset {name!r} reads {undeclared}, which the policy does not declare for it "
                f"(declared: {sorted(declared)}): {clause.cite()}"
            )

    def check_recipient(self, recipient_class: str, dataset: str) -> None:
        """Refuse to deliver `dataset` to a recipient class the policy does not allow."""
        spec = self.recipient_classes.get(recipient_class)
        if spec is None:
            raise PolicyViolation(
                f"unknown recipient class {recipient_class!r}; the policy knows "
                f"{sorted(self.recipient_classes)}"
            )
        if dataset not in spec["datasets"]:
            clause = (
                self.clauses["no-personal-information"]
                if dataset not in self.datasets and not self.is_released(dataset)
                else self.clauses[spec["clause"]]
            )
            raise PolicyViolation(f"{recipient_class} may not receive {dataset!r}: {clause.cite()}")


class ClauseEntry(ConfigModel):
    """A clause of the privacy policy: its section and its text."""

    section: str
    text: str


class CategoryEntry(ConfigModel):
    """A data category of the privacy policy and whether aggregates of it may be shared."""

    defined_by: str
    aggregate_sharing: Literal["allowed", "forbidden"]
    because: str


class GoldDatasetEntry(ConfigModel):
    """A gold dataset: its subject, the categories it reads, the clause it relies on."""

    subject: Subject
    categories: list[str]
    clause: str


class RecipientClassEntry(ConfigModel):
    """What a recipient class may receive, and why."""

    datasets: list[str]
    clause: str


class DisclosureControlEntry(ConfigModel):
    """Cell suppression of the gold tables."""

    k: int
    min_k: int | None = None
    dominance_share: float
    clause: str


class ExclusionEntry(ConfigModel):
    """A switch that leaves people out, with the clause it implements."""

    value: bool
    clause: str


class SharingPolicyFile(ConfigModel):
    """sharing_policy.yaml as a whole."""

    version: int
    privacy_policy: str | None = None
    clauses: dict[str, ClauseEntry]
    categories: dict[str, CategoryEntry]
    datasets: dict[str, GoldDatasetEntry]
    recipient_classes: dict[str, RecipientClassEntry]
    disclosure_control: DisclosureControlEntry
    exclude_opted_out_users: ExclusionEntry
    differential_privacy: DifferentialPrivacyEntry
    vocabularies: dict[str, list[str]]
    released_datasets: dict[str, ReleasedDatasetEntry]


def load_sharing_policy(path: Path = DEFAULT_SHARING_POLICY_PATH) -> SharingPolicy:
    """Read and validate the sharing policy; every rule must cite a known clause.

    Any problem raises SharingPolicyError with one line: the file, the key and the fix.
    """
    document = read_config(path, SharingPolicyError)
    validate(SharingPolicyFile, document, path.name, SharingPolicyError)
    assert isinstance(document, dict)
    try:
        policy = _sharing_policy(path.name, document)
    except ReleasePolicyError as exc:
        raise SharingPolicyError(f"{path.name}: {exc}") from None
    except (KeyError, TypeError, ValueError) as exc:
        raise SharingPolicyError(f"{path.name}: missing or malformed entry {exc}") from None
    return SharingPolicy(
        **{
            **policy.__dict__,
            "sha256": canonical_sha256(document),
            "protective": protective_values(document),
        }
    )


def _sharing_policy(file: str, document: dict) -> SharingPolicy:
    clauses = {
        key: Clause(key, spec["section"], " ".join(str(spec["text"]).split()))
        for key, spec in document["clauses"].items()
    }
    control = document["disclosure_control"]
    policy = SharingPolicy(
        version=int(document["version"]),
        clauses=clauses,
        categories=document["categories"],
        datasets=document["datasets"],
        recipient_classes=document["recipient_classes"],
        k=int(control["k"]),
        dominance_share=float(control["dominance_share"]),
        exclude_opted_out=bool(document["exclude_opted_out_users"]["value"]),
        release=parse_release_policy(document, set(clauses), document["categories"]),
    )
    cited = [s.get("because") for s in policy.categories.values()]
    cited += [s.get("defined_by") for s in policy.categories.values()]
    cited += [s.get("clause") for s in policy.datasets.values()]
    cited += [s.get("clause") for s in policy.recipient_classes.values()]
    cited += [control.get("clause"), document["exclude_opted_out_users"].get("clause")]
    unknown = sorted({c for c in cited if c not in clauses})
    if unknown:
        raise SharingPolicyError(
            f"{file}: rules cite unknown clauses {unknown}; cite one of {sorted(clauses)}"
        )
    if policy.k < MIN_K:
        raise SharingPolicyError(
            f"{file}: disclosure_control.k: {policy.k} is below the floor {MIN_K}; raise it"
        )
    if set(policy.recipient_classes) - set(RECIPIENT_CLASSES):
        raise SharingPolicyError(
            f"{file}: recipient_classes: unknown class(es) "
            f"{sorted(set(policy.recipient_classes) - set(RECIPIENT_CLASSES))}; recipient "
            f"classes must be among {RECIPIENT_CLASSES}"
        )
    for name, spec in policy.datasets.items():
        try:
            policy.check_dataset(name, spec["categories"])
        except PolicyViolation as exc:
            raise SharingPolicyError(f"{file}: datasets.{name}: {exc}") from None
    for recipient_class, spec in policy.recipient_classes.items():
        external = recipient_class in policy.release.recipient_classes
        for dataset in spec["datasets"]:
            where = f"{file}: recipient_classes.{recipient_class}.datasets"
            if external and not policy.is_released(dataset):
                raise SharingPolicyError(
                    f"{where}: {recipient_class} may receive only differentially private "
                    f"releases (released_datasets), not {dataset!r}: exact aggregates do not "
                    f"survive differencing between releases"
                )
            if not external and dataset not in policy.datasets:
                raise SharingPolicyError(
                    f"{where}: unknown dataset {dataset!r}; the gold datasets are "
                    f"{', '.join(policy.datasets)}"
                )
    return policy


class PolicyVersionUnchanged(PolicyViolation):
    """The sharing policy protects less than before under the same `version`."""


def guard_policy_version(policy: SharingPolicy, audit_dir: Path) -> None:
    """Refuse a policy that weakens protection without a new `version`; record it on first use.

    The record is `<audit_dir>/sharing_policy_versions.jsonl`: one line per (version, content)
    used. A content never seen is accepted when its version is new, or when it protects at
    least as much as the first content used under its version; a version older than the
    newest one used is refused unless that exact content was used before.
    """
    record_file = audit_dir / RECORD_FILE
    with locked_records(audit_dir) as records:
        if any(r["version"] == policy.version and r["sha256"] == policy.sha256 for r in records):
            return
        newest = max((int(r["version"]) for r in records), default=None)
        if newest is not None and policy.version < newest:
            raise PolicyVersionUnchanged(
                f"sharing policy version {policy.version} (sha256 {policy.sha256[:12]}) is older "
                f"than version {newest}, already used, and its content was never used: raise "
                f"`version` above {newest} (versions used: {record_file})"
            )
        first = next((r for r in records if r["version"] == policy.version), None)
        changes = weakenings(first.get("protective") or {}, policy.protective) if first else []
        if changes:
            raise PolicyVersionUnchanged(
                f"sharing policy version {policy.version} changed ({'; '.join(changes)}) "
                f"without a new version: raise `version` (versions used: {record_file})"
            )
        append_record(audit_dir, policy.version, policy.sha256, policy.protective)
