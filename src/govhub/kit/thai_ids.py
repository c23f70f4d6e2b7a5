"""Check digits of Thai 13-digit numbers (national ID and juristic-person registration)."""

from __future__ import annotations

import re

_NON_DIGITS = re.compile(r"[\s-]")


def normalize_13_digits(value: str) -> str:
    """Drop the spaces and dashes people type ('1-2345-67890-12-1') and keep the digits."""
    return _NON_DIGITS.sub("", value or "")


def has_valid_check_digit(number: str) -> bool:
    """True for 13 digits whose last is the mod-11 check digit (weights 13..2)."""
    if len(number) != 13 or not number.isdigit():
        return False
    total = sum(int(digit) * weight for digit, weight in zip(number[:12], range(13, 1, -1)))
    return (11 - total % 11) % 10 == int(number[12])


def is_valid_national_id(value: str) -> bool:
    """Validate a Thai national ID: 13 digits, not starting with 0, with a good check digit."""
    number = normalize_13_digits(value)
    return number[:1] != "0" and has_valid_check_digit(number)


def is_valid_juristic_id(value: str) -> bool:
    """Validate a DBD juristic-person registration number (starts with 0, mod-11 check)."""
    number = normalize_13_digits(value)
    return number[:1] == "0" and has_valid_check_digit(number)


def with_check_digit(first_twelve: str) -> str:
    """Append the check digit to 12 digits (demo data and tests generate valid numbers)."""
    total = sum(int(digit) * weight for digit, weight in zip(first_twelve, range(13, 1, -1)))
    return first_twelve + str((11 - total % 11) % 10)
