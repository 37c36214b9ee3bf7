"""The wire types the domain speaks, grouped: commands in, events out, snapshot records.

They are the generated codec's value classes (``rfq.codecs.rfq_sbe``): the domain takes decoded
commands and returns event objects that the adapter encodes unchanged, so there is no second model of
the wire to keep in step with ``schema/rfq.xml``.
"""

from __future__ import annotations

from typing import TypeAlias

from rfq.codecs.rfq_sbe import (
    AcceptCounter,
    AcceptQuote,
    AddInstrument,
    CancelRfq,
    CommandRejected,
    CounterQuote,
    CreateRfq,
    DealerPassed,
    DedupeRecord,
    EnableInstrument,
    EndedRfqRecord,
    InstrumentAdded,
    InstrumentEnabled,
    InstrumentRecord,
    Message,
    PassRfq,
    QueryState,
    QuoteCountered,
    QuoteSubmitted,
    QuoteWithdrawn,
    RfqCreated,
    RfqEnded,
    RfqInvited,
    RfqRecord,
    RfqTraded,
    SnapshotBegin,
    SnapshotEnd,
    StateQueried,
    SubmitQuote,
    WithdrawQuote,
)

Command: TypeAlias = (
    AddInstrument
    | EnableInstrument
    | CreateRfq
    | SubmitQuote
    | WithdrawQuote
    | PassRfq
    | CounterQuote
    | AcceptQuote
    | AcceptCounter
    | CancelRfq
    | QueryState
)
"""A gateway's request: every command carries ``correlation_id`` (its idempotency key) and ``user_id``."""

Event: TypeAlias = (
    CommandRejected
    | InstrumentAdded
    | InstrumentEnabled
    | RfqCreated
    | RfqInvited
    | QuoteSubmitted
    | QuoteWithdrawn
    | DealerPassed
    | QuoteCountered
    | RfqTraded
    | RfqEnded
    | StateQueried
)
"""What the cluster tells the gateways (``routing.recipients`` says which users may see each one)."""

StateRecord: TypeAlias = InstrumentRecord | RfqRecord
"""The records a ``QueryState`` is answered with, before its ``StateQueried`` (to the sender alone)."""

Reply: TypeAlias = Event | StateRecord
"""Anything an outcome may hold."""

SnapshotRecord: TypeAlias = (
    SnapshotBegin | InstrumentRecord | RfqRecord | EndedRfqRecord | DedupeRecord | SnapshotEnd
)
"""One record of a snapshot, in the order ``snapshot.py`` documents."""

__all__ = [
    "COMMAND_TYPES",
    "EVENT_TYPES",
    "Command",
    "Event",
    "Message",
    "Reply",
    "SnapshotRecord",
    "StateRecord",
]

COMMAND_TYPES: tuple[type[Command], ...] = (
    AddInstrument,
    EnableInstrument,
    CreateRfq,
    SubmitQuote,
    WithdrawQuote,
    PassRfq,
    CounterQuote,
    AcceptQuote,
    AcceptCounter,
    CancelRfq,
    QueryState,
)
EVENT_TYPES: tuple[type[Event], ...] = (
    CommandRejected,
    InstrumentAdded,
    InstrumentEnabled,
    RfqCreated,
    RfqInvited,
    QuoteSubmitted,
    QuoteWithdrawn,
    DealerPassed,
    QuoteCountered,
    RfqTraded,
    RfqEnded,
    StateQueried,
)
