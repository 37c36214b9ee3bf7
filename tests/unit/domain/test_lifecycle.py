"""The RFQ lifecycle's successful paths: the events, their audience, their ids, and the timers."""

from __future__ import annotations

from typing import Any

import pytest

from rfq.cluster.domain import Audience, InMemoryTimers, StateMachine
from rfq.codecs.rfq_sbe import (
    AddInstrument,
    BooleanType,
    CancelReason,
    CreateRfq,
    InstrumentAdded,
    InstrumentEnabled,
    RfqAccepted,
    RfqCanceled,
    RfqCountered,
    RfqCreated,
    RfqExpired,
    RfqQuoted,
    RfqRejected,
    RfqState,
    Side,
)

ALICE, BOB, CAROL = 1, 2, 3
APPLE, GOOGLE, MICROSOFT = "037833100", "38259P508", "594918104"
PRICE = 99_50_000_000  # 99.50


def only(outcome: Any) -> Any:
    assert outcome.audience is Audience.BROADCAST
    assert not outcome.duplicate
    assert len(outcome.events) == 1
    return outcome.events[0]


def test_instruments_get_ids_from_a_sequence(desk: Any) -> None:
    first = only(desk.add_instrument(cusip=APPLE, min_quantity=5))
    second = only(desk.add_instrument(cusip=GOOGLE, enabled=False))
    assert isinstance(first, InstrumentAdded)
    assert (first.instrument_id, second.instrument_id) == (1, 2)
    assert (first.cusip, first.min_quantity, first.enabled) == (APPLE, 5, BooleanType.TRUE)
    assert second.enabled == BooleanType.FALSE
    assert first.timestamp_ms == desk.now
    desk.add_instrument(cusip="bad")  # a refusal takes no id
    assert only(desk.add_instrument(cusip=MICROSOFT)).instrument_id == 3


def test_create_schedules_the_expiry_timer_keyed_by_rfq_id(market: Any) -> None:
    outcome = market.create(user=ALICE, side=Side.SELL, quantity=5_000, expires_in_ms=30_000, cl_ord_id="A-7")
    created = only(outcome)
    assert isinstance(created, RfqCreated)
    assert created.rfq_id == 1
    assert (created.requester_user_id, created.instrument_id, created.side) == (ALICE, 1, Side.SELL)
    assert (created.quantity, created.cl_ord_id) == (5_000, "A-7")
    assert created.expire_time_ms == market.now + 30_000
    assert market.timers.pending() == {1: market.now + 30_000}
    assert only(market.create()).rfq_id == 2


@pytest.mark.parametrize(("side", "buyer", "seller"), [(Side.BUY, ALICE, BOB), (Side.SELL, BOB, ALICE)])
def test_quote_counter_accept_is_a_trade(market: Any, side: Side, buyer: int, seller: int) -> None:
    rfq_id = market.open_rfq(user=ALICE, side=side, quantity=2_000)
    quoted = only(market.quote(BOB, rfq_id, price=PRICE))
    assert isinstance(quoted, RfqQuoted)
    assert (quoted.requester_user_id, quoted.responder_user_id, quoted.price) == (ALICE, BOB, PRICE)
    countered = only(market.counter(ALICE, rfq_id, price=PRICE - 1))
    assert isinstance(countered, RfqCountered)
    assert (countered.requester_user_id, countered.responder_user_id) == (ALICE, BOB)
    assert countered.countered_by_user_id == ALICE
    countered = only(market.counter(BOB, rfq_id, price=PRICE - 2))
    assert countered.countered_by_user_id == BOB
    assert market.sm.rfqs.get(rfq_id).state == RfqState.COUNTERED
    market.now += 5
    trade = only(market.accept(ALICE, rfq_id))
    assert isinstance(trade, RfqAccepted)
    assert (trade.requester_user_id, trade.responder_user_id, trade.accepted_by_user_id) == (
        ALICE,
        BOB,
        ALICE,
    )
    assert (trade.buyer_user_id, trade.seller_user_id) == (buyer, seller)
    assert (trade.price, trade.quantity, trade.instrument_id) == (PRICE - 2, 2_000, 1)
    assert trade.timestamp_ms == market.now
    assert market.sm.rfqs.get(rfq_id) is None
    assert market.timers.pending() == {}


def test_the_requester_accepts_the_quote_directly(market: Any) -> None:
    rfq_id = market.quoted_rfq()
    trade = only(market.accept(ALICE, rfq_id))
    assert (trade.buyer_user_id, trade.seller_user_id, trade.price) == (ALICE, BOB, 100 * 10**8)


def test_the_responder_accepts_a_counter(market: Any) -> None:
    rfq_id = market.quoted_rfq()
    market.counter(ALICE, rfq_id, price=PRICE)
    trade = only(market.accept(BOB, rfq_id))
    assert (trade.accepted_by_user_id, trade.price) == (BOB, PRICE)


def test_reject_carries_both_parties(market: Any) -> None:
    rfq_id = market.quoted_rfq()
    market.counter(ALICE, rfq_id, price=PRICE)
    rejected = only(market.reject(BOB, rfq_id))
    assert isinstance(rejected, RfqRejected)
    assert (rejected.requester_user_id, rejected.responder_user_id, rejected.rejected_by_user_id) == (
        ALICE,
        BOB,
        BOB,
    )
    assert market.timers.pending() == {}


@pytest.mark.parametrize("quoted", [False, True])
def test_cancel_by_the_requester(market: Any, quoted: bool) -> None:
    rfq_id = market.quoted_rfq() if quoted else market.open_rfq()
    canceled = only(market.cancel(ALICE, rfq_id))
    assert isinstance(canceled, RfqCanceled)
    assert canceled.reason == CancelReason.REQUESTER
    assert canceled.requester_user_id == ALICE
    assert canceled.responder_user_id == (BOB if quoted else None)
    assert market.timers.pending() == {}


def test_expiry_fires_at_the_deadline(market: Any) -> None:
    rfq_id = market.quoted_rfq(expires_in_ms=10_000)
    market.now += 9_999
    assert market.fire_due() == []
    market.now += 1
    (expired,) = market.fire_due()
    assert isinstance(expired, RfqExpired)
    assert (expired.rfq_id, expired.requester_user_id, expired.responder_user_id) == (rfq_id, ALICE, BOB)
    assert expired.timestamp_ms == market.now
    assert market.sm.on_timer(rfq_id, market.now) == ()  # a stale timer is harmless


def test_a_timer_that_fires_early_is_scheduled_again() -> None:
    timers = InMemoryTimers()
    sm = StateMachine(timers)
    sm.apply(
        AddInstrument(correlation_id=1, user_id=9, min_quantity=0, enabled=BooleanType.TRUE, cusip=APPLE), 0
    )
    sm.apply(
        CreateRfq(
            correlation_id=2,
            user_id=ALICE,
            instrument_id=1,
            side=Side.BUY,
            quantity=1,
            expire_time_ms=100,
            cl_ord_id="",
        ),
        0,
    )
    timers.pop_due(100)
    assert sm.on_timer(1, 50) == ()
    assert timers.pending() == {1: 100}
    assert [type(e) for e in sm.on_timer(1, 100)] == [RfqExpired]


def test_disabling_an_instrument_cancels_its_active_rfqs(market: Any) -> None:
    market.add_instrument(cusip=GOOGLE)
    on_apple = [market.open_rfq(), market.quoted_rfq(requester=CAROL, responder=ALICE)]
    on_google = market.open_rfq(instrument_id=2)
    done = market.quoted_rfq()
    market.accept(ALICE, done)
    outcome = market.enable(1, False)
    assert outcome.audience is Audience.BROADCAST
    enabled, *canceled = outcome.events
    assert isinstance(enabled, InstrumentEnabled)
    assert (enabled.instrument_id, enabled.enabled) == (1, BooleanType.FALSE)
    assert [c.rfq_id for c in canceled] == on_apple  # ascending rfq id
    assert all(isinstance(c, RfqCanceled) for c in canceled)
    assert {c.reason for c in canceled} == {CancelReason.INSTRUMENT_DISABLED}
    assert {c.correlation_id for c in canceled} == {enabled.correlation_id}
    assert [(c.requester_user_id, c.responder_user_id) for c in canceled] == [(ALICE, None), (CAROL, ALICE)]
    assert market.timers.pending() == {on_google: market.now + 60_000}
    enabled_again = only(market.enable(1, True))
    assert enabled_again.enabled == BooleanType.TRUE


def test_active_expiries_lists_the_timers_that_should_be_pending(market: Any) -> None:
    first = market.open_rfq(expires_in_ms=5_000)
    second = market.quoted_rfq(expires_in_ms=7_000)
    market.cancel(ALICE, market.open_rfq())
    assert market.sm.active_expiries() == [(first, market.now + 5_000), (second, market.now + 7_000)]
    assert dict(market.sm.active_expiries()) == market.timers.pending()
