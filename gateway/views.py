"""What one user may see: personalised views of RFQs and events, as JSON-ready pydantic models.

Why one module: privacy is decided here and only here at the edge. The cluster addresses every event
to one user (``rfq.cluster.domain.routing.recipients``); this module turns the copy addressed to a user,
or the mirror's RFQ, into what that user is shown:

- the **requester** sees its RFQ whole: its client order id, every dealer it asked with each one's
  standing, quote and the counter it sent;
- an invited **dealer** sees a generic request (instrument, side, quantity, deadline, who asks) with the
  number of dealers in competition, never who they are nor their prices; its own quote and the counter
  to it; the trade only if it is the counterparty;
- an **operator** sees every RFQ's state and parties: who asked whom for what, each dealer's standing
  (invited, quoted, withdrawn, passed) and the trade once done (price, quantity, buyer and seller),
  never a live quote's or a counter's price, the cover, or the client order id: running the platform
  needs none of them, and a price is a dealer's commitment to one client only (``operator_view``);
- anyone else sees nothing (``rfq_view`` returns None);
- nobody sees a correlation id (they are the gateways' business), and the requester's client order id
  never reaches a dealer.

Prices are exact decimal strings (``rfq.gateway.prices``), times RFC 3339 UTC. The same models are the
web API's response schemas and the SSE payloads, so the OpenAPI document describes both.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from rfq.codecs.rfq_sbe import (
    BooleanType,
    DealerPassed,
    DealerState,
    EndReason,
    InstrumentAdded,
    InstrumentEnabled,
    QuoteCountered,
    QuoteSubmitted,
    QuoteWithdrawn,
    RfqCreated,
    RfqEnded,
    RfqInvited,
    RfqTraded,
    Side,
    TradeKind,
)
from rfq.gateway.mirror import InstrumentState, Mirror, RfqState, Standing, Trade
from rfq.gateway.prices import format_price

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

Names = Callable[[int], str | None]
"""User id → name (None when the directory does not know the user)."""


def timestamp(ms: int) -> datetime:
    """Cluster milliseconds as an aware UTC datetime, exactly."""
    return _EPOCH + timedelta(milliseconds=ms)


def millis(moment: datetime) -> int:
    """An aware datetime as milliseconds since the epoch (sub-millisecond parts dropped)."""
    return (moment - _EPOCH) // timedelta(milliseconds=1)


class _View(BaseModel):
    model_config = ConfigDict(frozen=True)


PriceText = Annotated[str, Field(examples=["99.515625"], description="Exact decimal, up to 8 decimals")]
SideName = Literal["buy", "sell"]
DealerStateName = Literal["invited", "quoted", "withdrawn", "passed"]


class UserRef(_View):
    """A user, by the cluster's id and the directory's name (None if this gateway does not know it)."""

    user_id: int = Field(examples=[201])
    name: str | None = Field(examples=["dealer-a"])


class InstrumentRef(_View):
    instrument_id: int = Field(examples=[1])
    cusip: str = Field(examples=["912828YK0"])


class InstrumentView(_View):
    """An instrument as the cluster last described it, with this gateway's description."""

    instrument_id: int = Field(examples=[1])
    cusip: str = Field(examples=["912828YK0"])
    min_quantity: int = Field(examples=[1_000_000])
    enabled: bool
    description: str = Field(default="", examples=["US Treasury note"])


class QuoteView(_View):
    quote_id: int = Field(examples=[3])
    price: PriceText
    valid_until: datetime


class CounterView(_View):
    counter_id: int = Field(examples=[7])
    quote_id: int = Field(examples=[3], description="The quote countered")
    price: PriceText


class TradeView(_View):
    trade_id: int = Field(examples=[1])
    kind: Literal["quote_hit", "counter_accepted"]
    quote_id: int = Field(description="The quote hit, or the counter accepted")
    requester: UserRef
    dealer: UserRef
    buyer: UserRef
    seller: UserRef
    instrument: InstrumentRef
    price: PriceText
    quantity: int
    cover_price: PriceText | None = Field(description="The best other live quote when it traded")
    traded_at: datetime


class DealerStandingView(_View):
    """One dealer of the requester's RFQ."""

    dealer: UserRef
    state: DealerStateName
    quote: QuoteView | None = None
    counter: CounterView | None = None


RequesterStatus = Literal["live", "traded", "canceled", "expired", "instrument_disabled", "ended"]
"""``ended``: it ended while the gateway was not listening, and how is not known (yet)."""
DealerStatus = Literal[
    "live",
    "passed",
    "traded",
    "done_away",
    "traded_elsewhere",
    "canceled",
    "expired",
    "instrument_disabled",
    "ended",
]
"""``ended``: as for the requester (``RequesterStatus``)."""


class RequesterRfqView(_View):
    """An RFQ as its requester sees it: whole."""

    role: Literal["requester"] = "requester"
    rfq_id: int = Field(examples=[1])
    status: RequesterStatus
    instrument: InstrumentRef
    side: SideName
    quantity: int = Field(examples=[5_000_000])
    deadline: datetime
    created_at: datetime
    client_order_id: str = Field(examples=["alice-0001"])
    dealers: list[DealerStandingView]
    trade: TradeView | None = None


class DealerRfqView(_View):
    """An RFQ as one invited dealer sees it: the request, the competition's size, its own part."""

    role: Literal["dealer"] = "dealer"
    rfq_id: int = Field(examples=[1])
    status: DealerStatus = Field(
        description="traded: with you; done_away: you quoted, another dealer won; traded_elsewhere: "
        "it traded and you had not quoted"
    )
    instrument: InstrumentRef
    side: SideName = Field(description="The requester's side: buy means the requester buys from you")
    quantity: int = Field(examples=[5_000_000])
    deadline: datetime
    created_at: datetime
    requester: UserRef
    dealer_count: int = Field(examples=[3], description="How many dealers are in competition")
    state: DealerStateName
    quote: QuoteView | None = None
    counter: CounterView | None = Field(default=None, description="The requester's counter to your quote")
    trade: TradeView | None = None


class OperatorDealerView(_View):
    """One invited dealer as operators see it: its standing, not its price."""

    dealer: UserRef
    state: DealerStateName


class OperatorTradeView(_View):
    """A trade as operators see it: the facts of the deal, not the cover (a losing dealer's price)."""

    trade_id: int = Field(examples=[1])
    kind: Literal["quote_hit", "counter_accepted"]
    dealer: UserRef
    buyer: UserRef
    seller: UserRef
    price: PriceText
    quantity: int
    traded_at: datetime


class OperatorRfqView(_View):
    """An RFQ as operators see it: state and parties; no live price, counter, cover or client order id."""

    role: Literal["operator"] = "operator"
    rfq_id: int = Field(examples=[1])
    status: RequesterStatus
    instrument: InstrumentRef
    side: SideName = Field(description="The requester's side")
    quantity: int = Field(examples=[5_000_000])
    deadline: datetime
    created_at: datetime
    requester: UserRef
    dealers: list[OperatorDealerView]
    trade: OperatorTradeView | None = None


RfqView = Annotated[RequesterRfqView | DealerRfqView | OperatorRfqView, Field(discriminator="role")]


# --- events -------------------------------------------------------------------------------------
class InstrumentEvent(_View):
    type: Literal["instrument_added", "instrument_updated"]
    instrument: InstrumentView


class RfqCreatedEvent(_View):
    type: Literal["rfq_created"] = "rfq_created"
    rfq: RequesterRfqView


class RfqInvitedEvent(_View):
    type: Literal["rfq_invited"] = "rfq_invited"
    rfq: DealerRfqView


class QuoteSubmittedEvent(_View):
    type: Literal["quote_submitted"] = "quote_submitted"
    rfq_id: int
    dealer: UserRef
    quote: QuoteView
    replaced_quote_id: int | None = None
    at: datetime


class QuoteWithdrawnEvent(_View):
    type: Literal["quote_withdrawn"] = "quote_withdrawn"
    rfq_id: int
    dealer: UserRef
    quote_id: int
    at: datetime


class DealerPassedEvent(_View):
    type: Literal["dealer_passed"] = "dealer_passed"
    rfq_id: int
    dealer: UserRef
    at: datetime


class QuoteCounteredEvent(_View):
    type: Literal["quote_countered"] = "quote_countered"
    rfq_id: int
    dealer: UserRef
    counter: CounterView
    at: datetime


class RfqTradedEvent(_View):
    type: Literal["rfq_traded"] = "rfq_traded"
    rfq_id: int
    trade: TradeView


class RfqEndedEvent(_View):
    type: Literal["rfq_ended"] = "rfq_ended"
    rfq_id: int
    reason: Literal["traded_elsewhere", "done_away", "canceled", "instrument_disabled", "expired"]
    at: datetime


class SnapshotEvent(_View):
    """Everything a user may see now: sent first on a new stream, and instead of events the gateway no
    longer has (a resume from an earlier life of the gateway, or from too far back)."""

    type: Literal["snapshot"] = "snapshot"
    reason: Literal["new_stream", "resume_gap", "resync"]
    instruments: list[InstrumentView]
    rfqs: list[RfqView]


UserEvent = (
    InstrumentEvent
    | RfqCreatedEvent
    | RfqInvitedEvent
    | QuoteSubmittedEvent
    | QuoteWithdrawnEvent
    | DealerPassedEvent
    | QuoteCounteredEvent
    | RfqTradedEvent
    | RfqEndedEvent
    | SnapshotEvent
)


# --- building them ------------------------------------------------------------------------------
class Personaliser:
    """Builds views from events and the mirror; ``names`` and ``descriptions`` come from the directory."""

    def __init__(self, mirror: Mirror, names: Names, descriptions: Callable[[], dict[str, str]]) -> None:
        self.mirror = mirror
        self._names = names
        self._descriptions = descriptions

    def user(self, user_id: int) -> UserRef:
        return UserRef(user_id=user_id, name=self._names(user_id))

    def instrument_ref(self, instrument_id: int) -> InstrumentRef:
        known = self.mirror.instruments.get(instrument_id)
        return InstrumentRef(instrument_id=instrument_id, cusip=known.cusip if known else "")

    def instrument(self, instrument: InstrumentState, description: str | None = None) -> InstrumentView:
        if description is None:
            description = self._descriptions().get(instrument.cusip, "")
        return InstrumentView(
            instrument_id=instrument.instrument_id,
            cusip=instrument.cusip,
            min_quantity=instrument.min_quantity,
            enabled=instrument.enabled,
            description=description,
        )

    def instruments(self) -> list[InstrumentView]:
        descriptions = self._descriptions()
        return [self.instrument(i, descriptions.get(i.cusip, "")) for i in self.mirror.instruments.values()]

    # --- RFQs -----------------------------------------------------------------------------------
    def rfq_view(self, rfq: RfqState, user_id: int) -> RequesterRfqView | DealerRfqView | None:
        """``rfq`` as ``user_id`` may see it; None if that user is no party to it."""
        if user_id == rfq.requester_user_id:
            return RequesterRfqView(
                rfq_id=rfq.rfq_id,
                status=_requester_status(rfq),
                instrument=self.instrument_ref(rfq.instrument_id),
                side=_side(rfq.side),
                quantity=rfq.quantity,
                deadline=timestamp(rfq.expire_time_ms),
                created_at=timestamp(rfq.created_time_ms),
                client_order_id=rfq.cl_ord_id,
                dealers=[self._standing(s) for s in rfq.dealers.values()],
                trade=self.trade(rfq.trade, rfq) if rfq.trade else None,
            )
        standing = rfq.dealers.get(user_id)
        if standing is None:
            return None
        mine = rfq.trade is not None and rfq.trade.dealer_user_id == user_id
        return DealerRfqView(
            rfq_id=rfq.rfq_id,
            status=_dealer_status(standing, mine, rfq.vanished),
            instrument=self.instrument_ref(rfq.instrument_id),
            side=_side(rfq.side),
            quantity=rfq.quantity,
            deadline=timestamp(rfq.expire_time_ms),
            created_at=timestamp(rfq.created_time_ms),
            requester=self.user(rfq.requester_user_id),
            dealer_count=len(rfq.dealers),
            state=_state(standing.state),
            quote=_quote(standing),
            counter=_counter(standing),
            trade=self.trade(rfq.trade, rfq) if mine and rfq.trade else None,
        )

    def rfq_views(self, user_id: int, include_ended: bool = True) -> list[RequesterRfqView | DealerRfqView]:
        """Every RFQ ``user_id`` is a party to, as that user sees it, by id."""
        views = (self.rfq_view(rfq, user_id) for rfq in self.mirror.rfqs_of(user_id, include_ended))
        return [view for view in views if view is not None]

    def operator_view(self, rfq: RfqState) -> OperatorRfqView:
        """``rfq`` as operators see it (module docstring: what they are not shown, and why)."""
        trade = rfq.trade
        return OperatorRfqView(
            rfq_id=rfq.rfq_id,
            status=_requester_status(rfq),
            instrument=self.instrument_ref(rfq.instrument_id),
            side=_side(rfq.side),
            quantity=rfq.quantity,
            deadline=timestamp(rfq.expire_time_ms),
            created_at=timestamp(rfq.created_time_ms),
            requester=self.user(rfq.requester_user_id),
            dealers=[
                OperatorDealerView(dealer=self.user(s.user_id), state=_state(s.state))
                for s in rfq.dealers.values()
            ],
            trade=None
            if trade is None
            else OperatorTradeView(
                trade_id=trade.trade_id,
                kind="quote_hit" if trade.kind is TradeKind.QUOTE_HIT else "counter_accepted",
                dealer=self.user(trade.dealer_user_id),
                buyer=self.user(trade.buyer_user_id),
                seller=self.user(trade.seller_user_id),
                price=format_price(trade.price),
                quantity=trade.quantity,
                traded_at=timestamp(trade.timestamp_ms),
            ),
        )

    def operator_views(self, include_ended: bool = True) -> list[OperatorRfqView]:
        """Every RFQ this gateway knows (active, and with ``include_ended`` those ended lately), by id."""
        pools = (self.mirror.active, self.mirror.ended) if include_ended else (self.mirror.active,)
        rfqs = sorted((rfq for pool in pools for rfq in pool.values()), key=lambda rfq: rfq.rfq_id)
        return [self.operator_view(rfq) for rfq in rfqs]

    def snapshot(self, user_id: int, reason: str) -> SnapshotEvent:
        """What ``user_id`` may see now: instruments and its active RFQs."""
        return SnapshotEvent.model_validate(
            {
                "reason": reason,
                "instruments": self.instruments(),
                "rfqs": self.rfq_views(user_id, include_ended=False),
            }
        )

    def trade(self, trade: Trade, rfq: RfqState) -> TradeView:
        return TradeView(
            trade_id=trade.trade_id,
            kind="quote_hit" if trade.kind is TradeKind.QUOTE_HIT else "counter_accepted",
            quote_id=trade.quote_id,
            requester=self.user(rfq.requester_user_id),
            dealer=self.user(trade.dealer_user_id),
            buyer=self.user(trade.buyer_user_id),
            seller=self.user(trade.seller_user_id),
            instrument=self.instrument_ref(rfq.instrument_id),
            price=format_price(trade.price),
            quantity=trade.quantity,
            cover_price=None if trade.cover_price is None else format_price(trade.cover_price),
            traded_at=timestamp(trade.timestamp_ms),
        )

    def _standing(self, standing: Standing) -> DealerStandingView:
        return DealerStandingView(
            dealer=self.user(standing.user_id),
            state=_state(standing.state),
            quote=_quote(standing),
            counter=_counter(standing),
        )

    # --- events ---------------------------------------------------------------------------------
    @staticmethod
    def event_type(event: object) -> str | None:
        """The ``type`` the copy of an RFQ event addressed to one user renders to, without rendering it
        (what a stream log needs at once; the rest can wait for a reader); None for other events."""
        return _RFQ_EVENT_TYPES.get(type(event))

    def event(self, event: object, user_id: int) -> UserEvent | None:
        """The copy of ``event`` addressed to ``user_id`` as that user sees it (None: not shown).

        The caller routes (``recipients``); this only renders, from the event itself plus names, so
        that the same event always renders the same way (an idempotent replay returns what the first
        answer said)."""
        if isinstance(event, InstrumentAdded):
            added = InstrumentState(
                event.instrument_id, event.cusip, event.min_quantity, event.enabled is BooleanType.TRUE
            )
            return InstrumentEvent(type="instrument_added", instrument=self.instrument(added))
        if isinstance(event, InstrumentEnabled):
            known = self.mirror.instruments.get(event.instrument_id)
            if known is None:
                return None
            state = InstrumentState(
                known.instrument_id, known.cusip, known.min_quantity, event.enabled is BooleanType.TRUE
            )
            return InstrumentEvent(type="instrument_updated", instrument=self.instrument(state))
        if isinstance(event, RfqCreated):
            return RfqCreatedEvent(rfq=self.created(event))
        if isinstance(event, RfqInvited):
            return RfqInvitedEvent(rfq=self.invited(event))
        if isinstance(event, QuoteSubmitted):
            return QuoteSubmittedEvent(
                rfq_id=event.rfq_id,
                dealer=self.user(event.dealer_user_id),
                quote=QuoteView(
                    quote_id=event.quote_id,
                    price=format_price(event.price),
                    valid_until=timestamp(event.valid_until_ms),
                ),
                replaced_quote_id=event.replaced_quote_id,
                at=timestamp(event.timestamp_ms),
            )
        if isinstance(event, QuoteWithdrawn):
            return QuoteWithdrawnEvent(
                rfq_id=event.rfq_id,
                dealer=self.user(event.dealer_user_id),
                quote_id=event.quote_id,
                at=timestamp(event.timestamp_ms),
            )
        if isinstance(event, DealerPassed):
            return DealerPassedEvent(
                rfq_id=event.rfq_id, dealer=self.user(event.dealer_user_id), at=timestamp(event.timestamp_ms)
            )
        if isinstance(event, QuoteCountered):
            return QuoteCounteredEvent(
                rfq_id=event.rfq_id,
                dealer=self.user(event.dealer_user_id),
                counter=CounterView(
                    counter_id=event.counter_id, quote_id=event.quote_id, price=format_price(event.price)
                ),
                at=timestamp(event.timestamp_ms),
            )
        if isinstance(event, RfqTraded):
            trade = Trade(
                trade_id=event.trade_id,
                kind=event.kind,
                quote_id=event.quote_id,
                dealer_user_id=event.dealer_user_id,
                buyer_user_id=event.buyer_user_id,
                seller_user_id=event.seller_user_id,
                price=event.price,
                quantity=event.quantity,
                cover_price=event.cover_price,
                timestamp_ms=event.timestamp_ms,
            )
            return RfqTradedEvent(
                rfq_id=event.rfq_id,
                trade=TradeView(
                    trade_id=trade.trade_id,
                    kind="quote_hit" if trade.kind is TradeKind.QUOTE_HIT else "counter_accepted",
                    quote_id=trade.quote_id,
                    requester=self.user(event.requester_user_id),
                    dealer=self.user(trade.dealer_user_id),
                    buyer=self.user(trade.buyer_user_id),
                    seller=self.user(trade.seller_user_id),
                    instrument=self.instrument_ref(event.instrument_id),
                    price=format_price(trade.price),
                    quantity=trade.quantity,
                    cover_price=None if trade.cover_price is None else format_price(trade.cover_price),
                    traded_at=timestamp(trade.timestamp_ms),
                ),
            )
        if isinstance(event, RfqEnded):
            return RfqEndedEvent(
                rfq_id=event.rfq_id, reason=_end_reason(event.reason), at=timestamp(event.timestamp_ms)
            )
        return None

    def created(self, event: RfqCreated) -> RequesterRfqView:
        """The requester's new RFQ, from its ``RfqCreated``: every dealer invited, nothing quoted."""
        return RequesterRfqView(
            rfq_id=event.rfq_id,
            status="live",
            instrument=self.instrument_ref(event.instrument_id),
            side=_side(event.side),
            quantity=event.quantity,
            deadline=timestamp(event.expire_time_ms),
            created_at=timestamp(event.timestamp_ms),
            client_order_id=event.cl_ord_id,
            dealers=[
                DealerStandingView(dealer=self.user(d.dealer_user_id), state="invited") for d in event.dealers
            ],
        )

    def invited(self, event: RfqInvited) -> DealerRfqView:
        """A dealer's new request, from its ``RfqInvited``."""
        return DealerRfqView(
            rfq_id=event.rfq_id,
            status="live",
            instrument=self.instrument_ref(event.instrument_id),
            side=_side(event.side),
            quantity=event.quantity,
            deadline=timestamp(event.expire_time_ms),
            created_at=timestamp(event.timestamp_ms),
            requester=self.user(event.requester_user_id),
            dealer_count=event.dealer_count,
            state="invited",
        )


_RFQ_EVENT_TYPES: dict[type, str] = {
    RfqCreated: "rfq_created",
    RfqInvited: "rfq_invited",
    QuoteSubmitted: "quote_submitted",
    QuoteWithdrawn: "quote_withdrawn",
    DealerPassed: "dealer_passed",
    QuoteCountered: "quote_countered",
    RfqTraded: "rfq_traded",
    RfqEnded: "rfq_ended",
}
"""RFQ events, each rendered for its recipient from the event alone (plus names and the instrument's
CUSIP, which never change): so the rendering may wait."""


def _side(side: Side) -> SideName:
    return "buy" if side is Side.BUY else "sell"


def _state(state: DealerState) -> DealerStateName:
    names: dict[DealerState, DealerStateName] = {
        DealerState.INVITED: "invited",
        DealerState.QUOTED: "quoted",
        DealerState.WITHDRAWN: "withdrawn",
        DealerState.PASSED: "passed",
    }
    return names[state]


def _quote(standing: Standing) -> QuoteView | None:
    quote = standing.quote
    if quote is None:
        return None
    return QuoteView(
        quote_id=quote.quote_id, price=format_price(quote.price), valid_until=timestamp(quote.valid_until_ms)
    )


def _counter(standing: Standing) -> CounterView | None:
    counter = standing.counter
    if counter is None:
        return None
    return CounterView(
        counter_id=counter.counter_id, quote_id=counter.quote_id, price=format_price(counter.price)
    )


_ENDINGS: dict[
    EndReason, Literal["traded_elsewhere", "done_away", "canceled", "instrument_disabled", "expired"]
] = {
    EndReason.TRADED: "traded_elsewhere",
    EndReason.DONE_AWAY: "done_away",
    EndReason.CANCELED: "canceled",
    EndReason.INSTRUMENT_DISABLED: "instrument_disabled",
    EndReason.EXPIRED: "expired",
}


def _end_reason(
    reason: EndReason,
) -> Literal["traded_elsewhere", "done_away", "canceled", "instrument_disabled", "expired"]:
    """An RfqEnded's reason for its recipient. TRADED here is said to a dealer that had not quoted."""
    return _ENDINGS[reason]


def _requester_status(rfq: RfqState) -> RequesterStatus:
    if rfq.ended is None:
        return "ended" if rfq.vanished else "live"
    if rfq.ended is EndReason.TRADED:
        return "traded"
    statuses: dict[EndReason, RequesterStatus] = {
        EndReason.CANCELED: "canceled",
        EndReason.EXPIRED: "expired",
        EndReason.INSTRUMENT_DISABLED: "instrument_disabled",
    }
    return statuses.get(rfq.ended, "live")


def _dealer_status(standing: Standing, mine: bool, vanished: bool) -> DealerStatus:
    if mine:
        return "traded"
    if standing.state is DealerState.PASSED:
        return "passed"
    if standing.ended is None:
        return "ended" if vanished else "live"
    return _ENDINGS[standing.ended]
