"""Demo data for ``rfq run``: a handful of bonds and three RFQs in different states.

It goes through the same path as any gateway: a :class:`CommandClient` session (IPC, in the node's
process) submits commands and waits for their outcomes. Running it against a node that already has
the instruments is harmless: the cluster refuses the duplicates and the demo says so.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from rfq.codecs.rfq_sbe import (
    PRICE_EXPONENT,
    AcceptRfq,
    AddInstrument,
    BooleanType,
    CommandRejected,
    CounterRfq,
    CreateRfq,
    InstrumentAdded,
    QuoteRfq,
    RejectReason,
    Side,
)
from rfq.gateway.cluster_client import ClientConfig
from rfq.gateway.command_client import CommandClient

DEMO_GATEWAY_ID = 1
OPERATOR = 1
CLIENTS = (101, 102)
DEALERS = (201, 202)

INSTRUMENTS: tuple[tuple[str, int, str], ...] = (
    ("912828YK0", 1_000_000, "US Treasury note"),
    ("912810TM0", 1_000_000, "US Treasury bond"),
    ("912796ZV4", 1_000_000, "US Treasury bill"),
    ("037833DX5", 100_000, "Apple Inc. note"),
    ("459200KS9", 100_000, "IBM Corp. note"),
    ("594918BY9", 100_000, "Microsoft Corp. note"),
)


def price(value: str) -> int:
    """A decimal string as the wire's price mantissa (10^PRICE_EXPONENT units)."""
    whole, _, fraction = value.partition(".")
    digits: int = -PRICE_EXPONENT
    scale: int = 10**digits
    return int(whole) * scale + int((fraction + "0" * digits)[:digits] or 0)


def load(client: CommandClient, say: Callable[[str], None]) -> None:
    """Add the demo instruments and negotiate three RFQs: one traded, one countered, one open."""

    def run(make: Callable[[int], Any]) -> Any:
        return client.request(make(client.next_correlation_id()))

    ids: dict[str, int] = {}
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
            say(f"instrument {outcome.instrument_id}: {cusip} {description}, min {min_quantity:,}")
        elif isinstance(outcome, CommandRejected) and outcome.reason is RejectReason.DUPLICATE_INSTRUMENT:
            say(f"instrument {cusip} is already there")
        else:
            say(f"instrument {cusip}: {outcome}")
    if len(ids) < len(INSTRUMENTS):
        say("demo RFQs skipped: the instruments were already loaded")
        return

    expiry = int(time.time() * 1000) + 10 * 60 * 1000
    traded = run(
        lambda c: CreateRfq(
            correlation_id=c, user_id=CLIENTS[0], instrument_id=ids["912828YK0"], side=Side.BUY,
            quantity=5_000_000, expire_time_ms=expiry, cl_ord_id="alice-0001",
        )
    )  # fmt: skip
    run(
        lambda c: QuoteRfq(
            correlation_id=c, user_id=DEALERS[0], rfq_id=traded.rfq_id, price=price("99.515625")
        )
    )
    trade = run(lambda c: AcceptRfq(correlation_id=c, user_id=CLIENTS[0], rfq_id=traded.rfq_id))
    outcome = type(trade).__name__
    say(f"rfq {traded.rfq_id}: client {CLIENTS[0]} bought 5,000,000 912828YK0 at 99.515625: {outcome}")

    countered = run(
        lambda c: CreateRfq(
            correlation_id=c, user_id=CLIENTS[1], instrument_id=ids["037833DX5"], side=Side.SELL,
            quantity=2_000_000, expire_time_ms=expiry, cl_ord_id="bob-0001",
        )
    )  # fmt: skip
    run(
        lambda c: QuoteRfq(
            correlation_id=c, user_id=DEALERS[1], rfq_id=countered.rfq_id, price=price("101.25")
        )
    )
    run(
        lambda c: CounterRfq(
            correlation_id=c, user_id=CLIENTS[1], rfq_id=countered.rfq_id, price=price("101.40")
        )
    )
    say(
        f"rfq {countered.rfq_id}: client {CLIENTS[1]} sells 2,000,000 037833DX5, countered 101.40 over 101.25"
    )

    open_rfq = run(
        lambda c: CreateRfq(
            correlation_id=c, user_id=CLIENTS[0], instrument_id=ids["459200KS9"], side=Side.BUY,
            quantity=1_000_000, expire_time_ms=expiry, cl_ord_id="alice-0002",
        )
    )  # fmt: skip
    say(f"rfq {open_rfq.rfq_id}: client {CLIENTS[0]} asks for 1,000,000 459200KS9, open for 10 minutes")


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
