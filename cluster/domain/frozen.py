"""Wire messages as plain value tuples, the form the dedupe window keeps them in.

Why: the window holds the commands and outcomes of the last ~100k correlation ids for as long as the
service runs. Kept as message objects, they would be walked by CPython's cyclic garbage collector on
every full collection (measured: 80-150 ms pauses on the service thread); kept as encoded frames, every
command would pay a strict encode of each of its events (~1.5-3 µs each on the 2-core machine, several
events per command). A tuple of ints, strings, None and such tuples is neither: it costs one
``attrgetter`` call to make and the collector stops tracking it.

Contract: ``freeze(message)`` is ``(TEMPLATE_ID, field values in wire order...)`` with enums as ints and
groups as tuples of entry tuples; ``thaw(values)`` gives back an equal message. Equal messages freeze
to equal tuples, so a frozen command is also its identity for exactly-once (``dedupe.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from operator import attrgetter
from typing import Any

from rfq.cluster.domain.messages import COMMAND_TYPES, EVENT_TYPES, Message
from rfq.codecs.rfq_sbe import (
    AddInstrument,
    CommandRejected,
    CreateRfq,
    EnableInstrument,
    InstrumentAdded,
    InstrumentEnabled,
    RfqCreated,
    RfqEnded,
    RfqInvited,
    RfqTraded,
)

Frozen = tuple[Any, ...]
"""A message as (template id, field values...): ints, strings, None and nested tuples only."""


def _dealers(entries: list[Any]) -> tuple[int, ...]:
    return tuple(entry.dealer_user_id for entry in entries)


# The freezer of each message type (the dedupe window calls them directly, one call less per event).
# Messages whose fields are all ints (or None) freeze with one attrgetter; the others, which hold an enum
# or a group, are spelled out (enums as ints, the dealers group as a tuple of user ids).
FREEZERS: dict[type, Callable[[Any], Frozen]] = {
    cls: attrgetter("TEMPLATE_ID", *cls.__slots__)
    for cls in (*COMMAND_TYPES, *EVENT_TYPES)
    if all(spec.kind == "int" for spec in cls._SPEC)
}
FREEZERS.update(
    {
        AddInstrument: lambda m: (
            1, m.correlation_id, m.user_id, m.min_quantity, int(m.enabled), m.cusip
        ),
        EnableInstrument: lambda m: (2, m.correlation_id, m.user_id, m.instrument_id, int(m.enabled)),
        CreateRfq: lambda m: (
            3, m.correlation_id, m.user_id, m.instrument_id, int(m.side), m.quantity, m.expire_time_ms,
            m.cl_ord_id, _dealers(m.dealers),
        ),
        CommandRejected: lambda m: (
            20, m.correlation_id, m.user_id, m.template_id, int(m.reason), m.timestamp_ms
        ),
        InstrumentAdded: lambda m: (
            21, m.correlation_id, m.instrument_id, m.min_quantity, int(m.enabled), m.timestamp_ms, m.cusip
        ),
        InstrumentEnabled: lambda m: (
            22, m.correlation_id, m.instrument_id, int(m.enabled), m.timestamp_ms
        ),
        RfqCreated: lambda m: (
            23, m.correlation_id, m.rfq_id, m.requester_user_id, m.instrument_id, int(m.side), m.quantity,
            m.expire_time_ms, m.timestamp_ms, m.cl_ord_id, _dealers(m.dealers),
        ),
        RfqInvited: lambda m: (
            24, m.rfq_id, m.dealer_user_id, m.requester_user_id, m.instrument_id, int(m.side), m.quantity,
            m.expire_time_ms, m.dealer_count, m.timestamp_ms,
        ),
        RfqTraded: lambda m: (
            29, m.recipient_user_id, m.correlation_id, m.rfq_id, m.trade_id, int(m.kind), m.quote_id,
            m.requester_user_id, m.dealer_user_id, m.buyer_user_id, m.seller_user_id, m.instrument_id,
            m.price, m.quantity, m.cover_price, m.timestamp_ms,
        ),
        RfqEnded: lambda m: (
            30, m.recipient_user_id, m.correlation_id, m.rfq_id, int(m.reason), m.timestamp_ms
        ),
    }
)  # fmt: skip

_CLASSES: dict[int, type] = {cls.TEMPLATE_ID: cls for cls in (*COMMAND_TYPES, *EVENT_TYPES)}


def freeze(message: Message) -> Frozen:
    """``message`` as a value tuple; raises ``KeyError`` for a snapshot record (never frozen)."""
    return FREEZERS[type(message)](message)


def thaw(values: Frozen) -> Any:
    """The message ``freeze`` made ``values`` from."""
    cls: Any = _CLASSES[values[0]]
    fields: dict[str, Any] = {}
    for spec, value in zip(cls._SPEC, values[1:], strict=True):
        if spec.kind == "enum":
            fields[spec.attr] = spec.extra(value)
        elif spec.kind == "group":
            fields[spec.attr] = [spec.extra(dealer_user_id=dealer) for dealer in value]
        else:
            fields[spec.attr] = value
    return cls(**fields)
