from __future__ import annotations

import pytest

from deidentify.pseudonymize import (
    DEMO_KEY_VERSION,
    MissingKeyError,
    PseudonymKey,
    pseudonym,
    pseudonyms,
)

KEY_A = PseudonymKey(b"a" * 32, "a1")
KEY_B = PseudonymKey(b"b" * 32, "b1")


def test_stable_for_one_key_different_across_keys_and_namespaces() -> None:
    assert pseudonym(KEY_A, "user", "usr_1") == pseudonym(KEY_A, "user", "usr_1")
    assert pseudonym(KEY_A, "user", "usr_1") != pseudonym(KEY_B, "user", "usr_1")
    assert pseudonym(KEY_A, "user", "usr_1") != pseudonym(KEY_A, "org", "usr_1")
    assert len(pseudonym(KEY_A, "user", "usr_1")) == 32


def test_batch_keeps_nulls_and_matches_single_values() -> None:
    assert pseudonyms(KEY_A, "user", ["x", None, "x"]) == [
        pseudonym(KEY_A, "user", "x"),
        None,
        pseudonym(KEY_A, "user", "x"),
    ]
    values = ["", "é", "\ud800 lone surrogate", "usr_1", "a\x00b", "x" * 200]
    for namespace in ("user", "", "event"):
        assert pseudonyms(KEY_A, namespace, values) == [
            pseudonym(KEY_A, namespace, v) for v in values
        ]


def test_missing_key_is_refused_with_instructions() -> None:
    with pytest.raises(
        MissingKeyError, match=r"PSEUDONYMIZATION_KEY is not set.*PIPELINES_DEMO_MODE=1"
    ):
        PseudonymKey.from_settings(None, None, demo_mode=False)


def test_short_key_is_refused() -> None:
    with pytest.raises(MissingKeyError, match="at least 32 bytes"):
        PseudonymKey.from_settings("short", "v1", demo_mode=False)


def test_demo_mode_uses_the_public_key_and_says_so() -> None:
    assert PseudonymKey.from_settings(None, None, demo_mode=True).version == DEMO_KEY_VERSION


def test_key_never_in_repr() -> None:
    assert "aaaa" not in repr(KEY_A)
