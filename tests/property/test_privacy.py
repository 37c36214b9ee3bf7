"""Privacy: every event the state machine produces is routed only to users entitled to it.

Random logs of commands and timer ticks (``reference_model.command_logs``: trades, counters, passes,
cancels, expiries, disabled instruments, resends and reused correlation ids) run through the state
machine; every event of every outcome and timer firing goes through ``routing.recipients``. Who is a
party to an RFQ, who owns a quote or a counter and who sent which correlation id are learnt from the
commands (not from the events under test). For every event:

- ``EVERYONE`` only for reference data (``InstrumentAdded``, ``InstrumentEnabled``, which carry the
  operator's correlation id by design); every other event names exactly one user, and a refusal names
  the sender of the command refused;
- an RFQ event names one of that RFQ's parties: its requester or an invited dealer;
- a dealer is never routed another dealer's quote, counter, pass or trade: its copies name no other
  dealer (``dealer_user_id``), no quote or counter id but its own, and no price but that of its own
  quote or counter (``RfqTraded.cover_price``, the spec'd unattributed cover, excepted);
- a dealer is never routed ``RfqCreated`` nor anything carrying a ``cl_ord_id``;
- an event's ``correlation_id``, when not None, is that of a command the recipient itself sent.

``QueryState`` answers (every instrument and active RFQ, then ``StateQueried``) are the starting
gateway's own view, sent to its session alone and routed to no user: checked to be exactly that.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings

from rfq.cluster.domain import Audience, InMemoryTimers, StateMachine
from rfq.cluster.domain.routing import EVERYONE, recipients
from rfq.codecs.rfq_sbe import (
    CommandRejected,
    CounterQuote,
    CreateRfq,
    InstrumentAdded,
    InstrumentEnabled,
    QueryState,
    QuoteCountered,
    QuoteSubmitted,
    RfqCreated,
    RfqTraded,
    SubmitQuote,
)
from tests.property.reference_model import Entry, command_logs, describe

ID_FIELDS = ("quote_id", "counter_id", "replaced_quote_id")


class Ledger:
    """What the commands say: each RFQ's parties, each quote's and counter's owner and price, and the
    (user, correlation id) pairs users sent."""

    def __init__(self) -> None:
        self.requester: dict[int, int] = {}
        self.dealers: dict[int, set[int]] = {}
        self.owner: dict[int, tuple[int, int]] = {}  # quote or counter id → (dealer, price)
        self.sent: set[tuple[int, int]] = set()

    def learn(self, command: Any, events: tuple[Any, ...]) -> None:
        """A command that changed state (not refused, not a duplicate) and its events."""
        for e in events:
            if isinstance(e, RfqCreated) and isinstance(command, CreateRfq):
                self.requester[e.rfq_id] = command.user_id
                self.dealers[e.rfq_id] = {d.dealer_user_id for d in command.dealers}
            elif isinstance(e, QuoteSubmitted) and isinstance(command, SubmitQuote):
                self.owner[e.quote_id] = (command.user_id, command.price)
            elif isinstance(e, QuoteCountered) and isinstance(command, CounterQuote):
                dealer, _quote_price = self.owner[command.quote_id]
                self.owner[e.counter_id] = (dealer, command.price)

    def check(self, e: Any, command: Any | None) -> None:
        """``e`` came out of ``command`` (None: out of a timer firing)."""
        audience = recipients(e)
        if isinstance(e, InstrumentAdded | InstrumentEnabled):
            assert audience is EVERYONE, f"reference data {e!r} routed to {audience}"
            return
        assert isinstance(audience, tuple), f"{e!r} routed to {audience}"
        assert len(audience) == 1, f"{e!r} routed to {audience}"
        (user,) = audience
        if isinstance(e, CommandRejected):
            assert command is not None, f"a timer produced {e!r}"
            assert (user, e.correlation_id) == (command.user_id, command.correlation_id), f"{e!r}"
            return
        rfq_id = e.rfq_id
        assert rfq_id in self.requester, f"{e!r} for an RFQ no CreateRfq made"
        requester, dealers = self.requester[rfq_id], self.dealers[rfq_id]
        assert user == requester or user in dealers, f"{e!r} routed to {user}, not a party"
        cid = getattr(e, "correlation_id", None)
        assert cid is None or (user, cid) in self.sent, f"{e!r} carries a correlation id {user} never sent"
        if user == requester:
            return
        # the dealer's view: only its own things
        assert not isinstance(e, RfqCreated), f"dealer {user} routed {e!r}"
        assert not hasattr(e, "cl_ord_id"), f"dealer {user} routed a cl_ord_id: {e!r}"
        dealer = getattr(e, "dealer_user_id", user)
        assert dealer == user, f"dealer {user} routed dealer {dealer}'s {e!r}"
        ids = [getattr(e, name) for name in ID_FIELDS if getattr(e, name, None) is not None]
        for quote_id in ids:
            assert self.owner.get(quote_id, (None, 0))[0] == user, f"dealer {user} routed {quote_id}: {e!r}"
        price = getattr(e, "price", None)
        if price is not None:
            own = {self.owner[quote_id][1] for quote_id in ids if quote_id in self.owner}
            assert price in own, f"dealer {user} routed a price not its own: {e!r}"
        if isinstance(e, RfqTraded):
            assert e.dealer_user_id == user  # the winner; its cover_price is the spec'd, unattributed cover


def run_checked(log: list[Entry]) -> None:
    timers = InMemoryTimers()
    machine = StateMachine(timers)
    ledger = Ledger()
    for entry in log:
        if entry.is_tick:
            for rfq_id, _deadline in timers.pop_due(entry.time_ms):
                for fired in machine.on_timer(rfq_id, entry.time_ms):
                    ledger.check(fired, None)
            continue
        command = entry.command
        ledger.sent.add((command.user_id, command.correlation_id))
        outcome = machine.apply(command, entry.time_ms)
        if isinstance(command, QueryState) and not isinstance(outcome.events[0], CommandRejected):
            # the gateway's own view of the state (for its session alone), closed by StateQueried
            assert outcome.audience is Audience.SENDER
            assert recipients(outcome.events[-1]) == ()
            continue
        if not outcome.duplicate and not isinstance(outcome.events[0], CommandRejected):
            ledger.learn(command, tuple(outcome.events))
        for e in outcome.events:
            ledger.check(e, command)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(log=command_logs())
def test_every_event_is_routed_only_to_those_entitled_to_it(log: list[Entry]) -> None:
    """Each event's recipients are the RFQ's parties, and a dealer sees only its own dealings."""
    try:
        run_checked(log)
    except AssertionError as failure:
        raise AssertionError(f"{failure}\n the log:\n{describe(log)}") from failure
