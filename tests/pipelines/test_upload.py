"""upload_package with boto3's managed transfer, against moto's in-memory S3 (no network):
manifest.sig last, no upload over an existing package, nothing left behind on failure."""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest
from boto3.exceptions import S3UploadFailedError
from botocore.exceptions import ClientError
from moto import mock_aws

from lakehouse import packaging
from lakehouse.packaging import RemotePackageExists, upload_package

PREFIX = "incoming/acme/2026-10/"
NAMES = ["README.md", "SHA256SUMS", "daily_traffic.csv", "manifest.json", "manifest.sig"]


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch):
    for name, value in {
        "AWS_ACCESS_KEY_ID": "test-access-key",
        "AWS_SECRET_ACCESS_KEY": "test-secret-key",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        client = boto3.client("s3")
        client.create_bucket(Bucket="drop")
        yield client


@pytest.fixture
def staging(tmp_path: Path) -> Path:
    for name in NAMES:
        (tmp_path / name).write_text(f"{name}\n")
    return tmp_path


def _keys(client) -> list[str]:
    return sorted(o["Key"] for o in client.list_objects_v2(Bucket="drop").get("Contents", []))


def _sent(client) -> list[str]:
    sent: list[str] = []
    for operation in ("PutObject", "CreateMultipartUpload"):
        client.meta.events.register(
            f"before-parameter-build.s3.{operation}", lambda params, **_: sent.append(params["Key"])
        )
    return sent


def test_every_file_goes_up_and_manifest_sig_last(s3, staging: Path) -> None:
    sent = _sent(s3)
    assert upload_package(s3, staging, "drop", PREFIX) == [PREFIX + n for n in NAMES]
    assert sent[-1] == PREFIX + "manifest.sig" and sorted(sent) == [PREFIX + n for n in NAMES]
    assert _keys(s3) == [PREFIX + n for n in NAMES]
    body = s3.get_object(Bucket="drop", Key=PREFIX + "manifest.json")["Body"].read()
    assert body == b"manifest.json\n"


def test_a_large_file_goes_up_in_parts(s3, staging: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        packaging,
        "UPLOAD_CONFIG",
        packaging.TransferConfig(multipart_threshold=5 * 2**20, multipart_chunksize=5 * 2**20),
    )
    big = (b"0123456789abcdef" * 2**16) * 6  # 6 MiB: two parts
    (staging / "daily_traffic.csv").write_bytes(big)
    upload_package(s3, staging, "drop", PREFIX)
    head = s3.head_object(Bucket="drop", Key=PREFIX + "daily_traffic.csv")
    assert head["ContentLength"] == len(big) and head["ETag"].endswith('-2"')


def test_a_prefix_that_holds_a_package_is_never_written_over(s3, staging: Path) -> None:
    s3.put_object(Bucket="drop", Key=PREFIX + "manifest.sig", Body=b"earlier")
    with pytest.raises(RemotePackageExists):
        upload_package(s3, staging, "drop", PREFIX)
    assert _keys(s3) == [PREFIX + "manifest.sig"]


def test_a_failed_upload_leaves_nothing_behind(s3, staging: Path) -> None:
    def refuse(params, **_) -> None:
        if params["Key"].endswith("manifest.json"):
            raise ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "PutObject")

    s3.meta.events.register("before-parameter-build.s3.PutObject", refuse)
    with pytest.raises(S3UploadFailedError, match="AccessDenied"):
        upload_package(s3, staging, "drop", PREFIX)
    assert _keys(s3) == []
