"""Password rules after the NCSC's advice, and Argon2id hashing."""

from __future__ import annotations

import pytest

from tellusonce.domain.passwords import (
    MAX_LENGTH,
    common_passwords,
    hash_password,
    is_passphrase,
    password_problem,
    verify_password,
)


@pytest.mark.parametrize(
    "password",
    ["correct horse battery staple", "coffee train fish", "a long password nobody uses 42", "Zq8#mP2$vL9!xR", ("correct horse battery staple " * 5)[:MAX_LENGTH]],
)
def test_long_or_three_word_passwords_are_accepted(password: str) -> None:
    assert password_problem(password, email="ada@example.com") is None


@pytest.mark.parametrize(
    ("password", "words"),
    [
        ("", "Enter a password"),
        ("short1", "at least 12 characters"),
        ("cat cat cat", "at least 12 characters"),
        ("password1234", "most common passwords"),
        ("qwertyuiopasdfgh", "too easy to guess"),
        ("aaaaaaaaaaaaaaaa", "most common passwords"),
        ("Liverpool1234", "too easy to guess"),
        ("1qaz2wsx3edc4rfv", "too easy to guess"),
        ("ada@example.com", "email address"),
        ("x" * (MAX_LENGTH + 1), "256 characters or fewer"),
    ],
)
def test_short_common_or_guessable_passwords_are_refused_saying_why(password: str, words: str) -> None:
    problem = password_problem(password, email="ada@example.com")
    assert problem is not None and words in problem


def test_the_common_password_list_comes_from_a_large_published_list() -> None:
    common = common_passwords()
    assert len(common) >= 10_000
    assert {"123456", "password", "qwerty", "letmein"} <= common


def test_three_random_words_count_as_a_passphrase_but_three_short_ones_do_not() -> None:
    assert is_passphrase("coffee train fish")
    assert is_passphrase("coffee-train-fish")
    assert not is_passphrase("a b c d e f g")
    assert not is_passphrase("fish fish fish")


def test_a_hash_verifies_only_its_own_password_and_never_stores_it() -> None:
    hashed = hash_password("correct horse battery staple")
    assert "correct horse" not in hashed and hashed.startswith("$argon2id$")
    assert verify_password(hashed, "correct horse battery staple")
    assert not verify_password(hashed, "correct horse battery stapler")
    assert not verify_password(None, "anything at all")
    assert not verify_password("not a hash", "anything at all")
