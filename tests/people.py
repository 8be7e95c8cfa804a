"""Made-up but valid resident ID numbers (GB 11643-1999) for test fixtures.

Written from the standard, not from ``ledger``: six digits of region, the birth date ``YYYYMMDD``,
a three-digit sequence (odd for men), and the ISO 7064 MOD 11-2 check character. A fixture's
``birth_date`` must be the date its number carries (the ledger refuses the enrollment otherwise).
"""

from __future__ import annotations

from datetime import date

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def check_character(first17: str) -> str:
    return "10X98765432"[sum(int(digit) * weight for digit, weight in zip(first17, WEIGHTS, strict=True)) % 11]


def id_number(born: date | str, sequence: int = 123, region: str = "430102") -> str:
    """The ID number of someone born on ``born`` (a date or ``YYYY-MM-DD``); vary ``sequence`` (0-999) or
    ``region`` for distinct people born the same day."""
    day = born if isinstance(born, date) else date.fromisoformat(born)
    first17 = f"{region}{day:%Y%m%d}{sequence:03d}"
    return first17 + check_character(first17)
