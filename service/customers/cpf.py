"""CPF (Brazilian individual taxpayer number) validation, contract 7.1."""

from __future__ import annotations

import re

_ALLOWED = re.compile(r"^[0-9.\-]{11,14}$")


def check_digits(first_nine: str) -> str:
    digits = [int(d) for d in first_nine]
    for weight_start in (10, 11):
        total = sum(d * w for d, w in zip(digits, range(weight_start, 1, -1), strict=False))
        remainder = total % 11
        digits.append(0 if remainder < 2 else 11 - remainder)
    return "".join(str(d) for d in digits[9:])


def normalise_cpf(value: str) -> str:
    """The 11 digits of a valid CPF; ValueError when the format or check digits are wrong."""
    if not _ALLOWED.match(value):
        raise ValueError("Invalid CPF format or check digits")
    digits = re.sub(r"\D", "", value)
    if len(digits) != 11 or len(set(digits)) == 1 or check_digits(digits[:9]) != digits[9:]:
        raise ValueError("Invalid CPF format or check digits")
    return digits
