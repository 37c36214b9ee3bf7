"""FIX in: a validated application message from a logged-on user → one cluster command, or a refusal.

Why pure: the mapping is the contract with every counterparty (docs/fix-mapping.md); here it is plain
functions of the message, the user, the mirror and the quote book, unit-tested without a JVM.

Contract:
- :func:`translate` returns :class:`Submit` (a command factory taking the correlation id, and the
  :class:`Request` that outbound messages echo ids from) or :class:`Refuse` (the reply, built by
  ``rejects.refuse``). It never raises for anything a counterparty can send.
- Roles: traders send QuoteRequest (R), QuoteResponse (AJ) hit or counter, QuoteCancel (Z) to cancel
  their RFQ; dealers send Quote (S), QuoteCancel (Z) to withdraw, QuoteResponse (AJ) to accept a counter
  or pass, QuoteRequestReject (AG) 658=10 to pass. Anything else is "not authorized".
- Ids: a requester names its RFQ by its own QuoteReqID(131) and quotes by the platform's QuoteID(117);
  a dealer names an RFQ by the platform's RFQ id (the 131 of the R it received), counters by the
  platform's counter id, and its own quotes by its own QuoteID.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from rfq.cluster.domain.messages import Command
from rfq.codecs.rfq_sbe import (
    AcceptCounter,
    AcceptQuote,
    CancelRfq,
    CounterQuote,
    CreateRfq,
    CreateRfqDealers,
    PassRfq,
    RejectReason,
    Side,
    SubmitQuote,
    WithdrawQuote,
)
from rfq.gateway.fix import fields as f
from rfq.gateway.fix.book import QuoteBook
from rfq.gateway.fix.fields import FixMessage, parse_fix_price, parse_quantity, parse_utc_timestamp
from rfq.gateway.fix.rejects import Problem, refuse
from rfq.gateway.identity import Role, User
from rfq.gateway.mirror import Mirror, RfqState

MAX_QUOTE_REQ_ID = 20
"""The cluster keeps a requester's id in a 20-character field (printable ASCII)."""


class Dealers(Protocol):
    """The part of the identity directory a QuoteRequest needs."""

    def user_by_name(self, name: str) -> User | None: ...

    def default_dealers(self) -> list[User]: ...


@dataclass(frozen=True)
class Request:
    """A FIX message being turned into a command: what its answers echo."""

    session: str
    user: User
    message: FixMessage
    kind: str
    """create, quote, withdraw, cancel, hit, counter, accept_counter, pass"""
    rfq_id: int | None = None


@dataclass(frozen=True)
class Submit:
    """Send ``build(correlation_id)`` to the cluster on behalf of ``request``."""

    request: Request
    build: Callable[[int], Command]


@dataclass(frozen=True)
class Refuse:
    """Answer with ``reply`` and send nothing to the cluster."""

    reply: FixMessage


class _RefusedError(Exception):
    def __init__(self, problem: Problem, text: str, reason: RejectReason | None = None) -> None:
        super().__init__(text)
        self.problem = problem
        self.text = text
        self.reason = reason


def translate(
    message: FixMessage, user: User, session: str, mirror: Mirror, book: QuoteBook, dealers: Dealers
) -> Submit | Refuse:
    """The command ``message`` asks for, or the refusal to send back."""
    try:
        handler = _HANDLERS.get(message.msg_type)
        if handler is None:
            raise _RefusedError(Problem.UNSUPPORTED, f"MsgType {message.msg_type} is not handled")
        return handler(message, user, session, mirror, book, dealers)
    except _RefusedError as refusal:
        return Refuse(refuse(message, refusal.problem, refusal.text, refusal.reason))


# --- requester ----------------------------------------------------------------------------------
def _quote_request(
    message: FixMessage, user: User, session: str, mirror: Mirror, book: QuoteBook, dealers: Dealers
) -> Submit:
    _role(user, Role.TRADER, "only a trader may request quotes")
    quote_req_id = message.get(f.QUOTE_REQ_ID) or ""
    if not (1 <= len(quote_req_id) <= MAX_QUOTE_REQ_ID and _printable(quote_req_id)):
        raise _RefusedError(Problem.REFUSED, f"QuoteReqID(131): 1 to {MAX_QUOTE_REQ_ID} printable ASCII")
    if message.get(f.NO_RELATED_SYM) != "1":
        raise _RefusedError(Problem.REFUSED, "one instrument per QuoteRequest: NoRelatedSym(146)=1")
    cusip = message.get(f.SECURITY_ID)
    if cusip is None or message.get(f.SECURITY_ID_SOURCE) != f.SOURCE_CUSIP:
        raise _RefusedError(Problem.REFUSED, "a CUSIP: SecurityID(48) with SecurityIDSource(22)=1")
    instrument_id = mirror.by_cusip.get(cusip)
    if instrument_id is None:
        raise _RefusedError(Problem.REFUSED, f"unknown CUSIP {cusip}", RejectReason.UNKNOWN_INSTRUMENT)
    side = _side(message.get(f.SIDE))
    quantity = _required(message, f.ORDER_QTY, "OrderQty(38)", parse_quantity)
    expire = message.get(f.EXPIRE_TIME) or message.get(f.VALID_UNTIL_TIME)
    if expire is None:
        raise _RefusedError(Problem.MISSING_FIELD, "the RFQ's deadline: ExpireTime(126) is required")
    expire_time_ms = _parse(expire, "ExpireTime(126)", parse_utc_timestamp)
    dealer_ids = _dealers(message, dealers)
    request = Request(session, user, message, "create")
    return Submit(
        request,
        lambda correlation_id: CreateRfq(
            correlation_id=correlation_id,
            user_id=user.user_id,
            instrument_id=instrument_id,
            side=side,
            quantity=quantity,
            expire_time_ms=expire_time_ms,
            cl_ord_id=quote_req_id,
            dealers=[CreateRfqDealers(dealer_user_id=d) for d in dealer_ids],
        ),
    )


def _dealers(message: FixMessage, dealers: Dealers) -> list[int]:
    """Dealers named as Parties with PartyRole(452)=35 (liquidity provider), PartyID(448) = the
    dealer's user name; none named → the directory's default dealers."""
    named: list[str] = []
    current: list[str | None] = [None, None]
    for tag, value in message.fields:
        if tag == f.PARTY_ID:
            if current[0] is not None and current[1] == f.ROLE_LIQUIDITY_PROVIDER:
                named.append(current[0])
            current = [value, None]
        elif tag == f.PARTY_ROLE:
            current[1] = value
    if current[0] is not None and current[1] == f.ROLE_LIQUIDITY_PROVIDER:
        named.append(current[0])
    if not named:
        return [dealer.user_id for dealer in dealers.default_dealers()]
    ids: list[int] = []
    for name in named:
        dealer = dealers.user_by_name(name)
        if dealer is None or dealer.role is not Role.DEALER:
            raise _RefusedError(Problem.REFUSED, f"unknown dealer {name!r}")
        ids.append(dealer.user_id)
    return ids


def _cancel(
    message: FixMessage, user: User, session: str, mirror: Mirror, book: QuoteBook, dealers: Dealers
) -> Submit:
    if message.get(f.QUOTE_CANCEL_TYPE) != f.CANCEL_FOR_SYMBOL:
        raise _RefusedError(Problem.UNSUPPORTED, "QuoteCancelType(298)=1 only: one RFQ, by QuoteReqID(131)")
    if user.role is Role.DEALER:
        rfq_id = _rfq_id(message)
        return Submit(
            Request(session, user, message, "withdraw", rfq_id),
            lambda c: WithdrawQuote(correlation_id=c, user_id=user.user_id, rfq_id=rfq_id),
        )
    _role(user, Role.TRADER, "only the requester cancels an RFQ, only a dealer withdraws a quote")
    quote_req_id = message.get(f.QUOTE_REQ_ID)
    if quote_req_id is None:
        raise _RefusedError(Problem.MISSING_FIELD, "QuoteReqID(131) names the RFQ to cancel")
    rfq = _own_rfq(mirror, user.user_id, quote_req_id)
    if rfq is None:
        raise _RefusedError(Problem.UNKNOWN_ID, f"no live RFQ with QuoteReqID {quote_req_id}")
    rfq_id = rfq.rfq_id
    return Submit(
        Request(session, user, message, "cancel", rfq_id),
        lambda c: CancelRfq(correlation_id=c, user_id=user.user_id, rfq_id=rfq_id),
    )


def _quote_response(
    message: FixMessage, user: User, session: str, mirror: Mirror, book: QuoteBook, dealers: Dealers
) -> Submit:
    kind = message.get(f.QUOTE_RESP_TYPE)
    if kind in (f.RESP_EXPIRED, f.RESP_COVER, f.RESP_DONE_AWAY):
        raise _RefusedError(Problem.UNSUPPORTED, f"QuoteRespType(694)={kind} is sent by the platform only")
    quote_ref = message.get(f.QUOTE_ID)
    if quote_ref is None:
        raise _RefusedError(Problem.MISSING_FIELD, "QuoteID(117) names the quote or counter responded to")
    if user.role is Role.TRADER:
        if kind not in (f.RESP_HIT, f.RESP_COUNTER):
            raise _RefusedError(Problem.NOT_AUTHORIZED, "a requester hits (694=1) or counters (694=2)")
        quote_id = _number(quote_ref, "QuoteID(117)")
        found = book.quote(quote_id, mirror)
        if found is None:
            raise _RefusedError(Problem.UNKNOWN_ID, f"unknown QuoteID {quote_ref}")
        rfq_id = found[0]
        if kind == f.RESP_HIT:
            return Submit(
                Request(session, user, message, "hit", rfq_id),
                lambda c: AcceptQuote(
                    correlation_id=c, user_id=user.user_id, rfq_id=rfq_id, quote_id=quote_id
                ),
            )
        price = _counter_price(message, mirror.rfq(rfq_id))
        return Submit(
            Request(session, user, message, "counter", rfq_id),
            lambda c: CounterQuote(
                correlation_id=c, user_id=user.user_id, rfq_id=rfq_id, quote_id=quote_id, price=price
            ),
        )
    _role(user, Role.DEALER, "only traders and dealers respond to quotes")
    if kind == f.RESP_HIT:
        counter_id = _number(quote_ref, "QuoteID(117)")
        found = book.counter(counter_id, mirror)
        if found is None:
            raise _RefusedError(Problem.UNKNOWN_ID, f"unknown counter QuoteID {quote_ref}")
        rfq_id = found[0]
        return Submit(
            Request(session, user, message, "accept_counter", rfq_id),
            lambda c: AcceptCounter(
                correlation_id=c, user_id=user.user_id, rfq_id=rfq_id, counter_id=counter_id
            ),
        )
    if kind != f.RESP_PASS:
        raise _RefusedError(Problem.NOT_AUTHORIZED, "a dealer accepts a counter (694=1) or passes (694=6)")
    rfq_id = _dealer_rfq_of(quote_ref, user, mirror, book)
    return Submit(
        Request(session, user, message, "pass", rfq_id),
        lambda c: PassRfq(correlation_id=c, user_id=user.user_id, rfq_id=rfq_id),
    )


# --- dealer -------------------------------------------------------------------------------------
def _quote(
    message: FixMessage, user: User, session: str, mirror: Mirror, book: QuoteBook, dealers: Dealers
) -> Submit:
    _role(user, Role.DEALER, "only a dealer quotes")
    rfq_id = _rfq_id(message)
    quote_type = message.get(f.QUOTE_TYPE)
    if quote_type not in (None, f.QUOTE_TYPE_TRADEABLE):
        raise _RefusedError(Problem.REFUSED, "quotes are firm: QuoteType(537) 1 (tradeable) or absent")
    price = _dealer_price(message, mirror.rfq(rfq_id))
    valid = message.get(f.VALID_UNTIL_TIME)
    valid_until_ms = None if valid is None else _parse(valid, "ValidUntilTime(62)", parse_utc_timestamp)
    return Submit(
        Request(session, user, message, "quote", rfq_id),
        lambda c: SubmitQuote(
            correlation_id=c, user_id=user.user_id, rfq_id=rfq_id, price=price, valid_until_ms=valid_until_ms
        ),
    )


def _pass_by_reject(
    message: FixMessage, user: User, session: str, mirror: Mirror, book: QuoteBook, dealers: Dealers
) -> Submit:
    _role(user, Role.DEALER, "only a dealer passes on an RFQ")
    if message.get(f.QUOTE_REQUEST_REJECT_REASON) != f.REQ_REJECT_PASS:
        raise _RefusedError(Problem.UNSUPPORTED, "a dealer's QuoteRequestReject passes: 658=10")
    rfq_id = _rfq_id(message)
    return Submit(
        Request(session, user, message, "pass", rfq_id),
        lambda c: PassRfq(correlation_id=c, user_id=user.user_id, rfq_id=rfq_id),
    )


# --- helpers ------------------------------------------------------------------------------------
_Handler = Callable[[FixMessage, User, str, Mirror, QuoteBook, Dealers], Submit]
_HANDLERS: dict[str, _Handler] = {
    f.QUOTE_REQUEST: _quote_request,
    f.QUOTE: _quote,
    f.QUOTE_CANCEL: _cancel,
    f.QUOTE_RESPONSE: _quote_response,
    f.QUOTE_REQUEST_REJECT: _pass_by_reject,
}


def _printable(text: str) -> bool:
    return text.isascii() and text.isprintable()


def _role(user: User, role: Role, text: str) -> None:
    if user.role is not role:
        raise _RefusedError(Problem.NOT_AUTHORIZED, text)


def _side(value: str | None) -> Side:
    if value == f.SIDE_BUY:
        return Side.BUY
    if value == f.SIDE_SELL:
        return Side.SELL
    if value is None:
        raise _RefusedError(Problem.MISSING_FIELD, "Side(54) is required: 1 (buy) or 2 (sell)")
    raise _RefusedError(Problem.REFUSED, f"Side(54)={value}: only 1 (buy) or 2 (sell)")


def _rfq_id(message: FixMessage) -> int:
    value = message.get(f.QUOTE_REQ_ID)
    if value is None:
        raise _RefusedError(Problem.MISSING_FIELD, "QuoteReqID(131) names the RFQ")
    return _number(value, "QuoteReqID(131)")


def _number(value: str, name: str) -> int:
    if not (value.isascii() and value.isdigit()) or not 0 < int(value) < 2**63:
        raise _RefusedError(Problem.UNKNOWN_ID, f"unknown {name} {value}")
    return int(value)


def _required(message: FixMessage, tag: int, name: str, parse: Callable[[str], int]) -> int:
    value = message.get(tag)
    if value is None:
        raise _RefusedError(Problem.MISSING_FIELD, f"{name} is required")
    return _parse(value, name, parse)


def _parse(value: str, name: str, parse: Callable[[str], int]) -> int:
    try:
        return parse(value)
    except ValueError as error:
        raise _RefusedError(Problem.REFUSED, f"{name}: {error}") from None


def _dealer_price(message: FixMessage, rfq: RfqState | None) -> int:
    """A dealer's price: OfferPx(133) when the requester buys, BidPx(132) when it sells (either one
    when the gateway does not know the RFQ: the cluster will say why)."""
    offer, bid = message.get(f.OFFER_PX), message.get(f.BID_PX)
    if rfq is None:
        value = offer if offer is not None else bid
        name = "OfferPx(133)" if offer is not None else "BidPx(132)"
    elif rfq.side is Side.BUY:
        value, name = offer, "OfferPx(133) (the requester buys)"
    else:
        value, name = bid, "BidPx(132) (the requester sells)"
    if value is None:
        raise _RefusedError(Problem.MISSING_FIELD, f"the price: {name} is required")
    return _parse(value, name, parse_fix_price)


def _counter_price(message: FixMessage, rfq: RfqState | None) -> int:
    """A counter's price: Price(44), or the dealer's side's OfferPx(133)/BidPx(132)."""
    value = message.get(f.PRICE)
    if value is None:
        side_px = f.OFFER_PX if rfq is None or rfq.side is Side.BUY else f.BID_PX
        value = message.get(side_px)
    if value is None:
        raise _RefusedError(Problem.MISSING_FIELD, "a counter's price: Price(44) is required")
    return _parse(value, "Price(44)", parse_fix_price)


def _own_rfq(mirror: Mirror, user_id: int, quote_req_id: str) -> RfqState | None:
    """The requester's newest active RFQ with that QuoteReqID."""
    found = None
    for rfq in mirror.active.values():
        if rfq.requester_user_id == user_id and rfq.cl_ord_id == quote_req_id:
            found = rfq
    return found


def _dealer_rfq_of(quote_ref: str, user: User, mirror: Mirror, book: QuoteBook) -> int:
    """The RFQ a dealer's pass names: a counter id addressed to it, or one of its own QuoteIDs."""
    if quote_ref.isascii() and quote_ref.isdigit():
        found = book.counter(int(quote_ref), mirror)
        if found is not None and found[1] == user.user_id:
            return found[0]
    quote_id = book.by_own_quote_id(user.user_id, quote_ref)
    if quote_id is not None:
        quote = book.quote(quote_id, mirror)
        if quote is not None:
            return quote[0]
    raise _RefusedError(Problem.UNKNOWN_ID, f"QuoteID {quote_ref} names none of your quotes or counters")
