"""Password policy: long enough, not absurdly long, and not a common password."""

from __future__ import annotations

from functools import lru_cache

from flask import current_app


@lru_cache(maxsize=1)
def _common_passwords() -> frozenset[str]:
    # zxcvbn ships the 30,000 most common passwords from real leaks.
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(FREQUENCY_LISTS["passwords"])


def password_problems(password: str, email: str = "", display_name: str = "") -> list[str]:
    minimum = current_app.config["PASSWORD_MIN_LENGTH"]
    maximum = current_app.config["PASSWORD_MAX_LENGTH"]
    if len(password) < minimum:
        return [f"Use at least {minimum} characters."]
    if len(password) > maximum:
        return [f"Use at most {maximum} characters."]
    if "\x00" in password:
        return ["The password contains a character that cannot be used (NUL)."]
    lowered = password.lower()
    if lowered in _common_passwords() or lowered.strip() in _common_passwords():
        return ["This password is too common: it appears in lists of leaked passwords."]
    if len(set(password)) < 3:
        return ["Use a password with more variety than a repeated character."]
    local_part = email.split("@", 1)[0].lower()
    if local_part and len(local_part) >= 4 and lowered in {local_part, email.lower()}:
        return ["Do not use your email address as your password."]
    if display_name and lowered == display_name.lower():
        return ["Do not use your display name as your password."]
    return []
