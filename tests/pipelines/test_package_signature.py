"""A package verifies with the public key alone, by the commands its VERIFY.md gives (OpenSSL,
coreutils) and in Python; a changed manifest, a changed file or another key fails; the private
key is in no file; the keyring keeps every key a package was signed with."""

from __future__ import annotations

import base64
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.rsa import generate_private_key
from cryptography.hazmat.primitives.serialization import (
    BestAvailableEncryption,
    Encoding,
    NoEncryption,
    PrivateFormat,
)

from lakehouse.packaging import same_content, seal, verify_package
from lakehouse.signing import (
    DEMO_KEY_VERSION,
    KEYRING_DIR,
    MissingSigningKeyError,
    SigningKey,
    load_public_key,
    publish_public_key,
)
from pipelines.resources import DeliveryResource

SEED = "5eed" * 16
OTHER_SEED = "0ddc0ffee" * 7 + "0"


def _seal(folder: Path, key: SigningKey, rows: str = '"2026-10-01",120\n') -> Path:
    folder.mkdir(parents=True)
    (folder / "daily_traffic.csv").write_text('"day","page_views"\n' + rows)
    (folder / "README.md").write_text("# data dictionary\n")
    seal(folder, {"recipient": "acme"}, key)
    return folder


@pytest.fixture
def key() -> SigningKey:
    return SigningKey.from_settings(SEED, "k1", demo_mode=False)


def test_a_package_verifies_with_the_public_key_it_carries_and_names(
    tmp_path: Path, key: SigningKey
) -> None:
    package = _seal(tmp_path / "package", key)
    public = load_public_key((package / "signing-key.pub").read_bytes())
    assert verify_package(package, public) == []
    manifest = (package / "manifest.json").read_text()
    assert '"signature_algorithm": "ed25519"' in manifest
    assert f'"signing_key_id": "{key.key_id}"' in manifest
    assert '"signing_key_version": "k1"' in manifest
    assert re.fullmatch(r"[0-9a-f]{16}", key.key_id)
    assert (
        len(base64.b64decode((package / "manifest.sig").read_text().strip(), validate=True)) == 64
    )
    verify_md = (package / "VERIFY.md").read_text()
    assert key.key_id in verify_md and "openssl pkeyutl -verify" in verify_md
    assert "demo key" not in verify_md


def test_a_changed_manifest_a_changed_file_or_another_key_fails(
    tmp_path: Path, key: SigningKey
) -> None:
    package = _seal(tmp_path / "package", key)
    other = SigningKey.from_settings(OTHER_SEED, "k1", demo_mode=False)
    assert verify_package(package, other.public_key), "another key's public half must fail"

    data = package / "daily_traffic.csv"
    data.write_text('"day","page_views"\n"2026-10-01",999\n')
    assert verify_package(package, key.public_key) == [
        "daily_traffic.csv: SHA-256 differs from the manifest"
    ]

    forged = _seal(tmp_path / "forged", key)
    manifest = forged / "manifest.json"
    manifest.write_bytes(manifest.read_bytes().replace(b'"acme"', b'"evil"'))
    assert any(
        "manifest.sig is not the signature" in p for p in verify_package(forged, key.public_key)
    )

    # Somebody re-signs a changed package with their own key and ships their public key:
    # it is consistent, so only the key the recipient pinned tells it apart.
    resigned = _seal(tmp_path / "resigned", other)
    assert (
        verify_package(resigned, load_public_key((resigned / "signing-key.pub").read_bytes())) == []
    )
    assert verify_package(resigned, key.public_key)

    (package / "extra.csv").write_text("smuggled\n")
    assert "extra.csv: not listed in the manifest" in verify_package(package, key.public_key)


def test_the_private_key_is_in_no_file_of_the_package_or_the_keyring(tmp_path: Path) -> None:
    private = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(SEED))
    key = SigningKey(private, "k1")
    package = _seal(tmp_path / "exports" / "acme" / "2026-10", key)
    publish_public_key(tmp_path / "exports" / KEYRING_DIR, key)
    raw = private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    der = private.private_bytes(Encoding.DER, PrivateFormat.PKCS8, NoEncryption())
    pem = private.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    pem_body = b"".join(pem.splitlines()[1:-1])
    forms = [
        raw,
        der,
        pem_body,
        raw.hex().encode(),
        raw.hex().upper().encode(),
        base64.b64encode(raw),
    ]
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert {p.name for p in files} >= {"manifest.sig", "signing-key.pub", f"{key.key_id}.pub"}
    for path in files:
        content = path.read_bytes()
        assert not any(form in content for form in forms), path
    assert SEED not in repr(key) and raw.hex() not in repr(key)
    assert package.exists()


def test_the_keyring_keeps_every_key_and_an_old_package_verifies_after_a_rotation(
    tmp_path: Path, key: SigningKey
) -> None:
    keyring = tmp_path / "exports" / KEYRING_DIR
    old = _seal(tmp_path / "exports" / "acme" / "2026-09", key)
    publish_public_key(keyring, key)
    rotated = SigningKey.from_settings(OTHER_SEED, "k2", demo_mode=False)
    new = _seal(tmp_path / "exports" / "acme" / "2026-10", rotated)
    publish_public_key(keyring, rotated)
    publish_public_key(keyring, key)  # publishing again changes nothing

    assert sorted(p.name for p in keyring.iterdir()) == sorted(
        [f"{key.key_id}.pub", f"{rotated.key_id}.pub"]
    )
    for package, signer in ((old, key), (new, rotated)):
        named = re.search(
            r'"signing_key_id": "([0-9a-f]+)"', (package / "manifest.json").read_text()
        )
        public = load_public_key((keyring / f"{named.group(1)}.pub").read_bytes())
        assert named.group(1) == signer.key_id
        assert verify_package(package, public) == []
    assert verify_package(old, rotated.public_key), "the new key does not verify the old package"


def test_demo_mode_signs_with_a_fixed_public_key_labelled_unsafe(tmp_path: Path) -> None:
    first = SigningKey.from_settings(None, "v1", demo_mode=True)
    again = SigningKey.from_settings(None, "v9", demo_mode=True)
    assert first.version == DEMO_KEY_VERSION == "demo-unsafe"
    assert first.key_id == again.key_id
    package = _seal(tmp_path / "package", first)
    assert verify_package(package, again.public_key) == []
    assert "signature proves nothing" in (package / "VERIFY.md").read_text()
    with pytest.raises(MissingSigningKeyError, match="EXPORT_SIGNING_KEY is not set"):
        SigningKey.from_settings(None, "v1", demo_mode=False)


def _pem(private, password: bytes | None = None) -> str:
    encryption = BestAvailableEncryption(password) if password else NoEncryption()
    return private.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, encryption).decode()


def test_a_pem_in_the_variable_or_in_a_file_is_read(tmp_path: Path) -> None:
    private = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(SEED))
    expected = SigningKey(private, "k1").key_id
    assert DeliveryResource(signing_key_value=_pem(private)).signing_key().key_id == expected
    escaped = _pem(private).replace("\n", "\\n")
    assert DeliveryResource(signing_key_value=escaped).signing_key().key_id == expected
    key_file = tmp_path / "export-signing.pem"
    key_file.write_text(_pem(private))
    key_file.chmod(0o600)
    from_file = DeliveryResource(signing_key_file=str(key_file), key_version="k7").signing_key()
    assert (from_file.key_id, from_file.version) == (expected, "k7")


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("export-signing-key-0123456789abcdef0123", "is not an Ed25519 private key"),
        ("abcd" * 15, "is not an Ed25519 private key"),
        (
            "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----",
            "is not an Ed25519",
        ),
        (
            _pem(generate_private_key(public_exponent=65537, key_size=1024)),
            "holds a key of type RSA, not Ed25519",
        ),
        (_pem(Ed25519PrivateKey.generate(), b"passphrase"), "is an encrypted PEM"),
    ],
    ids=["a password", "too short hex", "broken pem", "rsa pem", "encrypted pem"],
)
def test_a_malformed_key_stops_with_a_one_line_error_saying_how_to_make_one(
    tmp_path: Path, value: str, says: str
) -> None:
    with pytest.raises(MissingSigningKeyError) as raised:
        DeliveryResource(signing_key_value=value).signing_key()
    message = str(raised.value)
    assert message.startswith("EXPORT_SIGNING_KEY ") and says in message
    assert "\n" not in message
    if "encrypted" not in says:
        assert "openssl genpkey -algorithm ed25519" in message and "openssl rand -hex 32" in message
    assert value.strip() not in message and "bm90IGEga2V5" not in message
    key_file = tmp_path / "signing.pem"
    key_file.write_text(value)
    key_file.chmod(0o600)
    with pytest.raises(MissingSigningKeyError, match=f"the key file {re.escape(str(key_file))} "):
        DeliveryResource(signing_key_file=str(key_file)).signing_key()


def _verify_commands(package: Path) -> list[str]:
    """The shell commands of the package's VERIFY.md, exactly as a recipient reads them."""
    text = (package / "VERIFY.md").read_text()
    (block,) = re.findall(r"```sh\n(.*?)```", text, re.S)
    return block.strip().splitlines()


def _run(command: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", "-o", "pipefail", "-c", command], cwd=cwd, capture_output=True, text=True
    )


def _openssl_can_verify_ed25519() -> bool:
    if not (shutil.which("openssl") and shutil.which("sha256sum") and shutil.which("python3")):
        return False
    usage = subprocess.run(["openssl", "pkeyutl", "-help"], capture_output=True, text=True)
    return "-rawin" in usage.stdout + usage.stderr


@pytest.mark.skipif(
    not _openssl_can_verify_ed25519(),
    reason="needs OpenSSL 3 (pkeyutl -rawin for Ed25519), coreutils' sha256sum and python3",
)
def test_the_commands_of_verify_md_pass_and_catch_every_change(
    tmp_path: Path, key: SigningKey
) -> None:
    package = _seal(tmp_path / "package", key)
    commands = _verify_commands(package)
    assert len(commands) == 5
    results = [_run(command, package) for command in commands]
    assert [r.returncode for r in results] == [0] * 5, [r.stdout + r.stderr for r in results]
    key_id_printed, _, openssl_verify, against_manifest, against_sums = results
    assert key_id_printed.stdout.strip() == key.key_id
    assert "Signature Verified Successfully" in openssl_verify.stdout
    assert "daily_traffic.csv: OK" in against_manifest.stdout
    assert "manifest.json: OK" in against_sums.stdout

    # A changed data file (with SHA256SUMS changed to match): only the signed list catches it.
    changed = _seal(tmp_path / "changed", key)
    (changed / "daily_traffic.csv").write_text('"day","page_views"\n"2026-10-01",999\n')
    sums = _run(
        "sha256sum daily_traffic.csv README.md VERIFY.md manifest.json signing-key.pub", changed
    )
    (changed / "SHA256SUMS").write_text(sums.stdout)
    codes = [_run(command, changed).returncode for command in commands]
    assert codes[2] == 0 and codes[3] != 0 and codes[4] == 0

    # A changed manifest: the signature fails.
    forged = _seal(tmp_path / "forged", key)
    manifest = forged / "manifest.json"
    manifest.write_bytes(manifest.read_bytes().replace(b'"acme"', b'"evil"'))
    codes = [_run(command, forged).returncode for command in commands]
    assert codes[2] != 0

    # Signed by another key: with the recipient's pinned copy of our key, the signature fails;
    # with the key shipped inside, the key id printed is not the one expected.
    other = SigningKey.from_settings(OTHER_SEED, "k1", demo_mode=False)
    resigned = _seal(tmp_path / "resigned", other)
    pinned = tmp_path / "our-key.pub"
    pinned.write_bytes(key.public_pem)
    printed = _run(commands[0], resigned)
    assert printed.returncode == 0 and printed.stdout.strip() != key.key_id
    assert _run(commands[1], resigned).returncode == 0
    with_pinned = commands[2].replace("signing-key.pub", str(pinned))
    assert with_pinned != commands[2]
    assert _run(with_pinned, resigned).returncode != 0
    assert _run(with_pinned, package).returncode == 0


def test_the_python_lines_of_verify_md_pass_and_fail(tmp_path: Path, key: SigningKey) -> None:
    import sys

    package = _seal(tmp_path / "package", key)
    (code,) = re.findall(r"```python\n(.*?)```", (package / "VERIFY.md").read_text(), re.S)

    def run(folder: Path) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-c", code], cwd=folder, capture_output=True, text=True
        )

    assert run(package).returncode == 0, run(package).stderr
    (package / "daily_traffic.csv").write_text("changed\n")
    assert "AssertionError: daily_traffic.csv" in run(package).stderr
    forged = _seal(tmp_path / "forged", key)
    manifest = forged / "manifest.json"
    manifest.write_bytes(manifest.read_bytes().replace(b'"acme"', b'"evil"'))
    assert "InvalidSignature" in run(forged).stderr


def test_a_new_key_alone_is_no_new_content_and_the_keyring_never_replaces_a_key(
    tmp_path: Path, key: SigningKey
) -> None:
    rotated = SigningKey.from_settings(OTHER_SEED, "k2", demo_mode=False)
    delivered = _seal(tmp_path / "delivered", key)
    assert same_content(delivered, _seal(tmp_path / "same-data", rotated))
    assert not same_content(delivered, _seal(tmp_path / "new-data", rotated, '"2026-10-01",7\n'))

    keyring = tmp_path / KEYRING_DIR
    planted = keyring / f"{key.key_id}.pub"
    keyring.mkdir()
    planted.write_bytes(rotated.public_pem)
    with pytest.raises(MissingSigningKeyError, match="another public key under the same key id"):
        publish_public_key(keyring, key)
    assert planted.read_bytes() == rotated.public_pem
