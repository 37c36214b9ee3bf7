"""Snapshot records out and in: order, counts, encoded dedupe frames, torn snapshots, no timers."""

from __future__ import annotations

from typing import Any

import pytest

from rfq.cluster.domain import InMemoryTimers, SnapshotError, StateMachine
from rfq.codecs.rfq_sbe import (
    DedupeRecord,
    DedupeRecordOutcomes,
    InstrumentRecord,
    QuoteRfq,
    RfqQuoted,
    RfqRecord,
    RfqState,
    SnapshotBegin,
    SnapshotEnd,
    decode,
    encode,
)

ALICE, BOB, CAROL = 1, 2, 3
GOOGLE = "38259P508"


class RecordingTimers(InMemoryTimers):
    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[str, int]] = []

    def schedule(self, correlation_id: int, deadline_ms: int) -> None:
        self.calls.append(("schedule", correlation_id))
        super().schedule(correlation_id, deadline_ms)

    def cancel(self, correlation_id: int) -> None:
        self.calls.append(("cancel", correlation_id))
        super().cancel(correlation_id)


def busy(market: Any) -> Any:
    market.add_instrument(cusip=GOOGLE, min_quantity=0, enabled=False)
    market.open_rfq(user=ALICE, cl_ord_id="first")
    quoted = market.quoted_rfq(requester=BOB, responder=CAROL)
    market.counter(BOB, quoted, price=123)
    market.accept(ALICE, market.quoted_rfq())
    market.quote(CAROL, 99)  # a refusal, remembered for dedupe
    market.now += 7
    return market


def test_records_come_in_the_documented_order(market: Any) -> None:
    records = busy(market).sm.snapshot()
    kinds = [type(r).__name__ for r in records]
    begin, end = records[0], records[-1]
    assert isinstance(begin, SnapshotBegin)
    assert isinstance(end, SnapshotEnd)
    assert (begin.instrument_count, begin.rfq_count, begin.dedupe_count) == (2, 2, 10)
    assert (begin.next_instrument_id, begin.next_rfq_id) == (3, 4)
    assert begin.timestamp_ms == market.now - 7  # the last applied command's cluster time
    assert kinds == ["SnapshotBegin"] + ["InstrumentRecord"] * 2 + ["RfqRecord"] * 2 + [
        "DedupeRecord"
    ] * 10 + ["SnapshotEnd"]
    assert end.record_count == len(records)
    rfq = records[4]
    assert isinstance(rfq, RfqRecord)
    assert (rfq.rfq_id, rfq.state, rfq.requester_user_id, rfq.responder_user_id) == (
        2,
        RfqState.COUNTERED,
        BOB,
        CAROL,
    )
    assert (rfq.last_price_user_id, rfq.price) == (BOB, 123)
    dedupe = [r for r in records if isinstance(r, DedupeRecord)]
    assert [d.correlation_id for d in dedupe] == [c for c, _, _ in market.sm.dedupe]
    for record, (_, _, events) in zip(dedupe, market.sm.dedupe, strict=True):
        assert [o.template_id for o in record.outcomes] == [e.TEMPLATE_ID for e in events]
        assert tuple(decode(o.frame) for o in record.outcomes) == events


def test_restore_gives_back_the_same_state_and_schedules_no_timer(market: Any) -> None:
    busy(market)
    records = market.sm.snapshot()
    wire = [encode(r) for r in records]
    timers = RecordingTimers()
    restored = StateMachine.restore([decode(frame) for frame in wire], timers, dedupe_capacity=1000)
    assert timers.calls == []
    assert [encode(r) for r in restored.snapshot()] == wire
    assert restored.active_expiries() == market.sm.active_expiries()
    assert restored.last_time_ms == market.sm.last_time_ms
    # and it carries on exactly as the original does
    for sm in (market.sm, restored):
        (quoted,) = sm.apply(_quote(3, CAROL), market.now).events
        assert isinstance(quoted, RfqQuoted)
        assert quoted.rfq_id == 1
    assert [encode(r) for r in restored.snapshot()] == [encode(r) for r in market.sm.snapshot()]


def _quote(cid: int, user: int) -> QuoteRfq:
    return QuoteRfq(correlation_id=cid, user_id=user, rfq_id=1, price=5)


def test_a_smaller_window_keeps_the_newest_entries(market: Any) -> None:
    records = busy(market).sm.snapshot()
    restored = StateMachine.restore(records, InMemoryTimers(), dedupe_capacity=3)
    assert [c for c, _, _ in restored.dedupe] == [c for c, _, _ in market.sm.dedupe][-3:]


def test_an_empty_state_round_trips() -> None:
    records = StateMachine(InMemoryTimers()).snapshot()
    assert [type(r) for r in records] == [SnapshotBegin, SnapshotEnd]
    assert StateMachine.restore(records, InMemoryTimers()).snapshot() == records


def _torn(records: list[Any]) -> list[list[Any]]:
    begin = records[0]
    rfq = next(r for r in records if isinstance(r, RfqRecord) and r.state == RfqState.COUNTERED)
    dedupe = next(r for r in records if isinstance(r, DedupeRecord))
    broken_frame = DedupeRecord(
        correlation_id=dedupe.correlation_id,
        applied_time_ms=0,
        outcomes=[DedupeRecordOutcomes(template_id=23, frame=b"\x01\x02")],
    )
    wrong_template = DedupeRecord(
        correlation_id=dedupe.correlation_id,
        applied_time_ms=0,
        outcomes=[DedupeRecordOutcomes(template_id=24, frame=dedupe.outcomes[0].frame)],
    )
    return [
        records[:-1],  # no SnapshotEnd
        records[1:],  # no SnapshotBegin
        records[:3] + records[4:],  # a record missing
        [*records, SnapshotEnd(record_count=len(records) + 1)],  # something after the end
        [*records[:-1], SnapshotEnd(record_count=3)],  # the end miscounts
        [records[0], records[3], records[1], records[2], *records[4:]],  # out of order
        [r if r is not rfq else _with(rfq, state=RfqState.ACCEPTED) for r in records],  # a terminal RFQ
        [r if r is not rfq else _with(rfq, instrument_id=77) for r in records],  # unknown instrument
        [r if r is not rfq else _with(rfq, rfq_id=begin.next_rfq_id) for r in records],  # beyond the sequence
        [r if r is not rfq else _with(rfq, price=None) for r in records],  # COUNTERED without a price
        [r if r is not dedupe else broken_frame for r in records],
        [r if r is not dedupe else wrong_template for r in records],
    ]


def _with(record: Any, **changes: Any) -> Any:
    fields = {name: getattr(record, name) for name in record.__slots__}
    fields.update(changes)
    return type(record)(**fields)


def test_a_torn_or_inconsistent_snapshot_is_refused(market: Any) -> None:
    records = busy(market).sm.snapshot()
    for index, torn in enumerate(_torn(records)):
        with pytest.raises(SnapshotError):
            StateMachine.restore(torn, InMemoryTimers())
            pytest.fail(f"torn snapshot #{index} was restored")


def test_instrument_records_restore_enabled_flags(market: Any) -> None:
    records = busy(market).sm.snapshot()
    instruments = [r for r in records if isinstance(r, InstrumentRecord)]
    restored = StateMachine.restore(records, InMemoryTimers())
    assert [(i.instrument_id, i.enabled) for i in restored.instruments] == [
        (r.instrument_id, r.enabled == 1) for r in instruments
    ]
