"""Every validation rule and its RejectReason; a refusal changes no state and schedules no timer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from rfq.codecs.rfq_sbe import (
    CancelRfq,
    CreateRfq,
    InstrumentRecord,
    RejectReason,
    RfqExpired,
    RfqRecord,
    Side,
    SnapshotBegin,
)

ALICE, BOB, CAROL = 1, 2, 3
APPLE, GOOGLE = "037833100", "38259P508"
R = RejectReason


def domain_state(desk: Any) -> tuple[object, ...]:
    """Everything a refusal must leave alone: sequences, instruments, RFQs and pending timers."""
    records = desk.sm.snapshot()
    begin = records[0]
    assert isinstance(begin, SnapshotBegin)
    kept = [r for r in records if isinstance(r, InstrumentRecord | RfqRecord)]
    return begin.next_instrument_id, begin.next_rfq_id, kept, desk.timers.pending()


def refused(desk: Any, action: Callable[[], Any]) -> RejectReason:
    """Run ``action``, check it was refused without any change, return the reason."""
    before = domain_state(desk)
    outcome = action()
    assert domain_state(desk) == before
    return RejectReason(desk.reason(outcome))


# ------------------------------------------------------------------ instruments


@pytest.mark.parametrize("user", [0, -1, 2**31])
def test_add_instrument_needs_a_valid_user_id(desk: Any, user: int) -> None:
    assert refused(desk, lambda: desk.add_instrument(user=user)) == R.INVALID_FIELD
    event = desk.add_instrument(user=user).events[0]
    assert event.user_id is None  # an invalid user id is never echoed into the OptionalUserId


def test_add_instrument_refuses_a_negative_minimum(desk: Any) -> None:
    assert refused(desk, lambda: desk.add_instrument(min_quantity=-1)) == R.INVALID_QUANTITY
    assert not desk.add_instrument(min_quantity=0).refused


@pytest.mark.parametrize("cusip", ["037833101", "03783310", "0378331000", "037833!00", "38259p508", ""])
def test_add_instrument_refuses_a_bad_cusip(desk: Any, cusip: str) -> None:
    assert refused(desk, lambda: desk.add_instrument(cusip=cusip)) == R.INVALID_CUSIP


def test_add_instrument_refuses_a_duplicate_cusip(desk: Any) -> None:
    assert not desk.add_instrument(cusip=APPLE).refused
    assert refused(desk, lambda: desk.add_instrument(cusip=APPLE, min_quantity=5)) == R.DUPLICATE_INSTRUMENT


def test_enable_instrument_rules(market: Any) -> None:
    assert refused(market, lambda: market.enable(1, True, user=0)) == R.INVALID_FIELD
    assert refused(market, lambda: market.enable(2, False)) == R.UNKNOWN_INSTRUMENT
    assert refused(market, lambda: market.enable(0, False)) == R.UNKNOWN_INSTRUMENT
    assert refused(market, lambda: market.enable(1, True)) == R.NO_CHANGE
    assert not market.enable(1, False).refused
    assert refused(market, lambda: market.enable(1, False)) == R.NO_CHANGE


# ------------------------------------------------------------------ create


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"user": 0}, R.INVALID_FIELD),
        ({"user": -5}, R.INVALID_FIELD),
        ({"cl_ord_id": "X" * 21}, R.INVALID_FIELD),
        ({"cl_ord_id": "caf\u00e9"}, R.INVALID_FIELD),
        ({"cl_ord_id": "a\x00b"}, R.INVALID_FIELD),
        ({"quantity": 0}, R.INVALID_QUANTITY),
        ({"quantity": -100}, R.INVALID_QUANTITY),
        ({"expires_in_ms": 0}, R.EXPIRY_NOT_IN_FUTURE),
        ({"expires_in_ms": -1}, R.EXPIRY_NOT_IN_FUTURE),
        ({"instrument_id": 2}, R.UNKNOWN_INSTRUMENT),
        ({"instrument_id": 0}, R.UNKNOWN_INSTRUMENT),
        ({"quantity": 99}, R.QUANTITY_BELOW_MINIMUM),
    ],
)
def test_create_rules(market: Any, kwargs: dict[str, Any], expected: RejectReason) -> None:
    assert refused(market, lambda: market.create(**kwargs)) == expected


def test_create_refuses_an_unknown_side(market: Any) -> None:
    command = CreateRfq(
        correlation_id=1,
        user_id=ALICE,
        instrument_id=1,
        side=Side.BUY,
        quantity=1000,
        expire_time_ms=market.now + 1,
        cl_ord_id="x",
    )
    command.side = 7  # type: ignore[assignment]
    assert refused(market, lambda: market.apply(command)) == R.INVALID_FIELD


def test_create_on_a_disabled_instrument(market: Any) -> None:
    market.enable(1, False)
    assert refused(market, market.create) == R.INSTRUMENT_DISABLED
    market.enable(1, True)
    assert not market.create().refused


def test_create_accepts_the_minimum_and_a_twenty_character_order_id(market: Any) -> None:
    assert not market.create(quantity=100, cl_ord_id="X" * 20, expires_in_ms=1).refused
    assert not market.create(cl_ord_id="").refused


def test_field_checks_come_before_lookups(market: Any) -> None:
    # quantity 0 on an unknown instrument: the field is checked first
    assert refused(market, lambda: market.create(quantity=0, instrument_id=9)) == R.INVALID_QUANTITY
    assert refused(market, lambda: market.quote(BOB, 999, price=0)) == R.INVALID_PRICE


# ------------------------------------------------------------------ quote


def test_quote_rules(market: Any) -> None:
    rfq_id = market.open_rfq(user=ALICE)
    assert refused(market, lambda: market.quote(0, rfq_id)) == R.INVALID_FIELD
    assert refused(market, lambda: market.quote(BOB, rfq_id, price=0)) == R.INVALID_PRICE
    assert refused(market, lambda: market.quote(BOB, rfq_id, price=-1)) == R.INVALID_PRICE
    assert refused(market, lambda: market.quote(BOB, rfq_id + 1)) == R.UNKNOWN_RFQ
    assert refused(market, lambda: market.quote(BOB, 0)) == R.UNKNOWN_RFQ
    assert refused(market, lambda: market.quote(ALICE, rfq_id)) == R.OWN_RFQ
    assert not market.quote(BOB, rfq_id).refused
    assert refused(market, lambda: market.quote(CAROL, rfq_id)) == R.ALREADY_QUOTED  # first responder wins
    assert refused(market, lambda: market.quote(BOB, rfq_id)) == R.ALREADY_QUOTED
    assert refused(market, lambda: market.quote(ALICE, rfq_id)) == R.OWN_RFQ


# ------------------------------------------------------------------ counter, accept, reject


@pytest.mark.parametrize("act", ["counter", "accept", "reject"])
def test_answering_needs_a_price_from_the_other_party(market: Any, act: str) -> None:
    rfq_id = market.open_rfq(user=ALICE)
    do = getattr(market, act)
    assert refused(market, lambda: do(0, rfq_id)) == R.INVALID_FIELD
    assert refused(market, lambda: do(ALICE, rfq_id + 7)) == R.UNKNOWN_RFQ
    assert refused(market, lambda: do(ALICE, rfq_id)) == R.NO_PRICE_TO_ACT_ON
    assert refused(market, lambda: do(BOB, rfq_id)) == R.NOT_A_PARTY  # nobody has quoted: not a party
    market.quote(BOB, rfq_id)
    assert refused(market, lambda: do(CAROL, rfq_id)) == R.NOT_A_PARTY
    assert refused(market, lambda: do(BOB, rfq_id)) == R.OWN_PRICE  # Bob's own quote
    assert not market.counter(ALICE, rfq_id).refused
    assert refused(market, lambda: do(ALICE, rfq_id)) == R.OWN_PRICE  # Alice's own counter
    assert not do(BOB, rfq_id).refused


@pytest.mark.parametrize("price", [0, -1, -(2**63) + 1])
def test_counter_needs_a_positive_price(market: Any, price: int) -> None:
    rfq_id = market.quoted_rfq()
    assert refused(market, lambda: market.counter(ALICE, rfq_id, price=price)) == R.INVALID_PRICE


def test_a_refused_reject_does_not_reject(market: Any) -> None:
    """The cookbook sample's defect: its reject validation did not stop the rejection."""
    rfq_id = market.quoted_rfq()
    assert refused(market, lambda: market.reject(BOB, rfq_id)) == R.OWN_PRICE
    assert refused(market, lambda: market.reject(CAROL, rfq_id)) == R.NOT_A_PARTY
    assert market.sm.rfqs.get(rfq_id) is not None
    assert not market.accept(ALICE, rfq_id).refused


# ------------------------------------------------------------------ cancel


def test_cancel_rules(market: Any) -> None:
    rfq_id = market.quoted_rfq()
    assert refused(market, lambda: market.cancel(0, rfq_id)) == R.INVALID_FIELD
    assert refused(market, lambda: market.cancel(ALICE, rfq_id + 1)) == R.UNKNOWN_RFQ
    assert refused(market, lambda: market.cancel(BOB, rfq_id)) == R.NOT_REQUESTER
    assert refused(market, lambda: market.cancel(CAROL, rfq_id)) == R.NOT_REQUESTER
    assert not market.cancel(ALICE, rfq_id).refused
    assert refused(market, lambda: market.cancel(ALICE, rfq_id)) == R.RFQ_NOT_ACTIVE


# ------------------------------------------------------------------ ended RFQs


@pytest.mark.parametrize("ending", ["accept", "reject", "cancel", "expire", "disable"])
def test_nothing_acts_on_an_ended_rfq(market: Any, ending: str) -> None:
    rfq_id = market.quoted_rfq()
    if ending == "accept":
        market.accept(ALICE, rfq_id)
    elif ending == "reject":
        market.reject(ALICE, rfq_id)
    elif ending == "cancel":
        market.cancel(ALICE, rfq_id)
    elif ending == "expire":
        market.now += 60_000
        assert [type(e) for e in market.fire_due()] == [RfqExpired]
    else:
        market.enable(1, False)
    assert refused(market, lambda: market.quote(CAROL, rfq_id)) == R.RFQ_NOT_ACTIVE
    assert refused(market, lambda: market.counter(ALICE, rfq_id)) == R.RFQ_NOT_ACTIVE
    assert refused(market, lambda: market.accept(ALICE, rfq_id)) == R.RFQ_NOT_ACTIVE
    assert refused(market, lambda: market.reject(ALICE, rfq_id)) == R.RFQ_NOT_ACTIVE
    assert refused(market, lambda: market.cancel(ALICE, rfq_id)) == R.RFQ_NOT_ACTIVE


def test_an_rfq_past_its_expiry_is_over_before_its_timer_fires(market: Any) -> None:
    rfq_id = market.quoted_rfq(expires_in_ms=1_000)
    market.now += 1_000  # the deadline; the timer event is not in the log yet
    assert refused(market, lambda: market.accept(ALICE, rfq_id)) == R.RFQ_NOT_ACTIVE
    assert refused(market, lambda: market.cancel(ALICE, rfq_id)) == R.RFQ_NOT_ACTIVE
    # disabling the instrument leaves it to its timer: it ends EXPIRED, not CANCELED
    outcome = market.enable(1, False)
    assert len(outcome.events) == 1
    (expired,) = market.fire_due()
    assert isinstance(expired, RfqExpired)
    assert expired.rfq_id == rfq_id


def test_a_message_that_is_not_a_command_is_refused_and_not_remembered(market: Any) -> None:
    rfq_id = market.open_rfq()
    stray = RfqExpired(rfq_id=rfq_id, requester_user_id=ALICE, responder_user_id=None, timestamp_ms=0)
    assert refused(market, lambda: market.apply(stray)) == R.UNKNOWN_TEMPLATE
    stray_with_id = market.quote(BOB, rfq_id).events[0]
    stray_with_id.correlation_id = 4242
    assert market.reason(market.apply(stray_with_id)) == R.UNKNOWN_TEMPLATE
    assert 4242 not in market.sm.dedupe
    cancel = market.apply(CancelRfq(correlation_id=4242, user_id=ALICE, rfq_id=rfq_id))
    assert not cancel.refused
    assert not cancel.duplicate


def test_every_domain_reason_is_reachable() -> None:
    """The reasons left to the adapter are the frame-level ones; the rest are exercised above."""
    frame_level = {R.MALFORMED_FRAME, R.UNKNOWN_TEMPLATE, R.WRONG_SCHEMA, R.UNSUPPORTED_VERSION}
    domain = set(R) - frame_level
    tested = {
        R.INVALID_FIELD,
        R.INVALID_CUSIP,
        R.DUPLICATE_INSTRUMENT,
        R.UNKNOWN_INSTRUMENT,
        R.INSTRUMENT_DISABLED,
        R.INVALID_QUANTITY,
        R.QUANTITY_BELOW_MINIMUM,
        R.EXPIRY_NOT_IN_FUTURE,
        R.UNKNOWN_RFQ,
        R.RFQ_NOT_ACTIVE,
        R.ALREADY_QUOTED,
        R.OWN_RFQ,
        R.NOT_A_PARTY,
        R.NOT_REQUESTER,
        R.NO_PRICE_TO_ACT_ON,
        R.OWN_PRICE,
        R.INVALID_PRICE,
        R.NO_CHANGE,
    }
    assert domain == tested
