"""Keys come from the environment or an owner-only file outside the repo, and never leak out."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from deidentify.pseudonymize import MissingKeyError
from lakehouse.signing import KEYRING_DIR, MissingSigningKeyError
from pipelines.resources import PROJECT_ROOT, DeliveryResource, PseudonymizationResource
from pipelines.sample.generator import GeneratorConfig, generate
from tests.conftest import run_pipeline_cli

PSEUDONYMIZATION_SECRET = "pseudonymization-secret-Zq81xWv3Lp0Tt5Yr7Hh2"
SIGNING_SEED = bytes.fromhex("5a" * 16 + "a5" * 16)
SIGNING_KEY = Ed25519PrivateKey.from_private_bytes(SIGNING_SEED)
# The signing key as `openssl genpkey -algorithm ed25519` writes it.
SIGNING_PEM = SIGNING_KEY.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())


def test_a_key_file_outside_the_repo_and_owner_only_is_read(tmp_path: Path) -> None:
    key_file = tmp_path / "pseudonymization.key"
    key_file.write_text(PSEUDONYMIZATION_SECRET + "\n")
    key_file.chmod(0o600)
    key = PseudonymizationResource(key_file=str(key_file), key_version="f1").pseudonym_key()
    assert key.secret == PSEUDONYMIZATION_SECRET.encode() and key.version == "f1"

    key_file.chmod(0o644)
    with pytest.raises(MissingKeyError, match="chmod 600"):
        PseudonymizationResource(key_file=str(key_file)).pseudonym_key()
    with pytest.raises(MissingSigningKeyError, match="chmod 600"):
        DeliveryResource(signing_key_file=str(key_file)).signing_key()


def test_a_key_file_inside_the_repository_is_refused() -> None:
    inside = PROJECT_ROOT / "pyproject.toml"
    with pytest.raises(MissingKeyError, match="inside the repository"):
        PseudonymizationResource(key_file=str(inside)).pseudonym_key()


def test_no_output_and_no_dagster_event_log_holds_a_key(tmp_path: Path) -> None:
    raw, out, home = tmp_path / "raw", tmp_path / "out", tmp_path / "dagster_home"
    home.mkdir()
    generate(GeneratorConfig(out=raw, days=2, users=120, seed=8, malformed_rate=0.01))
    (raw / "requests").mkdir()
    (raw / "requests" / "erase.csv").write_text("usr_000000000000\n")
    signing_file = tmp_path / "secrets" / "signing.key"
    signing_file.parent.mkdir()
    signing_file.write_bytes(SIGNING_PEM)
    signing_file.chmod(0o600)
    result = run_pipeline_cli(
        raw,
        out,
        {
            "DAGSTER_HOME": str(home),
            "PSEUDONYMIZATION_KEY": PSEUDONYMIZATION_SECRET,
            "PSEUDONYMIZATION_KEY_VERSION": "s1",
            "EXPORT_SIGNING_KEY_FILE": str(signing_file),
        },
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert list((out / "exports").glob("*/*/manifest.sig")), "the run delivered packages"
    assert list((out / "exports" / KEYRING_DIR).glob("*.pub")), "the public key is published"
    assert any(home.rglob("*.db")), "the run's events went to the instance's event log"
    secrets = [
        PSEUDONYMIZATION_SECRET.encode(),
        SIGNING_SEED,
        SIGNING_SEED.hex().encode(),
        b"".join(SIGNING_PEM.splitlines()[1:-1]),
        SIGNING_KEY.private_bytes(Encoding.DER, PrivateFormat.PKCS8, NoEncryption()),
    ]
    for text in (result.stdout, result.stderr):
        assert not any(secret in text.encode() for secret in secrets)
    for folder in (out, home):
        for path in folder.rglob("*"):
            if path.is_file():
                content = path.read_bytes()
                assert not any(secret in content for secret in secrets), path

    for layer in ("bronze", "quarantine", "erasure", ".locks"):
        for path in [out / layer, *(out / layer).rglob("*")]:
            mode = stat.S_IMODE(path.stat().st_mode)
            assert mode & 0o077 == 0, f"{path} is {oct(mode)}: personal data must be owner-only"
