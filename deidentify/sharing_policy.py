"""The sharing policy: which aggregates may be built and shared, checked against its clauses."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import yaml

from deidentify.disclosure import MIN_K, DisclosureRules
from deidentify.release_policy import ReleasePolicy, ReleasePolicyError, parse_release_policy

DEFAULT_SHARING_POLICY_PATH = Path(__file__).parent / "policy" / "sharing_policy.yaml"
RECIPIENT_CLASSES = ("partner", "advertiser", "internal_analyst")


class SharingPolicyError(ValueError):
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


def load_sharing_policy(path: Path = DEFAULT_SHARING_POLICY_PATH) -> SharingPolicy:
    """Read and validate the sharing policy; every rule must cite a known clause."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise SharingPolicyError(f"cannot read sharing policy {path}: {exc}") from exc
    try:
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
    except ReleasePolicyError as exc:
        raise SharingPolicyError(f"{path}: {exc}") from exc
    except (KeyError, TypeError, ValueError) as exc:
        raise SharingPolicyError(f"{path}: missing or malformed entry {exc}") from exc
    cited = [s.get("because") for s in policy.categories.values()]
    cited += [s.get("defined_by") for s in policy.categories.values()]
    cited += [s.get("clause") for s in policy.datasets.values()]
    cited += [s.get("clause") for s in policy.recipient_classes.values()]
    cited += [control.get("clause"), document["exclude_opted_out_users"].get("clause")]
    unknown = sorted({c for c in cited if c not in clauses})
    if unknown:
        raise SharingPolicyError(f"{path}: rules cite unknown clauses {unknown}")
    if policy.k < MIN_K:
        raise SharingPolicyError(f"{path}: k={policy.k} is below the floor {MIN_K}")
    if set(policy.recipient_classes) - set(RECIPIENT_CLASSES):
        raise SharingPolicyError(f"{path}: recipient classes must be among {RECIPIENT_CLASSES}")
    for name, spec in policy.datasets.items():
        policy.check_dataset(name, spec["categories"])
    for recipient_class, spec in policy.recipient_classes.items():
        external = recipient_class in policy.release.recipient_classes
        for dataset in spec["datasets"]:
            if external and not policy.is_released(dataset):
                raise SharingPolicyError(
                    f"{path}: {recipient_class} may receive only differentially private "
                    f"releases (released_datasets), not {dataset!r}: exact aggregates do not "
                    f"survive differencing between releases"
                )
            if not external and dataset not in policy.datasets:
                raise SharingPolicyError(f"{path}: recipient datasets name unknown {dataset!r}")
    return policy
