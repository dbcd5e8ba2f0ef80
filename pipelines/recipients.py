"""Recipients of export packages, as configuration, checked against the sharing policy on load."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from deidentify.sharing_policy import PolicyViolation, SharingPolicy

DEFAULT_RECIPIENTS_PATH = Path(__file__).parent / "recipients.yaml"
SLUG = re.compile(r"[a-z0-9][a-z0-9-]{1,62}")
BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
PREFIX = re.compile(r"([A-Za-z0-9_.-]+/)*")
FORMATS = ("csv", "parquet")
CADENCES = ("monthly", "weekly")


class RecipientConfigError(ValueError):
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


def load_recipients(policy: SharingPolicy, path: Path = DEFAULT_RECIPIENTS_PATH) -> list[Recipient]:
    """Read recipients.yaml and check every entry against the sharing policy."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        entries = document["recipients"]
    except (OSError, yaml.YAMLError, KeyError, TypeError) as exc:
        raise RecipientConfigError(f"cannot read recipients from {path}: {exc}") from exc
    recipients, names = [], set()
    for number, entry in enumerate(entries, 1):
        where = f"{path.name} recipient #{number}"
        name = str(entry.get("name", ""))
        if not SLUG.fullmatch(name):
            raise RecipientConfigError(
                f"{where}: name {name!r} must be a slug (lower-case letters, digits, dashes; "
                "2-63 characters), so it cannot escape the export folder"
            )
        if name in names:
            raise RecipientConfigError(f"{where}: name {name!r} is used twice")
        names.add(name)
        where = f"{path.name} recipient {name!r}"
        recipient_class = entry.get("class")
        if "k" in entry:
            raise RecipientConfigError(
                f"{where}: `k` no longer applies: partners and advertisers receive only "
                "differentially private releases, whose protection is the privacy budget in "
                "the sharing policy; remove `k`"
            )
        formats = tuple(entry.get("formats") or ("csv",))
        cadence = entry.get("cadence", "monthly")
        delivery = _delivery_target(where, entry.get("delivery") or {"type": "local"})
        if not formats or set(formats) - set(FORMATS):
            raise RecipientConfigError(f"{where}: formats must be among {FORMATS}, got {formats}")
        if cadence not in CADENCES:
            raise RecipientConfigError(f"{where}: cadence {cadence!r} must be one of {CADENCES}")
        datasets = tuple(entry.get("datasets") or ())
        if not datasets:
            raise RecipientConfigError(f"{where}: list the datasets it receives")
        for dataset in datasets:
            try:
                policy.check_recipient(str(recipient_class), dataset)
            except PolicyViolation as exc:
                raise RecipientConfigError(f"{where}: {exc}") from exc
        recipients.append(
            Recipient(name, str(recipient_class), datasets, formats, cadence, delivery)
        )
    return recipients


def _delivery_target(where: str, entry: object) -> DeliveryTarget:
    if not isinstance(entry, dict):
        raise RecipientConfigError(f"{where}: delivery must be a mapping such as {{type: local}}")
    kind = entry.get("type", "local")
    unknown = set(entry) - {"type", "bucket", "prefix"}
    if unknown:
        raise RecipientConfigError(
            f"{where}: delivery has unknown keys {sorted(unknown)}; credentials and endpoints "
            "come from the environment (AWS_*), never from this file"
        )
    if kind == "local":
        return DeliveryTarget()
    if kind != "s3":
        raise RecipientConfigError(f"{where}: delivery type {kind!r} must be local or s3")
    bucket, prefix = str(entry.get("bucket", "")), str(entry.get("prefix", ""))
    if not BUCKET.fullmatch(bucket):
        raise RecipientConfigError(
            f"{where}: s3 delivery needs a bucket name (3-63 lower-case letters, digits, dots, "
            f"dashes), got {bucket!r}"
        )
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    if not PREFIX.fullmatch(prefix) or any(part in (".", "..") for part in prefix.split("/")):
        raise RecipientConfigError(
            f"{where}: s3 prefix {prefix!r} may hold letters, digits, `_.-` and `/` only, "
            "with no `.` or `..` segment"
        )
    return DeliveryTarget("s3", bucket, prefix)
