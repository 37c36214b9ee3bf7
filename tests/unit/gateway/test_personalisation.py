"""Personalisation: each user sees what the routing rule gives them, shaped for their part in the RFQ.

Events come from the real state machine; the mirror and the views are the gateway's.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from rfq.cluster.domain import EVERYONE, NullTimers, StateMachine, recipients
from rfq.codecs.rfq_sbe import (
    AcceptQuote,
    AddInstrument,
    BooleanType,
    CounterQuote,
    CreateRfq,
    CreateRfqDealers,
    InstrumentRecord,
    PassRfq,
    QueryState,
    RfqRecord,
    Side,
    StateQueried,
    SubmitQuote,
    WithdrawQuote,
)
from rfq.gateway.mirror import Mirror
from rfq.gateway.views import DealerRfqView, Personaliser, RequesterRfqView

NOW = 1_800_000_000_000
ALICE, A, B, C, D, EVE = 101, 201, 202, 203, 204, 301
NAMES = {ALICE: "alice", A: "dealer-a", B: "dealer-b", C: "dealer-c", D: "dealer-d", EVE: "eve"}
CL_ORD_ID = "alice-secret-7"


class Market:
    """The real state machine, every event applied to a mirror and kept with its recipients."""

    def __init__(self) -> None:
        self.sm = StateMachine(NullTimers())
        self.mirror = Mirror()
        self.views = Personaliser(self.mirror, NAMES.get, dict)
        self.events: list[Any] = []
        self.cid = 0
        self.now = NOW

    def do(self, make: Any) -> Any:
        self.cid += 1
        self.now += 10
        outcome = self.sm.apply(make(self.cid), self.now)
        for event in outcome.events:
            self.mirror.apply(event)
            self.events.append(event)
        return outcome.events[0]

    def shown(self, user: int) -> list[dict[str, Any]]:
        """What ``user``'s stream would carry."""
        out = []
        for event in self.events:
            audience = recipients(event)
            if audience is EVERYONE or user in audience:  # type: ignore[operator]
                view = self.views.event(event, user)
                if view is not None:
                    out.append(json.loads(view.model_dump_json()))
        return out


@pytest.fixture
def market() -> Market:
    m = Market()
    m.do(
        lambda c: AddInstrument(
            correlation_id=c, user_id=1, min_quantity=100, enabled=BooleanType.TRUE, cusip="912828YK0"
        )
    )
    created = m.do(
        lambda c: CreateRfq(
            correlation_id=c, user_id=ALICE, instrument_id=1, side=Side.BUY, quantity=1000,
            expire_time_ms=NOW + 60_000, cl_ord_id=CL_ORD_ID,
            dealers=[CreateRfqDealers(dealer_user_id=d) for d in (A, B, C)],
        )
    )  # fmt: skip
    rfq = created.rfq_id
    qa = m.do(
        lambda c: SubmitQuote(correlation_id=c, user_id=A, rfq_id=rfq, price=99_50000000, valid_until_ms=None)
    )
    m.do(
        lambda c: SubmitQuote(correlation_id=c, user_id=B, rfq_id=rfq, price=99_60000000, valid_until_ms=None)
    )
    m.do(
        lambda c: SubmitQuote(
            correlation_id=c, user_id=B, rfq_id=rfq, price=99_55000000, valid_until_ms=NOW + 30_000
        )
    )
    m.do(lambda c: PassRfq(correlation_id=c, user_id=C, rfq_id=rfq))
    m.do(
        lambda c: CounterQuote(
            correlation_id=c, user_id=ALICE, rfq_id=rfq, quote_id=qa.quote_id, price=99_40000000
        )
    )
    return m


def test_the_requester_sees_the_whole_rfq(market: Market) -> None:
    view = market.views.rfq_view(market.mirror.active[1], ALICE)
    assert isinstance(view, RequesterRfqView)
    assert view.client_order_id == CL_ORD_ID
    standings = {s.dealer.name: s for s in view.dealers}
    assert standings["dealer-a"].quote and standings["dealer-a"].quote.price == "99.5"
    assert standings["dealer-a"].counter and standings["dealer-a"].counter.price == "99.4"
    assert standings["dealer-b"].quote and standings["dealer-b"].quote.price == "99.55"
    assert standings["dealer-c"].state == "passed"


def test_a_dealer_sees_a_generic_request_and_its_own_part_only(market: Market) -> None:
    view = market.views.rfq_view(market.mirror.active[1], B)
    assert isinstance(view, DealerRfqView)
    assert view.dealer_count == 3 and view.requester.name == "alice"
    assert view.quote is not None and view.quote.price == "99.55" and view.counter is None
    text = view.model_dump_json()
    assert CL_ORD_ID not in text and '99.5"' not in text and "99.4" not in text and "dealer-a" not in text


def test_someone_not_invited_sees_nothing(market: Market) -> None:
    assert market.views.rfq_view(market.mirror.active[1], D) is None
    assert market.views.rfq_views(D) == []
    assert [e["type"] for e in market.shown(D)] == ["instrument_added"]


def test_streams_carry_each_users_events_and_no_one_elses_prices_or_ids(market: Market) -> None:
    alice = [e["type"] for e in market.shown(ALICE)]
    assert alice == [
        "instrument_added", "rfq_created", "quote_submitted", "quote_submitted", "quote_submitted",
        "dealer_passed", "quote_countered",
    ]  # fmt: skip
    b_events = market.shown(B)
    assert [e["type"] for e in b_events] == [
        "instrument_added",
        "rfq_invited",
        "quote_submitted",
        "quote_submitted",
    ]
    assert b_events[1]["rfq"]["dealer_count"] == 3
    a_text = json.dumps(market.shown(A))
    assert "99.6" not in a_text and "99.55" not in a_text and "dealer-b" not in a_text
    assert "99.4" in a_text  # the counter to A
    for user in (A, B, C, D):
        assert CL_ORD_ID not in json.dumps(market.shown(user))
    for user in (ALICE, A, B, C, D):
        assert "correlation" not in json.dumps(market.shown(user))


def test_the_trade_reaches_the_two_parties_and_the_others_hear_how_it_ended(market: Market) -> None:
    quote_b = market.mirror.active[1].dealers[B].quote
    assert quote_b is not None
    market.do(lambda c: AcceptQuote(correlation_id=c, user_id=ALICE, rfq_id=1, quote_id=quote_b.quote_id))
    assert market.shown(ALICE)[-1]["type"] == "rfq_traded"
    assert market.shown(B)[-1]["trade"]["price"] == "99.55"
    assert market.shown(A)[-1] == {
        "type": "rfq_ended",
        "rfq_id": 1,
        "reason": "done_away",
        "at": market.shown(A)[-1]["at"],
    }
    assert market.shown(C)[-1]["type"] == "dealer_passed"  # a dealer that passed hears no more
    rfq = market.mirror.rfq(1)
    assert rfq is not None and not rfq.active
    statuses = {u: market.views.rfq_view(rfq, u).status for u in (ALICE, A, B, C)}  # type: ignore[union-attr]
    assert statuses == {ALICE: "traded", A: "done_away", B: "traded", C: "passed"}
    a_view = market.views.rfq_view(rfq, A)
    assert a_view is not None and a_view.trade is None  # not A's trade


def test_a_mirror_rebuilt_from_a_state_answer_shows_the_same_views(market: Market) -> None:
    market.do(lambda c: WithdrawQuote(correlation_id=c, user_id=A, rfq_id=1))
    answer = market.sm.apply(QueryState(correlation_id=999, user_id=1), market.now).events
    assert isinstance(answer[-1], StateQueried)
    rebuilt = Mirror()
    rebuilt.rebuild([r for r in answer if isinstance(r, InstrumentRecord | RfqRecord)])
    again = Personaliser(rebuilt, NAMES.get, dict)
    for user in (ALICE, A, B, C, D):
        assert again.rfq_views(user, include_ended=False) == market.views.rfq_views(user, include_ended=False)
    assert rebuilt.instruments == market.mirror.instruments


def test_an_rfq_that_vanished_from_a_state_answer_is_kept_until_its_ending_is_heard(market: Market) -> None:
    """The trade's broadcast is lost (its leader died); the state answer no longer holds the RFQ; the
    answer to the requester's resend brings the trade later. The RFQ never disappears meanwhile."""
    quote_b = market.mirror.active[1].dealers[B].quote
    assert quote_b is not None
    outcome = market.sm.apply(
        AcceptQuote(correlation_id=500, user_id=ALICE, rfq_id=1, quote_id=quote_b.quote_id), market.now + 5
    )
    answer = market.sm.apply(QueryState(correlation_id=999, user_id=1), market.now + 10).events
    market.mirror.rebuild([r for r in answer if isinstance(r, InstrumentRecord | RfqRecord)])
    rfq = market.mirror.rfq(1)
    assert rfq is not None and rfq.vanished and not rfq.active and 1 not in market.mirror.active
    for user in (ALICE, A, B):
        view = market.views.rfq_view(rfq, user)
        assert view is not None and view.status == "ended", user  # not "live", and not a 404
    for event in outcome.events:  # the resend's answer: the original events
        market.mirror.apply(event)
    statuses = {u: market.views.rfq_view(rfq, u).status for u in (ALICE, B)}  # type: ignore[union-attr]
    assert statuses == {ALICE: "traded", B: "traded"}
    assert rfq.trade is not None and rfq.trade.dealer_user_id == B


def test_rfq_events_render_the_same_when_read_later_so_streams_render_them_lazily(market: Market) -> None:
    quote_b = market.mirror.active[1].dealers[B].quote
    assert quote_b is not None
    market.do(lambda c: AcceptQuote(correlation_id=c, user_id=ALICE, rfq_id=1, quote_id=quote_b.quote_id))
    replayed = Mirror()
    views = Personaliser(replayed, NAMES.get, dict)
    kinds = set()
    for event in market.events:
        replayed.apply(event)
        audience = recipients(event)
        if not isinstance(audience, tuple):  # EVERYONE: broadcasts are rendered at once
            assert views.event_type(event) is None
            continue
        for user in audience:
            at_once = views.event(event, user)
            assert at_once is not None and views.event_type(event) == at_once.type
            assert market.views.event(event, user) == at_once  # read after the RFQ traded and ended
            kinds.add(at_once.type)
    assert kinds == {
        "rfq_created", "rfq_invited", "quote_submitted", "dealer_passed", "quote_countered", "rfq_traded",
        "rfq_ended",
    }  # fmt: skip
