"""Linking a web request to the account its log line names (`remote_user`).

The directory that maps a logged e-mail address or user id to the account's user id is
built by the plumbing from bronze and handed in as a plain mapping; here it only becomes
the account's pseudonym, so silver carries `user_key` and never the address.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from deidentify.pseudonymize import PseudonymKey, pseudonyms


def normalize_account_value(value: object) -> str | None:
    """The form a `remote_user` or e-mail is looked up by: trimmed, e-mail lower-cased.

    `-` (the log's "absent") and empty values name nobody.
    """
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text or text == "-":
        return None
    return text.lower() if "@" in text else text


def account_keys(
    key: PseudonymKey,
    namespace: str,
    values: Iterable[object],
    accounts: Mapping[str, str],
) -> list[str | None]:
    """The account pseudonym each logged value names, or None when no account is known for it."""
    user_ids = [accounts.get(normalize_account_value(v) or "") for v in values]
    return pseudonyms(key, namespace, user_ids)
