"""FIX out: the copy of a cluster event addressed to one user → the FIX messages that user gets.

Why here and pure: privacy is decided by routing (``recipients``: every event copy is addressed to one
user) and by what each message carries, which this module alone decides for FIX, as
``rfq.gateway.views`` does for the web: a dealer never gets the requester's QuoteReqID nor another
dealer's name or price; a requester sees who quoted what.

Contract:
- :meth:`Renderer.event` takes the event, its recipient and, for the copy that answers the
  recipient's own FIX message, that :class:`~rfq.gateway.fix.inbound.Request` (its ids are echoed);
  it returns the messages of docs/fix-mapping.md, possibly none.
- :meth:`Renderer.snapshot` renders what a user may see of its active RFQs now, for a logon after
  events were missed (sent with PossResend(97)=Y).
- The renderer reads the mirror (already updated with the event) and the quote book; it records the
  pairing of a dealer's own QuoteID with the platform's quote id when it sees the dealer's quote answered.
"""

from __future__ import annotations

from collections.abc import Callable

from rfq.codecs.rfq_sbe import (
    DealerPassed,
    DealerState,
    EndReason,
    QuoteCountered,
    QuoteSubmitted,
    QuoteWithdrawn,
    RfqCreated,
    RfqEnded,
    RfqInvited,
    RfqTraded,
    Side,
)
from rfq.gateway.fix import fields as f
from rfq.gateway.fix.book import QuoteBook
from rfq.gateway.fix.fields import FixMessage, clean, utc_timestamp
from rfq.gateway.fix.inbound import Request
from rfq.gateway.mirror import Mirror, RfqState
from rfq.gateway.prices import format_price

Names = Callable[[int], str | None]


class Renderer:
    """Builds FIX messages from events, the mirror and the quote book."""

    def __init__(self, mirror: Mirror, names: Names, book: QuoteBook) -> None:
        self.mirror = mirror
        self._names = names
        self.book = book

    # --- events -----------------------------------------------------------------------------------
    def event(self, event: object, user_id: int, request: Request | None = None) -> list[FixMessage]:
        """The messages ``user_id`` gets for its copy of ``event``."""
        if isinstance(event, RfqCreated):
            return [self._created(event)]
        if isinstance(event, RfqInvited):
            return [self._invited(event)]
        if isinstance(event, QuoteSubmitted):
            return [self._quote_submitted(event, user_id, request)]
        if isinstance(event, QuoteWithdrawn):
            return [self._quote_withdrawn(event, user_id, request)]
        if isinstance(event, DealerPassed):
            return [self._passed(event, user_id)]
        if isinstance(event, QuoteCountered):
            return [self._countered(event, user_id, request)]
        if isinstance(event, RfqTraded):
            return self._traded(event, user_id, request)
        if isinstance(event, RfqEnded):
            return [self._ended(event, user_id)]
        return []

    def _created(self, event: RfqCreated) -> FixMessage:
        """The requester's acknowledgment: AI 297=0, its QuoteReqID, 117 = the platform's RFQ id."""
        message = (
            FixMessage(f.QUOTE_STATUS_REPORT)
            .add(f.QUOTE_REQ_ID, event.cl_ord_id)
            .add(f.QUOTE_ID, event.rfq_id)
            .add(f.QUOTE_STATUS, f.STATUS_ACCEPTED)
        )
        self._instrument(message, event.instrument_id)
        return (
            message.add(f.SIDE, _side(event.side))
            .add(f.ORDER_QTY, event.quantity)
            .add(f.EXPIRE_TIME, utc_timestamp(event.expire_time_ms))
            .add(f.TRANSACT_TIME, utc_timestamp(event.timestamp_ms))
        )

    def _invited(self, event: RfqInvited) -> FixMessage:
        """A dealer's QuoteRequest: 131 = the platform's RFQ id, the dealer count in 20001, the
        requester as a party (role 13); never the requester's own ids."""
        message = (
            FixMessage(f.QUOTE_REQUEST)
            .add(f.QUOTE_REQ_ID, event.rfq_id)
            .add(f.DEALERS_IN_COMPETITION, event.dealer_count)
            .add(f.NO_RELATED_SYM, 1)
        )
        self._instrument(message, event.instrument_id)
        message.add(f.SIDE, _side(event.side)).add(f.ORDER_QTY, event.quantity)
        message.add(f.EXPIRE_TIME, utc_timestamp(event.expire_time_ms))
        message.add(f.TRANSACT_TIME, utc_timestamp(event.timestamp_ms))
        return self._party(message, event.requester_user_id, f.ROLE_ORDER_ORIGINATION_FIRM)

    def _quote_submitted(self, event: QuoteSubmitted, user_id: int, request: Request | None) -> FixMessage:
        rfq = self.mirror.rfq(event.rfq_id)
        side = rfq.side if rfq is not None else Side.BUY
        price_tag = f.OFFER_PX if side is Side.BUY else f.BID_PX
        if user_id == event.dealer_user_id:
            own = _echo(request, f.QUOTE_ID)
            if own is not None:
                self.book.remember_own(event.quote_id, event.rfq_id, user_id, own)
            message = (
                FixMessage(f.QUOTE_STATUS_REPORT)
                .add(f.QUOTE_REQ_ID, event.rfq_id)
                .add(f.QUOTE_ID, own or self.book.own_quote_id(event.quote_id) or event.quote_id)
                .add(f.QUOTE_TYPE, f.QUOTE_TYPE_TRADEABLE)
                .add(f.QUOTE_STATUS, f.STATUS_ACCEPTED)
            )
        else:
            message = (
                FixMessage(f.QUOTE)
                .add(f.QUOTE_REQ_ID, rfq.cl_ord_id if rfq is not None else None)
                .add(f.QUOTE_ID, event.quote_id)
                .add(f.QUOTE_TYPE, f.QUOTE_TYPE_TRADEABLE)
            )
            self._party(message, event.dealer_user_id, f.ROLE_LIQUIDITY_PROVIDER)
        self._rfq_terms(message, rfq, side)
        return (
            message.add(price_tag, format_price(event.price))
            .add(f.VALID_UNTIL_TIME, utc_timestamp(event.valid_until_ms))
            .add(f.TRANSACT_TIME, utc_timestamp(event.timestamp_ms))
        )

    def _quote_withdrawn(self, event: QuoteWithdrawn, user_id: int, request: Request | None) -> FixMessage:
        rfq = self.mirror.rfq(event.rfq_id)
        if user_id == event.dealer_user_id:
            own = self.book.own_quote_id(event.quote_id) or _echo(request, f.QUOTE_ID) or event.quote_id
            message = FixMessage(f.QUOTE_STATUS_REPORT).add(f.QUOTE_REQ_ID, event.rfq_id).add(f.QUOTE_ID, own)
        else:
            message = (
                FixMessage(f.QUOTE_STATUS_REPORT)
                .add(f.QUOTE_REQ_ID, rfq.cl_ord_id if rfq is not None else None)
                .add(f.QUOTE_ID, event.quote_id)
            )
            self._party(message, event.dealer_user_id, f.ROLE_LIQUIDITY_PROVIDER)
        self._instrument_of(message, rfq)
        return message.add(f.QUOTE_STATUS, f.STATUS_REMOVED).add(
            f.TRANSACT_TIME, utc_timestamp(event.timestamp_ms)
        )

    def _passed(self, event: DealerPassed, user_id: int) -> FixMessage:
        """AI 297=11 to both: the requester's names the dealer; 117 is the RFQ id for the requester,
        the dealer's latest quote (its QuoteID) or the RFQ id for the dealer."""
        rfq = self.mirror.rfq(event.rfq_id)
        if user_id == event.dealer_user_id:
            message = (
                FixMessage(f.QUOTE_STATUS_REPORT)
                .add(f.QUOTE_REQ_ID, event.rfq_id)
                .add(f.QUOTE_ID, self.book.dealer_quote_ref(event.rfq_id, user_id))
            )
        else:
            message = (
                FixMessage(f.QUOTE_STATUS_REPORT)
                .add(f.QUOTE_REQ_ID, rfq.cl_ord_id if rfq is not None else None)
                .add(f.QUOTE_ID, event.rfq_id)
            )
            self._party(message, event.dealer_user_id, f.ROLE_LIQUIDITY_PROVIDER)
        self._instrument_of(message, rfq)
        return message.add(f.QUOTE_STATUS, f.STATUS_PASS).add(
            f.TRANSACT_TIME, utc_timestamp(event.timestamp_ms)
        )

    def _countered(self, event: QuoteCountered, user_id: int, request: Request | None) -> FixMessage:
        """To the requester: AI 297=0 537=3 (117 = the counter id, its QuoteRespID echoed, Price).
        To the dealer: a counter quote, S 537=3 (131 = RFQ id, 117 = counter id, the price in the
        dealer's own side's field) that it can accept with AJ 694=1 117=<counter id>."""
        rfq = self.mirror.rfq(event.rfq_id)
        side = rfq.side if rfq is not None else Side.BUY
        if user_id == event.dealer_user_id:
            message = (
                FixMessage(f.QUOTE)
                .add(f.QUOTE_REQ_ID, event.rfq_id)
                .add(f.QUOTE_ID, event.counter_id)
                .add(f.QUOTE_TYPE, f.QUOTE_TYPE_COUNTER)
            )
            self._rfq_terms(message, rfq, side)
            message.add(f.OFFER_PX if side is Side.BUY else f.BID_PX, format_price(event.price))
        else:
            message = (
                FixMessage(f.QUOTE_STATUS_REPORT)
                .add(f.QUOTE_REQ_ID, rfq.cl_ord_id if rfq is not None else None)
                .add(f.QUOTE_ID, event.counter_id)
                .add(f.QUOTE_RESP_ID, _echo(request, f.QUOTE_RESP_ID))
                .add(f.QUOTE_TYPE, f.QUOTE_TYPE_COUNTER)
            )
            self._party(message, event.dealer_user_id, f.ROLE_LIQUIDITY_PROVIDER)
            self._rfq_terms(message, rfq, side)
            message.add(f.PRICE, format_price(event.price)).add(f.QUOTE_STATUS, f.STATUS_ACCEPTED)
        return message.add(f.TRANSACT_TIME, utc_timestamp(event.timestamp_ms))

    def _traded(self, event: RfqTraded, user_id: int, request: Request | None) -> list[FixMessage]:
        """ExecutionReport 150=F 39=2 to each side; the winning dealer also gets the cover (AJ 694=4)
        when another dealer had a live price."""
        rfq = self.mirror.rfq(event.rfq_id)
        requester = user_id == event.requester_user_id
        own_side = Side.BUY if event.buyer_user_id == user_id else Side.SELL
        contra = event.dealer_user_id if requester else event.requester_user_id
        report = (
            FixMessage(f.EXECUTION_REPORT)
            .add(f.ORDER_ID, event.rfq_id)
            .add(f.CL_ORD_ID, rfq.cl_ord_id if requester and rfq is not None else None)
            .add(f.QUOTE_RESP_ID, _echo(request, f.QUOTE_RESP_ID))
            .add(f.EXEC_ID, event.trade_id)
            .add(f.EXEC_TYPE, f.EXEC_TYPE_TRADE)
            .add(f.ORD_STATUS, f.ORD_STATUS_FILLED)
        )
        self._party(report, contra, f.ROLE_CONTRA_FIRM)
        self._instrument(report, event.instrument_id)
        price = format_price(event.price)
        report.add(f.SIDE, _side(own_side)).add(f.ORDER_QTY, event.quantity)
        report.add(f.LAST_QTY, event.quantity).add(f.LAST_PX, price)
        report.add(f.LEAVES_QTY, 0).add(f.CUM_QTY, event.quantity).add(f.AVG_PX, price)
        report.add(f.TRANSACT_TIME, utc_timestamp(event.timestamp_ms))
        report.add(f.TEXT, "quote hit" if event.kind.name == "QUOTE_HIT" else "counter accepted")
        messages = [report]
        if not requester and event.cover_price is not None:
            cover = (
                FixMessage(f.QUOTE_RESPONSE)
                .add(f.QUOTE_RESP_ID, f"{event.rfq_id}-cover")
                .add(f.QUOTE_ID, self.book.dealer_quote_ref(event.rfq_id, user_id))
                .add(f.QUOTE_RESP_TYPE, f.RESP_COVER)
            )
            self._instrument(cover, event.instrument_id)
            cover.add(f.SIDE, _side(rfq.side if rfq is not None else Side.BUY))
            cover.add(f.ORDER_QTY, event.quantity).add(f.PRICE, format_price(event.cover_price))
            messages.append(cover.add(f.TRANSACT_TIME, utc_timestamp(event.timestamp_ms)))
        return messages

    def _ended(self, event: RfqEnded, user_id: int) -> FixMessage:
        rfq = self.mirror.rfq(event.rfq_id)
        at = utc_timestamp(event.timestamp_ms)
        if rfq is not None and user_id == rfq.requester_user_id:
            status = f.STATUS_EXPIRED if event.reason is EndReason.EXPIRED else f.STATUS_REMOVED
            message = (
                FixMessage(f.QUOTE_STATUS_REPORT)
                .add(f.QUOTE_REQ_ID, rfq.cl_ord_id)
                .add(f.QUOTE_ID, event.rfq_id)
            )
            self._instrument_of(message, rfq)
            return (
                message.add(f.QUOTE_STATUS, status)
                .add(f.TRANSACT_TIME, at)
                .add(f.TEXT, _END_TEXT[event.reason])
            )
        standing = rfq.dealers.get(user_id) if rfq is not None else None
        quoted = standing is not None and standing.state in (DealerState.QUOTED, DealerState.WITHDRAWN)
        if event.reason is EndReason.DONE_AWAY or (event.reason is EndReason.EXPIRED and quoted):
            kind = f.RESP_DONE_AWAY if event.reason is EndReason.DONE_AWAY else f.RESP_EXPIRED
            suffix = "done-away" if kind == f.RESP_DONE_AWAY else "expired"
            message = (
                FixMessage(f.QUOTE_RESPONSE)
                .add(f.QUOTE_RESP_ID, f"{event.rfq_id}-{suffix}")
                .add(f.QUOTE_ID, self.book.dealer_quote_ref(event.rfq_id, user_id))
                .add(f.QUOTE_RESP_TYPE, kind)
            )
            self._instrument_of(message, rfq)
            if rfq is not None:
                message.add(f.SIDE, _side(rfq.side)).add(f.ORDER_QTY, rfq.quantity)
            return message.add(f.TRANSACT_TIME, at).add(f.TEXT, _END_TEXT[event.reason])
        status = f.STATUS_EXPIRED if event.reason is EndReason.EXPIRED else f.STATUS_REMOVED
        message = (
            FixMessage(f.QUOTE_STATUS_REPORT)
            .add(f.QUOTE_REQ_ID, event.rfq_id)
            .add(f.QUOTE_ID, self.book.dealer_quote_ref(event.rfq_id, user_id))
        )
        self._instrument_of(message, rfq)
        return (
            message.add(f.QUOTE_STATUS, status).add(f.TRANSACT_TIME, at).add(f.TEXT, _END_TEXT[event.reason])
        )

    # --- a snapshot at logon ----------------------------------------------------------------------
    def snapshot(self, user_id: int) -> list[FixMessage]:
        """``user_id``'s active RFQs as they stand, in the messages that would have told it so:
        the requester gets each RFQ's AI 297=0, the live quotes (S), passes (AI 297=11) and its live
        counters (AI 537=3); a dealer gets each R it has not passed on, its live quote's AI 297=0 and
        a live counter to it (S 537=3). Every message has PossResend(97)=Y."""
        messages: list[FixMessage] = []
        for rfq in self.mirror.rfqs_of(user_id, include_ended=False):
            if user_id == rfq.requester_user_id:
                messages.extend(self._requester_snapshot(rfq))
            else:
                messages.extend(self._dealer_snapshot(rfq, user_id))
        for message in messages:
            message.fields.insert(0, (f.POSS_RESEND, "Y"))
        return messages

    def _requester_snapshot(self, rfq: RfqState) -> list[FixMessage]:
        created = RfqCreated(
            correlation_id=0,
            rfq_id=rfq.rfq_id,
            requester_user_id=rfq.requester_user_id,
            instrument_id=rfq.instrument_id,
            side=rfq.side,
            quantity=rfq.quantity,
            expire_time_ms=rfq.expire_time_ms,
            timestamp_ms=rfq.created_time_ms,
            cl_ord_id=rfq.cl_ord_id,
            dealers=[],
        )
        messages = [self._created(created)]
        for standing in rfq.dealers.values():
            if standing.state is DealerState.PASSED:
                passed = DealerPassed(
                    recipient_user_id=rfq.requester_user_id,
                    correlation_id=None,
                    rfq_id=rfq.rfq_id,
                    dealer_user_id=standing.user_id,
                    timestamp_ms=rfq.created_time_ms,
                )
                messages.append(self._passed(passed, rfq.requester_user_id))
            elif standing.quote is not None:
                messages.append(
                    self._quote_submitted(
                        self._quote_event(rfq, standing.user_id), rfq.requester_user_id, None
                    )
                )
                if standing.counter is not None:
                    messages.append(
                        self._countered(
                            self._counter_event(rfq, standing.user_id), rfq.requester_user_id, None
                        )
                    )
        return messages

    def _dealer_snapshot(self, rfq: RfqState, user_id: int) -> list[FixMessage]:
        standing = rfq.dealers[user_id]
        if standing.state is DealerState.PASSED:
            return []
        invited = RfqInvited(
            rfq_id=rfq.rfq_id,
            dealer_user_id=user_id,
            requester_user_id=rfq.requester_user_id,
            instrument_id=rfq.instrument_id,
            side=rfq.side,
            quantity=rfq.quantity,
            expire_time_ms=rfq.expire_time_ms,
            dealer_count=len(rfq.dealers),
            timestamp_ms=rfq.created_time_ms,
        )
        messages = [self._invited(invited)]
        if standing.quote is not None:
            messages.append(self._quote_submitted(self._quote_event(rfq, user_id), user_id, None))
            if standing.counter is not None:
                messages.append(self._countered(self._counter_event(rfq, user_id), user_id, None))
        return messages

    @staticmethod
    def _quote_event(rfq: RfqState, dealer: int) -> QuoteSubmitted:
        quote = rfq.dealers[dealer].quote
        assert quote is not None
        return QuoteSubmitted(
            recipient_user_id=dealer,
            correlation_id=None,
            rfq_id=rfq.rfq_id,
            quote_id=quote.quote_id,
            dealer_user_id=dealer,
            price=quote.price,
            valid_until_ms=quote.valid_until_ms,
            replaced_quote_id=None,
            timestamp_ms=rfq.created_time_ms,
        )

    @staticmethod
    def _counter_event(rfq: RfqState, dealer: int) -> QuoteCountered:
        counter = rfq.dealers[dealer].counter
        assert counter is not None
        return QuoteCountered(
            recipient_user_id=dealer,
            correlation_id=None,
            rfq_id=rfq.rfq_id,
            counter_id=counter.counter_id,
            quote_id=counter.quote_id,
            dealer_user_id=dealer,
            price=counter.price,
            timestamp_ms=rfq.created_time_ms,
        )

    # --- pieces -----------------------------------------------------------------------------------
    def _instrument(self, message: FixMessage, instrument_id: int) -> FixMessage:
        known = self.mirror.instruments.get(instrument_id)
        message.add(f.SYMBOL, f.SYMBOL_NA)
        if known is not None:
            message.add(f.SECURITY_ID, known.cusip).add(f.SECURITY_ID_SOURCE, f.SOURCE_CUSIP)
        return message

    def _instrument_of(self, message: FixMessage, rfq: RfqState | None) -> FixMessage:
        if rfq is None:
            return message.add(f.SYMBOL, f.SYMBOL_NA)
        return self._instrument(message, rfq.instrument_id)

    def _rfq_terms(self, message: FixMessage, rfq: RfqState | None, side: Side) -> FixMessage:
        self._instrument_of(message, rfq)
        message.add(f.SIDE, _side(side))
        return message.add(f.ORDER_QTY, rfq.quantity if rfq is not None else None)

    def _party(self, message: FixMessage, user_id: int, role: str) -> FixMessage:
        name = self._names(user_id) or str(user_id)
        return (
            message.add(f.NO_PARTY_IDS, 1)
            .add(f.PARTY_ID, clean(name))
            .add(f.PARTY_ID_SOURCE, f.PARTY_SOURCE_PROPRIETARY)
            .add(f.PARTY_ROLE, role)
        )


_END_TEXT = {
    EndReason.TRADED: "traded away",
    EndReason.DONE_AWAY: "done away",
    EndReason.CANCELED: "canceled by the requester",
    EndReason.INSTRUMENT_DISABLED: "instrument disabled",
    EndReason.EXPIRED: "expired",
}


def _side(side: Side) -> str:
    return f.SIDE_BUY if side is Side.BUY else f.SIDE_SELL


def _echo(request: Request | None, tag: int) -> str | None:
    return None if request is None else request.message.get(tag)
