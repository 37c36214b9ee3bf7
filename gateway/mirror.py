"""The gateway's copy of what the cluster decided: instruments, active RFQs, and RFQs that ended lately.

Why: a gateway answers reads (``GET /v1/rfqs``) and personalises events without asking the cluster,
and needs names for numbers (instrument id → CUSIP). The cluster stays the source of truth: the mirror
is rebuilt from a ``QueryState`` answer (:meth:`Mirror.rebuild`) at every start and after every gap,
then kept up by the events every gateway receives (:meth:`Mirror.apply`). It never decides anything.

Contract:
- ``apply(event)`` is idempotent per logical change: every RFQ event comes once per recipient (the
  requester's copy and the dealer's copy of one quote), and applying either or both gives one state.
  Events for an RFQ the mirror does not know change nothing (it learns them at the next rebuild).
- Only events change it; it never reads a clock. Quotes past their validity stay as the cluster said
  (``valid_until_ms`` tells readers whether they are still live).
- Ended RFQs are kept (bounded, oldest dropped first) with how they ended for each party, so that a
  party can still read its trade; after a restart, only what the cluster still holds is known.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from rfq.codecs.rfq_sbe import (
    BooleanType,
    DealerPassed,
    DealerState,
    EndReason,
    InstrumentAdded,
    InstrumentEnabled,
    InstrumentRecord,
    QuoteCountered,
    QuoteSubmitted,
    QuoteWithdrawn,
    RfqCreated,
    RfqEnded,
    RfqInvited,
    RfqRecord,
    RfqTraded,
    Side,
    TradeKind,
)

DEFAULT_ENDED_CAPACITY = 10_000


@dataclass(frozen=True)
class InstrumentState:
    """An instrument as the cluster last described it."""

    instrument_id: int
    cusip: str
    min_quantity: int
    enabled: bool


@dataclass(frozen=True)
class Quote:
    """A dealer's current quote; ``valid_until_ms`` is its own validity or the RFQ's deadline."""

    quote_id: int
    price: int
    valid_until_ms: int


@dataclass(frozen=True)
class Counter:
    """The requester's current counter to one dealer's quote."""

    counter_id: int
    quote_id: int
    price: int


@dataclass(frozen=True)
class Trade:
    """The one trade of an RFQ."""

    trade_id: int
    kind: TradeKind
    quote_id: int
    dealer_user_id: int
    buyer_user_id: int
    seller_user_id: int
    price: int
    quantity: int
    cover_price: int | None
    timestamp_ms: int


@dataclass
class Standing:
    """One invited dealer in one RFQ: its state, current quote, the counter to it, and how the RFQ
    ended for it (None while it is active for this dealer)."""

    user_id: int
    state: DealerState = DealerState.INVITED
    quote: Quote | None = None
    counter: Counter | None = None
    ended: EndReason | None = None


@dataclass
class RfqState:
    """One RFQ as the mirror knows it."""

    rfq_id: int
    requester_user_id: int
    instrument_id: int
    side: Side
    quantity: int
    expire_time_ms: int
    created_time_ms: int
    cl_ord_id: str
    dealers: dict[int, Standing] = field(default_factory=dict)
    """Invited dealers, in the order the requester named them."""
    ended: EndReason | None = None
    """How it ended for the requester (TRADED, CANCELED, EXPIRED, INSTRUMENT_DISABLED); None: active,
    or vanished with its ending not heard (yet)."""
    trade: Trade | None = None
    vanished: bool = False
    """A state answer no longer held it and its ending was not heard then (e.g. broadcast by a leader
    that died before sending it): the ending may still arrive, in the answer to a resend."""

    @property
    def active(self) -> bool:
        return self.ended is None and not self.vanished

    def parties(self) -> Iterator[int]:
        """The requester, then the dealers."""
        yield self.requester_user_id
        yield from self.dealers


class Mirror:
    """Instruments and RFQs as the cluster's events and state answers describe them."""

    def __init__(self, ended_capacity: int = DEFAULT_ENDED_CAPACITY) -> None:
        self.instruments: dict[int, InstrumentState] = {}
        self.by_cusip: dict[str, int] = {}
        self.active: dict[int, RfqState] = {}
        """Active RFQs by id, ascending."""
        self.ended: OrderedDict[int, RfqState] = OrderedDict()
        self._ended_capacity = ended_capacity
        self.highest_rfq_id = 0
        """The highest RFQ id this mirror has heard of (events or state answers)."""

    # --- reads ----------------------------------------------------------------------------------
    def rfq(self, rfq_id: int) -> RfqState | None:
        """An active or recently ended RFQ."""
        return self.active.get(rfq_id) or self.ended.get(rfq_id)

    def rfqs_of(self, user_id: int, include_ended: bool = True) -> list[RfqState]:
        """The RFQs ``user_id`` is a party to, by id."""
        pools: Iterable[dict[int, RfqState]] = (self.active, self.ended) if include_ended else (self.active,)
        found = [rfq for pool in pools for rfq in pool.values() if _party(rfq, user_id)]
        return sorted(found, key=lambda rfq: rfq.rfq_id)

    # --- the state answer -----------------------------------------------------------------------
    def rebuild(self, records: Iterable[InstrumentRecord | RfqRecord]) -> None:
        """Replace instruments and active RFQs with a ``QueryState`` answer. Ended RFQs are kept;
        those the mirror thought active but the cluster no longer holds move to ``ended``, marked
        ``vanished`` with an unknown ending, until an answer to a resend tells it."""
        instruments: dict[int, InstrumentState] = {}
        active: dict[int, RfqState] = {}
        for record in records:
            if isinstance(record, InstrumentRecord):
                instruments[record.instrument_id] = InstrumentState(
                    record.instrument_id,
                    record.cusip,
                    record.min_quantity,
                    record.enabled is BooleanType.TRUE,
                )
            else:
                active[record.rfq_id] = _from_record(record)
                self.highest_rfq_id = max(self.highest_rfq_id, record.rfq_id)
        self.instruments = dict(sorted(instruments.items()))
        self.by_cusip = {i.cusip: i.instrument_id for i in self.instruments.values()}
        for rfq_id in sorted(self.active.keys() - active.keys()):
            vanished = self.active[rfq_id]
            vanished.vanished = True
            self._end(vanished, None)
        self.active = dict(sorted(active.items()))

    # --- events ---------------------------------------------------------------------------------
    def apply(self, event: object) -> None:
        """Apply one event (any copy of it); unknown kinds and unknown RFQs change nothing."""
        if isinstance(event, InstrumentAdded):
            self._instrument(event.instrument_id, event.cusip, event.min_quantity, event.enabled)
        elif isinstance(event, InstrumentEnabled):
            known = self.instruments.get(event.instrument_id)
            if known is not None:
                self._instrument(known.instrument_id, known.cusip, known.min_quantity, event.enabled)
        elif isinstance(event, RfqCreated):
            self.highest_rfq_id = max(self.highest_rfq_id, event.rfq_id)
            if self.rfq(event.rfq_id) is None:
                self.active[event.rfq_id] = RfqState(
                    rfq_id=event.rfq_id,
                    requester_user_id=event.requester_user_id,
                    instrument_id=event.instrument_id,
                    side=event.side,
                    quantity=event.quantity,
                    expire_time_ms=event.expire_time_ms,
                    created_time_ms=event.timestamp_ms,
                    cl_ord_id=event.cl_ord_id,
                    dealers={d.dealer_user_id: Standing(d.dealer_user_id) for d in event.dealers},
                )
        elif isinstance(event, RfqInvited):
            self.highest_rfq_id = max(self.highest_rfq_id, event.rfq_id)
        elif isinstance(event, QuoteSubmitted):
            standing = self._standing(event.rfq_id, event.dealer_user_id)
            if standing is not None:
                standing.state = DealerState.QUOTED
                standing.quote = Quote(event.quote_id, event.price, event.valid_until_ms)
                standing.counter = None
        elif isinstance(event, QuoteWithdrawn | DealerPassed):
            standing = self._standing(event.rfq_id, event.dealer_user_id)
            if standing is not None:
                standing.state = (
                    DealerState.WITHDRAWN if isinstance(event, QuoteWithdrawn) else DealerState.PASSED
                )
                standing.quote = standing.counter = None
        elif isinstance(event, QuoteCountered):
            standing = self._standing(event.rfq_id, event.dealer_user_id)
            if standing is not None:
                standing.counter = Counter(event.counter_id, event.quote_id, event.price)
        elif isinstance(event, RfqTraded):
            self._traded(event)
        elif isinstance(event, RfqEnded):
            self._ended_for(event)

    # --- internals ------------------------------------------------------------------------------
    def _instrument(self, instrument_id: int, cusip: str, min_quantity: int, enabled: BooleanType) -> None:
        self.instruments[instrument_id] = InstrumentState(
            instrument_id, cusip, min_quantity, enabled is BooleanType.TRUE
        )
        self.by_cusip[cusip] = instrument_id

    def _standing(self, rfq_id: int, dealer_user_id: int) -> Standing | None:
        rfq = self.active.get(rfq_id)
        return None if rfq is None else rfq.dealers.get(dealer_user_id)

    def _traded(self, event: RfqTraded) -> None:
        rfq = self.rfq(event.rfq_id)
        if rfq is None or rfq.trade is not None:
            return
        rfq.trade = Trade(
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
        winner = rfq.dealers.get(event.dealer_user_id)
        if winner is not None:
            winner.ended = EndReason.TRADED
        if rfq.ended is None:
            self._end(rfq, EndReason.TRADED)

    def _ended_for(self, event: RfqEnded) -> None:
        rfq = self.rfq(event.rfq_id)
        if rfq is None:
            return
        if event.recipient_user_id == rfq.requester_user_id:
            if rfq.ended is None:
                self._end(rfq, event.reason)
        else:
            standing = rfq.dealers.get(event.recipient_user_id)
            if standing is not None:
                standing.ended = event.reason
            if rfq.ended is None and event.reason in (EndReason.DONE_AWAY, EndReason.TRADED):
                self._end(rfq, EndReason.TRADED)

    def _end(self, rfq: RfqState, reason: EndReason | None) -> None:
        rfq.ended = reason if reason is not None else rfq.ended
        self.active.pop(rfq.rfq_id, None)
        self.ended[rfq.rfq_id] = rfq
        while len(self.ended) > self._ended_capacity:
            self.ended.popitem(last=False)


def _party(rfq: RfqState, user_id: int) -> bool:
    return user_id == rfq.requester_user_id or user_id in rfq.dealers


def _from_record(record: RfqRecord) -> RfqState:
    dealers: dict[int, Standing] = {}
    for entry in record.dealers:
        quote = None
        if entry.quote_id is not None and entry.price is not None:
            valid = entry.valid_until_ms if entry.valid_until_ms is not None else record.expire_time_ms
            quote = Quote(entry.quote_id, entry.price, valid)
        counter = None
        if entry.counter_id is not None and entry.counter_price is not None and quote is not None:
            counter = Counter(entry.counter_id, quote.quote_id, entry.counter_price)
        dealers[entry.dealer_user_id] = Standing(entry.dealer_user_id, entry.state, quote, counter)
    return RfqState(
        rfq_id=record.rfq_id,
        requester_user_id=record.requester_user_id,
        instrument_id=record.instrument_id,
        side=record.side,
        quantity=record.quantity,
        expire_time_ms=record.expire_time_ms,
        created_time_ms=record.created_time_ms,
        cl_ord_id=record.cl_ord_id,
        dealers=dealers,
    )
