"""Brazilian identifiers for the BTG sandbox: CNPJ (mod-11) and ISIN (ISO 6166) check digits.

The sandbox only publishes identifiers whose check digits are valid, so a client that validates
them (as a careful ETL should) never rejects sandbox data, and a test can prove it does validate.
"""

from __future__ import annotations

import random
import string

_CNPJ_WEIGHTS_1 = (5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2)
_CNPJ_WEIGHTS_2 = (6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2)


def _cnpj_digit(digits: str, weights: tuple[int, ...]) -> str:
    remainder = sum(int(d) * w for d, w in zip(digits, weights, strict=True)) % 11
    return "0" if remainder < 2 else str(11 - remainder)


def cnpj_with_check_digits(base12: str) -> str:
    """The 14-digit CNPJ for a 12-digit base (8-digit root + 4-digit branch), check digits added."""
    if len(base12) != 12 or not base12.isdigit():
        raise ValueError(f"a CNPJ base has 12 digits, got {base12!r}")
    first = _cnpj_digit(base12, _CNPJ_WEIGHTS_1)
    return base12 + first + _cnpj_digit(base12 + first, _CNPJ_WEIGHTS_2)


def is_valid_cnpj(cnpj: str) -> bool:
    """True for 14 digits whose two mod-11 check digits match (all-equal digits are invalid)."""
    if len(cnpj) != 14 or not cnpj.isdigit() or len(set(cnpj)) == 1:
        return False
    return cnpj_with_check_digits(cnpj[:12]) == cnpj


def random_cnpj(rng: random.Random) -> str:
    """A valid head-office CNPJ (branch 0001) with a random root."""
    root = f"{rng.randrange(10_000_000, 100_000_000):08d}"
    return cnpj_with_check_digits(root + "0001")


def isin_check_digit(body11: str) -> str:
    """ISO 6166 check digit: letters -> numbers (A=10..Z=35), then Luhn over the digit string."""
    if len(body11) != 11 or not body11.isalnum() or body11 != body11.upper():
        raise ValueError(f"an ISIN body has 11 upper-case alphanumerics, got {body11!r}")
    digits = "".join(str(int(char, 36)) for char in body11)
    total = 0
    # The check digit will sit to the right, so the rightmost body digit is doubled.
    for position, char in enumerate(reversed(digits)):
        value = int(char) * (2 if position % 2 == 0 else 1)
        total += value // 10 + value % 10
    return str((10 - total % 10) % 10)


def isin_with_check_digit(body11: str) -> str:
    """The 12-character ISIN for an 11-character body."""
    return body11 + isin_check_digit(body11)


def is_valid_isin(isin: str) -> bool:
    """True for 2 letters + 9 alphanumerics + a matching check digit."""
    return (
        len(isin) == 12
        and isin[:2].isalpha()
        and isin.isalnum()
        and isin == isin.upper()
        and isin[-1].isdigit()
        and isin_check_digit(isin[:11]) == isin[-1]
    )


def random_fund_isin(rng: random.Random) -> str:
    """A Brazilian fund-quota ISIN (``BR`` + 4 letters + ``CTF`` + 2 digits + check digit)."""
    letters = "".join(rng.choice(string.ascii_uppercase) for _ in range(4))
    return isin_with_check_digit(f"BR{letters}CTF{rng.randrange(100):02d}")
