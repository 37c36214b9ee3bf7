"""Snapshot records out and in: order, counts, every dealer's standing, the ended and dedupe windows,
torn or inconsistent snapshots, no timers on restore, and a restored machine that carries on exactly
as the original does."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from rfq.cluster.domain import InMemoryTimers, SnapshotError, StateMachine, command_digest
from rfq.codecs.rfq_sbe import (
    AcceptQuote,
    CancelRfq,
    DealerState,
    DedupeRecord,
    DedupeRecordOutcomes,
    EndedRfqRecord,
    EndReason,
    InstrumentRecord,
    QueryState,
    RejectReason,
    RfqRecord,
    RfqRecordDealers,
    Side,
    SnapshotBegin,
    SnapshotEnd,
    SubmitQuote,
    decode,
    encode,
)

ALICE, BOB, CAROL, DAVE, ERIN = 1, 2, 3, 4, 5
APPLE, GOOGLE = "037833100", "38259P508"
PRICE = 99_50_000_000
REFUSED_QUOTE = SubmitQuote(correlation_id=4_000, user_id=CAROL, rfq_id=99, price=5)


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
    """Two active RFQs with a dealer in every standing, three ended ones, and a refusal."""
    market.add_instrument(cusip=GOOGLE, min_quantity=0, enabled=False)
    first = market.open_rfq(dealers=(BOB, CAROL, DAVE, ERIN), cl_ord_id="first")
    market.quoted(BOB, first, price=PRICE, valid_until_ms=market.now + 50_000)  # quote 1
    market.countered(first, market.quoted(CAROL, first, price=PRICE + 1), price=PRICE - 1)  # 2, counter 3
    market.quoted(DAVE, first)  # quote 4
    market.withdraw(DAVE, first)
    market.pass_rfq(ERIN, first)
    market.open_rfq(user=BOB, dealers=(CAROL, ALICE), side=Side.SELL, cl_ord_id="second")
    traded = market.open_rfq()
    market.hit(traded, market.quoted(BOB, traded))  # quote 5, trade 1
    market.cancel(market.open_rfq())
    market.open_rfq(expires_in_ms=10)
    market.now += 10
    assert len(market.fire_due()) == 4  # RFQ 5 expires
    assert market.apply(REFUSED_QUOTE).refused  # a refusal, remembered for dedupe
    market.now += 7
    return market


@pytest.fixture
def records(market: Any) -> list[Any]:
    return list(busy(market).sm.snapshot())


def test_records_come_in_the_documented_order(market: Any, records: list[Any]) -> None:
    begin, end = records[0], records[-1]
    window = list(market.sm.dedupe)
    assert begin == SnapshotBegin(
        next_instrument_id=3,
        next_rfq_id=6,
        next_quote_id=6,
        next_trade_id=2,
        instrument_count=2,
        rfq_count=2,
        ended_count=3,
        dedupe_count=len(window),
        timestamp_ms=market.now - 7,  # the last command's cluster time
    )
    assert len(window) == 17  # every command, none of the timers
    kinds = [type(r) for r in records]
    assert kinds == [
        SnapshotBegin,
        InstrumentRecord,
        InstrumentRecord,
        RfqRecord,
        RfqRecord,
        EndedRfqRecord,
        EndedRfqRecord,
        EndedRfqRecord,
        *[DedupeRecord] * 17,
        SnapshotEnd,
    ]
    assert end == SnapshotEnd(record_count=len(records))  # itself and SnapshotBegin included
    assert records[5:8] == [  # oldest ended first
        EndedRfqRecord(rfq_id=3, reason=EndReason.TRADED),
        EndedRfqRecord(rfq_id=4, reason=EndReason.CANCELED),
        EndedRfqRecord(rfq_id=5, reason=EndReason.EXPIRED),
    ]


def test_an_rfq_record_holds_every_dealers_standing_in_invitation_order(
    market: Any, records: list[Any]
) -> None:
    first = records[3]
    assert isinstance(first, RfqRecord)
    assert (first.rfq_id, first.requester_user_id, first.instrument_id, first.side) == (1, ALICE, 1, Side.BUY)
    assert (first.quantity, first.cl_ord_id) == (1_000, "first")
    assert first.expire_time_ms == first.created_time_ms + 60_000
    assert first.dealers == [
        RfqRecordDealers(
            dealer_user_id=BOB,
            state=DealerState.QUOTED,
            quote_id=1,
            price=PRICE,
            valid_until_ms=first.created_time_ms + 50_000,
        ),
        RfqRecordDealers(
            dealer_user_id=CAROL,
            state=DealerState.QUOTED,
            quote_id=2,
            price=PRICE + 1,
            counter_id=3,
            counter_price=PRICE - 1,
        ),
        RfqRecordDealers(dealer_user_id=DAVE, state=DealerState.WITHDRAWN),
        RfqRecordDealers(dealer_user_id=ERIN, state=DealerState.PASSED),
    ]
    second = records[4]
    assert (second.rfq_id, second.requester_user_id, second.side) == (2, BOB, Side.SELL)
    assert second.dealers == [
        RfqRecordDealers(dealer_user_id=CAROL, state=DealerState.INVITED),
        RfqRecordDealers(dealer_user_id=ALICE, state=DealerState.INVITED),
    ]


def test_dedupe_records_hold_the_digest_and_the_encoded_outcome(market: Any, records: list[Any]) -> None:
    dedupe = [r for r in records if isinstance(r, DedupeRecord)]
    window = list(market.sm.dedupe)
    assert [(d.correlation_id, d.applied_time_ms) for d in dedupe] == [(c, t) for c, t, _ in window]
    for record, (_, _, events) in zip(dedupe, window, strict=True):
        assert [o.template_id for o in record.outcomes] == [e.TEMPLATE_ID for e in events]
        assert tuple(decode(o.frame) for o in record.outcomes) == events
        assert all(o.frame == encode(e) for o, e in zip(record.outcomes, events, strict=True))
    refusal = dedupe[-1]
    assert refusal.correlation_id == REFUSED_QUOTE.correlation_id
    assert refusal.command_digest == command_digest(REFUSED_QUOTE)


def test_restore_gives_back_the_same_state_and_schedules_no_timer(market: Any, records: list[Any]) -> None:
    wire = [encode(r) for r in records]
    timers = RecordingTimers()
    restored = StateMachine.restore([decode(frame) for frame in wire], timers, dedupe_capacity=1000)
    assert timers.calls == []  # the consensus module restores its own timers
    assert [encode(r) for r in restored.snapshot()] == wire
    expiries = [(1, records[3].expire_time_ms), (2, records[4].expire_time_ms)]
    assert restored.active_expiries() == market.sm.active_expiries() == expiries
    assert restored.last_time_ms == market.sm.last_time_ms


def test_a_restored_machine_carries_on_exactly_as_the_original(market: Any, records: list[Any]) -> None:
    restored = StateMachine.restore(
        [decode(encode(r)) for r in records], InMemoryTimers(), dedupe_capacity=1000
    )
    first_cid = next(iter(market.sm.dedupe))[0]
    commands: list[Any] = [
        SubmitQuote(correlation_id=1, user_id=CAROL, rfq_id=2, price=5),  # a new quote: id 6
        REFUSED_QUOTE,  # a resend: the original refusal, from the restored window
        CancelRfq(correlation_id=first_cid, user_id=ALICE, rfq_id=1),  # a reused correlation id
        CancelRfq(correlation_id=2, user_id=ALICE, rfq_id=3),  # ALREADY_TRADED, from the ended window
        CancelRfq(correlation_id=3, user_id=ALICE, rfq_id=4),  # RFQ_NOT_ACTIVE
        CancelRfq(correlation_id=4, user_id=ALICE, rfq_id=5),  # RFQ_EXPIRED
        AcceptQuote(correlation_id=5, user_id=ALICE, rfq_id=1, quote_id=1),  # trade 2, Carol's cover
        QueryState(correlation_id=6, user_id=ALICE),
    ]
    outcomes = []
    for command in commands:
        expected = market.sm.apply(command, market.now)
        assert restored.apply(command, market.now) == expected, command
        outcomes.append(expected)
    assert outcomes[0].events[0].quote_id == 6
    assert outcomes[1].duplicate
    reasons = [market.reason(outcome) for outcome in outcomes[1:6]]
    assert reasons == [
        RejectReason.UNKNOWN_RFQ,
        RejectReason.CORRELATION_ID_REUSED,
        RejectReason.ALREADY_TRADED,
        RejectReason.RFQ_NOT_ACTIVE,
        RejectReason.RFQ_EXPIRED,
    ]
    traded = outcomes[6].events[0]
    assert (traded.trade_id, traded.price, traded.cover_price) == (2, PRICE, PRICE + 1)
    assert [encode(r) for r in restored.snapshot()] == [encode(r) for r in market.sm.snapshot()]


def test_an_empty_state_round_trips() -> None:
    records = StateMachine(InMemoryTimers()).snapshot()
    assert records == [
        SnapshotBegin(
            next_instrument_id=1,
            next_rfq_id=1,
            next_quote_id=1,
            next_trade_id=1,
            instrument_count=0,
            rfq_count=0,
            ended_count=0,
            dedupe_count=0,
            timestamp_ms=0,
        ),
        SnapshotEnd(record_count=2),
    ]
    assert StateMachine.restore(records, InMemoryTimers()).snapshot() == records


def test_instrument_records_restore_enabled_flags(records: list[Any]) -> None:
    instruments = [r for r in records if isinstance(r, InstrumentRecord)]
    restored = StateMachine.restore(records, InMemoryTimers())
    assert [(i.instrument_id, i.cusip, i.min_quantity, i.enabled) for i in restored.instruments] == [
        (1, APPLE, 100, True),
        (2, GOOGLE, 0, False),
    ]
    assert [(r.instrument_id, r.enabled == 1) for r in instruments] == [(1, True), (2, False)]


# ------------------------------------------------------------------ the bounded windows


def test_the_windows_evict_the_oldest_and_a_restored_machine_evicts_identically(make_desk: Any) -> None:
    market = make_desk(dedupe_capacity=4, ended_capacity=2)
    market.add_instrument()
    for _ in range(3):
        market.cancel(market.open_rfq())
    assert [rfq_id for rfq_id, _ in market.sm.rfqs.ended()] == [2, 3]
    assert len(market.sm.dedupe) == 4
    restored = StateMachine.restore(
        market.sm.snapshot(), InMemoryTimers(), dedupe_capacity=4, ended_capacity=2
    )
    commands = [
        market.create_command(),
        CancelRfq(correlation_id=1, user_id=ALICE, rfq_id=4),
        CancelRfq(correlation_id=2, user_id=ALICE, rfq_id=2),  # RFQ 2 left the ended window just now
    ]
    outcomes = [market.sm.apply(command, market.now) for command in commands]
    assert [restored.apply(command, market.now) for command in commands] == outcomes
    assert market.reason(outcomes[2]) == RejectReason.RFQ_NOT_ACTIVE
    for sm in (market.sm, restored):
        assert [rfq_id for rfq_id, _ in sm.rfqs.ended()] == [3, 4]
        assert [c for c, _, _ in sm.dedupe] == [1007, 1008, 1, 2]
    assert [encode(r) for r in restored.snapshot()] == [encode(r) for r in market.sm.snapshot()]


def test_smaller_windows_keep_the_newest_entries(records: list[Any], market: Any) -> None:
    restored = StateMachine.restore(records, InMemoryTimers(), dedupe_capacity=3, ended_capacity=1)
    assert [c for c, _, _ in restored.dedupe] == [c for c, _, _ in market.sm.dedupe][-3:]
    assert list(restored.rfqs.ended()) == [(5, EndReason.EXPIRED)]


# ------------------------------------------------------------------ torn and inconsistent snapshots


def _with(record: Any, **changes: Any) -> Any:
    fields = {name: getattr(record, name) for name in record.__slots__}
    return type(record)(**(fields | changes))


def _replace(records: list[Any], old: Any, new: Any) -> list[Any]:
    return [new if r is old else r for r in records]


def _first(records: list[Any], kind: type) -> Any:
    return next(r for r in records if isinstance(r, kind))


def _with_dealer(records: list[Any], index: int, **changes: Any) -> list[Any]:
    """The first RfqRecord with its dealer ``index`` changed."""
    rfq = _first(records, RfqRecord)
    dealers = list(rfq.dealers)
    dealers[index] = _with(dealers[index], **changes)
    return _replace(records, rfq, _with(rfq, dealers=dealers))


BOB_QUOTED, CAROL_COUNTERED, DAVE_WITHDRAWN, ERIN_PASSED = 0, 1, 2, 3

Torn = Callable[[list[Any]], list[Any]]


def _dedupe(records: list[Any], **changes: Any) -> list[Any]:
    dedupe = _first(records, DedupeRecord)
    return _replace(records, dedupe, _with(dedupe, **changes))


def _begin(records: list[Any], **changes: Any) -> list[Any]:
    return [_with(records[0], **changes), *records[1:]]


def _ended(records: list[Any], **changes: Any) -> list[Any]:
    ended = _first(records, EndedRfqRecord)
    return _replace(records, ended, _with(ended, **changes))


def _first_rfq(records: list[Any], **changes: Any) -> list[Any]:
    rfq = _first(records, RfqRecord)
    return _replace(records, rfq, _with(rfq, **changes))


TORN: dict[str, Torn] = {
    # the frame of the snapshot
    "no SnapshotEnd": lambda r: r[:-1],
    "no SnapshotBegin": lambda r: r[1:],
    "a record missing": lambda r: r[:3] + r[4:],
    "a record after the end": lambda r: [*r, SnapshotEnd(record_count=len(r) + 1)],
    "the end miscounts": lambda r: [*r[:-1], SnapshotEnd(record_count=len(r) - 1)],
    "out of order": lambda r: [r[0], r[3], r[1], r[2], *r[4:]],
    "begin counts an instrument too many": lambda r: _begin(r, instrument_count=3),
    "begin counts an ended rfq too few": lambda r: _begin(r, ended_count=2),
    "begin counts a dedupe record too few": lambda r: _begin(r, dedupe_count=r[0].dedupe_count - 1),
    # instruments
    "an instrument repeated": lambda r: [r[0], r[1], _with(r[1], cusip=GOOGLE), *r[3:]],
    "a CUSIP held twice": lambda r: [r[0], r[1], _with(r[2], cusip=APPLE), *r[3:]],
    "an instrument beyond the sequence": lambda r: [r[0], r[1], _with(r[2], instrument_id=3), *r[3:]],
    # active RFQs
    "an rfq on an unknown instrument": lambda r: _first_rfq(r, instrument_id=77),
    "an rfq beyond the sequence": lambda r: _first_rfq(r, rfq_id=r[0].next_rfq_id),
    "an rfq repeated": lambda r: [*r[:4], r[3], *r[5:]],
    "an rfq without dealers": lambda r: _first_rfq(r, dealers=[]),
    "a dealer twice": lambda r: _with_dealer(r, DAVE_WITHDRAWN, dealer_user_id=BOB),
    "the requester as a dealer": lambda r: _with_dealer(r, DAVE_WITHDRAWN, dealer_user_id=ALICE),
    "QUOTED without a quote id": lambda r: _with_dealer(r, BOB_QUOTED, quote_id=None),
    "QUOTED without a price": lambda r: _with_dealer(r, BOB_QUOTED, price=None),
    "WITHDRAWN with a quote": lambda r: _with_dealer(r, DAVE_WITHDRAWN, quote_id=4, price=PRICE),
    "WITHDRAWN with a validity": lambda r: _with_dealer(r, DAVE_WITHDRAWN, valid_until_ms=1),
    "PASSED with a quote": lambda r: _with_dealer(r, ERIN_PASSED, quote_id=4, price=PRICE),
    "a counter to a dealer not QUOTED": lambda r: _with_dealer(
        r, DAVE_WITHDRAWN, counter_id=3, counter_price=PRICE
    ),
    "a counter id without its price": lambda r: _with_dealer(r, CAROL_COUNTERED, counter_price=None),
    "a counter price without its id": lambda r: _with_dealer(r, CAROL_COUNTERED, counter_id=None),
    "a quote id beyond the sequence": lambda r: _with_dealer(r, BOB_QUOTED, quote_id=r[0].next_quote_id),
    "a counter id beyond the sequence": lambda r: _with_dealer(
        r, CAROL_COUNTERED, counter_id=r[0].next_quote_id
    ),
    # the ended window
    "an ended record for an active rfq": lambda r: _ended(r, rfq_id=1),
    "an ended rfq beyond the sequence": lambda r: _ended(r, rfq_id=r[0].next_rfq_id),
    "an ended rfq repeated": lambda r: [*r[:6], r[5], *r[7:]],
    "an rfq done away": lambda r: _ended(r, reason=EndReason.DONE_AWAY),
    # the dedupe window
    "a correlation id recorded twice": lambda r: [*r[:9], r[8], *r[10:]],
    "a dedupe record without outcome": lambda r: _dedupe(r, outcomes=[]),
    "a dedupe frame that does not decode": lambda r: _dedupe(
        r, outcomes=[DedupeRecordOutcomes(template_id=21, frame=b"\x01\x02")]
    ),
    "a dedupe frame of another template": lambda r: _dedupe(
        r, outcomes=[DedupeRecordOutcomes(template_id=24, frame=_first(r, DedupeRecord).outcomes[0].frame)]
    ),
    "a dedupe frame holding a command": lambda r: _dedupe(
        r, outcomes=[DedupeRecordOutcomes(template_id=4, frame=encode(REFUSED_QUOTE))]
    ),
}


@pytest.mark.parametrize("how", TORN, ids=list(TORN))
def test_a_torn_or_inconsistent_snapshot_is_refused(records: list[Any], how: str) -> None:
    torn = TORN[how](records)
    assert torn != records
    with pytest.raises(SnapshotError):
        StateMachine.restore(torn, InMemoryTimers())


def test_the_torn_cases_are_whole_snapshots_but_for_their_flaw(records: list[Any]) -> None:
    """The cases above change what they say: the untouched records restore."""
    assert StateMachine.restore(records, InMemoryTimers()).snapshot() == records
    assert isinstance(records[8], DedupeRecord)
    assert isinstance(records[5], EndedRfqRecord)


def test_the_snapshot_time_is_that_of_the_last_command_or_timer(market: Any) -> None:
    create = market.create_command(expires_in_ms=100)
    market.apply(create)
    assert market.sm.snapshot()[0].timestamp_ms == market.now
    market.now += 100
    market.fire_due()
    assert market.sm.snapshot()[0].timestamp_ms == market.now
    market.now += 5
    market.query()  # a query changes nothing, not even this
    assert market.apply(create).duplicate  # nor a resend
    assert market.sm.snapshot()[0].timestamp_ms == market.now - 5
