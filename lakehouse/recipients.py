"""Recipients of export packages, as configuration, checked against the sharing policy on load."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Literal

from pydantic import Field

from deidentify.config_yaml import ConfigModel, did_you_mean, read_config, validate
from deidentify.configuration import ConfigurationError
from deidentify.sharing_policy import PolicyViolation, SharingPolicy

DEFAULT_RECIPIENTS_PATH = Path(__file__).parent / "recipients.yaml"
SLUG = re.compile(r"[a-z0-9][a-z0-9-]{1,62}")
BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
PREFIX = re.compile(r"([A-Za-z0-9_.-]+/)*")
FORMATS = ("csv", "parquet")
CADENCES = ("monthly", "weekly")
# Layers whose rows are personal information: never a recipient's dataset.
LAYERS = ("raw", "bronze", "quarantine", "silver")
LAYERS_TEXT = "raw, bronze and silver"


class RecipientConfigError(ConfigurationError, ValueError):
    """recipients.yaml is invalid; the message names the recipient and what to fix."""


@dataclass(frozen=True)
class DeliveryTarget:
    """Where a sealed package goes besides `<out>/exports/`: nowhere else, or an S3 bucket.

    Credentials and the endpoint of an S3-compatible store come only from the environment
    (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_ENDPOINT_URL, AWS_REGION), never from here.
    """

    kind: str = "local"
    bucket: str | None = None
    prefix: str = ""

    def location(self, recipient: str, package: str) -> str:
        """Where the package is delivered, as shown in the audit trail."""
        if self.kind == "s3":
            return f"s3://{self.bucket}/{self.key_prefix(recipient, package)}"
        return f"exports/{recipient}/{package}/"

    def key_prefix(self, recipient: str, package: str) -> str:
        """Object key prefix of a package in the bucket: `<prefix><recipient>/<package>/`."""
        return f"{self.prefix}{recipient}/{package}/"


@dataclass(frozen=True)
class Recipient:
    """One partner or advertiser and what it receives."""

    name: str
    recipient_class: str
    datasets: tuple[str, ...]
    formats: tuple[str, ...]
    cadence: str
    delivery: DeliveryTarget = DeliveryTarget()


class DeliveryEntry(ConfigModel):
    """`delivery:` of a recipient: `{type: local}` or `{type: s3, bucket: ..., prefix: ...}`."""

    unknown_key_note: ClassVar[str] = (
        "credentials and endpoints come from the environment (AWS_*), never from this file"
    )
    type: Literal["local", "s3"] = "local"
    bucket: str | None = None
    prefix: str = ""


class RecipientEntry(ConfigModel):
    """One entry of `recipients:`."""

    key_hints: ClassVar[dict[str, str]] = {
        "k": (
            "`k` no longer applies: partners and advertisers receive only differentially "
            "private releases, whose protection is the privacy budget in the sharing policy; "
            "remove `k`"
        )
    }
    name: str
    recipient_class: str = Field(alias="class")
    datasets: list[str]
    formats: list[Literal["csv", "parquet"]] | None = None
    cadence: Literal["monthly", "weekly"] = "monthly"
    delivery: DeliveryEntry | None = None


class RecipientsFile(ConfigModel):
    """recipients.yaml: `version` and the list of recipients (`recipients: []` for none)."""

    version: int | None = None
    recipients: list[RecipientEntry]


def load_recipients(policy: SharingPolicy, path: Path = DEFAULT_RECIPIENTS_PATH) -> list[Recipient]:
    """Read recipients.yaml and check every entry against the sharing policy.

    Any problem raises RecipientConfigError with one line: the file, the key (as a dotted
    path such as `recipients[0].cadence`) and the fix.
    """
    file = path.name
    document = read_config(path, RecipientConfigError)
    if isinstance(document, dict) and document.get("recipients", ...) is None:
        raise RecipientConfigError(
            f"{file}: recipients: is empty; list the recipients (or write `recipients: []` "
            "for none)"
        )
    entries = validate(RecipientsFile, document, file, RecipientConfigError).recipients
    recipients, names, problems = [], set(), []
    for number, entry in enumerate(entries):
        where = f"{file}: recipients[{number}]"
        try:
            recipient = _recipient(policy, where, entry, names)
        except RecipientConfigError as exc:
            problems.append(str(exc))
            continue
        found = []
        for index, dataset in enumerate(entry.datasets):
            try:
                _check_dataset(
                    policy, f"{where}.datasets[{index}]", recipient.recipient_class, dataset
                )
            except RecipientConfigError as exc:
                found.append(str(exc))
        problems += found
        if not found:
            recipients.append(recipient)
    if problems:
        more = len(problems) - 1
        suffix = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
        raise RecipientConfigError(problems[0] + suffix)
    return recipients


def _recipient(policy: SharingPolicy, where: str, entry, names: set[str]) -> Recipient:
    """One entry as a Recipient, or the first problem of its name, class, delivery or list."""
    name = entry.name
    if not SLUG.fullmatch(name):
        raise RecipientConfigError(
            f"{where}.name: {name!r} must be a slug (lower-case letters, digits, dashes; "
            "2-63 characters), so it cannot escape the export folder"
        )
    if name in names:
        raise RecipientConfigError(f"{where}.name: {name!r} is used twice; rename one")
    names.add(name)
    recipient_class = entry.recipient_class
    if recipient_class not in policy.recipient_classes:
        raise RecipientConfigError(
            f"{where}.class: unknown recipient class {recipient_class!r}"
            f"{did_you_mean(recipient_class, policy.recipient_classes)} (the sharing "
            f"policy knows: {', '.join(sorted(policy.recipient_classes))})"
        )
    formats = tuple(dict.fromkeys(entry.formats or ("csv",)))
    delivery = _delivery_target(f"{where}.delivery", entry.delivery or DeliveryEntry())
    if not entry.datasets:
        raise RecipientConfigError(
            f"{where}.datasets: is empty; list the datasets {name!r} receives"
        )
    return Recipient(name, recipient_class, tuple(entry.datasets), formats, entry.cadence, delivery)


def _check_dataset(policy: SharingPolicy, where: str, recipient_class: str, dataset: str) -> None:
    """Refuse a dataset the recipient's class may not receive, listing what it may receive."""
    allowed = list(policy.recipient_classes[recipient_class]["datasets"])
    choices = f"{recipient_class} may receive: {', '.join(allowed)}"
    if dataset in allowed:
        try:
            policy.check_recipient(recipient_class, dataset)
        except PolicyViolation as exc:
            raise RecipientConfigError(f"{where}: {exc}") from exc
        return
    if dataset.split("/")[0] in LAYERS:
        clause = policy.clauses["no-personal-information"].cite()
        raise RecipientConfigError(
            f"{where}: {recipient_class} may not receive {dataset!r}: rows of the {LAYERS_TEXT} "
            f"layers are personal information and never leave the company ({clause}); "
            f"{choices}"
        )
    if dataset in policy.datasets or policy.is_released(dataset):
        try:
            policy.check_recipient(recipient_class, dataset)
        except PolicyViolation as exc:
            raise RecipientConfigError(f"{where}: {exc}; {choices}") from exc
    raise RecipientConfigError(
        f"{where}: unknown dataset {dataset!r}{did_you_mean(dataset, allowed)} ({choices})"
    )


def _delivery_target(where: str, entry: DeliveryEntry) -> DeliveryTarget:
    if entry.type == "local":
        return DeliveryTarget()
    bucket, prefix = entry.bucket or "", entry.prefix
    if not BUCKET.fullmatch(bucket):
        raise RecipientConfigError(
            f"{where}.bucket: s3 delivery needs a bucket name (3-63 lower-case letters, digits, "
            f"dots, dashes), got {bucket!r}"
        )
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    if not PREFIX.fullmatch(prefix) or any(part in (".", "..") for part in prefix.split("/")):
        raise RecipientConfigError(
            f"{where}.prefix: {prefix!r} may hold letters, digits, `_.-` and `/` only, "
            "with no `.` or `..` segment"
        )
    return DeliveryTarget("s3", bucket, prefix)
