"""FIX 4.4 as the gateway speaks it: tag numbers, the values it uses, and a small message value.

Why our own model instead of QuickFIX/J's ``Message`` objects: the mapping is pure Python (unit tested
without a JVM), and crossing into Java once per message with a string is cheaper than a call per field.
The engine (QuickFIX/J) still owns everything about the session layer and validates every inbound
message against its FIX 4.4 dictionary before the gateway sees it.

Contract:
- :class:`FixMessage` holds a MsgType and the body fields *in order* (repeating groups are ordered runs
  of fields after their NoXxx count, exactly as on the wire); header fields the gateway sets itself
  (PossResend 97) come first. :meth:`FixMessage.body` is what ``FixBridge.send`` takes: the session adds
  BeginString, CompIDs, MsgSeqNum, SendingTime, BodyLength and CheckSum.
- :func:`parse` reads a whole message as the engine hands it over (validated already): it keeps every
  field in order and splits off the standard header and trailer.
- Times are UTCTimestamp with milliseconds; prices are exact decimals (``rfq.gateway.prices``).
"""

from __future__ import annotations

import datetime
import re
import time
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

SOH = "\x01"

# --- tags ---------------------------------------------------------------------------------------
ACCOUNT = 1
AVG_PX = 6
CL_ORD_ID = 11
CUM_QTY = 14
EXEC_ID = 17
SECURITY_ID_SOURCE = 22
LAST_PX = 31
LAST_QTY = 32
MSG_SEQ_NUM = 34
MSG_TYPE = 35
ORDER_ID = 37
ORDER_QTY = 38
ORD_STATUS = 39
PRICE = 44
REF_SEQ_NUM = 45
SECURITY_ID = 48
SIDE = 54
SYMBOL = 55
TEXT = 58
TRANSACT_TIME = 60
VALID_UNTIL_TIME = 62
POSS_RESEND = 97
EXPIRE_TIME = 126
QUOTE_ID = 117
QUOTE_REQ_ID = 131
BID_PX = 132
OFFER_PX = 133
NO_RELATED_SYM = 146
EXEC_TYPE = 150
LEAVES_QTY = 151
QUOTE_STATUS = 297
QUOTE_CANCEL_TYPE = 298
REF_MSG_TYPE = 372
BUSINESS_REJECT_REF_ID = 379
BUSINESS_REJECT_REASON = 380
PARTY_ID_SOURCE = 447
PARTY_ID = 448
PARTY_ROLE = 452
NO_PARTY_IDS = 453
QUOTE_TYPE = 537
QUOTE_REQUEST_REJECT_REASON = 658
QUOTE_RESP_ID = 693
QUOTE_RESP_TYPE = 694
DEALERS_IN_COMPETITION = 20001
"""User-defined (bilateral range): how many dealers an RFQ asks, on the QuoteRequest a dealer gets.
FIX 4.4 has no field for it; a counterparty declares it in its dictionary or does not validate
user-defined fields (QuickFIX: ``ValidateUserDefinedFields=N``)."""

_HEADER = frozenset({8, 9, 35, 34, 43, 49, 50, 52, 56, 57, 97, 115, 116, 122, 128, 129, 142, 143, 144, 145})
_TRAILER = frozenset({10, 89, 93})

# --- message types ------------------------------------------------------------------------------
QUOTE_REQUEST = "R"
QUOTE = "S"
QUOTE_CANCEL = "Z"
QUOTE_RESPONSE = "AJ"
QUOTE_STATUS_REPORT = "AI"
QUOTE_REQUEST_REJECT = "AG"
EXECUTION_REPORT = "8"
BUSINESS_MESSAGE_REJECT = "j"

# --- values -------------------------------------------------------------------------------------
SIDE_BUY = "1"
SIDE_SELL = "2"
SYMBOL_NA = "[N/A]"
SOURCE_CUSIP = "1"
PARTY_SOURCE_PROPRIETARY = "D"
ROLE_ORDER_ORIGINATION_FIRM = "13"
"""The requester, on the QuoteRequest a dealer gets."""
ROLE_CONTRA_FIRM = "17"
"""The other side of a trade, on an ExecutionReport."""
ROLE_LIQUIDITY_PROVIDER = "35"
"""A dealer: the ones a requester asks, and the one that quoted (to the requester)."""

QUOTE_TYPE_TRADEABLE = "1"
QUOTE_TYPE_COUNTER = "3"

STATUS_ACCEPTED = "0"
STATUS_REJECTED = "5"
STATUS_REMOVED = "6"
STATUS_EXPIRED = "7"
STATUS_PASS = "11"

RESP_HIT = "1"
RESP_COUNTER = "2"
RESP_EXPIRED = "3"
RESP_COVER = "4"
RESP_DONE_AWAY = "5"
RESP_PASS = "6"

CANCEL_FOR_SYMBOL = "1"

REQ_REJECT_UNKNOWN_SYMBOL = "1"
REQ_REJECT_EXCEEDS_LIMIT = "3"
REQ_REJECT_TOO_LATE = "4"
REQ_REJECT_NOT_AUTHORIZED = "6"
REQ_REJECT_NO_MARKET = "8"
REQ_REJECT_PASS = "10"
REQ_REJECT_OTHER = "99"

BIZ_OTHER = "0"
BIZ_UNKNOWN_ID = "1"
BIZ_UNSUPPORTED_MESSAGE_TYPE = "3"
BIZ_APPLICATION_NOT_AVAILABLE = "4"
BIZ_CONDITIONALLY_REQUIRED_FIELD_MISSING = "5"
BIZ_NOT_AUTHORIZED = "6"

EXEC_TYPE_TRADE = "F"
ORD_STATUS_FILLED = "2"


@dataclass(slots=True)
class FixMessage:
    """One application message: its type and its fields in wire order (header fields first)."""

    msg_type: str
    fields: list[tuple[int, str]] = field(default_factory=list)
    seq_num: int = 0
    """MsgSeqNum(34) of an inbound message (0 for one the gateway builds)."""

    def get(self, tag: int) -> str | None:
        """The first value of ``tag``, or None."""
        for number, value in self.fields:
            if number == tag:
                return value
        return None

    def all(self, tag: int) -> list[str]:
        """Every value of ``tag``, in order (a field of a repeating group)."""
        return [value for number, value in self.fields if number == tag]

    def add(self, tag: int, value: str | int | None) -> FixMessage:
        """Append a field (None: nothing); returns self, to chain."""
        if value is not None:
            self.fields.append((tag, str(value)))
        return self

    def body(self) -> str:
        """``35=<type>|<fields>|`` with SOH separators: what the engine's session sends."""
        parts = [f"35={self.msg_type}"]
        parts.extend(f"{tag}={value}" for tag, value in self.fields)
        return SOH.join(parts) + SOH

    def __str__(self) -> str:
        return self.body().replace(SOH, "|")


def parse(raw: str, seq_num: int = 0) -> FixMessage:
    """A whole message (``8=...|...|10=...|``) as a :class:`FixMessage`: MsgType split off, the other
    header fields kept (first), the trailer dropped."""
    msg_type = ""
    fields: list[tuple[int, str]] = []
    for part in raw.split(SOH):
        if not part:
            continue
        tag, _, value = part.partition("=")
        try:
            number = int(tag)
        except ValueError:
            continue
        if number == MSG_TYPE:
            msg_type = value
        elif number in (8, 9) or number in _TRAILER:
            continue
        else:
            fields.append((number, value))
    if not seq_num:
        seq = next((value for number, value in fields if number == MSG_SEQ_NUM), "0")
        seq_num = int(seq) if seq.isdigit() else 0
    return FixMessage(msg_type, fields, seq_num)


def clean(text: str) -> str:
    """Free text made safe for a field: no SOH nor other control characters."""
    return "".join(ch if ch.isprintable() else "?" for ch in text)


# --- times --------------------------------------------------------------------------------------
_TIMESTAMP = re.compile(r"^(\d{8})-(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?$")


def utc_timestamp(ms: int) -> str:
    """Milliseconds since the epoch as a FIX UTCTimestamp with milliseconds."""
    seconds, millis = divmod(ms, 1000)
    return time.strftime("%Y%m%d-%H:%M:%S", time.gmtime(seconds)) + f".{millis:03d}"


_EPOCH_ORDINAL = datetime.date(1970, 1, 1).toordinal()


def parse_utc_timestamp(text: str) -> int:
    """A FIX UTCTimestamp (seconds, or 1 to 9 fraction digits) as milliseconds; raises ValueError.

    Arithmetic rather than ``time.strptime``, which took ~6% of the FIX gateway's GIL time at 200
    QuoteRequests/s (py-spy --gil). A leap second (``:60``) counts as the next second's start, as
    ``calendar.timegm`` does."""
    match = _TIMESTAMP.match(text)
    if match is None:
        raise ValueError(f"{text!r} is not a UTCTimestamp")
    day, hour, minute, second, fraction = match.groups()
    h, m, sec = int(hour), int(minute), int(second)
    if h > 23 or m > 59 or sec > 60:
        raise ValueError(f"{text!r} is not a UTCTimestamp")
    try:
        days = datetime.date(int(day[:4]), int(day[4:6]), int(day[6:])).toordinal() - _EPOCH_ORDINAL
    except ValueError:
        raise ValueError(f"{text!r} is not a UTCTimestamp") from None
    millis = int((fraction or "0").ljust(3, "0")[:3])
    return ((days * 24 + h) * 60 + m) * 60_000 + sec * 1000 + millis


# --- numbers ------------------------------------------------------------------------------------
def parse_quantity(text: str) -> int:
    """A Qty that must be a whole number (face amount): ``"5000000"`` or ``"5000000.00"``."""
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"{text!r} is not a quantity") from None
    if not value.is_finite() or value != value.to_integral_value():
        raise ValueError(f"{text!r} is not a whole quantity")
    return int(value)


def parse_fix_price(text: str) -> int:
    """A FIX Price as the wire's mantissa (``rfq.gateway.prices``): plain decimal, at most 8 decimals,
    positive; trailing zeros beyond 8 decimals are accepted (``"99.5000000000"``)."""
    from rfq.gateway.prices import parse_price

    whole, dot, fraction = text.partition(".")
    if dot:
        fraction = fraction.rstrip("0")
        text = f"{whole}.{fraction}" if fraction else whole
    return parse_price(text)
