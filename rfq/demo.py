"""Demo data for ``rfq run``: six bonds and three multi-dealer RFQs at different stages.

It goes through the same path as any gateway: a :class:`CommandClient` session (IPC, in the node's
process) submits commands and waits for their outcomes (the first event carrying the command's
correlation id: the copy addressed to the user who acted). Users: operator 1, clients 101 and 102,
dealers 201, 202 and 203.

- RFQ one: client 101 asks the three dealers; two quote, one of them quotes again, the third passes;
  the client counters the best quote, then hits it: a trade, with the other quote as its cover.
- RFQ two: client 102 asks two dealers; both quote, the client counters one: live.
- RFQ three: client 101 asks the three dealers; nobody has answered yet: open.

Every outcome's type is checked, and the demo says what it saw: it never reports a step (least of
all a trade) that the cluster did not confirm. Running it again against a node that kept its state
(``rfq run --base-dir``) is harmless: the instruments are there already, so the RFQs are skipped.
A second run's correlation ids restart at 1 (until the gateway core makes them unique across
restarts), so its AddInstruments are answered as resends with the first run's outcomes; those are
recognised by their cluster time, older than this run.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

from rfq.codecs.rfq_sbe import (
    PRICE_EXPONENT,
    AcceptQuote,
    AddInstrument,
    BooleanType,
    CommandRejected,
    CounterQuote,
    CreateRfq,
    CreateRfqDealers,
    DealerPassed,
    InstrumentAdded,
    PassRfq,
    QuoteCountered,
    QuoteSubmitted,
    RejectReason,
    RfqCreated,
    RfqTraded,
    Side,
    SubmitQuote,
)
from rfq.gateway.cluster_client import ClientConfig
from rfq.gateway.command_client import CommandClient

DEMO_GATEWAY_ID = 1
OPERATOR = 1
CLIENTS = (101, 102)
DEALERS = (201, 202, 203)
OPEN_FOR_MS = 10 * 60 * 1000
EARLIER_RUN_SLACK_MS = 2_000
"""An InstrumentAdded stamped this long before the demo started answers an earlier run's command."""

INSTRUMENTS: tuple[tuple[str, int, str], ...] = (
    ("912828YK0", 1_000_000, "US Treasury note"),
    ("912810TM0", 1_000_000, "US Treasury bond"),
    ("912796ZV4", 1_000_000, "US Treasury bill"),
    ("037833DX5", 100_000, "Apple Inc. note"),
    ("459200KS9", 100_000, "IBM Corp. note"),
    ("594918BY9", 100_000, "Microsoft Corp. note"),
)

E = TypeVar("E")


def price(value: str) -> int:
    """A decimal string as the wire's price mantissa (10^PRICE_EXPONENT units)."""
    whole, _, fraction = value.partition(".")
    digits: int = -PRICE_EXPONENT
    scale: int = 10**digits
    return int(whole) * scale + int((fraction + "0" * digits)[:digits] or 0)


def show(mantissa: int) -> str:
    """A price mantissa as a decimal, two places at least: ``9950000000`` → ``99.50``."""
    digits = -PRICE_EXPONENT
    whole, fraction = divmod(mantissa, 10**digits)
    text = f"{fraction:0{digits}d}".rstrip("0").ljust(2, "0")
    return f"{whole}.{text}"


class DemoStepError(Exception):
    """A step's outcome was not what the demo expected: it stops and says what it got."""


def _describe(outcome: Any) -> str:
    if isinstance(outcome, CommandRejected):
        return f"refused ({outcome.reason.name})"
    return f"answered with {type(outcome).__name__}"


def expect(outcome: Any, kind: type[E], step: str) -> E:
    """``outcome`` if it is a ``kind``; otherwise stop the demo, naming the step and what came back."""
    if isinstance(outcome, kind):
        return outcome
    hint = ""
    if isinstance(outcome, CommandRejected) and outcome.reason is RejectReason.CORRELATION_ID_REUSED:
        hint = " (an earlier run against this base dir used the same correlation ids)"
    raise DemoStepError(f"{step}: {_describe(outcome)}{hint}")


def load(client: CommandClient, say: Callable[[str], None]) -> None:
    """Add the demo instruments and negotiate three RFQs: one traded, one live, one open."""
    started_ms = int(time.time() * 1000)

    def run(make: Callable[[int], Any]) -> Any:
        return client.request(make(client.next_correlation_id()))

    ids: dict[str, int] = {}
    fresh = 0
    for cusip, min_quantity, description in INSTRUMENTS:
        outcome = client.request(
            AddInstrument(
                correlation_id=client.next_correlation_id(),
                user_id=OPERATOR,
                min_quantity=min_quantity,
                enabled=BooleanType.TRUE,
                cusip=cusip,
            )
        )
        if isinstance(outcome, InstrumentAdded):
            ids[cusip] = outcome.instrument_id
            if outcome.timestamp_ms < started_ms - EARLIER_RUN_SLACK_MS:
                say(f"instrument {outcome.instrument_id}: {cusip} was added by an earlier run")
            else:
                fresh += 1
                say(f"instrument {outcome.instrument_id}: {cusip} {description}, min {min_quantity:,}")
        elif isinstance(outcome, CommandRejected) and outcome.reason is RejectReason.DUPLICATE_INSTRUMENT:
            say(f"instrument {cusip} is already there")
        else:
            say(f"instrument {cusip}: {_describe(outcome)}")
    if fresh < len(INSTRUMENTS):
        say("demo RFQs skipped: the instruments were already loaded")
        return
    try:
        _negotiate(run, ids, started_ms + OPEN_FOR_MS, say)
    except DemoStepError as stopped:
        say(f"demo stopped: {stopped}")


def _negotiate(
    run: Callable[[Callable[[int], Any]], Any],
    ids: dict[str, int],
    expiry_ms: int,
    say: Callable[[str], None],
) -> None:
    alice, bob = CLIENTS
    d1, d2, d3 = DEALERS

    def create(
        user: int, cusip: str, side: Side, quantity: int, cl_ord_id: str, dealers: tuple[int, ...]
    ) -> int:
        created = expect(
            run(
                lambda c: CreateRfq(
                    correlation_id=c,
                    user_id=user,
                    instrument_id=ids[cusip],
                    side=side,
                    quantity=quantity,
                    expire_time_ms=expiry_ms,
                    cl_ord_id=cl_ord_id,
                    dealers=[CreateRfqDealers(dealer_user_id=d) for d in dealers],
                )
            ),
            RfqCreated,
            f"client {user}'s RFQ {cl_ord_id}",
        )
        verb = "buy" if side is Side.BUY else "sell"
        asked = ", ".join(str(d) for d in dealers)
        say(
            f"rfq {created.rfq_id}: client {user} asks dealers {asked} for a price to {verb} "
            f"{quantity:,} {cusip}, open for {OPEN_FOR_MS // 60_000} minutes"
        )
        return created.rfq_id

    def quote(rfq_id: int, dealer: int, value: str) -> QuoteSubmitted:
        quoted = expect(
            run(lambda c: SubmitQuote(correlation_id=c, user_id=dealer, rfq_id=rfq_id, price=price(value))),
            QuoteSubmitted,
            f"rfq {rfq_id}: dealer {dealer}'s quote",
        )
        again = (
            "" if quoted.replaced_quote_id is None else f" again, replacing quote {quoted.replaced_quote_id}"
        )
        say(f"rfq {rfq_id}: dealer {dealer} quotes {show(quoted.price)}{again} (quote {quoted.quote_id})")
        return quoted

    def counter(rfq_id: int, user: int, quoted: QuoteSubmitted, value: str) -> None:
        countered = expect(
            run(
                lambda c: CounterQuote(
                    correlation_id=c,
                    user_id=user,
                    rfq_id=rfq_id,
                    quote_id=quoted.quote_id,
                    price=price(value),
                )
            ),
            QuoteCountered,
            f"rfq {rfq_id}: client {user}'s counter",
        )
        say(
            f"rfq {rfq_id}: client {user} counters dealer {quoted.dealer_user_id}: "
            f"countered {show(countered.price)} over {show(quoted.price)} (counter {countered.counter_id})"
        )

    # one traded: three dealers asked, two quote (one of them twice), one passes, a counter, a hit
    rfq_id = create(alice, "912828YK0", Side.BUY, 5_000_000, "alice-0001", (d1, d2, d3))
    quote(rfq_id, d1, "99.53125")
    quote(rfq_id, d2, "99.515625")
    best = quote(rfq_id, d1, "99.5")
    passed = expect(
        run(lambda c: PassRfq(correlation_id=c, user_id=d3, rfq_id=rfq_id)),
        DealerPassed,
        f"rfq {rfq_id}: dealer {d3}'s pass",
    )
    say(f"rfq {rfq_id}: dealer {passed.dealer_user_id} passes")
    counter(rfq_id, alice, best, "99.484375")
    trade = expect(
        run(lambda c: AcceptQuote(correlation_id=c, user_id=alice, rfq_id=rfq_id, quote_id=best.quote_id)),
        RfqTraded,
        f"rfq {rfq_id}: client {alice}'s hit on quote {best.quote_id}",
    )
    covered = "no cover" if trade.cover_price is None else f"cover {show(trade.cover_price)}"
    say(
        f"rfq {rfq_id}: client {alice} hits dealer {trade.dealer_user_id}'s {show(best.price)}: "
        f"trade {trade.trade_id}, user {trade.buyer_user_id} buys {trade.quantity:,} 912828YK0 from "
        f"user {trade.seller_user_id} at {show(trade.price)} ({covered})"
    )

    # one live: two quotes and a counter
    rfq_id = create(bob, "037833DX5", Side.SELL, 2_000_000, "bob-0001", (d2, d3))
    countered = quote(rfq_id, d2, "101.25")
    quote(rfq_id, d3, "101.20")
    counter(rfq_id, bob, countered, "101.40")

    # one open
    create(alice, "459200KS9", Side.BUY, 1_000_000, "alice-0002", (d1, d2, d3))


def in_process_client(aeron_dir: str) -> CommandClient:
    """A command session over IPC with a node in this process."""
    return CommandClient(
        ClientConfig(
            ingress_endpoints=None,
            aeron_dir=aeron_dir,
            ingress_channel="aeron:ipc",
            egress_channel="aeron:ipc",
        ),
        gateway_id=DEMO_GATEWAY_ID,
    )
