"""RFQs: the entity, its lifecycle, and the book of RFQs still active.

Lifecycle (``TRANSITIONS``)::

    CREATED ──quote──► QUOTED ──counter──► COUNTERED ──counter──► COUNTERED
       │                  │                    │
       │                  ├──accept──► ACCEPTED (the trade)      (also from COUNTERED)
       │                  └──reject──► REJECTED                  (also from COUNTERED)
       └── from CREATED, QUOTED or COUNTERED: ──cancel / instrument disabled──► CANCELED
                                               ──expiry timer──────────────────► EXPIRED

Terminal RFQs leave the book at once (the snapshot keeps active RFQs only); because RFQ ids are a
sequence, an id below ``next_rfq_id`` that is not in the book is known to have ended.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from rfq.codecs.rfq_sbe import RfqState, Side

FIRST_RFQ_ID = 1

ACTIVE_STATES: frozenset[RfqState] = frozenset({RfqState.CREATED, RfqState.QUOTED, RfqState.COUNTERED})
TERMINAL_STATES: frozenset[RfqState] = frozenset(
    {RfqState.ACCEPTED, RfqState.REJECTED, RfqState.CANCELED, RfqState.EXPIRED}
)
TRANSITIONS: Mapping[RfqState, frozenset[RfqState]] = {
    RfqState.CREATED: frozenset({RfqState.QUOTED, RfqState.CANCELED, RfqState.EXPIRED}),
    RfqState.QUOTED: frozenset(
        {RfqState.COUNTERED, RfqState.ACCEPTED, RfqState.REJECTED, RfqState.CANCELED, RfqState.EXPIRED}
    ),
    RfqState.COUNTERED: frozenset(
        {RfqState.COUNTERED, RfqState.ACCEPTED, RfqState.REJECTED, RfqState.CANCELED, RfqState.EXPIRED}
    ),
}
"""The only moves an RFQ makes: state → the states it may move to next. Terminal states have none."""


class Rfq:
    """One RFQ. ``price`` is the last price on the table (a mantissa, exponent -8) and
    ``last_price_user_id`` who put it there; both are None until the first quote."""

    __slots__ = (
        "cl_ord_id",
        "correlation_id",
        "created_time_ms",
        "expire_time_ms",
        "instrument_id",
        "last_price_user_id",
        "price",
        "quantity",
        "requester_user_id",
        "responder_user_id",
        "rfq_id",
        "side",
        "state",
    )

    def __init__(
        self,
        *,
        rfq_id: int,
        correlation_id: int,
        requester_user_id: int,
        instrument_id: int,
        side: Side,
        quantity: int,
        expire_time_ms: int,
        created_time_ms: int,
        cl_ord_id: str,
        state: RfqState = RfqState.CREATED,
        responder_user_id: int | None = None,
        last_price_user_id: int | None = None,
        price: int | None = None,
    ) -> None:
        self.rfq_id = rfq_id
        self.correlation_id = correlation_id
        self.requester_user_id = requester_user_id
        self.instrument_id = instrument_id
        self.side = side
        self.quantity = quantity
        self.expire_time_ms = expire_time_ms
        self.created_time_ms = created_time_ms
        self.cl_ord_id = cl_ord_id
        self.state = state
        self.responder_user_id = responder_user_id
        self.last_price_user_id = last_price_user_id
        self.price = price

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in sorted(self.__slots__))
        return f"Rfq({fields})"


class RfqBook:
    """The active RFQs by id, the same RFQs by instrument, and the RFQ id sequence."""

    __slots__ = ("_active", "_by_instrument", "next_rfq_id")

    def __init__(self) -> None:
        self._active: dict[int, Rfq] = {}
        self._by_instrument: dict[int, dict[int, Rfq]] = {}
        self.next_rfq_id = FIRST_RFQ_ID

    def get(self, rfq_id: int) -> Rfq | None:
        """The active RFQ ``rfq_id``, or None if it never existed or has ended."""
        return self._active.get(rfq_id)

    def existed(self, rfq_id: int) -> bool:
        """True when ``rfq_id`` was assigned (the RFQ may have ended since)."""
        return FIRST_RFQ_ID <= rfq_id < self.next_rfq_id

    def next_id(self) -> int:
        """Take the next RFQ id from the sequence."""
        rfq_id = self.next_rfq_id
        self.next_rfq_id = rfq_id + 1
        return rfq_id

    def put(self, rfq: Rfq) -> None:
        """Insert an active RFQ (new, or restored from a snapshot)."""
        self._active[rfq.rfq_id] = rfq
        by_instrument = self._by_instrument.get(rfq.instrument_id)
        if by_instrument is None:
            by_instrument = self._by_instrument[rfq.instrument_id] = {}
        by_instrument[rfq.rfq_id] = rfq

    def remove(self, rfq: Rfq) -> None:
        """Take an RFQ that reached a terminal state out of the book."""
        del self._active[rfq.rfq_id]
        del self._by_instrument[rfq.instrument_id][rfq.rfq_id]

    def for_instrument(self, instrument_id: int) -> list[Rfq]:
        """The active RFQs on ``instrument_id``, ascending rfq id."""
        rfqs = self._by_instrument.get(instrument_id)
        if not rfqs:
            return []
        return [rfqs[rfq_id] for rfq_id in sorted(rfqs)]

    def __iter__(self) -> Iterator[Rfq]:
        """Active RFQs in ascending id order (a deterministic snapshot order)."""
        for rfq_id in sorted(self._active):
            yield self._active[rfq_id]

    def __len__(self) -> int:
        return len(self._active)
