"""Dagster resources: where raw logs and outputs live, and the limits of ingestion."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import dagster as dg
from dagster_aws.s3 import S3Resource
from pydantic import Field

from deidentify.field_policy import DEFAULT_POLICY_PATH, FieldPolicy, load_field_policy
from deidentify.pseudonymize import MissingKeyError, PseudonymKey
from deidentify.sharing_policy import (
    DEFAULT_SHARING_POLICY_PATH,
    SharingPolicy,
    load_sharing_policy,
)
from lakehouse.ingest.bronze import IngestSettings
from lakehouse.ingest.raw_lines import DEFAULT_MAX_LINE_BYTES
from lakehouse.recipients import DEFAULT_RECIPIENTS_PATH
from lakehouse.signing import MissingSigningKeyError, SigningKey
from pipelines.locations import DEFAULT_OUT_DIR, DEFAULT_RAW_DIR, PROJECT_ROOT

__all__ = ["DEFAULT_OUT_DIR", "DEFAULT_RAW_DIR", "PROJECT_ROOT"]


class StorageResource(dg.ConfigurableResource):
    """The raw input folder (`events/`, `access/`) and the output root of every layer."""

    raw_dir: str = Field(description="Folder holding events/*.jsonl[.gz] and access/*.log[.gz].")
    out_dir: str = Field(description="Root of bronze/, quarantine/ and the later layers.")

    @property
    def raw_path(self) -> Path:
        """The raw folder as a Path."""
        return Path(self.raw_dir).expanduser()

    @property
    def out_path(self) -> Path:
        """The output root as a Path."""
        return Path(self.out_dir).expanduser()


class IngestionResource(dg.ConfigurableResource):
    """How strict bronze ingestion is; checked when the code location loads."""

    max_rejected_share: float = Field(
        default=0.02,
        ge=0.0,
        le=1.0,
        description="Fail a partition when more than this share of its lines is quarantined.",
    )
    tolerated_rejects: int = Field(
        default=10,
        ge=0,
        description="A partition never fails for this many rejected lines or fewer.",
    )
    max_line_bytes: int = Field(
        default=DEFAULT_MAX_LINE_BYTES,
        ge=1024,
        description="Longer lines are quarantined without being held in memory.",
    )
    batch_rows: int = Field(default=50_000, ge=1, description="Rows per Parquet record batch.")

    def settings(self) -> IngestSettings:
        """The plain settings object the ingest library takes."""
        return IngestSettings(
            max_rejected_share=self.max_rejected_share,
            tolerated_rejects=self.tolerated_rejects,
            max_line_bytes=self.max_line_bytes,
            batch_rows=self.batch_rows,
        )


class PseudonymizationResource(dg.ConfigurableResource):
    """The pseudonymization key. Set `key` from `dg.EnvVar("PSEUDONYMIZATION_KEY")`, never in code.

    Without a key a run that needs one refuses to start its step, unless `demo_mode` is on
    (PIPELINES_DEMO_MODE=1): then a public, unsafe key is used and recorded as `demo-unsafe`.
    """

    key: str | None = Field(default=None, description="Secret, at least 32 characters.")
    key_file: str | None = Field(
        default=None,
        description="Or: a file holding the secret, outside the repository, owner-only (0600).",
    )
    key_version: str = Field(default="v1", description="Recorded with every output.")
    demo_mode: bool = Field(default=False, description="Allow the public demo key.")

    def pseudonym_key(self) -> PseudonymKey:
        """The key, or MissingKeyError saying how to provide one."""
        secret = self.key or read_secret_file(self.key_file, MissingKeyError)
        return PseudonymKey.from_settings(secret, self.key_version, self.demo_mode)

    def key_for_step(self) -> PseudonymKey:
        """The key, or a Dagster failure that says how to provide one and is not retried."""
        try:
            return self.pseudonym_key()
        except MissingKeyError as exc:
            raise dg.Failure(description=str(exc), allow_retries=False) from exc


class DeidentificationResource(dg.ConfigurableResource):
    """The field policy file and how much of the machine de-identification may use."""

    field_policy_path: str = Field(default=str(DEFAULT_POLICY_PATH))
    workers: int = Field(default=0, ge=0, description="NER processes; 0 = one per core.")
    batch_rows: int = Field(default=50_000, ge=1, description="Rows per batch read from bronze.")
    engine: Literal["in_process", "dask"] = Field(
        default="in_process",
        description="Where batches are de-identified: in this process, or on a Dask cluster.",
    )
    dask_scheduler: str | None = Field(
        default=None,
        description=(
            "Address of a running Dask scheduler (tcp://host:8786, tls://... for a real "
            "cluster); unset with engine=dask: a LocalCluster of `workers` processes."
        ),
    )

    def field_policy(self) -> FieldPolicy:
        """The validated field policy."""
        return load_field_policy(Path(self.field_policy_path))

    def worker_count(self) -> int:
        """Processes for NER on large partitions."""
        return self.workers or (os.cpu_count() or 1)


class SharingPolicyResource(dg.ConfigurableResource):
    """The sharing policy (YAML): datasets, categories, recipient classes, k."""

    path: str = Field(default=str(DEFAULT_SHARING_POLICY_PATH))

    def policy(self) -> SharingPolicy:
        """The validated sharing policy."""
        return load_sharing_policy(Path(self.path))


class DeliveryResource(dg.ConfigurableResource):
    """The Ed25519 private key that signs export manifests (from `dg.EnvVar("EXPORT_SIGNING_KEY")`
    or a file); recipients verify with its public key."""

    signing_key_value: str | None = Field(
        default=None,
        description="Ed25519 private key: an unencrypted PKCS8 PEM, or 64 hex characters.",
    )
    signing_key_file: str | None = Field(
        default=None,
        description="Or: a file holding the key, outside the repository, owner-only (0600).",
    )
    key_version: str = Field(default="v1", description="Recorded in every manifest.")
    demo_mode: bool = Field(default=False, description="Allow the public demo key.")
    recipients_path: str = Field(default=str(DEFAULT_RECIPIENTS_PATH))

    def signing_key(self) -> SigningKey:
        """The delivery key, or MissingSigningKeyError saying how to set one."""
        if self.signing_key_value:
            secret, source = self.signing_key_value, "EXPORT_SIGNING_KEY"
        else:
            secret = read_secret_file(self.signing_key_file, MissingSigningKeyError)
            source = f"the key file {self.signing_key_file}"
        return SigningKey.from_settings(secret, self.key_version, self.demo_mode, source)


def read_secret_file(path: str | None, error: type[Exception]) -> str | None:
    """The secret in `path` (stripped), refusing a file inside the repository or readable by
    others: a key in the working tree ends up in a commit, a 0644 key in someone's hands."""
    if not path:
        return None
    file = Path(path).expanduser().resolve()
    if file.is_relative_to(PROJECT_ROOT):
        raise error(f"the key file {file} is inside the repository: keep secrets outside it")
    try:
        mode = file.stat().st_mode
        secret = file.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise error(f"cannot read the key file {file}: {exc.strerror}") from exc
    if mode & 0o077:
        raise error(f"the key file {file} is readable by others: `chmod 600 {file}`")
    return secret or None


def pseudonymization_from_env() -> PseudonymizationResource:
    """The key resource as the environment configures it (the secret stays an EnvVar)."""
    has_key = bool(os.environ.get("PSEUDONYMIZATION_KEY"))
    return PseudonymizationResource(
        key=dg.EnvVar("PSEUDONYMIZATION_KEY") if has_key else None,
        key_file=os.environ.get("PSEUDONYMIZATION_KEY_FILE") or None,
        key_version=os.environ.get("PSEUDONYMIZATION_KEY_VERSION", "v1"),
        demo_mode=os.environ.get("PIPELINES_DEMO_MODE", "") == "1",
    )


def pseudonym_key_from_env() -> PseudonymKey:
    """The pseudonymization key resolved from the environment now, for work done outside a
    Dagster run (the resource's EnvVar is resolved only when a run starts)."""
    return PseudonymizationResource(
        key=os.environ.get("PSEUDONYMIZATION_KEY") or None,
        key_file=os.environ.get("PSEUDONYMIZATION_KEY_FILE") or None,
        key_version=os.environ.get("PSEUDONYMIZATION_KEY_VERSION", "v1"),
        demo_mode=os.environ.get("PIPELINES_DEMO_MODE", "") == "1",
    ).pseudonym_key()


def signing_key_from_env() -> SigningKey:
    """The export signing key resolved from the environment now (a check before a run)."""
    return DeliveryResource(
        signing_key_value=os.environ.get("EXPORT_SIGNING_KEY") or None,
        signing_key_file=os.environ.get("EXPORT_SIGNING_KEY_FILE") or None,
        key_version=os.environ.get("EXPORT_SIGNING_KEY_VERSION", "v1"),
        demo_mode=os.environ.get("PIPELINES_DEMO_MODE", "") == "1",
    ).signing_key()


def default_resources(raw_dir: Path | None = None, out_dir: Path | None = None) -> dict:
    """Resources for the code location: paths from arguments, the environment, or the defaults.

    The field policy is loaded here once, so that a broken policy stops the code location
    from loading (with the policy's own error message) instead of failing mid-run.
    """
    raw = raw_dir or Path(os.environ.get("PIPELINES_RAW_DIR", DEFAULT_RAW_DIR))
    out = out_dir or Path(os.environ.get("PIPELINES_OUT_DIR", DEFAULT_OUT_DIR))
    policy_path = Path(os.environ.get("PIPELINES_FIELD_POLICY", DEFAULT_POLICY_PATH))
    load_field_policy(policy_path)
    sharing_path = Path(os.environ.get("PIPELINES_SHARING_POLICY", DEFAULT_SHARING_POLICY_PATH))
    load_sharing_policy(sharing_path)
    return {
        "storage": StorageResource(raw_dir=str(raw), out_dir=str(out)),
        "ingestion": IngestionResource(),
        "pseudonymization": pseudonymization_from_env(),
        "deidentification": DeidentificationResource(field_policy_path=str(policy_path)),
        "sharing": SharingPolicyResource(path=str(sharing_path)),
        "delivery": DeliveryResource(
            signing_key_value=dg.EnvVar("EXPORT_SIGNING_KEY")
            if os.environ.get("EXPORT_SIGNING_KEY")
            else None,
            signing_key_file=os.environ.get("EXPORT_SIGNING_KEY_FILE") or None,
            key_version=os.environ.get("EXPORT_SIGNING_KEY_VERSION", "v1"),
            demo_mode=os.environ.get("PIPELINES_DEMO_MODE", "") == "1",
        ),
        # Used only by recipients delivered to a bucket. boto3 reads the credentials, region
        # and AWS_ENDPOINT_URL (for an S3-compatible store) from the environment.
        "s3": S3Resource(),
    }
