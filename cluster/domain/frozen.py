"""Wire messages as plain value tuples, the form the dedupe window keeps them in.

Why: the window holds the commands and outcomes of the last ~100k correlation ids for as long as the
service runs. Kept as message objects, they would be walked by CPython's cyclic garbage collector on
every full collection (measured: 80-150 ms pauses on the service thread); kept as encoded frames, every
command would pay a strict encode of each of its events (~1.5-3 µs each on the 2-core machine, several
events per command). A tuple of ints, strings, None and such tuples is neither: it costs one call
of a small function to make and the collector stops tracking it.

Contract: ``freeze(message)`` is ``(TEMPLATE_ID, field values in wire order...)`` with enums as ints and
the dealers group as a tuple of user ids; ``thaw(values)`` gives back an equal message. Equal messages freeze
to equal tuples, so a frozen command is also its identity for exactly-once (``dedupe.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rfq.cluster.domain.messages import COMMAND_TYPES, EVENT_TYPES, Message
from rfq.codecs.rfq_sbe import (
    AcceptCounter,
    AcceptQuote,
    AddInstrument,
    CancelRfq,
    CommandRejected,
    CounterQuote,
    CreateRfq,
    DealerPassed,
    EnableInstrument,
    InstrumentAdded,
    InstrumentEnabled,
    PassRfq,
    QueryState,
    QuoteCountered,
    QuoteSubmitted,
    QuoteWithdrawn,
    RfqCreated,
    RfqEnded,
    RfqInvited,
    RfqTraded,
    StateQueried,
    SubmitQuote,
    WithdrawQuote,
)

Frozen = tuple[Any, ...]
"""A message as (template id, field values...): ints, strings, None and nested tuples only."""


def _dealers(entries: list[Any]) -> tuple[int, ...]:
    return tuple([entry.dealer_user_id for entry in entries])  # a list first: faster than a generator


# The freezer of each message type (the dedupe window calls them directly, one call less per event),
# each spelled out: a lambda reads slots through CPython's specialised attribute access, where an
# ``operator.attrgetter`` of the same names looks each one up generically (measured for QuoteSubmitted:
# ~0.15 µs against ~0.38 µs; every command freezes itself and ~3 events). Enums freeze as ints, the
# dealers group as a tuple of user ids. ``tests/unit/domain/test_frozen.py`` checks each one against
# ``thaw`` and the message's fields.
FREEZERS: dict[type, Callable[[Any], Frozen]] = {
    AddInstrument: lambda m: (1, m.correlation_id, m.user_id, m.min_quantity, int(m.enabled), m.cusip),
    EnableInstrument: lambda m: (2, m.correlation_id, m.user_id, m.instrument_id, int(m.enabled)),
    CreateRfq: lambda m: (
        3, m.correlation_id, m.user_id, m.instrument_id, int(m.side), m.quantity, m.expire_time_ms,
        m.cl_ord_id, _dealers(m.dealers),
    ),
    SubmitQuote: lambda m: (4, m.correlation_id, m.user_id, m.rfq_id, m.price, m.valid_until_ms),
    WithdrawQuote: lambda m: (5, m.correlation_id, m.user_id, m.rfq_id),
    PassRfq: lambda m: (6, m.correlation_id, m.user_id, m.rfq_id),
    CounterQuote: lambda m: (7, m.correlation_id, m.user_id, m.rfq_id, m.quote_id, m.price),
    AcceptQuote: lambda m: (8, m.correlation_id, m.user_id, m.rfq_id, m.quote_id),
    AcceptCounter: lambda m: (9, m.correlation_id, m.user_id, m.rfq_id, m.counter_id),
    CancelRfq: lambda m: (10, m.correlation_id, m.user_id, m.rfq_id),
    QueryState: lambda m: (11, m.correlation_id, m.user_id),
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
    QuoteSubmitted: lambda m: (
        25, m.recipient_user_id, m.correlation_id, m.rfq_id, m.quote_id, m.dealer_user_id, m.price,
        m.valid_until_ms, m.replaced_quote_id, m.timestamp_ms,
    ),
    QuoteWithdrawn: lambda m: (
        26, m.recipient_user_id, m.correlation_id, m.rfq_id, m.quote_id, m.dealer_user_id, m.timestamp_ms
    ),
    DealerPassed: lambda m: (
        27, m.recipient_user_id, m.correlation_id, m.rfq_id, m.dealer_user_id, m.timestamp_ms
    ),
    QuoteCountered: lambda m: (
        28, m.recipient_user_id, m.correlation_id, m.rfq_id, m.counter_id, m.quote_id, m.dealer_user_id,
        m.price, m.timestamp_ms,
    ),
    RfqTraded: lambda m: (
        29, m.recipient_user_id, m.correlation_id, m.rfq_id, m.trade_id, int(m.kind), m.quote_id,
        m.requester_user_id, m.dealer_user_id, m.buyer_user_id, m.seller_user_id, m.instrument_id,
        m.price, m.quantity, m.cover_price, m.timestamp_ms,
    ),
    RfqEnded: lambda m: (
        30, m.recipient_user_id, m.correlation_id, m.rfq_id, int(m.reason), m.timestamp_ms
    ),
    StateQueried: lambda m: (
        31, m.correlation_id, m.instrument_count, m.rfq_count, m.next_rfq_id, m.timestamp_ms
    ),
}  # fmt: skip

_CLASSES: dict[int, type] = {cls.TEMPLATE_ID: cls for cls in (*COMMAND_TYPES, *EVENT_TYPES)}

FROZEN_LENGTHS: dict[int, int] = {
    cls.TEMPLATE_ID: 1 + len(cls._SPEC) for cls in (*COMMAND_TYPES, *EVENT_TYPES)
}
"""How many values ``freeze`` makes of a message of each template id (the id, then one per field), so
that frozen messages laid end to end in one tuple can be told apart again (``dedupe.py``)."""


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
