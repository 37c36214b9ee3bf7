"""Snapshot records: the whole replicated state written as, and read back from, the schema's records.

Order of the records (the contract with the adapter, which writes each one as an SBE frame):

1. ``SnapshotBegin``: the id sequences (instrument, RFQ, quote, trade), how many records of each kind
   follow, and the cluster time of the last command or timer applied;
2. ``InstrumentRecord``, instrument_count of them, ascending instrument id;
3. ``RfqRecord``, rfq_count of them: the active RFQs, ascending rfq id, each with its dealers' standing
   in invitation order;
4. ``EndedRfqRecord``, ended_count of them: the window of recently ended RFQs, oldest ended first;
5. ``DedupeRecord``, dedupe_count of them, oldest applied first; each holds the command's digest and
   the original outcome's events as encoded frames (header included, as ``rfq_sbe.encode`` writes them);
6. ``SnapshotEnd`` whose ``record_count`` counts every record of the snapshot, itself and
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
from rfq.cluster.domain.rfqs import Dealer, Rfq, RfqBook
from rfq.codecs.errors import CodecError
from rfq.codecs.rfq_sbe import (
    BooleanType,
    DealerState,
    DedupeRecord,
    DedupeRecordOutcomes,
    EndedRfqRecord,
    EndReason,
    InstrumentRecord,
    RfqRecord,
    RfqRecordDealers,
    SnapshotBegin,
    SnapshotEnd,
    decode,
)

_R = TypeVar("_R")


class SnapshotError(ValueError):
    """The snapshot records are torn, out of order or inconsistent; nothing may be restored from them."""


def instrument_record(instrument: Instrument) -> InstrumentRecord:
    """One instrument as its record (snapshots and ``QueryState`` answers)."""
    return InstrumentRecord(
        instrument_id=instrument.instrument_id,
        min_quantity=instrument.min_quantity,
        enabled=BooleanType.TRUE if instrument.enabled else BooleanType.FALSE,
        cusip=instrument.cusip,
    )


def rfq_record(rfq: Rfq) -> RfqRecord:
    """One active RFQ and its dealers' standing as its record (snapshots and ``QueryState`` answers)."""
    return RfqRecord(
        rfq_id=rfq.rfq_id,
        correlation_id=rfq.correlation_id,
        requester_user_id=rfq.requester_user_id,
        instrument_id=rfq.instrument_id,
        side=rfq.side,
        quantity=rfq.quantity,
        expire_time_ms=rfq.expire_time_ms,
        created_time_ms=rfq.created_time_ms,
        cl_ord_id=rfq.cl_ord_id,
        dealers=[
            RfqRecordDealers(
                dealer_user_id=dealer.user_id,
                state=dealer.state,
                quote_id=dealer.quote_id,
                price=dealer.price,
                valid_until_ms=dealer.valid_until_ms,
                counter_id=dealer.counter_id,
                counter_price=dealer.counter_price,
            )
            for dealer in rfq.dealers.values()
        ],
    )


def write_snapshot(
    instruments: InstrumentBook, rfqs: RfqBook, dedupe: DedupeWindow, timestamp_ms: int
) -> list[SnapshotRecord]:
    """The state as snapshot records, in the order of the module docstring."""
    records: list[SnapshotRecord] = [
        SnapshotBegin(
            next_instrument_id=instruments.next_instrument_id,
            next_rfq_id=rfqs.next_rfq_id,
            next_quote_id=rfqs.next_quote_id,
            next_trade_id=rfqs.next_trade_id,
            instrument_count=len(instruments),
            rfq_count=len(rfqs),
            ended_count=rfqs.ended_count(),
            dedupe_count=len(dedupe),
            timestamp_ms=timestamp_ms,
        )
    ]
    records.extend(instrument_record(instrument) for instrument in instruments)
    records.extend(rfq_record(rfq) for rfq in rfqs)
    records.extend(EndedRfqRecord(rfq_id=rfq_id, reason=reason) for rfq_id, reason in rfqs.ended())
    records.extend(
        DedupeRecord(
            correlation_id=correlation_id,
            applied_time_ms=applied_time_ms,
            command_digest=digest,
            outcomes=[DedupeRecordOutcomes(template_id=_template_of(f), frame=f) for f in frames],
        )
        for correlation_id, applied_time_ms, digest, frames in dedupe.frames()
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
        rfq_record_ = _next(stream, RfqRecord, "RfqRecord")
        _check_rfq(rfq_record_, begin, instruments, rfqs)
        rfqs.put(
            Rfq(
                rfq_id=rfq_record_.rfq_id,
                correlation_id=rfq_record_.correlation_id,
                requester_user_id=rfq_record_.requester_user_id,
                instrument_id=rfq_record_.instrument_id,
                side=rfq_record_.side,
                quantity=rfq_record_.quantity,
                expire_time_ms=rfq_record_.expire_time_ms,
                created_time_ms=rfq_record_.created_time_ms,
                cl_ord_id=rfq_record_.cl_ord_id,
                dealers={
                    d.dealer_user_id: Dealer(
                        d.dealer_user_id,
                        d.state,
                        d.quote_id,
                        d.price,
                        d.valid_until_ms,
                        d.counter_id,
                        d.counter_price,
                    )
                    for d in rfq_record_.dealers
                },
            )
        )
    rfqs.next_rfq_id = begin.next_rfq_id
    rfqs.next_quote_id = begin.next_quote_id
    rfqs.next_trade_id = begin.next_trade_id
    for _ in range(begin.ended_count):
        ended = _next(stream, EndedRfqRecord, "EndedRfqRecord")
        if not 0 < ended.rfq_id < begin.next_rfq_id or rfqs.get(ended.rfq_id) is not None:
            raise SnapshotError(f"ended rfq {ended.rfq_id} is out of sequence or still active")
        if ended.reason == EndReason.DONE_AWAY or rfqs.ended_reason(ended.rfq_id) is not None:
            raise SnapshotError(f"ended rfq {ended.rfq_id} is repeated or has no RFQ end reason")
        rfqs.remember_ended(ended.rfq_id, ended.reason)
    for _ in range(begin.dedupe_count):
        dedupe_record = _next(stream, DedupeRecord, "DedupeRecord")
        if dedupe_record.correlation_id in dedupe:
            raise SnapshotError(f"correlation id {dedupe_record.correlation_id} is recorded twice")
        for outcome in dedupe_record.outcomes:
            _decode_event(outcome)  # validates the frame; the window keeps the bytes as they are
        if not dedupe_record.outcomes:
            raise SnapshotError(f"correlation id {dedupe_record.correlation_id} has no outcome")
        frames = tuple(bytes(outcome.frame) for outcome in dedupe_record.outcomes)
        dedupe.record_frames(
            dedupe_record.correlation_id, dedupe_record.applied_time_ms, dedupe_record.command_digest, frames
        )
    end = _next(stream, SnapshotEnd, "SnapshotEnd")
    expected = 2 + begin.instrument_count + begin.rfq_count + begin.ended_count + begin.dedupe_count
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
    if instruments.get(record.instrument_id) is None:
        raise SnapshotError(f"rfq {record.rfq_id} is on unknown instrument {record.instrument_id}")
    dealer_ids = [dealer.dealer_user_id for dealer in record.dealers]
    if not dealer_ids or len(set(dealer_ids)) != len(dealer_ids) or record.requester_user_id in dealer_ids:
        raise SnapshotError(f"rfq {record.rfq_id} has no dealers, a dealer twice, or its requester as one")
    for dealer in record.dealers:
        quoted = dealer.state == DealerState.QUOTED
        quote = (dealer.quote_id, dealer.price)
        ids = [i for i in (dealer.quote_id, dealer.counter_id) if i is not None]
        consistent = (
            (None not in quote if quoted else quote == (None, None) and dealer.valid_until_ms is None)
            and (dealer.counter_id is None) == (dealer.counter_price is None)
            and (quoted or dealer.counter_id is None)
            and all(0 < i < begin.next_quote_id for i in ids)
        )
        if not consistent:
            raise SnapshotError(f"rfq {record.rfq_id}: dealer {dealer.dealer_user_id}: quote fields disagree")


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
