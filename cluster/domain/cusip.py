"""CUSIP validation: nine characters, the last a check digit over the first eight.

Why our own: the rule is ten lines (the "modulus 10 double add double" of the CUSIP Global Services
specification) and the domain may depend on nothing but the standard library and the codecs. Only
upper-case letters are accepted: the gateways normalise user input, the cluster refuses anything else so
that one security can never be added twice under two spellings.
"""

from __future__ import annotations

CUSIP_LENGTH = 9

# Character values: 0-9 → 0-9, A-Z → 10-35, '*' → 36, '@' → 37, '#' → 38.
_VALUES: dict[str, int] = {
    **{chr(48 + d): d for d in range(10)},
    **{chr(65 + i): 10 + i for i in range(26)},
    "*": 36,
    "@": 37,
    "#": 38,
}


def check_digit(base: str) -> int:
    """The check digit of the eight-character CUSIP base ``base``; ``ValueError`` if it is not one."""
    if len(base) != CUSIP_LENGTH - 1:
        raise ValueError(f"a CUSIP base has 8 characters, not {len(base)}")
    total = 0
    for position, char in enumerate(base):
        value = _VALUES.get(char)
        if value is None:
            raise ValueError(f"{char!r} is not a CUSIP character")
        if position % 2 == 1:  # every second character (the 2nd, 4th, ... counting from 1) is doubled
            value *= 2
        total += value // 10 + value % 10
    return (10 - total % 10) % 10


def is_valid_cusip(cusip: str) -> bool:
    """True when ``cusip`` is nine CUSIP characters whose last is the check digit of the first eight."""
    if len(cusip) != CUSIP_LENGTH or not cusip[8].isdigit() or not cusip.isascii():
        return False
    try:
        return check_digit(cusip[:8]) == int(cusip[8])
    except ValueError:
        return False
