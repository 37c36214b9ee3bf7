"""Every rule of the validation table in docs/state-machine.md, and which one wins when several fail
(the first failing rule is the reason). A refusal changes nothing but the dedupe window."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import pytest

from rfq.cluster.domain import MAX_DEALERS
from rfq.codecs.rfq_sbe import (
    AcceptCounter,
    AcceptQuote,
    AddInstrument,
    BooleanType,
    CancelRfq,
    CounterQuote,
    CreateRfq,
    CreateRfqDealers,
    EnableInstrument,
    EndedRfqRecord,
    EndReason,
    InstrumentRecord,
    PassRfq,
    QueryState,
    RejectReason,
    RfqEnded,
    RfqRecord,
    Side,
    SnapshotBegin,
    SubmitQuote,
    WithdrawQuote,
    encode,
)

OPERATOR = 99
ALICE, BOB, CAROL, DAVE, ERIN = 1, 2, 3, 4, 5
APPLE, GOOGLE = "037833100", "38259P508"
PRICE_100 = 100 * 10**8
R = RejectReason


def domain_state(desk: Any) -> tuple[object, ...]:
    """Everything a refusal must leave alone: sequences, instruments, RFQs, ended RFQs, timers."""
    records = desk.sm.snapshot()
    begin = records[0]
    assert isinstance(begin, SnapshotBegin)
    sequences = (begin.next_instrument_id, begin.next_rfq_id, begin.next_quote_id, begin.next_trade_id)
    kept = [r for r in records if isinstance(r, InstrumentRecord | RfqRecord | EndedRfqRecord)]
    return sequences, kept, desk.timers.pending()


def refused(desk: Any, action: Callable[[], Any]) -> RejectReason:
    """Run ``action``; check it was refused, changed nothing but recording itself in the dedupe window;
    return the reason."""
    before = domain_state(desk)
    outcome = action()
    reason = desk.reason(outcome)
    assert domain_state(desk) == before
    assert desk.sm.dedupe.get(desk.last_cid) == outcome.events  # a resend gets the same refusal
    return RejectReason(reason)


# ------------------------------------------------------------------ instruments


def test_add_instrument_refuses_a_negative_minimum(desk: Any) -> None:
    assert refused(desk, lambda: desk.add_instrument(min_quantity=-1)) == R.INVALID_QUANTITY
    assert not desk.add_instrument(min_quantity=0).refused


@pytest.mark.parametrize("cusip", ["037833101", "03783310", "037833!00", "38259p508", ""])
def test_add_instrument_refuses_a_bad_cusip(desk: Any, cusip: str) -> None:
    assert refused(desk, lambda: desk.add_instrument(cusip=cusip)) == R.INVALID_CUSIP


def test_add_instrument_rules_in_order(desk: Any) -> None:
    assert refused(desk, lambda: desk.add_instrument(min_quantity=-1, cusip="bad")) == R.INVALID_QUANTITY
    assert refused(desk, lambda: desk.add_instrument(cusip="bad")) == R.INVALID_CUSIP
    assert not desk.add_instrument(cusip=APPLE).refused
    assert refused(desk, lambda: desk.add_instrument(cusip=APPLE, min_quantity=5)) == R.DUPLICATE_INSTRUMENT
    assert refused(desk, lambda: desk.add_instrument(cusip=APPLE, min_quantity=-5)) == R.INVALID_QUANTITY


def test_enable_instrument_rules(market: Any) -> None:
    assert refused(market, lambda: market.enable(2, False)) == R.UNKNOWN_INSTRUMENT
    assert refused(market, lambda: market.enable(1, True)) == R.NO_CHANGE
    assert not market.enable(1, False).refused
    assert refused(market, lambda: market.enable(1, False)) == R.NO_CHANGE


# ------------------------------------------------------------------ create


def test_create_rules_in_order(market: Any) -> None:
    """One command breaking every rule, mended one rule at a time: each time the next rule speaks."""
    market.add_instrument(cusip=GOOGLE, enabled=False)
    eleven = [BOB, BOB, ALICE, *range(10, 18)]
    ten = eleven[:10]
    ladder: list[tuple[dict[str, Any], RejectReason]] = [
        ({"cl_ord_id": "tab\there", "quantity": 0, "expires_in_ms": 0, "instrument_id": 9}, R.INVALID_FIELD),
        ({"quantity": 0, "expires_in_ms": 0, "instrument_id": 9}, R.INVALID_QUANTITY),
        ({"quantity": 50, "expires_in_ms": 0, "instrument_id": 9}, R.EXPIRY_NOT_IN_FUTURE),
        ({"quantity": 50, "instrument_id": 9}, R.UNKNOWN_INSTRUMENT),
        ({"quantity": 50, "instrument_id": 2}, R.INSTRUMENT_DISABLED),
        ({"quantity": 50}, R.QUANTITY_BELOW_MINIMUM),
        ({"dealers": []}, R.NO_DEALERS),
        ({"dealers": eleven}, R.TOO_MANY_DEALERS),
        ({"dealers": ten}, R.DUPLICATE_DEALER),
        ({"dealers": [BOB, ALICE, *range(10, 18)]}, R.REQUESTER_AS_DEALER),
    ]
    for kwargs, expected in ladder:
        reason = refused(market, functools.partial(market.create, **({"dealers": eleven} | kwargs)))
        assert reason == expected, kwargs
    assert not market.create(dealers=[BOB, DAVE, *range(10, 18)]).refused


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"cl_ord_id": "a\x01b"}, R.INVALID_FIELD),  # printable ASCII only
        ({"cl_ord_id": "del\x7f"}, R.INVALID_FIELD),
        ({"quantity": -100}, R.INVALID_QUANTITY),
        ({"expires_in_ms": -1}, R.EXPIRY_NOT_IN_FUTURE),
        ({"quantity": 99}, R.QUANTITY_BELOW_MINIMUM),
        ({"dealers": [BOB, CAROL, BOB]}, R.DUPLICATE_DEALER),
        ({"dealers": [BOB, ALICE, ALICE]}, R.DUPLICATE_DEALER),  # a dealer twice is checked first
        ({"dealers": [ALICE]}, R.REQUESTER_AS_DEALER),
        ({"dealers": list(range(10, 11 + MAX_DEALERS))}, R.TOO_MANY_DEALERS),
    ],
)
def test_create_rules(market: Any, kwargs: dict[str, Any], expected: RejectReason) -> None:
    assert refused(market, lambda: market.create(**kwargs)) == expected


def test_create_accepts_the_limits(market: Any) -> None:
    assert MAX_DEALERS == 10
    assert not market.create(dealers=list(range(10, 10 + MAX_DEALERS))).refused
    assert not market.create(dealers=[BOB], quantity=100, cl_ord_id="X" * 20, expires_in_ms=1).refused
    assert not market.create(cl_ord_id="").refused
    assert not market.create(cl_ord_id=" ~!").refused


def test_create_on_a_disabled_instrument(market: Any) -> None:
    market.enable(1, False)
    assert refused(market, market.create) == R.INSTRUMENT_DISABLED
    market.enable(1, True)
    assert not market.create().refused


# ------------------------------------------------------------------ the dealers' commands


def test_submit_quote_rules_in_order(market: Any) -> None:
    rfq_id = market.open_rfq(dealers=(BOB, CAROL))
    market.pass_rfq(CAROL, rfq_id)
    bad_validity = market.now  # not after now
    assert refused(market, lambda: market.quote(ERIN, 999, price=0)) == R.INVALID_PRICE
    assert refused(market, lambda: market.quote(ERIN, 999, price=-1)) == R.INVALID_PRICE
    assert refused(market, lambda: market.quote(ERIN, 999, valid_until_ms=bad_validity)) == R.UNKNOWN_RFQ
    assert refused(market, lambda: market.quote(ERIN, rfq_id, valid_until_ms=bad_validity)) == R.NOT_INVITED
    assert refused(market, lambda: market.quote(ALICE, rfq_id)) == R.NOT_INVITED  # the requester is not
    assert (
        refused(market, lambda: market.quote(CAROL, rfq_id, valid_until_ms=bad_validity)) == R.DEALER_PASSED
    )
    assert (
        refused(market, lambda: market.quote(BOB, rfq_id, valid_until_ms=bad_validity)) == R.INVALID_VALIDITY
    )
    assert not market.quote(BOB, rfq_id).refused


@pytest.mark.parametrize(
    ("valid_for_ms", "expected"),
    [
        (-1, R.INVALID_VALIDITY),
        (0, R.INVALID_VALIDITY),  # now < valid_until_ms ...
        (1, None),
        (60_000, None),  # ... <= the deadline
        (60_001, R.INVALID_VALIDITY),
    ],
)
def test_a_quotes_validity_lies_after_now_and_by_the_deadline(
    market: Any, valid_for_ms: int, expected: RejectReason | None
) -> None:
    rfq_id = market.open_rfq(expires_in_ms=60_000)
    outcome = market.quote(BOB, rfq_id, valid_until_ms=market.now + valid_for_ms)
    if expected is None:
        assert [e.valid_until_ms for e in market.changed(outcome)] == [market.now + valid_for_ms] * 2
    else:
        assert market.reason(outcome) == expected


def test_withdraw_quote_rules_in_order(market: Any) -> None:
    rfq_id = market.open_rfq(dealers=(BOB, CAROL, DAVE))
    market.pass_rfq(CAROL, rfq_id)
    assert refused(market, lambda: market.withdraw(BOB, 999)) == R.UNKNOWN_RFQ
    assert refused(market, lambda: market.withdraw(ERIN, rfq_id)) == R.NOT_INVITED
    assert refused(market, lambda: market.withdraw(ALICE, rfq_id)) == R.NOT_INVITED
    assert refused(market, lambda: market.withdraw(CAROL, rfq_id)) == R.DEALER_PASSED
    assert refused(market, lambda: market.withdraw(BOB, rfq_id)) == R.QUOTE_NOT_LIVE  # no quote yet
    market.quoted(BOB, rfq_id)
    assert not market.withdraw(BOB, rfq_id).refused
    assert refused(market, lambda: market.withdraw(BOB, rfq_id)) == R.QUOTE_NOT_LIVE  # withdrawn already
    market.quoted(DAVE, rfq_id, valid_until_ms=market.now + 100)
    market.now += 100
    assert refused(market, lambda: market.withdraw(DAVE, rfq_id)) == R.QUOTE_NOT_LIVE  # past its validity


def test_pass_rfq_rules_in_order(market: Any) -> None:
    rfq_id = market.open_rfq()
    assert refused(market, lambda: market.pass_rfq(BOB, 999)) == R.UNKNOWN_RFQ
    assert refused(market, lambda: market.pass_rfq(ERIN, rfq_id)) == R.NOT_INVITED
    assert refused(market, lambda: market.pass_rfq(ALICE, rfq_id)) == R.NOT_INVITED
    assert not market.pass_rfq(BOB, rfq_id).refused
    assert refused(market, lambda: market.pass_rfq(BOB, rfq_id)) == R.DEALER_PASSED


def test_accept_counter_rules_in_order(market: Any) -> None:
    rfq_id = market.open_rfq(dealers=(BOB, CAROL, DAVE))
    bobs = market.quoted(BOB, rfq_id)
    to_bob = market.countered(rfq_id, bobs)
    to_carol = market.countered(rfq_id, market.quoted(CAROL, rfq_id))
    market.pass_rfq(DAVE, rfq_id)
    never = market.sm.rfqs.next_quote_id
    assert refused(market, lambda: market.accept_counter(BOB, 999, never)) == R.UNKNOWN_RFQ
    assert refused(market, lambda: market.accept_counter(ERIN, rfq_id, never)) == R.NOT_INVITED
    assert refused(market, lambda: market.accept_counter(ALICE, rfq_id, to_bob)) == R.NOT_INVITED
    assert refused(market, lambda: market.accept_counter(DAVE, rfq_id, never)) == R.DEALER_PASSED
    assert refused(market, lambda: market.accept_counter(BOB, rfq_id, never)) == R.UNKNOWN_QUOTE
    assert refused(market, lambda: market.accept_counter(BOB, rfq_id, never + 10**9)) == R.UNKNOWN_QUOTE
    assert refused(market, lambda: market.accept_counter(BOB, rfq_id, bobs)) == R.COUNTER_NOT_LIVE  # a quote
    assert refused(market, lambda: market.accept_counter(BOB, rfq_id, to_carol)) == R.COUNTER_NOT_LIVE
    assert not market.accept_counter(BOB, rfq_id, to_bob).refused


def test_a_counter_has_no_validity_of_its_own(market: Any) -> None:
    """It stays live while it is the current counter, even when the quote it answers is past its validity."""
    rfq_id = market.open_rfq()
    counter_id = market.countered(rfq_id, market.quoted(BOB, rfq_id, valid_until_ms=market.now + 10))
    market.now += 10
    assert not market.accept_counter(BOB, rfq_id, counter_id).refused


# ------------------------------------------------------------------ the requester's commands


@pytest.mark.parametrize("act", ["counter", "hit"])
def test_counter_and_hit_rules_in_order(market: Any, act: str) -> None:
    def do(user: int, rfq_id: int, quote_id: int, price: int = PRICE_100) -> Any:
        if act == "counter":
            return market.counter(rfq_id, quote_id, price=price, user=user)
        return market.hit(rfq_id, quote_id, user=user)

    rfq_id = market.open_rfq(dealers=(BOB, CAROL, DAVE))
    bobs = market.quoted(BOB, rfq_id)
    never = market.sm.rfqs.next_quote_id
    if act == "counter":  # the price is checked before anything is looked up
        assert refused(market, lambda: do(ERIN, 999, never, price=0)) == R.INVALID_PRICE
        assert refused(market, lambda: do(ALICE, rfq_id, bobs, price=-1)) == R.INVALID_PRICE
    assert refused(market, lambda: do(ERIN, 999, never)) == R.UNKNOWN_RFQ
    assert refused(market, lambda: do(BOB, rfq_id, never)) == R.NOT_REQUESTER  # an invited dealer
    assert refused(market, lambda: do(ERIN, rfq_id, never)) == R.NOT_A_PARTY  # anybody else
    assert refused(market, lambda: do(ALICE, rfq_id, never)) == R.UNKNOWN_QUOTE
    assert refused(market, lambda: do(ALICE, rfq_id, never + 10**9)) == R.UNKNOWN_QUOTE
    assert not do(ALICE, rfq_id, bobs).refused


def not_live_quotes(market: Any) -> tuple[int, dict[str, int]]:
    """An RFQ and quote ids that were issued but are not a live quote of it, by why."""
    rfq_id = market.open_rfq(dealers=(BOB, CAROL, DAVE, ERIN))
    other_rfq = market.open_rfq()
    ids = {
        "replaced": market.quoted(BOB, rfq_id),
        "withdrawn": market.quoted(CAROL, rfq_id),
        "passed": market.quoted(DAVE, rfq_id),
        "past its validity": market.quoted(ERIN, rfq_id, valid_until_ms=market.now + 5),
        "of another RFQ": market.quoted(BOB, other_rfq),
    }
    live = market.quoted(BOB, rfq_id)
    ids["a counter"] = market.countered(rfq_id, live)
    market.withdraw(CAROL, rfq_id)
    market.pass_rfq(DAVE, rfq_id)
    market.now += 5
    return rfq_id, ids


@pytest.mark.parametrize(
    "why", ["replaced", "withdrawn", "passed", "past its validity", "of another RFQ", "a counter"]
)
def test_only_a_live_quote_of_this_rfq_may_be_countered_or_hit(market: Any, why: str) -> None:
    rfq_id, ids = not_live_quotes(market)
    quote_id = ids[why]
    assert refused(market, lambda: market.counter(rfq_id, quote_id)) == R.QUOTE_NOT_LIVE
    assert refused(market, lambda: market.hit(rfq_id, quote_id)) == R.QUOTE_NOT_LIVE


def test_cancel_rfq_rules_in_order(market: Any) -> None:
    rfq_id = market.open_rfq()
    assert refused(market, lambda: market.cancel(999)) == R.UNKNOWN_RFQ
    assert refused(market, lambda: market.cancel(999, user=ERIN)) == R.UNKNOWN_RFQ
    assert refused(market, lambda: market.cancel(rfq_id, user=BOB)) == R.NOT_REQUESTER
    assert refused(market, lambda: market.cancel(rfq_id, user=ERIN)) == R.NOT_A_PARTY
    assert refused(market, lambda: market.cancel(rfq_id, user=OPERATOR)) == R.NOT_A_PARTY
    assert not market.cancel(rfq_id).refused
    assert refused(market, lambda: market.cancel(rfq_id)) == R.RFQ_NOT_ACTIVE


def test_a_dealer_that_passed_is_still_not_the_requester(market: Any) -> None:
    rfq_id = market.open_rfq()
    market.pass_rfq(BOB, rfq_id)
    assert refused(market, lambda: market.cancel(rfq_id, user=BOB)) == R.NOT_REQUESTER


# ------------------------------------------------------------------ the RFQ rule


def rfq_commands(market: Any, rfq_id: int, quote_id: int, counter_id: int) -> dict[str, Callable[[], Any]]:
    """Every command that acts on one RFQ, each by a user entitled to it while the RFQ is active."""
    return {
        "quote": lambda: market.quote(CAROL, rfq_id),
        "withdraw": lambda: market.withdraw(BOB, rfq_id),
        "pass": lambda: market.pass_rfq(DAVE, rfq_id),
        "counter": lambda: market.counter(rfq_id, quote_id),
        "hit": lambda: market.hit(rfq_id, quote_id),
        "accept counter": lambda: market.accept_counter(BOB, rfq_id, counter_id),
        "cancel": lambda: market.cancel(rfq_id),
        "by a stranger": lambda: market.cancel(rfq_id, user=ERIN),  # the RFQ rule comes first
    }


def set_up(market: Any) -> tuple[int, int, int]:
    rfq_id = market.open_rfq(expires_in_ms=10_000)
    quote_id = market.quoted(BOB, rfq_id)
    counter_id = market.countered(rfq_id, quote_id)
    return rfq_id, quote_id, counter_id


@pytest.mark.parametrize(
    ("ending", "expected"),
    [
        ("hit", R.ALREADY_TRADED),
        ("counter accepted", R.ALREADY_TRADED),
        ("cancel", R.RFQ_NOT_ACTIVE),
        ("instrument disabled", R.RFQ_NOT_ACTIVE),
        ("deadline, timer fired", R.RFQ_EXPIRED),
        ("deadline, timer not fired yet", R.RFQ_EXPIRED),
    ],
)
def test_nothing_acts_on_an_rfq_that_is_over(market: Any, ending: str, expected: RejectReason) -> None:
    rfq_id, quote_id, counter_id = set_up(market)
    if ending == "hit":
        market.changed(market.hit(rfq_id, quote_id))
    elif ending == "counter accepted":
        market.changed(market.accept_counter(BOB, rfq_id, counter_id))
    elif ending == "cancel":
        market.changed(market.cancel(rfq_id))
    elif ending == "instrument disabled":
        market.changed(market.enable(1, False))
    else:
        market.now += 10_000
        if ending == "deadline, timer fired":
            assert {type(e) for e in market.fire_due()} == {RfqEnded}
    for name, command in rfq_commands(market, rfq_id, quote_id, counter_id).items():
        assert refused(market, command) == expected, name


@pytest.mark.parametrize(
    ("ending", "expected"),
    [("hit", R.ALREADY_TRADED), ("cancel", R.RFQ_NOT_ACTIVE), ("instrument disabled", R.RFQ_NOT_ACTIVE)],
)
def test_an_rfq_that_ended_before_its_deadline_keeps_its_reason_after_it(
    market: Any, ending: str, expected: RejectReason
) -> None:
    """How it ended comes before the deadline: not RFQ_EXPIRED once the deadline has passed too."""
    rfq_id, quote_id, _ = set_up(market)
    if ending == "hit":
        market.changed(market.hit(rfq_id, quote_id))
    elif ending == "cancel":
        market.changed(market.cancel(rfq_id))
    else:
        market.changed(market.enable(1, False))
    market.now += 10_000
    assert market.fire_due() == []  # its timer was withdrawn when it ended
    assert market.sm.on_timer(rfq_id, market.now) == ()  # and would be stale anyway
    assert refused(market, lambda: market.cancel(rfq_id)) == expected
    assert refused(market, lambda: market.quote(CAROL, rfq_id)) == expected


def test_rfq_rule_comes_after_the_field_checks(market: Any) -> None:
    rfq_id, quote_id, _ = set_up(market)
    market.cancel(rfq_id)
    assert refused(market, lambda: market.quote(BOB, rfq_id, price=0)) == R.INVALID_PRICE
    assert refused(market, lambda: market.counter(rfq_id, quote_id, price=0)) == R.INVALID_PRICE


def test_an_rfq_past_its_deadline_is_over_before_its_timer_fires(market: Any) -> None:
    rfq_id, quote_id, _ = set_up(market)
    market.now += 9_999
    assert not market.quote(CAROL, rfq_id, valid_until_ms=market.now + 1).refused
    market.now += 1  # the deadline; the timer event is not in the log yet
    assert refused(market, lambda: market.hit(rfq_id, quote_id)) == R.RFQ_EXPIRED
    assert refused(market, lambda: market.cancel(rfq_id)) == R.RFQ_EXPIRED
    # disabling the instrument leaves it to its timer, which ends it EXPIRED
    assert market.shape(market.changed(market.enable(1, False))) == [
        ("InstrumentEnabled", None, market.last_cid)
    ]
    ended = market.fire_due()
    assert {(e.rfq_id, e.reason) for e in ended} == {(rfq_id, EndReason.EXPIRED)}
    assert refused(market, lambda: market.cancel(rfq_id)) == R.RFQ_EXPIRED


def test_an_rfq_that_left_the_ended_window_is_just_not_active(make_desk: Any) -> None:
    market = make_desk(ended_capacity=2)
    market.add_instrument()
    traded = market.open_rfq()
    market.hit(traded, market.quoted(BOB, traded))
    assert refused(market, lambda: market.cancel(traded)) == R.ALREADY_TRADED
    for _ in range(2):
        market.cancel(market.open_rfq())
    assert market.sm.rfqs.ended_reason(traded) is None  # evicted, oldest first
    assert refused(market, lambda: market.cancel(traded)) == R.RFQ_NOT_ACTIVE
    assert refused(market, lambda: market.cancel(market.sm.rfqs.next_rfq_id)) == R.UNKNOWN_RFQ


# ------------------------------------------------------------------ not commands, unreadable fields


def test_a_message_that_is_not_a_command_is_refused_and_not_remembered(market: Any) -> None:
    rfq_id = market.open_rfq()
    stray = RfqEnded(
        recipient_user_id=ALICE, correlation_id=4242, rfq_id=rfq_id, reason=EndReason.CANCELED, timestamp_ms=0
    )
    outcome = market.apply(stray)
    assert market.reason(outcome) == R.UNKNOWN_TEMPLATE
    assert 4242 not in market.sm.dedupe
    cancel = market.apply(CancelRfq(correlation_id=4242, user_id=ALICE, rfq_id=rfq_id))
    assert not cancel.refused
    assert not cancel.duplicate


def test_query_state_needs_a_valid_user_id(desk: Any) -> None:
    outcome = desk.apply(QueryState(correlation_id=7, user_id=0))
    assert desk.reason(outcome) == R.INVALID_FIELD
    assert outcome.events[0].user_id is None  # an invalid user id is never echoed
    assert 7 not in desk.sm.dedupe


def _set(command: Any, **changes: Any) -> Any:
    """``command`` with ``changes`` set past its constructor: values no frame can carry."""
    for name, value in changes.items():
        setattr(command, name, value)
    return command


def _create(**changes: Any) -> CreateRfq:
    fields: dict[str, Any] = {"correlation_id": 1, "user_id": ALICE, "instrument_id": 1, "side": Side.BUY}
    fields |= {"quantity": 1_000, "expire_time_ms": 2**50, "cl_ord_id": "X"}
    fields |= {"dealers": [CreateRfqDealers(dealer_user_id=BOB)]}
    return _set(CreateRfq(**fields), **changes)  # type: ignore[no-any-return]


UNENCODABLE: dict[str, tuple[Callable[[], Any], RejectReason]] = {
    "AddInstrument enabled 2": (
        lambda: _set(
            AddInstrument(
                correlation_id=1, user_id=OPERATOR, min_quantity=0, enabled=BooleanType.TRUE, cusip=GOOGLE
            ),
            enabled=2,
        ),
        R.INVALID_FIELD,
    ),
    "EnableInstrument enabled 2": (
        lambda: _set(
            EnableInstrument(correlation_id=1, user_id=OPERATOR, instrument_id=1, enabled=BooleanType.TRUE),
            enabled=2,
        ),
        R.INVALID_FIELD,
    ),
    "AddInstrument user 0": (
        lambda: AddInstrument(
            correlation_id=1, user_id=0, min_quantity=0, enabled=BooleanType.TRUE, cusip=APPLE
        ),
        R.INVALID_FIELD,
    ),
    "AddInstrument user 2**31": (
        lambda: AddInstrument(
            correlation_id=1, user_id=2**31, min_quantity=0, enabled=BooleanType.TRUE, cusip=APPLE
        ),
        R.INVALID_FIELD,
    ),
    "EnableInstrument user -1": (
        lambda: EnableInstrument(correlation_id=1, user_id=-1, instrument_id=1, enabled=BooleanType.FALSE),
        R.INVALID_FIELD,
    ),
    "CreateRfq side 7": (lambda: _create(side=7), R.INVALID_FIELD),
    "CreateRfq clOrdId of 21": (lambda: _create(cl_ord_id="X" * 21), R.INVALID_FIELD),
    "CreateRfq clOrdId not ASCII": (lambda: _create(cl_ord_id="caf\u00e9"), R.INVALID_FIELD),
    "CreateRfq dealer 0": (lambda: _create(dealers=[CreateRfqDealers(dealer_user_id=0)]), R.INVALID_FIELD),
    "CreateRfq instrument 0": (lambda: _create(instrument_id=0), R.UNKNOWN_INSTRUMENT),
    "SubmitQuote user 0": (
        lambda: SubmitQuote(correlation_id=1, user_id=0, rfq_id=1, price=PRICE_100),
        R.INVALID_FIELD,
    ),
    "SubmitQuote rfq 0": (
        lambda: SubmitQuote(correlation_id=1, user_id=BOB, rfq_id=0, price=PRICE_100),
        R.UNKNOWN_RFQ,
    ),
    "WithdrawQuote user 0": (lambda: WithdrawQuote(correlation_id=1, user_id=0, rfq_id=1), R.INVALID_FIELD),
    "PassRfq user 0": (lambda: PassRfq(correlation_id=1, user_id=0, rfq_id=1), R.INVALID_FIELD),
    "CounterQuote user 0": (
        lambda: CounterQuote(correlation_id=1, user_id=0, rfq_id=1, quote_id=1, price=PRICE_100),
        R.INVALID_FIELD,
    ),
    "AcceptQuote user 0": (
        lambda: AcceptQuote(correlation_id=1, user_id=0, rfq_id=1, quote_id=1),
        R.INVALID_FIELD,
    ),
    "AcceptCounter user 0": (
        lambda: AcceptCounter(correlation_id=1, user_id=0, rfq_id=1, counter_id=1),
        R.INVALID_FIELD,
    ),
    "CancelRfq user 0": (lambda: CancelRfq(correlation_id=1, user_id=0, rfq_id=1), R.INVALID_FIELD),
}


@pytest.mark.parametrize("case", UNENCODABLE, ids=list(UNENCODABLE))
def test_values_no_frame_can_carry_are_refused_by_the_table(market: Any, case: str) -> None:
    """The codec never decodes them, but the state machine does not rely on it: it refuses them with
    the table's reason, never echoes an invalid user id, and its snapshot still encodes."""
    make, expected = UNENCODABLE[case]
    command = make()
    outcome = market.apply(command)
    assert market.reason(outcome) == expected
    assert outcome.events[0].user_id == (command.user_id if 0 < command.user_id < 2**31 else None)
    assert all(encode(record) for record in market.sm.snapshot())


# ------------------------------------------------------------------ coverage of the reasons


def test_every_domain_reason_is_exercised() -> None:
    """The reasons left to the adapter are the frame-level ones; the rest are exercised in this package."""
    frame_level = {R.MALFORMED_FRAME, R.WRONG_SCHEMA, R.UNSUPPORTED_VERSION}
    tested = {
        R.UNKNOWN_TEMPLATE,
        R.INVALID_FIELD,
        R.INVALID_CUSIP,
        R.DUPLICATE_INSTRUMENT,
        R.UNKNOWN_INSTRUMENT,
        R.INSTRUMENT_DISABLED,
        R.INVALID_QUANTITY,
        R.QUANTITY_BELOW_MINIMUM,
        R.EXPIRY_NOT_IN_FUTURE,
        R.NO_DEALERS,
        R.TOO_MANY_DEALERS,
        R.DUPLICATE_DEALER,
        R.REQUESTER_AS_DEALER,
        R.UNKNOWN_RFQ,
        R.RFQ_NOT_ACTIVE,
        R.RFQ_EXPIRED,
        R.ALREADY_TRADED,
        R.NOT_INVITED,
        R.NOT_A_PARTY,
        R.NOT_REQUESTER,
        R.INVALID_PRICE,
        R.INVALID_VALIDITY,
        R.DEALER_PASSED,
        R.UNKNOWN_QUOTE,
        R.QUOTE_NOT_LIVE,
        R.COUNTER_NOT_LIVE,
        R.NO_CHANGE,
        R.CORRELATION_ID_REUSED,  # test_dedupe.py
    }
    assert set(R) - frame_level == tested
