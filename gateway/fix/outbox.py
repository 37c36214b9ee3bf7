"""What a FIX user gets for the time it was not logged on.

Why: the engine's store and resend cover messages already *sent* on a session; events that arrive
while a user has no session must wait somewhere, and a gateway restart loses whatever waited in
memory. The rule (docs/fix-mapping.md, "Logged out"):

- While a user with a FIX login has no session, the messages its events render to are queued here, in
  order, each with the RFQ it concerns (bounded: ``capacity`` per user; past it the oldest are dropped
  and the queue is marked *overflowed*).
- At logon, a queue that is complete (no overflow, no barrier, and the user already logged on in this
  gateway life, so nothing before the queue is unknown) is sent as it is: exactly the messages missed.
- Otherwise — the first logon since the gateway started, an overflow, or a barrier (the gateway may
  have missed cluster events) — the user gets the queued messages of RFQs that are no longer active
  (how they ended: trades, done away, expiry...), then a snapshot of its active RFQs with
  PossResend(97)=Y (``Renderer.snapshot``): the state now, flagged as possibly seen before.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from rfq.gateway.fix.fields import FixMessage

DEFAULT_CAPACITY = 10_000


@dataclass
class Outbox:
    """One user's queued messages."""

    capacity: int = DEFAULT_CAPACITY
    entries: deque[tuple[int | None, FixMessage]] = field(default_factory=deque)
    overflowed: bool = False
    needs_snapshot: bool = False

    def add(self, rfq_id: int | None, messages: list[FixMessage]) -> None:
        for message in messages:
            self.entries.append((rfq_id, message))
            if len(self.entries) > self.capacity:
                self.entries.popleft()
                self.overflowed = True

    def complete(self) -> bool:
        """Nothing was lost: the queue alone brings the user up to date."""
        return not (self.overflowed or self.needs_snapshot)

    def ended_only(self, active: set[int]) -> list[FixMessage]:
        """The queued messages of RFQs not in ``active`` (and those about no RFQ), in order."""
        return [message for rfq_id, message in self.entries if rfq_id is None or rfq_id not in active]

    def all(self) -> list[FixMessage]:
        return [message for _, message in self.entries]
