"""Which RFQ a quote or counter id belongs to, and the dealers' own QuoteIDs.

Why: FIX 4.4's QuoteResponse (AJ) has no QuoteReqID, so a hit, a counter or a counter's acceptance
names only a QuoteID: the gateway must know which RFQ it belongs to. The mirror holds only each
dealer's *current* quote; this book remembers every quote and counter id it has seen (bounded), so a
hit on a replaced quote still reaches the cluster and gets its true answer (QUOTE_NOT_LIVE).

A dealer's Quote (S) carries the dealer's own QuoteID(117); the cluster numbers quotes itself. The
book keeps platform quote id ↔ the dealer's QuoteID, so that every later message about that quote
(acknowledgment, done away, cover, expiry) names it as the dealer does. That pairing is persisted in
the gateway's SQLite file (table ``fix_quote_ids``): it survives a gateway restart.

Contract: single-threaded (the gateway's event loop); every map is bounded (oldest dropped first).
"""

from __future__ import annotations

import sqlite3
import time
from collections import OrderedDict
from typing import Any

from rfq.codecs.rfq_sbe import QuoteCountered, QuoteSubmitted
from rfq.gateway.mirror import Mirror

DEFAULT_CAPACITY = 200_000
_SCHEMA = """
CREATE TABLE IF NOT EXISTS fix_quote_ids (
    quote_id INTEGER PRIMARY KEY,
    rfq_id INTEGER NOT NULL,
    user_id INTEGER NOT NULL,
    own_quote_id TEXT NOT NULL,
    created_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS fix_quote_ids_rfq ON fix_quote_ids (rfq_id, user_id);
"""


class _Bounded(OrderedDict[Any, Any]):
    def __init__(self, capacity: int) -> None:
        super().__init__()
        self.capacity = capacity

    def put(self, key: Any, value: Any) -> None:
        self[key] = value
        self.move_to_end(key)
        if len(self) > self.capacity:
            self.popitem(last=False)


class QuoteBook:
    """Quote and counter ids → (rfq id, dealer); platform quote ids ↔ dealers' own QuoteIDs."""

    def __init__(self, db: sqlite3.Connection | None = None, capacity: int = DEFAULT_CAPACITY) -> None:
        self._db = db
        self._quotes = _Bounded(capacity)
        self._counters = _Bounded(capacity)
        self._own = _Bounded(capacity)
        """platform quote id → (rfq id, dealer, dealer's QuoteID)"""
        self._by_own = _Bounded(capacity)
        """(dealer, dealer's QuoteID) → platform quote id (the latest)"""
        self._last = _Bounded(capacity)
        """(rfq id, dealer) → the dealer's latest platform quote id"""
        if db is not None:
            db.executescript(_SCHEMA)
            rows = db.execute(
                "SELECT quote_id, rfq_id, user_id, own_quote_id FROM fix_quote_ids"
                " ORDER BY quote_id DESC LIMIT ?",
                (capacity,),
            ).fetchall()
            for quote_id, rfq_id, user_id, own in reversed(rows):
                self._remember(int(quote_id), int(rfq_id), int(user_id), str(own))

    # --- learning ---------------------------------------------------------------------------------
    def observe(self, event: object) -> None:
        """Index the ids of a routed event (any copy)."""
        if isinstance(event, QuoteSubmitted):
            self._quotes.put(event.quote_id, (event.rfq_id, event.dealer_user_id))
            self._last.put((event.rfq_id, event.dealer_user_id), event.quote_id)
        elif isinstance(event, QuoteCountered):
            self._counters.put(event.counter_id, (event.rfq_id, event.dealer_user_id))

    def remember_own(self, quote_id: int, rfq_id: int, user_id: int, own_quote_id: str) -> None:
        """Pair a platform quote id with the QuoteID its dealer gave it (persisted)."""
        self._remember(quote_id, rfq_id, user_id, own_quote_id)
        if self._db is not None:
            self._db.execute(
                "INSERT OR REPLACE INTO fix_quote_ids (quote_id, rfq_id, user_id, own_quote_id, created_ms)"
                " VALUES (?, ?, ?, ?, ?)",
                (quote_id, rfq_id, user_id, own_quote_id, int(time.time() * 1000)),
            )

    def purge(self, older_than_ms: int) -> int:
        """Forget persisted pairs created before ``older_than_ms`` (wall clock); how many."""
        if self._db is None:
            return 0
        cursor = self._db.execute("DELETE FROM fix_quote_ids WHERE created_ms < ?", (older_than_ms,))
        return cursor.rowcount

    def _remember(self, quote_id: int, rfq_id: int, user_id: int, own: str) -> None:
        self._own.put(quote_id, (rfq_id, user_id, own))
        self._by_own.put((user_id, own), quote_id)
        self._quotes.put(quote_id, (rfq_id, user_id))
        last = self._last.get((rfq_id, user_id))
        if last is None or last <= quote_id:
            self._last.put((rfq_id, user_id), quote_id)

    # --- reading ----------------------------------------------------------------------------------
    def quote(self, quote_id: int, mirror: Mirror) -> tuple[int, int] | None:
        """(rfq id, dealer) of a quote id, from the book or the mirror's current quotes."""
        found = self._quotes.get(quote_id)
        if found is not None:
            return int(found[0]), int(found[1])
        for rfq in mirror.active.values():
            for standing in rfq.dealers.values():
                if standing.quote is not None and standing.quote.quote_id == quote_id:
                    return rfq.rfq_id, standing.user_id
        return None

    def counter(self, counter_id: int, mirror: Mirror) -> tuple[int, int] | None:
        """(rfq id, dealer) of a counter id, from the book or the mirror's live counters."""
        found = self._counters.get(counter_id)
        if found is not None:
            return int(found[0]), int(found[1])
        for rfq in mirror.active.values():
            for standing in rfq.dealers.values():
                if standing.counter is not None and standing.counter.counter_id == counter_id:
                    return rfq.rfq_id, standing.user_id
        return None

    def own_quote_id(self, quote_id: int) -> str | None:
        """The dealer's own QuoteID for a platform quote id, if it quoted over FIX."""
        found = self._own.get(quote_id)
        return None if found is None else str(found[2])

    def last_quote_id(self, rfq_id: int, dealer_user_id: int) -> int | None:
        """The dealer's latest platform quote id in an RFQ."""
        found = self._last.get((rfq_id, dealer_user_id))
        return None if found is None else int(found)

    def by_own_quote_id(self, dealer_user_id: int, own_quote_id: str) -> int | None:
        """The platform quote id a dealer's own QuoteID names (its latest use)."""
        found = self._by_own.get((dealer_user_id, own_quote_id))
        return None if found is None else int(found)

    def dealer_quote_ref(self, rfq_id: int, dealer_user_id: int) -> str:
        """How the dealer names its latest quote in an RFQ: its own QuoteID, else the platform's
        quote id, else (it never quoted) the RFQ id."""
        quote_id = self.last_quote_id(rfq_id, dealer_user_id)
        if quote_id is None:
            return str(rfq_id)
        return self.own_quote_id(quote_id) or str(quote_id)
