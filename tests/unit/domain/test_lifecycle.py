"""The multi-dealer RFQ's successful paths, as docs/state-machine.md tells them: the exact events of
each command (one copy per recipient, in order, the correlation id only in the actor's copy), the
ids the cluster assigns, and the timers."""

from __future__ import annotations

from typing import Any

import pytest

from rfq.cluster.domain import Audience, InMemoryTimers, StateMachine
from rfq.codecs.rfq_sbe import (
    AddInstrument,
    BooleanType,
    CreateRfq,
    CreateRfqDealers,
    DealerPassed,
    DealerState,
    EndReason,
    InstrumentAdded,
    InstrumentEnabled,
    InstrumentRecord,
    QueryState,
    QuoteCountered,
    QuoteSubmitted,
    QuoteWithdrawn,
    RejectReason,
    RfqCreated,
    RfqCreatedDealers,
    RfqEnded,
    RfqInvited,
    RfqRecord,
    RfqTraded,
    Side,
    StateQueried,
    TradeKind,
)

OPERATOR = 99
ALICE, BOB, CAROL, DAVE, ERIN, FRANK, GRACE = 1, 2, 3, 4, 5, 6, 7
APPLE, GOOGLE, MICROSOFT = "037833100", "38259P508", "594918104"
PRICE_100 = 100 * 10**8
PRICE = 99_50_000_000  # 99.50
R = RejectReason


def ended(
    rfq_id: int, reason: EndReason, now: int, *recipients: int, cid: int | None = None
) -> list[RfqEnded]:
    """``RfqEnded`` copies to ``recipients`` in order; ``cid`` only in the first (the actor's) copy."""
    return [
        RfqEnded(
            recipient_user_id=user,
            correlation_id=cid if index == 0 else None,
            rfq_id=rfq_id,
            reason=reason,
            timestamp_ms=now,
        )
        for index, user in enumerate(recipients)
    ]


def dealer_state(desk: Any, rfq_id: int, dealer: int) -> DealerState:
    return DealerState(desk.sm.rfqs.get(rfq_id).dealers[dealer].state)


# ------------------------------------------------------------------ instruments


def test_instruments_get_ids_from_a_sequence(desk: Any) -> None:
    (first,) = desk.changed(desk.add_instrument(cusip=APPLE, min_quantity=5))
    assert first == InstrumentAdded(
        correlation_id=desk.last_cid,
        instrument_id=1,
        min_quantity=5,
        enabled=BooleanType.TRUE,
        timestamp_ms=desk.now,
        cusip=APPLE,
    )
    (second,) = desk.changed(desk.add_instrument(cusip=GOOGLE, enabled=False))
    assert (second.instrument_id, second.enabled) == (2, BooleanType.FALSE)
    assert desk.add_instrument(cusip="bad").refused  # a refusal takes no id
    assert desk.changed(desk.add_instrument(cusip=MICROSOFT))[0].instrument_id == 3


def test_enabling_an_instrument_is_reference_data(market: Any) -> None:
    (disabled,) = market.changed(market.enable(1, False))
    assert disabled == InstrumentEnabled(
        correlation_id=market.last_cid, instrument_id=1, enabled=BooleanType.FALSE, timestamp_ms=market.now
    )
    (enabled,) = market.changed(market.enable(1, True))
    assert enabled.enabled == BooleanType.TRUE
    assert market.shape([enabled]) == [("InstrumentEnabled", None, market.last_cid)]  # to EVERYONE


# ------------------------------------------------------------------ create


def test_create_tells_the_requester_and_invites_each_dealer(market: Any) -> None:
    deadline = market.now + 30_000
    events = market.changed(
        market.create(
            user=ALICE,
            dealers=(CAROL, BOB),
            side=Side.SELL,
            quantity=5_000,
            expires_in_ms=30_000,
            cl_ord_id="A-7",
        )
    )
    common: dict[str, Any] = {"rfq_id": 1, "requester_user_id": ALICE, "instrument_id": 1, "side": Side.SELL}
    common |= {"quantity": 5_000, "expire_time_ms": deadline, "timestamp_ms": market.now}
    assert events == (
        RfqCreated(
            correlation_id=market.last_cid,
            cl_ord_id="A-7",
            dealers=[RfqCreatedDealers(dealer_user_id=CAROL), RfqCreatedDealers(dealer_user_id=BOB)],
            **common,
        ),
        RfqInvited(dealer_user_id=CAROL, dealer_count=2, **common),  # in the order Alice named them
        RfqInvited(dealer_user_id=BOB, dealer_count=2, **common),
    )
    # an invitation holds how many dealers compete, never who they are nor the requester's own ids
    assert not {"correlation_id", "cl_ord_id", "dealers"} & set(RfqInvited.__slots__)
    assert market.timers.pending() == {1: deadline}  # the expiry timer is keyed by the rfq id
    assert market.open_rfq() == 2


def test_every_invited_dealer_starts_invited(market: Any) -> None:
    rfq_id = market.open_rfq(dealers=(DAVE, BOB, CAROL))
    rfq = market.sm.rfqs.get(rfq_id)
    assert [(d.user_id, d.state) for d in rfq.dealers.values()] == [
        (DAVE, DealerState.INVITED),
        (BOB, DealerState.INVITED),
        (CAROL, DealerState.INVITED),
    ]


# ------------------------------------------------------------------ quotes


def test_a_quote_goes_to_the_dealer_then_the_requester(market: Any) -> None:
    rfq_id = market.open_rfq(expires_in_ms=60_000)
    events = market.changed(market.quote(BOB, rfq_id, price=PRICE))
    common: dict[str, Any] = {"rfq_id": rfq_id, "quote_id": 1, "dealer_user_id": BOB, "price": PRICE}
    # no validity of its own: valid until the deadline; nothing replaced
    common |= {"valid_until_ms": market.now + 60_000, "replaced_quote_id": None, "timestamp_ms": market.now}
    assert events == (
        QuoteSubmitted(recipient_user_id=BOB, correlation_id=market.last_cid, **common),
        QuoteSubmitted(recipient_user_id=ALICE, correlation_id=None, **common),
    )
    assert dealer_state(market, rfq_id, BOB) == DealerState.QUOTED


def test_a_quote_may_carry_its_own_validity(market: Any) -> None:
    rfq_id = market.open_rfq(expires_in_ms=60_000)
    events = market.changed(market.quote(CAROL, rfq_id, valid_until_ms=market.now + 5_000))
    assert [e.valid_until_ms for e in events] == [market.now + 5_000] * 2
    assert market.shape(events) == [
        ("QuoteSubmitted", CAROL, market.last_cid),
        ("QuoteSubmitted", ALICE, None),
    ]


def test_quotes_and_counters_share_one_id_sequence_across_rfqs(market: Any) -> None:
    first, second = market.open_rfq(), market.open_rfq()
    assert market.quoted(BOB, first) == 1
    assert market.countered(first, 1) == 2
    assert market.quoted(BOB, second) == 3
    assert market.quoted(CAROL, first) == 4


def test_a_new_quote_replaces_the_dealers_live_one(market: Any) -> None:
    rfq_id = market.open_rfq()
    old = market.quoted(BOB, rfq_id, price=PRICE)
    market.quoted(CAROL, rfq_id)  # another dealer's quote replaces nothing of Bob's
    events = market.changed(market.quote(BOB, rfq_id, price=PRICE - 1))
    assert [(e.quote_id, e.replaced_quote_id, e.price) for e in events] == [(3, old, PRICE - 1)] * 2
    assert market.reason(market.hit(rfq_id, old)) == R.QUOTE_NOT_LIVE
    market.changed(market.hit(rfq_id, 3))


def test_a_quote_past_its_validity_is_still_replaced(market: Any) -> None:
    rfq_id = market.open_rfq()
    old = market.quoted(BOB, rfq_id, valid_until_ms=market.now + 1_000)
    market.now += 1_000
    events = market.changed(market.quote(BOB, rfq_id))
    assert [e.replaced_quote_id for e in events] == [old, old]


def test_a_withdrawn_quote_is_not_replaced(market: Any) -> None:
    rfq_id = market.open_rfq()
    market.quoted(BOB, rfq_id)
    market.changed(market.withdraw(BOB, rfq_id))
    events = market.changed(market.quote(BOB, rfq_id))
    assert [e.replaced_quote_id for e in events] == [None, None]
    assert dealer_state(market, rfq_id, BOB) == DealerState.QUOTED


def test_withdraw_goes_to_the_dealer_then_the_requester(market: Any) -> None:
    rfq_id = market.open_rfq()
    quote_id = market.quoted(CAROL, rfq_id)
    market.now += 3
    events = market.changed(market.withdraw(CAROL, rfq_id))
    common: dict[str, Any] = {
        "rfq_id": rfq_id,
        "quote_id": quote_id,
        "dealer_user_id": CAROL,
        "timestamp_ms": market.now,
    }
    assert events == (
        QuoteWithdrawn(recipient_user_id=CAROL, correlation_id=market.last_cid, **common),
        QuoteWithdrawn(recipient_user_id=ALICE, correlation_id=None, **common),
    )
    assert dealer_state(market, rfq_id, CAROL) == DealerState.WITHDRAWN
    assert market.reason(market.hit(rfq_id, quote_id)) == R.QUOTE_NOT_LIVE


# ------------------------------------------------------------------ passing


def test_a_dealer_may_pass_without_quoting(market: Any) -> None:
    rfq_id = market.open_rfq()
    events = market.changed(market.pass_rfq(DAVE, rfq_id))
    common: dict[str, Any] = {"rfq_id": rfq_id, "dealer_user_id": DAVE, "timestamp_ms": market.now}
    assert events == (
        DealerPassed(recipient_user_id=DAVE, correlation_id=market.last_cid, **common),
        DealerPassed(recipient_user_id=ALICE, correlation_id=None, **common),
    )
    assert dealer_state(market, rfq_id, DAVE) == DealerState.PASSED


def test_passing_is_final_and_kills_the_quote_and_the_counter(market: Any) -> None:
    rfq_id = market.open_rfq()
    quote_id = market.quoted(BOB, rfq_id)
    counter_id = market.countered(rfq_id, quote_id)
    assert market.shape(market.changed(market.pass_rfq(BOB, rfq_id))) == [
        ("DealerPassed", BOB, market.last_cid),
        ("DealerPassed", ALICE, None),
    ]
    assert market.reason(market.hit(rfq_id, quote_id)) == R.QUOTE_NOT_LIVE
    assert market.reason(market.accept_counter(BOB, rfq_id, counter_id)) == R.DEALER_PASSED
    assert market.reason(market.quote(BOB, rfq_id)) == R.DEALER_PASSED
    assert market.reason(market.withdraw(BOB, rfq_id)) == R.DEALER_PASSED
    assert market.reason(market.pass_rfq(BOB, rfq_id)) == R.DEALER_PASSED
    dealer = market.sm.rfqs.get(rfq_id).dealers[BOB]
    assert (dealer.quote_id, dealer.price, dealer.counter_id, dealer.counter_price) == (None,) * 4


# ------------------------------------------------------------------ counters


def test_a_counter_goes_to_the_requester_then_that_dealer_only(market: Any) -> None:
    rfq_id = market.open_rfq()
    bobs = market.quoted(BOB, rfq_id, price=PRICE)
    market.quoted(CAROL, rfq_id, price=PRICE + 1)
    market.now += 2
    events = market.changed(market.counter(rfq_id, bobs, price=PRICE - 10))
    common: dict[str, Any] = {"rfq_id": rfq_id, "counter_id": 3, "quote_id": bobs, "dealer_user_id": BOB}
    common |= {"price": PRICE - 10, "timestamp_ms": market.now}
    assert events == (
        QuoteCountered(recipient_user_id=ALICE, correlation_id=market.last_cid, **common),
        QuoteCountered(recipient_user_id=BOB, correlation_id=None, **common),
    )
    dealer = market.sm.rfqs.get(rfq_id).dealers[BOB]
    assert (dealer.state, dealer.quote_id, dealer.counter_id, dealer.counter_price) == (
        DealerState.QUOTED,
        bobs,
        3,
        PRICE - 10,
    )


def test_the_quote_countered_stays_live(market: Any) -> None:
    rfq_id = market.open_rfq()
    quote_id = market.quoted(BOB, rfq_id, price=PRICE)
    market.countered(rfq_id, quote_id, price=PRICE - 10)
    traded = market.changed(market.hit(rfq_id, quote_id))[0]
    assert (traded.kind, traded.quote_id, traded.price) == (TradeKind.QUOTE_HIT, quote_id, PRICE)


def test_a_new_counter_to_the_same_dealer_replaces_the_previous_one(market: Any) -> None:
    rfq_id = market.open_rfq()
    quote_id = market.quoted(BOB, rfq_id, price=PRICE)
    first = market.countered(rfq_id, quote_id, price=PRICE - 20)
    second = market.countered(rfq_id, quote_id, price=PRICE - 10)
    assert second == first + 1
    assert market.reason(market.accept_counter(BOB, rfq_id, first)) == R.COUNTER_NOT_LIVE
    traded = market.changed(market.accept_counter(BOB, rfq_id, second))[0]
    assert (traded.quote_id, traded.price) == (second, PRICE - 10)


def test_counters_to_different_dealers_live_side_by_side(market: Any) -> None:
    rfq_id = market.open_rfq()
    to_bob = market.countered(rfq_id, market.quoted(BOB, rfq_id), price=PRICE - 1)
    to_carol = market.countered(rfq_id, market.quoted(CAROL, rfq_id), price=PRICE - 2)
    # a dealer may accept only the counter addressed to it
    assert market.reason(market.accept_counter(BOB, rfq_id, to_carol)) == R.COUNTER_NOT_LIVE
    traded = market.changed(market.accept_counter(CAROL, rfq_id, to_carol))[0]
    assert (traded.dealer_user_id, traded.quote_id, traded.price) == (CAROL, to_carol, PRICE - 2)
    assert to_bob < to_carol


@pytest.mark.parametrize("then", ["quotes again", "withdraws", "passes"])
def test_a_counter_dies_with_the_dealers_next_move(market: Any, then: str) -> None:
    rfq_id = market.open_rfq()
    counter_id = market.countered(rfq_id, market.quoted(BOB, rfq_id))
    if then == "quotes again":
        market.quoted(BOB, rfq_id, price=PRICE)
        expected = R.COUNTER_NOT_LIVE
    elif then == "withdraws":
        market.changed(market.withdraw(BOB, rfq_id))
        expected = R.COUNTER_NOT_LIVE
    else:
        market.changed(market.pass_rfq(BOB, rfq_id))
        expected = R.DEALER_PASSED  # the dealer rule comes first
    assert market.reason(market.accept_counter(BOB, rfq_id, counter_id)) == expected
    assert market.sm.rfqs.get(rfq_id).dealers[BOB].counter_id is None


# ------------------------------------------------------------------ trades


def traded(recipient: int, cid: int | None, **fields: Any) -> RfqTraded:
    return RfqTraded(recipient_user_id=recipient, correlation_id=cid, **fields)


@pytest.mark.parametrize(("side", "buyer", "seller"), [(Side.BUY, ALICE, BOB), (Side.SELL, BOB, ALICE)])
def test_hitting_a_quote_is_the_one_trade(market: Any, side: Side, buyer: int, seller: int) -> None:
    rfq_id = market.open_rfq(side=side, quantity=2_000, dealers=(BOB, CAROL, DAVE, ERIN))
    bobs = market.quoted(BOB, rfq_id, price=PRICE)
    market.quoted(CAROL, rfq_id, price=PRICE + (1 if side == Side.BUY else -1))
    market.changed(market.pass_rfq(ERIN, rfq_id))
    market.now += 5
    events = market.changed(market.hit(rfq_id, bobs))
    trade: dict[str, Any] = {"rfq_id": rfq_id, "trade_id": 1, "kind": TradeKind.QUOTE_HIT, "quote_id": bobs}
    trade |= {"requester_user_id": ALICE, "dealer_user_id": BOB, "buyer_user_id": buyer}
    trade |= {"seller_user_id": seller, "instrument_id": 1, "price": PRICE, "quantity": 2_000}
    trade |= {"cover_price": PRICE + (1 if side == Side.BUY else -1), "timestamp_ms": market.now}
    assert events == (
        traded(ALICE, market.last_cid, **trade),  # the actor's copy carries the correlation id
        traded(BOB, None, **trade),
        # Carol quoted: done away; Dave never quoted: traded (with someone); Erin passed: hears nothing
        *ended(rfq_id, EndReason.DONE_AWAY, market.now, CAROL),
        *ended(rfq_id, EndReason.TRADED, market.now, DAVE),
    )
    assert market.sm.rfqs.get(rfq_id) is None
    assert market.timers.pending() == {}


def test_the_dealer_accepts_the_requesters_counter(market: Any) -> None:
    rfq_id = market.open_rfq(side=Side.SELL)
    bobs = market.quoted(BOB, rfq_id, price=PRICE)
    market.quoted(CAROL, rfq_id, price=PRICE - 3)
    counter_id = market.countered(rfq_id, bobs, price=PRICE + 2)
    events = market.changed(market.accept_counter(BOB, rfq_id, counter_id))
    trade: dict[str, Any] = {
        "rfq_id": rfq_id,
        "trade_id": 1,
        "kind": TradeKind.COUNTER_ACCEPTED,
        "quote_id": counter_id,
    }
    trade |= {"requester_user_id": ALICE, "dealer_user_id": BOB, "buyer_user_id": BOB}
    trade |= {"seller_user_id": ALICE, "instrument_id": 1, "price": PRICE + 2, "quantity": 1_000}
    trade |= {"cover_price": PRICE - 3, "timestamp_ms": market.now}
    assert events == (
        traded(ALICE, None, **trade),
        traded(BOB, market.last_cid, **trade),  # Bob acted: his copy carries the correlation id
        *ended(rfq_id, EndReason.DONE_AWAY, market.now, CAROL),
        *ended(rfq_id, EndReason.TRADED, market.now, DAVE),
    )


@pytest.mark.parametrize(("side", "cover"), [(Side.BUY, 99), (Side.SELL, 101)])
def test_the_cover_is_the_best_other_live_quote(make_desk: Any, side: Side, cover: int) -> None:
    """Lowest price when the requester buys, highest when it sells; only live quotes count."""
    market = make_desk()
    market.add_instrument()
    better = -1 if side == Side.BUY else 1  # a price that would be a better cover, were it live
    rfq_id = market.open_rfq(side=side, dealers=(BOB, CAROL, DAVE, ERIN, FRANK, GRACE))
    bobs = market.quoted(BOB, rfq_id, price=100 + 10 * better)  # the winner's own price is no cover
    market.quoted(CAROL, rfq_id, price=99)
    market.quoted(DAVE, rfq_id, price=101)
    market.quoted(ERIN, rfq_id, price=100 + 5 * better, valid_until_ms=market.now + 1_000)
    market.quoted(FRANK, rfq_id, price=100 + 6 * better)
    market.changed(market.withdraw(FRANK, rfq_id))
    market.quoted(GRACE, rfq_id, price=100 + 7 * better)
    market.changed(market.pass_rfq(GRACE, rfq_id))
    market.now += 1_000  # Erin's quote is past its validity: not live, no cover
    copies = market.changed(market.hit(rfq_id, bobs))
    assert [e.cover_price for e in copies[:2]] == [cover, cover]  # both copies carry the same cover
    assert market.shape(copies[2:]) == [  # Erin quoted and Frank withdrew: both done away
        ("RfqEnded", CAROL, None),
        ("RfqEnded", DAVE, None),
        ("RfqEnded", ERIN, None),
        ("RfqEnded", FRANK, None),
    ]
    assert {e.reason for e in copies[2:]} == {EndReason.DONE_AWAY}


def test_no_cover_without_another_live_quote(market: Any) -> None:
    rfq_id = market.open_rfq(dealers=(BOB, CAROL))
    market.quoted(CAROL, rfq_id, valid_until_ms=market.now + 10)
    bobs = market.quoted(BOB, rfq_id)
    market.now += 10
    copies = market.changed(market.hit(rfq_id, bobs))
    assert [e.cover_price for e in copies[:2]] == [None, None]


def test_trade_ids_are_a_sequence(market: Any) -> None:
    ids = []
    for _ in range(3):
        rfq_id = market.open_rfq()
        ids.append(market.changed(market.hit(rfq_id, market.quoted(DAVE, rfq_id)))[0].trade_id)
    assert ids == [1, 2, 3]


# ------------------------------------------------------------------ other endings


def test_cancel_tells_the_requester_then_every_dealer_still_in(market: Any) -> None:
    rfq_id = market.open_rfq()
    market.quoted(BOB, rfq_id)
    market.changed(market.pass_rfq(CAROL, rfq_id))
    events = market.changed(market.cancel(rfq_id))
    assert list(events) == ended(
        rfq_id, EndReason.CANCELED, market.now, ALICE, BOB, DAVE, cid=market.last_cid
    )
    assert market.timers.pending() == {}
    assert market.sm.rfqs.get(rfq_id) is None


def test_disabling_an_instrument_ends_its_active_rfqs(market: Any) -> None:
    market.add_instrument(cusip=GOOGLE)
    first = market.open_rfq(dealers=(BOB, CAROL, DAVE))
    market.changed(market.pass_rfq(CAROL, first))
    on_google = market.open_rfq(instrument_id=2)
    second = market.open_rfq(user=BOB, dealers=(DAVE, ALICE))
    almost_over = market.open_rfq(expires_in_ms=1_000)
    done = market.open_rfq()
    market.hit(done, market.quoted(BOB, done))
    market.now += 1_000  # the deadline of almost_over: it is over, its timer has not fired yet
    events = market.changed(market.enable(1, False))
    assert list(events) == [
        InstrumentEnabled(
            correlation_id=market.last_cid,
            instrument_id=1,
            enabled=BooleanType.FALSE,
            timestamp_ms=market.now,
        ),
        # ascending rfq id; the requester, then each dealer that has not passed; no correlation id
        *ended(first, EndReason.INSTRUMENT_DISABLED, market.now, ALICE, BOB, DAVE),
        *ended(second, EndReason.INSTRUMENT_DISABLED, market.now, BOB, DAVE, ALICE),
    ]
    deadline = market.now - 1_000 + 60_000
    assert market.timers.pending() == {on_google: deadline, almost_over: market.now}
    # the RFQ that was already over ends by its deadline, not by the instrument
    assert market.fire_due() == ended(almost_over, EndReason.EXPIRED, market.now, ALICE, BOB, CAROL, DAVE)


def test_the_deadline_ends_an_rfq_when_its_timer_fires(market: Any) -> None:
    rfq_id = market.open_rfq(expires_in_ms=10_000)
    market.quoted(BOB, rfq_id)
    market.changed(market.pass_rfq(DAVE, rfq_id))
    market.now += 9_999
    assert market.fire_due() == []
    market.now += 1
    assert market.fire_due() == ended(rfq_id, EndReason.EXPIRED, market.now, ALICE, BOB, CAROL)
    assert market.sm.rfqs.get(rfq_id) is None
    assert market.sm.on_timer(rfq_id, market.now) == ()  # a stale timer is harmless
    assert market.sm.on_timer(999, market.now) == ()


def test_a_timer_that_fires_early_is_scheduled_again() -> None:
    timers = InMemoryTimers()
    sm = StateMachine(timers)
    sm.apply(
        AddInstrument(correlation_id=1, user_id=9, min_quantity=0, enabled=BooleanType.TRUE, cusip=APPLE), 0
    )
    create = CreateRfq(
        correlation_id=2,
        user_id=ALICE,
        instrument_id=1,
        side=Side.BUY,
        quantity=1,
        expire_time_ms=100,
        cl_ord_id="",
        dealers=[CreateRfqDealers(dealer_user_id=BOB)],
    )
    sm.apply(create, 0)
    timers.pop_due(100)
    assert sm.on_timer(1, 50) == ()
    assert timers.pending() == {1: 100}
    assert sm.on_timer(1, 100) == tuple(ended(1, EndReason.EXPIRED, 100, ALICE, BOB))


def test_active_expiries_lists_the_timers_that_should_be_pending(market: Any) -> None:
    first = market.open_rfq(expires_in_ms=5_000)
    second = market.open_rfq(expires_in_ms=7_000)
    market.cancel(market.open_rfq())
    assert market.sm.active_expiries() == [(first, market.now + 5_000), (second, market.now + 7_000)]
    assert dict(market.sm.active_expiries()) == market.timers.pending()


# ------------------------------------------------------------------ queries


def test_query_state_answers_the_sender_with_the_state_and_changes_nothing(market: Any) -> None:
    market.add_instrument(cusip=GOOGLE, min_quantity=0, enabled=False)
    rfq_id = market.open_rfq()
    market.quoted(BOB, rfq_id, valid_until_ms=market.now + 10)
    market.cancel(market.open_rfq())
    before, dedupe_before = market.sm.snapshot(), len(market.sm.dedupe)
    market.now += 50
    outcome = market.query(user=OPERATOR)
    assert outcome.audience is Audience.SENDER
    assert not outcome.duplicate
    assert not outcome.refused
    *records, last = outcome.events
    assert records == [r for r in before if isinstance(r, InstrumentRecord | RfqRecord)]
    assert [type(r) for r in records] == [InstrumentRecord, InstrumentRecord, RfqRecord]
    assert last == StateQueried(
        correlation_id=market.last_cid,
        instrument_count=2,
        rfq_count=1,
        next_rfq_id=3,
        timestamp_ms=market.now,
    )
    assert market.sm.snapshot() == before  # not even the last applied time moved
    assert len(market.sm.dedupe) == dedupe_before
    assert market.last_cid not in market.sm.dedupe
    again = market.apply(QueryState(correlation_id=market.last_cid, user_id=OPERATOR))
    assert not again.duplicate  # not recorded: a resend is simply answered again
    assert again.events == outcome.events


def test_query_state_of_an_empty_machine(desk: Any) -> None:
    outcome = desk.query()
    assert outcome.events == (
        StateQueried(
            correlation_id=desk.last_cid,
            instrument_count=0,
            rfq_count=0,
            next_rfq_id=1,
            timestamp_ms=desk.now,
        ),
    )
