"""Export packages: files, data dictionary, manifest and its signature, moved into place whole."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import shutil
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from pipelines.storage import remove_orphans

MIN_SIGNING_KEY_LENGTH = 32
DEMO_SIGNING_KEY = "demo-mode-signing-key-PUBLIC-do-not-use-0000000"


class MissingSigningKeyError(RuntimeError):
    """No usable delivery signing key: the message says how to set one."""


@dataclass(frozen=True)
class SigningKey:
    """The delivery key recipients verify manifests with, and its version."""

    secret: bytes
    version: str

    def __repr__(self) -> str:
        return f"SigningKey(version={self.version!r})"

    @classmethod
    def from_settings(cls, secret: str | None, version: str, demo_mode: bool) -> SigningKey:
        """The key from the environment; the public demo key only in demo mode."""
        if secret:
            if len(secret) < MIN_SIGNING_KEY_LENGTH:
                raise MissingSigningKeyError(
                    f"EXPORT_SIGNING_KEY must be at least {MIN_SIGNING_KEY_LENGTH} characters"
                )
            return cls(secret.encode(), version)
        if demo_mode:
            return cls(DEMO_SIGNING_KEY.encode(), "demo-unsafe")
        raise MissingSigningKeyError(
            "EXPORT_SIGNING_KEY is not set: set it (and EXPORT_SIGNING_KEY_VERSION) to a secret of "
            "at least 32 characters shared with recipients, or PIPELINES_DEMO_MODE=1 for the demo."
        )


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def sign(manifest_bytes: bytes, key: SigningKey) -> str:
    """HMAC-SHA256 of the manifest's exact bytes, hex."""
    return hmac.new(key.secret, manifest_bytes, hashlib.sha256).hexdigest()


def verify_package(package: Path, key: SigningKey) -> list[str]:
    """What is wrong with a delivered package (empty when it verifies): hashes and signature."""
    problems = []
    manifest_bytes = (package / "manifest.json").read_bytes()
    expected = sign(manifest_bytes, key)
    if not hmac.compare_digest(expected, (package / "manifest.sig").read_text().strip()):
        problems.append("manifest.sig does not match manifest.json")
    manifest = json.loads(manifest_bytes)
    for name, digest in manifest["files"].items():
        if sha256_file(package / name) != digest:
            problems.append(f"{name}: SHA-256 differs from the manifest")
    return problems


def staging_folder(recipient_root: Path) -> Path:
    """A hidden folder beside the deliveries where a package is assembled."""
    recipient_root.mkdir(parents=True, exist_ok=True)
    remove_orphans(recipient_root, ".staging-*")
    folder = recipient_root / f".staging-{os.getpid()}-{uuid.uuid4().hex}"
    folder.mkdir()
    return folder


def seal(staging: Path, manifest: dict, key: SigningKey) -> None:
    """Write manifest.json (with every file's SHA-256) and manifest.sig into the staging folder."""
    manifest["files"] = {
        p.name: sha256_file(p) for p in sorted(staging.iterdir()) if p.name != "manifest.json"
    }
    manifest_bytes = json.dumps(manifest, indent=2, sort_keys=True).encode()
    (staging / "manifest.json").write_bytes(manifest_bytes)
    (staging / "manifest.sig").write_text(sign(manifest_bytes, key) + "\n")


def next_package_name(recipient_root: Path, period: str) -> tuple[str, str | None]:
    """(name of the next package for the period, name of the one it corrects or None).

    A delivered package is never overwritten: a rerun becomes `<period>-v2`, `-v3`, ...
    """
    version, name, previous = 1, period, None
    while (recipient_root / name).exists():
        previous = name
        version += 1
        name = f"{period}-v{version}"
    return name, previous


def deliver(staging: Path, recipient_root: Path, name: str) -> Path:
    """Rename the sealed package into place (refusing to replace an existing delivery)."""
    target = recipient_root / name
    if target.exists():
        raise FileExistsError(f"{target} was delivered meanwhile; rerun to make the next version")
    os.rename(staging, target)
    return target


def discard(staging: Path) -> None:
    """Remove a package that may not be delivered."""
    shutil.rmtree(staging, ignore_errors=True)


def append_audit(audit_file: Path, entry: dict) -> None:
    """Append one JSON line to the export audit trail."""
    audit_file.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps({"logged_at": datetime.now(UTC).isoformat(), **entry}, sort_keys=True)
    with open(audit_file, "a", encoding="utf-8") as stream:
        stream.write(line + "\n")


class RemotePackageExists(RuntimeError):
    """The bucket already holds a package under this name; it is never overwritten."""


def upload_package(client, staging: Path, bucket: str, key_prefix: str) -> list[str]:
    """Upload a sealed package to an S3-compatible bucket, `manifest.sig` last.

    A recipient takes a package as complete once its `manifest.sig` is present. Refuses a
    prefix that already holds objects; on any failure the objects uploaded so far are
    removed again (best effort) and the error is raised.
    """
    existing = client.list_objects_v2(Bucket=bucket, Prefix=key_prefix, MaxKeys=1)
    if existing.get("KeyCount", 0):
        raise RemotePackageExists(
            f"s3://{bucket}/{key_prefix} already holds a package; it is never overwritten"
        )
    files = sorted(staging.iterdir(), key=lambda p: (p.name == "manifest.sig", p.name))
    uploaded: list[str] = []
    try:
        for path in files:
            key = key_prefix + path.name
            with open(path, "rb") as body:
                client.put_object(Bucket=bucket, Key=key, Body=body)
            uploaded.append(key)
    except BaseException:
        for key in reversed(uploaded):
            try:
                client.delete_object(Bucket=bucket, Key=key)
            except Exception:
                continue
        raise
    return uploaded
