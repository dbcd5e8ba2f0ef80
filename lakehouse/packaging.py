"""Export packages: files, data dictionary, manifest and its signature, moved into place whole."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from boto3.s3.transfer import TransferConfig
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from lakehouse.faults import crash_point
from lakehouse.signing import (
    PUBLIC_KEY_FILE,
    SIGNATURE_ALGORITHM,
    SIGNATURE_FILE,
    VERIFY_FILE,
    SigningKey,
    key_id,
    signature_problem,
    verify_instructions,
)
from lakehouse.storage import remove_orphans, write_bytes_atomically


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify_package(package: Path, public_key: Ed25519PublicKey) -> list[str]:
    """What is wrong with a delivered package (empty when it verifies), with the public key
    only: the signature of manifest.json, the key it names, and every file against it."""
    problems = []
    manifest_bytes = (package / "manifest.json").read_bytes()
    signature = package / SIGNATURE_FILE
    if not signature.exists():
        problems.append(f"{SIGNATURE_FILE} is missing")
    else:
        problem = signature_problem(manifest_bytes, signature.read_bytes(), public_key)
        if problem:
            problems.append(problem)
    manifest = json.loads(manifest_bytes)
    named = (manifest.get("signature_algorithm"), manifest.get("signing_key_id"))
    if named != (SIGNATURE_ALGORITHM, key_id(public_key)):
        problems.append(f"manifest.json names the key {named}, not {key_id(public_key)}")
    for name, digest in manifest["files"].items():
        if not (package / name).is_file():
            problems.append(f"{name}: listed in the manifest but missing")
        elif sha256_file(package / name) != digest:
            problems.append(f"{name}: SHA-256 differs from the manifest")
    unlisted = {p.name for p in package.iterdir()} - set(manifest["files"]) - UNSIGNED_FILES
    problems += [f"{name}: not listed in the manifest" for name in sorted(unlisted)]
    return problems


def staging_folder(parent: Path) -> Path:
    """A hidden folder in `parent` where a package (or a draw, or a release) is assembled.

    Leftovers of dead writers in `parent` are removed first.
    """
    parent.mkdir(parents=True, exist_ok=True)
    remove_orphans(parent, ".staging-*")
    folder = parent / f".staging-{os.getpid()}-{uuid.uuid4().hex}"
    folder.mkdir()
    return folder


CHECKSUMS_FILE = "SHA256SUMS"
# The files a package holds beside those its manifest lists.
UNSIGNED_FILES = frozenset({"manifest.json", CHECKSUMS_FILE, SIGNATURE_FILE})
# Files that change with the signing key, not with the data: ignored by same_content.
KEY_FILES = frozenset({PUBLIC_KEY_FILE, VERIFY_FILE})


def seal(staging: Path, manifest: dict, key: SigningKey) -> None:
    """Write signing-key.pub, VERIFY.md, manifest.json (with every file's SHA-256),
    SHA256SUMS and manifest.sig into the staging folder.

    The manifest names the signature algorithm, the key id and the key version, and lists
    every other file, VERIFY.md and the public key included. manifest.sig is the Ed25519
    signature of manifest.json's exact bytes, base64. SHA256SUMS lists every file of the
    manifest and manifest.json in the format `sha256sum -c SHA256SUMS` reads.
    """
    (staging / PUBLIC_KEY_FILE).write_bytes(key.public_pem)
    (staging / VERIFY_FILE).write_text(verify_instructions(key))
    manifest["signature_algorithm"] = SIGNATURE_ALGORITHM
    manifest["signing_key_id"] = key.key_id
    manifest["signing_key_version"] = key.version
    manifest["files"] = {
        p.name: sha256_file(p) for p in sorted(staging.iterdir()) if p.name not in UNSIGNED_FILES
    }
    manifest_bytes = json.dumps(manifest, indent=2, sort_keys=True).encode()
    (staging / "manifest.json").write_bytes(manifest_bytes)
    sums = {**manifest["files"], "manifest.json": sha256_file(staging / "manifest.json")}
    (staging / CHECKSUMS_FILE).write_text(
        "".join(f"{digest}  {name}\n" for name, digest in sorted(sums.items()))
    )
    (staging / SIGNATURE_FILE).write_text(key.sign(manifest_bytes) + "\n")


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


# boto3's managed transfer: large files go up in parallel multipart chunks (a failed multipart
# upload is aborted), and every request is retried by the transfer manager.
UPLOAD_CONFIG = TransferConfig(multipart_threshold=64 * 1024 * 1024, max_concurrency=4)


def upload_package(client, staging: Path, bucket: str, key_prefix: str) -> list[str]:
    """Upload a sealed package to an S3-compatible bucket, `manifest.sig` last.

    A recipient takes a package as complete once its `manifest.sig` is present. Refuses a
    prefix that already holds objects; each file goes up with the client's managed transfer
    (`upload_file`, multipart for large files), one file after the other; on any failure the
    objects uploaded so far are removed again (best effort) and the error is raised.
    """
    existing = client.list_objects_v2(Bucket=bucket, Prefix=key_prefix, MaxKeys=1)
    if existing.get("KeyCount", 0):
        raise RemotePackageExists(
            f"s3://{bucket}/{key_prefix} already holds a package; it is never overwritten"
        )
    files = sorted(staging.iterdir(), key=lambda p: (p.name == SIGNATURE_FILE, p.name))
    uploaded: list[str] = []
    try:
        for path in files:
            key = key_prefix + path.name
            client.upload_file(str(path), bucket, key, Config=UPLOAD_CONFIG)
            uploaded.append(key)
    except BaseException:
        _delete_objects(client, bucket, list(reversed(uploaded)))
        raise
    return uploaded


def _delete_objects(client, bucket: str, keys: list[str]) -> None:
    """Delete the given objects, best effort: one that fails does not stop the others."""
    for key in keys:
        try:
            client.delete_object(Bucket=bucket, Key=key)
        except Exception:
            continue


# --- delivery journal ---------------------------------------------------------------------
#
# Delivering a package is three writes: the package renamed into place, the upload (for a
# bucket recipient, before the rename) and the audit line. A journal entry written before
# the first and removed after the last makes them one recoverable step: the next run finds
# the entry and either finishes the delivery (the package is in place: the audit line is
# added if it is missing) or rolls it back (the package never got into place: its staging
# folder and any uploaded objects are removed).


def journal_file(audit_dir: Path, recipient: str, package: str) -> Path:
    """`<out>/audit/pending/<recipient>--<package>.json`: a delivery under way."""
    return audit_dir / "pending" / f"{recipient}--{package}.json"


def begin_delivery(audit_dir: Path, entry: dict, staging: Path, remote_prefix: str | None) -> Path:
    """Record a delivery as pending before anything is delivered; returns the journal file."""
    journal = journal_file(audit_dir, entry["recipient"], entry["package"])
    payload = {"audit_entry": entry, "staging": str(staging), "remote_prefix": remote_prefix}
    write_bytes_atomically(journal, json.dumps(payload, sort_keys=True).encode())
    return journal


def audit_has(audit_file: Path, entry: dict) -> bool:
    """Whether the audit trail already holds the line of this delivery."""
    if not audit_file.exists():
        return False
    wanted = (entry["recipient"], entry["package"], entry["manifest_sha256"])
    with open(audit_file, encoding="utf-8") as stream:
        for line in stream:
            try:
                seen = json.loads(line)
            except ValueError:
                continue
            if (seen.get("recipient"), seen.get("package"), seen.get("manifest_sha256")) == wanted:
                return True
    return False


def recover_deliveries(
    audit_dir: Path,
    recipient: str,
    recipient_root: Path,
    remove_remote: Callable[[str], None] | None = None,
) -> list[str]:
    """Finish or roll back every half-done delivery of a recipient; says what it did.

    A package in place is delivered: its audit line is added if missing. A package not in
    place was never delivered: its staging folder, and for a bucket recipient the objects
    under its prefix, are removed.
    """
    done = []
    audit_file = audit_dir / "exports.jsonl"
    for journal in sorted((audit_dir / "pending").glob(f"{recipient}--*.json")):
        payload = json.loads(journal.read_text())
        entry = payload["audit_entry"]
        target = recipient_root / entry["package"]
        manifest = target / "manifest.json"
        if manifest.exists() and sha256_file(manifest) == entry["manifest_sha256"]:
            if not audit_has(audit_file, entry):
                append_audit(audit_file, {**entry, "note": "audit line completed by recovery"})
            done.append(f"{entry['package']}: delivery completed")
        else:
            discard(Path(payload["staging"]))
            if payload.get("remote_prefix") and remove_remote is not None:
                remove_remote(payload["remote_prefix"])
            done.append(f"{entry['package']}: half-done delivery rolled back")
        journal.unlink()
    return done


def finish_delivery(audit_dir: Path, journal: Path, entry: dict) -> None:
    """The package is in place: write its audit line, then close the journal entry."""
    append_audit(audit_dir / "exports.jsonl", entry)
    crash_point("delivery")
    journal.unlink()


def same_content(delivered: Path, staging: Path) -> bool:
    """Whether a sealed package holds exactly the files (same bytes) of a delivered one.

    The public key and VERIFY.md are left out: a package that differs only in the key that
    signs it is not delivered again (the old one still verifies with its key)."""
    try:
        before = json.loads((delivered / "manifest.json").read_text())["files"]
        after = json.loads((staging / "manifest.json").read_text())["files"]
    except (OSError, ValueError, KeyError):
        return False

    def data(files: dict) -> dict:
        return {name: digest for name, digest in files.items() if name not in KEY_FILES}

    return data(before) == data(after)


def remove_prefix(client, bucket: str, key_prefix: str) -> None:
    """Delete every object under a prefix (a rolled-back upload), best effort."""
    listing = client.list_objects_v2(Bucket=bucket, Prefix=key_prefix)
    _delete_objects(client, bucket, [item["Key"] for item in listing.get("Contents", [])])
