"""Recipients of export packages, as configuration, checked against the sharing policy on load."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from deidentify.disclosure import MIN_K
from deidentify.sharing_policy import PolicyViolation, SharingPolicy

DEFAULT_RECIPIENTS_PATH = Path(__file__).parent / "recipients.yaml"
SLUG = re.compile(r"[a-z0-9][a-z0-9-]{1,62}")
FORMATS = ("csv", "parquet")


class RecipientConfigError(ValueError):
    """recipients.yaml is invalid; the message names the recipient and what to fix."""


@dataclass(frozen=True)
class Recipient:
    """One partner or advertiser and what it receives."""

    name: str
    recipient_class: str
    datasets: tuple[str, ...]
    k: int
    formats: tuple[str, ...]
    cadence: str


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
        k = entry.get("k", policy.k)
        formats = tuple(entry.get("formats") or ("csv",))
        cadence = entry.get("cadence", "monthly")
        delivery = (entry.get("delivery") or {"type": "local"}).get("type")
        if not isinstance(k, int) or k < MIN_K:
            raise RecipientConfigError(
                f"{where}: k={k!r} must be a whole number of at least {MIN_K}"
            )
        if not formats or set(formats) - set(FORMATS):
            raise RecipientConfigError(f"{where}: formats must be among {FORMATS}, got {formats}")
        if cadence != "monthly":
            raise RecipientConfigError(
                f"{where}: cadence {cadence!r} is not available yet; use monthly (weekly gold "
                "partitions are not built)"
            )
        if delivery != "local":
            raise RecipientConfigError(
                f"{where}: delivery type {delivery!r} is not available; use local"
            )
        datasets = tuple(entry.get("datasets") or ())
        if not datasets:
            raise RecipientConfigError(f"{where}: list the datasets it receives")
        for dataset in datasets:
            try:
                policy.check_recipient(str(recipient_class), dataset)
            except PolicyViolation as exc:
                raise RecipientConfigError(f"{where}: {exc}") from exc
        recipients.append(Recipient(name, str(recipient_class), datasets, k, formats, cadence))
    return recipients
