"""Check-digit rules of the US identifiers this domain leaks: card numbers, NPI and DEA numbers.

Recognizers use them to confirm a match; the sample generator uses them to plant valid ones.
"""

from __future__ import annotations

NPI_PREFIX = "80840"


def luhn_checksum_ok(digits: str) -> bool:
    """True when the digit string passes the Luhn (mod 10) check."""
    if not digits.isdigit():
        return False
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def luhn_check_digit(payload: str) -> str:
    """The digit that makes `payload + digit` pass the Luhn check."""
    for digit in "0123456789":
        if luhn_checksum_ok(payload + digit):
            return digit
    raise ValueError(f"no Luhn check digit for {payload!r}")


def npi_is_valid(npi: str) -> bool:
    """A 10-digit NPI is valid when the Luhn check passes over the prefix 80840 + NPI."""
    return len(npi) == 10 and npi[0] in "12" and luhn_checksum_ok(NPI_PREFIX + npi)


def npi_with_check_digit(first_nine: str) -> str:
    """Complete a 9-digit NPI body with its check digit."""
    return first_nine + luhn_check_digit(NPI_PREFIX + first_nine)


def dea_check_digit(six_digits: str) -> str:
    """DEA rule: (d1+d3+d5) + 2*(d2+d4+d6), the last digit of the sum is the seventh digit."""
    d = [int(c) for c in six_digits]
    return str((d[0] + d[2] + d[4] + 2 * (d[1] + d[3] + d[5])) % 10)


def dea_is_valid(dea: str) -> bool:
    """Two letters then seven digits whose last is the DEA check digit."""
    return (
        len(dea) == 9
        and dea[:2].isalpha()
        and dea[2:].isdigit()
        and dea_check_digit(dea[2:8]) == dea[8]
    )
