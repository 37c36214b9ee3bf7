"""Who may see an event: the one routing rule every gateway uses.

Why here: privacy is part of the model, so the rule lives beside the state machine that makes the
events, is pure, and is property-tested with it (``tests/property/test_privacy.py``). Every RFQ event
is addressed to exactly one user (the state machine emits one copy per recipient), so the rule only
reads the address; what a copy may carry is the state machine's promise, checked by the same tests:
a dealer's copy never holds another dealer's price nor the requester's correlation id or client
order id.

Contract: ``recipients(event)`` is ``EVERYONE`` for reference data (instruments), otherwise the tuple
of user ids entitled to the event (one id; none for a refusal whose sender could not be read, and for
``StateQueried``, which answers a gateway's own query). A
gateway forwards an event to those of its users that the rule names, and to no one else.
"""

from __future__ import annotations

from typing import Final

from rfq.codecs.rfq_sbe import (
    CommandRejected,
    DealerPassed,
    InstrumentAdded,
    InstrumentEnabled,
    QuoteCountered,
    QuoteSubmitted,
    QuoteWithdrawn,
    RfqCreated,
    RfqEnded,
    RfqInvited,
    RfqTraded,
    StateQueried,
)


class _Everyone:
    """The audience of reference data: every user of every gateway."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "EVERYONE"


EVERYONE: Final = _Everyone()

Recipients = tuple[int, ...] | _Everyone

_ADDRESSED = (QuoteSubmitted, QuoteWithdrawn, DealerPassed, QuoteCountered, RfqTraded, RfqEnded)


def recipients(event: object) -> Recipients:
    """The users entitled to ``event``; raises ``TypeError`` for anything that is not an event."""
    if isinstance(event, _ADDRESSED):
        return (event.recipient_user_id,)
    if isinstance(event, RfqInvited):
        return (event.dealer_user_id,)
    if isinstance(event, RfqCreated):
        return (event.requester_user_id,)
    if isinstance(event, CommandRejected):
        return () if event.user_id is None else (event.user_id,)
    if isinstance(event, StateQueried):
        return ()  # the end of a gateway's own QueryState answer: for the gateway, not for a user
    if isinstance(event, InstrumentAdded | InstrumentEnabled):
        return EVERYONE
    raise TypeError(f"{type(event).__name__} is not an event")
