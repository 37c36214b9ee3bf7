"""Snapshot records: the whole replicated state written as, and read back from, the schema's records.

Order of the records (the contract with the adapter, which writes each one as an SBE frame):

1. ``SnapshotBegin``: the id sequences, how many records of each kind follow, and the cluster time of
   the last command or timer applied;
2. ``InstrumentRecord``, instrument_count of them, ascending instrument id;
3. ``RfqRecord``, rfq_count of them: the active RFQs, ascending rfq id;
4. ``DedupeRecord``, dedupe_count of them, oldest applied first; each holds the original outcome's events as
   encoded frames (header included, as ``rfq.codecs.rfq_sbe.encode`` writes them);
5. ``SnapshotEnd`` whose ``record_count`` counts every record of the snapshot, itself and
   ``SnapshotBegin`` included. A snapshot without it is torn.

Pending expiry timers are not written: Aeron's consensus module snapshots its timers itself, and an
active RFQ's timer is (rfq_id, expire_time_ms) of its record, should anyone need to re-create it.
The same state always gives the same records, and so the same bytes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TypeVar

from rfq.cluster.domain.dedupe import DedupeWindow
from rfq.cluster.domain.instruments import Instrument, InstrumentBook
from rfq.cluster.domain.messages import EVENT_TYPES, Event, Message, SnapshotRecord
from rfq.cluster.domain.rfqs import ACTIVE_STATES, Rfq, RfqBook
from rfq.codecs.errors import CodecError
from rfq.codecs.rfq_sbe import (
    BooleanType,
    DedupeRecord,
    DedupeRecordOutcomes,
    InstrumentRecord,
    RfqRecord,
    RfqState,
    SnapshotBegin,
    SnapshotEnd,
    decode,
)

_R = TypeVar("_R")


class SnapshotError(ValueError):
    """The snapshot records are torn, out of order or inconsistent; nothing may be restored from them."""


def write_snapshot(
    instruments: InstrumentBook, rfqs: RfqBook, dedupe: DedupeWindow, timestamp_ms: int
) -> list[SnapshotRecord]:
    """The state as snapshot records, in the order of the module docstring."""
    records: list[SnapshotRecord] = [
        SnapshotBegin(
            next_instrument_id=instruments.next_instrument_id,
            next_rfq_id=rfqs.next_rfq_id,
            instrument_count=len(instruments),
            rfq_count=len(rfqs),
            dedupe_count=len(dedupe),
            timestamp_ms=timestamp_ms,
        )
    ]
    records.extend(
        InstrumentRecord(
            instrument_id=instrument.instrument_id,
            min_quantity=instrument.min_quantity,
            enabled=BooleanType.TRUE if instrument.enabled else BooleanType.FALSE,
            cusip=instrument.cusip,
        )
        for instrument in instruments
    )
    records.extend(
        RfqRecord(
            rfq_id=rfq.rfq_id,
            correlation_id=rfq.correlation_id,
            requester_user_id=rfq.requester_user_id,
            responder_user_id=rfq.responder_user_id,
            last_price_user_id=rfq.last_price_user_id,
            instrument_id=rfq.instrument_id,
            side=rfq.side,
            state=rfq.state,
            quantity=rfq.quantity,
            price=rfq.price,
            expire_time_ms=rfq.expire_time_ms,
            created_time_ms=rfq.created_time_ms,
            cl_ord_id=rfq.cl_ord_id,
        )
        for rfq in rfqs
    )
    records.extend(
        DedupeRecord(
            correlation_id=correlation_id,
            applied_time_ms=applied_time_ms,
            outcomes=[DedupeRecordOutcomes(template_id=_template_of(f), frame=f) for f in frames],
        )
        for correlation_id, applied_time_ms, frames in dedupe.frames()
    )
    records.append(SnapshotEnd(record_count=len(records) + 1))
    return records


def read_snapshot(
    records: Iterable[Message], instruments: InstrumentBook, rfqs: RfqBook, dedupe: DedupeWindow
) -> int:
    """Load ``records`` into empty books and window; return the snapshot's timestamp (last applied time).

    Raises ``SnapshotError`` when the records are not a whole, consistent snapshot. A dedupe window
    smaller than the snapshot's keeps the newest entries, as if the oldest had been evicted in order.
    """
    stream = iter(records)
    begin = _next(stream, SnapshotBegin, "SnapshotBegin")
    for _ in range(begin.instrument_count):
        record = _next(stream, InstrumentRecord, "InstrumentRecord")
        if not 0 < record.instrument_id < begin.next_instrument_id or instruments.get(record.instrument_id):
            raise SnapshotError(f"instrument id {record.instrument_id} is out of sequence or repeated")
        if instruments.has_cusip(record.cusip):
            raise SnapshotError(f"CUSIP {record.cusip!r} is held by two instruments")
        instruments.put(
            Instrument(
                record.instrument_id, record.cusip, record.min_quantity, record.enabled == BooleanType.TRUE
            )
        )
    instruments.next_instrument_id = begin.next_instrument_id
    for _ in range(begin.rfq_count):
        rfq_record = _next(stream, RfqRecord, "RfqRecord")
        _check_rfq(rfq_record, begin, instruments, rfqs)
        rfqs.put(
            Rfq(
                rfq_id=rfq_record.rfq_id,
                correlation_id=rfq_record.correlation_id,
                requester_user_id=rfq_record.requester_user_id,
                instrument_id=rfq_record.instrument_id,
                side=rfq_record.side,
                quantity=rfq_record.quantity,
                expire_time_ms=rfq_record.expire_time_ms,
                created_time_ms=rfq_record.created_time_ms,
                cl_ord_id=rfq_record.cl_ord_id,
                state=rfq_record.state,
                responder_user_id=rfq_record.responder_user_id,
                last_price_user_id=rfq_record.last_price_user_id,
                price=rfq_record.price,
            )
        )
    rfqs.next_rfq_id = begin.next_rfq_id
    for _ in range(begin.dedupe_count):
        dedupe_record = _next(stream, DedupeRecord, "DedupeRecord")
        if dedupe_record.correlation_id in dedupe:
            raise SnapshotError(f"correlation id {dedupe_record.correlation_id} is recorded twice")
        for outcome in dedupe_record.outcomes:
            _decode_event(outcome)  # validates the frame; the window keeps the bytes as they are
        if not dedupe_record.outcomes:
            raise SnapshotError(f"correlation id {dedupe_record.correlation_id} has no outcome")
        frames = tuple(bytes(outcome.frame) for outcome in dedupe_record.outcomes)
        dedupe.record_frames(dedupe_record.correlation_id, dedupe_record.applied_time_ms, frames)
    end = _next(stream, SnapshotEnd, "SnapshotEnd")
    expected = 2 + begin.instrument_count + begin.rfq_count + begin.dedupe_count
    if end.record_count != expected:
        raise SnapshotError(f"SnapshotEnd counts {end.record_count} records, the snapshot holds {expected}")
    extra = next(stream, None)
    if extra is not None:
        raise SnapshotError(f"a {type(extra).__name__} follows SnapshotEnd")
    return int(begin.timestamp_ms)


def _next(stream: Iterator[Message], kind: type[_R], name: str) -> _R:
    record = next(stream, None)
    if record is None:
        raise SnapshotError(f"the snapshot ends where a {name} was due: it is torn")
    if not isinstance(record, kind):
        raise SnapshotError(f"a {type(record).__name__} is where a {name} was due")
    return record


def _check_rfq(record: RfqRecord, begin: SnapshotBegin, instruments: InstrumentBook, rfqs: RfqBook) -> None:
    if not 0 < record.rfq_id < begin.next_rfq_id or rfqs.get(record.rfq_id) is not None:
        raise SnapshotError(f"rfq id {record.rfq_id} is out of sequence or repeated")
    if record.state not in ACTIVE_STATES:
        raise SnapshotError(f"rfq {record.rfq_id} is {record.state.name}: only active RFQs are kept")
    if instruments.get(record.instrument_id) is None:
        raise SnapshotError(f"rfq {record.rfq_id} is on unknown instrument {record.instrument_id}")
    priced = (record.responder_user_id, record.last_price_user_id, record.price)
    consistent = priced == (None, None, None) if record.state == RfqState.CREATED else None not in priced
    if not consistent:
        raise SnapshotError(f"rfq {record.rfq_id} is {record.state.name} but its price fields disagree")


def _template_of(frame: bytes) -> int:
    """The templateId of an encoded frame (bytes 2-3 of its little-endian header)."""
    return frame[2] | frame[3] << 8


def _decode_event(outcome: DedupeRecordOutcomes) -> Event:
    try:
        event = decode(outcome.frame)
    except CodecError as error:
        raise SnapshotError(f"a dedupe frame does not decode: {error}") from error
    if not isinstance(event, EVENT_TYPES) or outcome.template_id != event.TEMPLATE_ID:
        raise SnapshotError(
            f"a dedupe frame holds a {type(event).__name__}, not template {outcome.template_id}"
        )
    return event
