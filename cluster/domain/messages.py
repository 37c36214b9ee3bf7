"""The wire types the domain speaks, grouped: commands in, events out, snapshot records.

They are the generated codec's value classes (``rfq.codecs.rfq_sbe``): the domain takes decoded
commands and returns event objects that the adapter encodes unchanged, so there is no second model of
the wire to keep in step with ``schema/rfq.xml``.
"""

from __future__ import annotations

from typing import TypeAlias

from rfq.codecs.rfq_sbe import (
    AcceptRfq,
    AddInstrument,
    CancelRfq,
    CommandRejected,
    CounterRfq,
    CreateRfq,
    DedupeRecord,
    EnableInstrument,
    InstrumentAdded,
    InstrumentEnabled,
    InstrumentRecord,
    Message,
    QuoteRfq,
    RejectRfq,
    RfqAccepted,
    RfqCanceled,
    RfqCountered,
    RfqCreated,
    RfqExpired,
    RfqQuoted,
    RfqRecord,
    RfqRejected,
    SnapshotBegin,
    SnapshotEnd,
)

Command: TypeAlias = (
    AddInstrument | EnableInstrument | CreateRfq | QuoteRfq | CounterRfq | AcceptRfq | RejectRfq | CancelRfq
)
"""A gateway's request: every command carries ``correlation_id`` (its idempotency key) and ``user_id``."""

Event: TypeAlias = (
    CommandRejected
    | InstrumentAdded
    | InstrumentEnabled
    | RfqCreated
    | RfqQuoted
    | RfqCountered
    | RfqAccepted
    | RfqRejected
    | RfqCanceled
    | RfqExpired
)
"""What the cluster tells the gateways."""

__all__ = ["COMMAND_TYPES", "EVENT_TYPES", "Command", "Event", "Message", "SnapshotRecord"]

SnapshotRecord: TypeAlias = SnapshotBegin | InstrumentRecord | RfqRecord | DedupeRecord | SnapshotEnd
"""One record of a snapshot, in the order ``snapshot.py`` documents."""

COMMAND_TYPES: tuple[type[Command], ...] = (
    AddInstrument,
    EnableInstrument,
    CreateRfq,
    QuoteRfq,
    CounterRfq,
    AcceptRfq,
    RejectRfq,
    CancelRfq,
)
EVENT_TYPES: tuple[type[Event], ...] = (
    CommandRejected,
    InstrumentAdded,
    InstrumentEnabled,
    RfqCreated,
    RfqQuoted,
    RfqCountered,
    RfqAccepted,
    RfqRejected,
    RfqCanceled,
    RfqExpired,
)
