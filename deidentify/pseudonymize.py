"""Keyed pseudonyms: HMAC-SHA256 of a value under a secret key, per namespace.

The same value gets the same pseudonym under one key (so joins and distinct counts work),
a different one under another key, and without the key nobody can test a guess. The key
never comes from the repository: it is read from the environment by the caller.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass, field

from deidentify.configuration import ConfigurationError

MIN_KEY_LENGTH = 32
DEMO_KEY = "demo-mode-key-PUBLIC-do-not-use-for-real-data-0000"
DEMO_KEY_VERSION = "demo-unsafe"


class MissingKeyError(ConfigurationError, RuntimeError):
    """No usable pseudonymization key: the message says how to provide one."""


@dataclass(frozen=True)
class PseudonymKey:
    """A secret key and the version label recorded with every output made with it."""

    secret: bytes = field(repr=False)
    version: str

    def __post_init__(self) -> None:
        if len(self.secret) < MIN_KEY_LENGTH:
            raise MissingKeyError(
                f"the pseudonymization key must be at least {MIN_KEY_LENGTH} bytes long, got "
                f"{len(self.secret)}: generate one with "
                "`python -c 'import secrets; print(secrets.token_hex(32))'`"
            )
        if not self.version:
            raise MissingKeyError("the pseudonymization key needs a version label")

    @classmethod
    def from_settings(
        cls, secret: str | None, version: str | None, demo_mode: bool
    ) -> PseudonymKey:
        """The key from configuration; the public demo key only when demo mode is on."""
        if secret:
            return cls(secret.encode(), version or "v1")
        if demo_mode:
            return cls(DEMO_KEY.encode(), DEMO_KEY_VERSION)
        raise MissingKeyError(
            "PSEUDONYMIZATION_KEY is not set. Set it (and PSEUDONYMIZATION_KEY_VERSION) in the "
            "environment to a random secret of at least 32 characters, e.g. "
            "`export PSEUDONYMIZATION_KEY="
            "$(python -c 'import secrets; print(secrets.token_hex(32))')`, "
            "or set PIPELINES_DEMO_MODE=1 to run the local demo with a public, unsafe key."
        )


def pseudonym(key: PseudonymKey, namespace: str, value: str) -> str:
    """32 hex characters (128 bits) of HMAC-SHA256(key, namespace + NUL + value)."""
    message = namespace.encode() + b"\x00" + value.encode("utf-8", "surrogatepass")
    return hmac.new(key.secret, message, hashlib.sha256).hexdigest()[:32]


def pseudonyms(
    key: PseudonymKey,
    namespace: str,
    values: Iterable[str | None],
    memo: dict[str, str] | None = None,
) -> list[str | None]:
    """Pseudonym of every value (None stays None), computing each distinct value once;
    `memo` (value -> pseudonym, for this key and namespace) carries them across calls. The
    HMAC is keyed and fed the namespace once, then copied per value: the same digest as
    `pseudonym`, without hashing the key again for every value."""
    seen: dict[str, str] = {} if memo is None else memo
    keyed = hmac.new(key.secret, namespace.encode() + b"\x00", hashlib.sha256)
    out: list[str | None] = []
    for value in values:
        if value is None:
            out.append(None)
            continue
        result = seen.get(value)
        if result is None:
            message = keyed.copy()
            message.update(value.encode("utf-8", "surrogatepass"))
            result = seen[value] = message.hexdigest()[:32]
        out.append(result)
    return out
