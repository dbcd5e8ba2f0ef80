"""The delivery key: an Ed25519 private key that signs each package's manifest.json.

A recipient verifies a package with the public key alone. The key id (the first 16 hex
characters of the SHA-256 of the raw 32-byte public key) names the key in the manifest, in
the keyring `<out>/exports/_keys/<key id>.pub` and in VERIFY.md, the instructions every
package carries.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    PublicFormat,
    load_pem_private_key,
    load_pem_public_key,
)

from deidentify.configuration import ConfigurationError
from lakehouse.storage import write_bytes_atomically

SIGNATURE_ALGORITHM = "ed25519"
SIGNATURE_FILE = "manifest.sig"
PUBLIC_KEY_FILE = "signing-key.pub"
VERIFY_FILE = "VERIFY.md"
KEYRING_DIR = "_keys"
KEY_ID_LENGTH = 16

# The demo key is public (anyone can derive it from this line): packages signed with it prove
# nothing. It is used only in demo mode, and recorded as the key version `demo-unsafe`.
DEMO_SIGNING_KEY = hashlib.sha256(b"demo-mode-signing-key-PUBLIC-do-not-use").hexdigest()
DEMO_KEY_VERSION = "demo-unsafe"

HOW_TO_CREATE = (
    "an unencrypted PKCS8 PEM (`openssl genpkey -algorithm ed25519 -out export-signing.pem`, "
    "then EXPORT_SIGNING_KEY_FILE=export-signing.pem, chmod 600) or 64 hex characters, a raw "
    "32-byte seed (`openssl rand -hex 32`)"
)
_HEX_SEED = re.compile(r"[0-9a-fA-F]{64}")


class MissingSigningKeyError(ConfigurationError, RuntimeError):
    """No usable delivery signing key: the message says how to set one."""


@dataclass(frozen=True)
class SigningKey:
    """The delivery key that signs manifests, and its version (the private key never leaves)."""

    private_key: Ed25519PrivateKey = field(repr=False)
    version: str

    def __repr__(self) -> str:
        return f"SigningKey(version={self.version!r}, key_id={self.key_id!r})"

    @classmethod
    def from_settings(
        cls,
        secret: str | None,
        version: str,
        demo_mode: bool,
        source: str = "EXPORT_SIGNING_KEY",
    ) -> SigningKey:
        """The key from the environment (`source` names where it came from, for the error);
        the public demo key only in demo mode."""
        if secret:
            return cls(parse_private_key(secret, source), version)
        if demo_mode:
            return cls(parse_private_key(DEMO_SIGNING_KEY, "the demo key"), DEMO_KEY_VERSION)
        raise MissingSigningKeyError(
            "EXPORT_SIGNING_KEY is not set: set it or EXPORT_SIGNING_KEY_FILE (and "
            f"EXPORT_SIGNING_KEY_VERSION) to an Ed25519 private key, {HOW_TO_CREATE}; or "
            "PIPELINES_DEMO_MODE=1 for the demo."
        )

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self.private_key.public_key()

    @property
    def key_id(self) -> str:
        return key_id(self.public_key)

    @property
    def public_pem(self) -> bytes:
        return public_pem(self.public_key)

    def sign(self, message: bytes) -> str:
        """The Ed25519 signature of `message`, base64 (88 characters)."""
        return base64.b64encode(self.private_key.sign(message)).decode("ascii")


def parse_private_key(secret: str, source: str) -> Ed25519PrivateKey:
    """An Ed25519 private key from a PKCS8 PEM or 64 hex characters; a one-line error saying
    how to make one otherwise (the message never holds the value)."""
    text = secret.strip()
    if _HEX_SEED.fullmatch(text):
        return Ed25519PrivateKey.from_private_bytes(bytes.fromhex(text))
    if text.startswith("-----BEGIN"):
        # A PEM pasted into a one-line setting often has its line breaks written as \n.
        pem = text.replace("\\n", "\n").encode()
        try:
            key = load_pem_private_key(pem, password=None)
        except TypeError:
            raise MissingSigningKeyError(
                f"{source} is an encrypted PEM: decrypt it "
                "(`openssl pkey -in key.pem -out export-signing.pem`) and keep the file 0600"
            ) from None
        except (ValueError, UnsupportedAlgorithm):
            key = None
        if isinstance(key, Ed25519PrivateKey):
            return key
        if key is not None:
            raise MissingSigningKeyError(
                f"{source} holds a key of type {type(key).__name__.removesuffix('PrivateKey')}, "
                f"not Ed25519: use {HOW_TO_CREATE}"
            )
    raise MissingSigningKeyError(f"{source} is not an Ed25519 private key: use {HOW_TO_CREATE}")


def key_id(public_key: Ed25519PublicKey) -> str:
    """First 16 hex characters of the SHA-256 of the raw 32-byte public key."""
    return hashlib.sha256(public_key.public_bytes_raw()).hexdigest()[:KEY_ID_LENGTH]


def public_pem(public_key: Ed25519PublicKey) -> bytes:
    """The public key as PEM SubjectPublicKeyInfo (what `openssl pkeyutl -pubin` reads)."""
    return public_key.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)


def load_public_key(pem: bytes) -> Ed25519PublicKey:
    """An Ed25519 public key from PEM SubjectPublicKeyInfo (`signing-key.pub`, the keyring)."""
    key = load_pem_public_key(pem)
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError(f"not an Ed25519 public key but {type(key).__name__}")
    return key


def signature_problem(message: bytes, signature: bytes, public_key: Ed25519PublicKey) -> str | None:
    """Why `signature` (the base64 text of manifest.sig) is not `public_key`'s signature of
    `message`, or None when it is."""
    try:
        raw = base64.b64decode(signature.strip(), validate=True)
    except ValueError:
        return f"{SIGNATURE_FILE} is not base64"
    try:
        public_key.verify(raw, message)
    except InvalidSignature:
        return f"{SIGNATURE_FILE} is not the signature of manifest.json by {key_id(public_key)}"
    return None


def publish_public_key(keyring: Path, key: SigningKey) -> Path:
    """Add the key's public half to the keyring, `<keyring>/<key id>.pub`, and return it.

    The keyring only grows: a key already there is left as it is, so after a rotation the old
    packages still verify with the old key.
    """
    target = keyring / f"{key.key_id}.pub"
    if target.exists():
        if target.read_bytes() != key.public_pem:
            raise MissingSigningKeyError(
                f"{target} holds another public key under the same key id: move it aside"
            )
        return target
    write_bytes_atomically(target, key.public_pem)
    return target


def verify_instructions(key: SigningKey) -> str:
    """VERIFY.md: how a recipient checks the package with standard tools, or with Python."""
    demo = (
        [
            "**This package was signed with the public demo key: its signature proves nothing.**",
            "",
        ]
        if key.version == DEMO_KEY_VERSION
        else []
    )
    return "\n".join(
        [
            "# How to verify this package",
            "",
            *demo,
            f"`manifest.json` is signed with Ed25519 by the key `{key.key_id}` (version "
            f"`{key.version}`). `{SIGNATURE_FILE}` holds the signature of the exact bytes of "
            f"`manifest.json`, base64-encoded on one line. `{PUBLIC_KEY_FILE}` is the public "
            "key (PEM) for convenience only: whoever could change the package could change it "
            "too. Compare the key id below with the one you received from us through another "
            "channel, or verify with the copy of our public key you keep instead of "
            f"`{PUBLIC_KEY_FILE}`.",
            "",
            "`manifest.json` lists the SHA-256 of every other file under `files`. `SHA256SUMS` "
            "holds the same digests (and that of `manifest.json`) in the format `sha256sum -c` "
            "reads; it is not signed itself, so the signed list is the one in `manifest.json`.",
            "",
            "With OpenSSL 3, coreutils and python3, in this folder (each command must succeed):",
            "",
            "```sh",
            "openssl pkey -pubin -in signing-key.pub -outform DER | tail -c 32 | sha256sum "
            "| cut -c1-16",
            "base64 -d manifest.sig > manifest.sig.bin",
            "openssl pkeyutl -verify -pubin -inkey signing-key.pub -rawin -in manifest.json "
            "-sigfile manifest.sig.bin",
            'python3 -c \'import json; [print(f"{d}  {n}") for n, d in '
            'sorted(json.load(open("manifest.json"))["files"].items())]\' | sha256sum -c -',
            "sha256sum -c SHA256SUMS",
            "```",
            "",
            "The first command prints the key id: it must be the one you expect. The second "
            "decodes the signature; the third prints `Signature Verified Successfully`. The "
            "fourth checks every file against the signed list in `manifest.json`; the last "
            "against `SHA256SUMS`.",
            "",
            "Or in Python with the `cryptography` package (raises an exception if anything is "
            "wrong):",
            "",
            "```python",
            "import base64, hashlib, json",
            "from cryptography.hazmat.primitives.serialization import load_pem_public_key",
            "",
            'key = load_pem_public_key(open("signing-key.pub", "rb").read())',
            'manifest = open("manifest.json", "rb").read()',
            'key.verify(base64.b64decode(open("manifest.sig", "rb").read()), manifest)',
            'for name, digest in json.loads(manifest)["files"].items():',
            '    assert hashlib.sha256(open(name, "rb").read()).hexdigest() == digest, name',
            "```",
            "",
        ]
    )
