"""Prices at the edge: exact decimal strings outside, the wire's integer mantissa inside.

The wire carries a price as an int64 mantissa with the schema's constant exponent
(``PRICE_EXPONENT = -8``: 256ths of a point are exact). People and programs write decimals; a float
would round, so the API takes and gives strings, and this module is the one place that converts.
"""

from __future__ import annotations

import re
from decimal import Decimal

from rfq.codecs.rfq_sbe import PRICE_EXPONENT

DECIMALS: int = -PRICE_EXPONENT
MAX_MANTISSA = 2**63 - 1
PRICE_PATTERN = rf"^[0-9]{{1,10}}(\.[0-9]{{1,{DECIMALS}}})?$"
"""What the API accepts: up to 10 integer digits and up to 8 decimals, no sign, no exponent."""
_PRICE = re.compile(PRICE_PATTERN)


def parse_price(text: str) -> int:
    """``"99.515625"`` → ``9951562500``; raises ``ValueError`` for anything but a plain decimal."""
    if not _PRICE.match(text):
        raise ValueError(f"{text!r} is not a decimal price with at most {DECIMALS} decimals")
    whole, _, fraction = text.partition(".")
    mantissa: int = int(whole) * 10**DECIMALS + int(fraction.ljust(DECIMALS, "0") or "0")
    if mantissa > MAX_MANTISSA:
        raise ValueError(f"{text} is too large")
    return mantissa


def format_price(mantissa: int) -> str:
    """``9951562500`` → ``"99.515625"``: exact, no trailing zeros, no exponent."""
    text = format(Decimal(mantissa).scaleb(PRICE_EXPONENT).normalize(), "f")
    return text
