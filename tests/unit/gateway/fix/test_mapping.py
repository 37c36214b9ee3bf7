"""The FIX mapping as pure functions: fields and conversions, FIX in → commands, events → FIX out,
the refusal table, the outbox rule, the engine's item format and settings. No JVM, no event loop."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rfq.codecs.rfq_sbe import (
    BooleanType,
    CommandRejected,
    CreateRfq,
    EndReason,
    InstrumentAdded,
    QuoteCountered,
    QuoteSubmitted,
    RejectReason,
    RfqCreated,
    RfqCreatedDealers,
    RfqEnded,
    RfqInvited,
    RfqTraded,
    Side,
    SubmitQuote,
    TradeKind,
)
from rfq.gateway.fix import fields as f
from rfq.gateway.fix.book import QuoteBook
from rfq.gateway.fix.engine import EngineSettings, Item
from rfq.gateway.fix.fields import (
    FixMessage,
    clean,
    parse,
    parse_fix_price,
    parse_quantity,
    parse_utc_timestamp,
    utc_timestamp,
)
from rfq.gateway.fix.inbound import Refuse, Submit, translate
from rfq.gateway.fix.outbound import Renderer
from rfq.gateway.fix.outbox import Outbox
from rfq.gateway.fix.rejects import Problem, problem_of, refuse
from rfq.gateway.identity import Directory, User
from rfq.gateway.mirror import Mirror

CUSIP = "912828YK0"
ALICE, DA, DB = 101, 201, 202
NAMES = {ALICE: "alice", DA: "dealer-a", DB: "dealer-b"}
DEADLINE = 4_000_000_000_000


# --- fields ---------------------------------------------------------------------------------------
def test_a_message_parses_into_type_header_and_ordered_body() -> None:
    raw = "8=FIX.4.4\x019=50\x0135=R\x0134=7\x0149=A\x01131=x\x01146=1\x0155=[N/A]\x0148=C\x0110=123\x01"
    message = parse(raw)
    assert message.msg_type == "R" and message.seq_num == 7
    assert message.fields == [(34, "7"), (49, "A"), (131, "x"), (146, "1"), (55, "[N/A]"), (48, "C")]
    assert message.get(48) == "C" and message.all(999) == []
    assert FixMessage("j").add(45, 3).add(58, None).body() == "35=j\x0145=3\x01"


@given(st.integers(min_value=0, max_value=253_402_300_799_999))  # 1970 to the end of year 9999
def test_a_utc_timestamp_reads_back_as_the_same_millisecond(ms: int) -> None:
    assert parse_utc_timestamp(utc_timestamp(ms)) == ms


def test_times_prices_and_quantities() -> None:
    assert utc_timestamp(1_764_522_000_123) == "20251130-17:00:00.123"
    for text, ms in (
        ("20251130-17:00:00", 1_764_522_000_000),
        ("20251130-17:00:00.5", 1_764_522_000_500),
        ("20251130-17:00:00.123456789", 1_764_522_000_123),
    ):
        assert parse_utc_timestamp(text) == ms
    for bad in ("tomorrow", "20250230-00:00:00", "20251301-00:00:00", "20251130-24:00:00",
                "20251130-23:60:00", "20251130-23:59:61"):  # fmt: skip
        with pytest.raises(ValueError):
            parse_utc_timestamp(bad)
    assert parse_utc_timestamp("20241231-23:59:60") == parse_utc_timestamp("20250101-00:00:00")  # leap
    assert parse_quantity("5000000") == parse_quantity("5000000.00") == 5_000_000
    for bad in ("1.5", "abc", "NaN", "Infinity"):
        with pytest.raises(ValueError):
            parse_quantity(bad)
    assert parse_fix_price("99.5") == parse_fix_price("99.5000000000") == 9_950_000_000
    for bad in ("-1", "99.123456789", "1e3", ""):
        with pytest.raises(ValueError):
            parse_fix_price(bad)
    assert clean("a\x01b\nc") == "a?b?c"


def test_engine_items_and_settings(tmp_path: Path) -> None:
    assert Item.parse("L\x02FIX.4.4:RFQGW->A\x027\x02A\x02pw\x02with\x02sep") == Item(
        "L", "FIX.4.4:RFQGW->A", ("7", "A", "pw\x02with\x02sep")
    )
    assert Item.parse("M\x02S\x0212\x028=FIX.4.4\x01...") == Item("M", "S", ("12", "8=FIX.4.4\x01..."))
    assert Item.parse("O\x02S\x02101") == Item("O", "S", ("101",))
    assert Item.parse("W\x02S\x02text\x02more") == Item("W", "S", ("text\x02more",))
    settings = EngineSettings(store_dir=tmp_path, port=1234).quickfix_settings()
    for line in (
        "ResetOnLogon=N",
        "ResetOnDisconnect=N",
        f"FileStorePath={tmp_path}",
        "SocketAcceptPort=1234",
        "AcceptorTemplate=Y",
        "TargetCompID=*",
        "UseDataDictionary=Y",
    ):
        assert line in settings.splitlines()


# --- a small world --------------------------------------------------------------------------------
@pytest.fixture
def directory() -> Directory:
    directory = Directory(":memory:")
    directory.add_user("alice", "trader", user_id=ALICE)
    directory.add_user("dealer-a", "dealer", user_id=DA, default_dealer=True)
    directory.add_user("dealer-b", "dealer", user_id=DB)
    return directory


def world(side: Side = Side.BUY) -> tuple[Mirror, QuoteBook, Renderer]:
    mirror = Mirror()
    mirror.apply(
        InstrumentAdded(
            correlation_id=1,
            instrument_id=1,
            min_quantity=1,
            enabled=BooleanType.TRUE,
            timestamp_ms=0,
            cusip=CUSIP,
        )
    )
    mirror.apply(
        RfqCreated(
            correlation_id=2,
            rfq_id=5,
            requester_user_id=ALICE,
            instrument_id=1,
            side=side,
            quantity=1_000_000,
            expire_time_ms=DEADLINE,
            timestamp_ms=1,
            cl_ord_id="alice-1",
            dealers=[RfqCreatedDealers(dealer_user_id=DA), RfqCreatedDealers(dealer_user_id=DB)],
        )
    )
    book = QuoteBook()
    return mirror, book, Renderer(mirror, NAMES.get, book)


def user(directory: Directory, user_id: int) -> User:
    found = directory.user(user_id)
    assert found is not None
    return found


def quote_request(**extra: str) -> FixMessage:
    message = FixMessage("R").add(131, "q-1").add(146, 1).add(55, "[N/A]").add(48, CUSIP).add(22, 1)
    message.add(54, 2).add(38, "2000000").add(126, "20991231-23:59:59.000")
    for tag, value in extra.items():
        message.add(int(tag[1:]), value)
    return message


# --- FIX in ---------------------------------------------------------------------------------------
def test_a_quote_request_becomes_create_rfq(directory: Directory) -> None:
    mirror, book, _ = world()
    message = quote_request().add(453, 2)
    message.add(448, "dealer-b").add(447, "D").add(452, 35).add(448, "someone").add(452, 13)
    result = translate(message, user(directory, ALICE), "s", mirror, book, directory)
    assert isinstance(result, Submit) and result.request.kind == "create"
    command = result.build(42)
    assert isinstance(command, CreateRfq)
    assert (command.correlation_id, command.user_id, command.instrument_id, command.side) == (
        42,
        ALICE,
        1,
        Side.SELL,
    )
    assert (command.quantity, command.cl_ord_id) == (2_000_000, "q-1")
    assert command.expire_time_ms == parse_utc_timestamp("20991231-23:59:59")
    assert [d.dealer_user_id for d in command.dealers] == [DB]  # role 13 is not a dealer
    no_parties = translate(quote_request(), user(directory, ALICE), "s", mirror, book, directory)
    assert isinstance(no_parties, Submit)
    defaults = no_parties.build(1)
    assert isinstance(defaults, CreateRfq)
    assert [d.dealer_user_id for d in defaults.dealers] == [DA]  # the default dealers


@pytest.mark.parametrize(
    ("message", "msg_type", "expect"),
    [
        (quote_request().add(453, 1).add(448, "alice").add(452, 35), "AG", {658: "99"}),  # not a dealer
        (FixMessage("R").add(131, "x" * 21), "AG", {658: "99"}),
        (FixMessage("R").add(131, "q").add(146, 2), "AG", {658: "99"}),
        (FixMessage("R").add(131, "q").add(146, 1).add(48, CUSIP).add(22, 4), "AG", {658: "99"}),
        (FixMessage("R").add(131, "q").add(146, 1).add(48, "037833100").add(22, 1), "AG", {658: "1"}),
        (FixMessage("Z").add(131, "q-9").add(117, "x").add(298, 1), "j", {380: "1"}),
        (FixMessage("Z").add(131, "alice-1").add(117, "x").add(298, 4), "j", {380: "0"}),
        (FixMessage("AJ").add(693, "r").add(117, "12").add(694, 1), "j", {380: "1", 379: "r"}),
        (FixMessage("AJ").add(693, "r").add(694, 1), "j", {380: "5"}),
        (FixMessage("AJ").add(693, "r").add(117, "1").add(694, 6), "j", {380: "6"}),
        (FixMessage("S").add(131, "5").add(117, "x").add(133, "1"), "j", {380: "6"}),
        (FixMessage("AI").add(117, "x"), "j", {380: "0"}),
    ],
)
def test_what_a_requester_cannot_send(
    directory: Directory, message: FixMessage, msg_type: str, expect: dict[int, str]
) -> None:
    mirror, book, _ = world()
    message.seq_num = 9
    result = translate(message, user(directory, ALICE), "s", mirror, book, directory)
    assert isinstance(result, Refuse), result
    assert result.reply.msg_type == msg_type, str(result.reply)
    got = dict(result.reply.fields)
    assert {tag: got.get(tag) for tag in expect} == expect, str(result.reply)
    if msg_type == "j":
        assert got[45] == "9" and got[372] == message.msg_type


def test_dealer_messages_map_to_dealer_commands(directory: Directory) -> None:
    mirror, book, _ = world(Side.BUY)
    dealer = user(directory, DA)
    quote = translate(
        FixMessage("S").add(131, "5").add(117, "mine").add(133, "99.25").add(62, "20991231-00:00:00"),
        dealer,
        "s",
        mirror,
        book,
        directory,
    )
    assert isinstance(quote, Submit)
    command = quote.build(3)
    assert isinstance(command, SubmitQuote) and (command.rfq_id, command.price) == (5, 9_925_000_000)
    assert command.valid_until_ms == parse_utc_timestamp("20991231-00:00:00")
    # the requester buys: the dealer offers; a bid alone is a missing field
    wrong_side = translate(
        FixMessage("S").add(131, "5").add(117, "m").add(132, "99"), dealer, "s", mirror, book, directory
    )
    assert isinstance(wrong_side, Refuse) and dict(wrong_side.reply.fields)[380] == "5"
    indicative = translate(
        FixMessage("S").add(131, "5").add(117, "m").add(537, 0).add(133, "99"),
        dealer,
        "s",
        mirror,
        book,
        directory,
    )
    assert isinstance(indicative, Refuse) and dict(indicative.reply.fields)[297] == "5"
    for message, kind in (
        (FixMessage("Z").add(131, "5").add(117, "m").add(298, 1), "withdraw"),
        (FixMessage("AG").add(131, "5").add(658, 10), "pass"),
    ):
        result = translate(message, dealer, "s", mirror, book, directory)
        assert isinstance(result, Submit) and result.request.kind == kind and result.request.rfq_id == 5
    # a counter is accepted by its id; a pass by AJ names a counter or the dealer's own QuoteID
    book.observe(
        QuoteCountered(
            recipient_user_id=DA,
            correlation_id=None,
            rfq_id=5,
            counter_id=8,
            quote_id=7,
            dealer_user_id=DA,
            price=1,
            timestamp_ms=2,
        )
    )
    accept = translate(
        FixMessage("AJ").add(693, "a").add(117, "8").add(694, 1), dealer, "s", mirror, book, directory
    )
    assert isinstance(accept, Submit) and accept.request.kind == "accept_counter"
    book.remember_own(7, 5, DA, "mine")
    passed = translate(
        FixMessage("AJ").add(693, "p").add(117, "mine").add(694, 6), dealer, "s", mirror, book, directory
    )
    assert isinstance(passed, Submit) and passed.request.kind == "pass"
    other = translate(
        FixMessage("AJ").add(693, "p").add(117, "8").add(694, 6),
        user(directory, DB),
        "s",
        mirror,
        book,
        directory,
    )
    assert isinstance(other, Refuse) and dict(other.reply.fields)[380] == "1"  # not its counter


# --- the refusal table ----------------------------------------------------------------------------
def test_cluster_refusals_map_to_fix_categories() -> None:
    assert problem_of(RejectReason.UNKNOWN_QUOTE) is Problem.UNKNOWN_ID
    assert problem_of(RejectReason.NOT_INVITED) is Problem.NOT_AUTHORIZED
    assert problem_of(RejectReason.QUOTE_NOT_LIVE) is Problem.REFUSED
    quote = FixMessage("S").add(131, "5").add(117, "mine")
    rejected = refuse(quote, Problem.REFUSED, "RFQ_EXPIRED: late", RejectReason.RFQ_EXPIRED)
    assert rejected.msg_type == "AI" and dict(rejected.fields) == {
        131: "5",
        117: "mine",
        55: "[N/A]",
        297: "5",
        58: "RFQ_EXPIRED: late",
    }
    request = quote_request()
    for reason, code in (
        (RejectReason.INSTRUMENT_DISABLED, "8"),
        (RejectReason.EXPIRY_NOT_IN_FUTURE, "4"),
        (RejectReason.TOO_MANY_DEALERS, "3"),
        (RejectReason.DUPLICATE_DEALER, "99"),
    ):
        reply = refuse(request, problem_of(reason), reason.name, reason)
        assert reply.msg_type == "AG" and dict(reply.fields)[658] == code
        assert [tag for tag, _ in reply.fields][:4] == [131, 658, 146, 55]
    assert isinstance(CommandRejected, type)


# --- FIX out --------------------------------------------------------------------------------------
def test_a_dealer_never_sees_the_requesters_ids_nor_other_dealers() -> None:
    mirror, _, renderer = world(Side.SELL)
    invited = RfqInvited(
        rfq_id=5,
        dealer_user_id=DA,
        requester_user_id=ALICE,
        instrument_id=1,
        side=Side.SELL,
        quantity=1_000_000,
        expire_time_ms=DEADLINE,
        dealer_count=2,
        timestamp_ms=1,
    )
    (request,) = renderer.event(invited, DA)
    assert request.msg_type == "R" and "alice-1" not in str(request)
    assert dict(request.fields)[131] == "5" and dict(request.fields)[20001] == "2"
    assert dict(request.fields)[448] == "alice" and dict(request.fields)[452] == "13"
    quoted = QuoteSubmitted(
        recipient_user_id=ALICE,
        correlation_id=None,
        rfq_id=5,
        quote_id=7,
        dealer_user_id=DB,
        price=9_900_000_000,
        valid_until_ms=DEADLINE,
        replaced_quote_id=None,
        timestamp_ms=2,
    )
    mirror.apply(quoted)
    (to_requester,) = renderer.event(quoted, ALICE)
    fields = dict(to_requester.fields)
    assert to_requester.msg_type == "S" and fields[131] == "alice-1" and fields[117] == "7"
    assert fields[132] == "99" and 133 not in fields and fields[448] == "dealer-b"  # the requester sells


def test_a_trade_reports_to_both_sides_with_the_cover_to_the_winner() -> None:
    _, book, renderer = world(Side.BUY)
    book.remember_own(7, 5, DA, "DA-7")
    traded: dict[str, Any] = {
        "correlation_id": None,
        "rfq_id": 5,
        "trade_id": 3,
        "kind": TradeKind.QUOTE_HIT,
        "quote_id": 7,
        "requester_user_id": ALICE,
        "dealer_user_id": DA,
        "buyer_user_id": ALICE,
        "seller_user_id": DA,
        "instrument_id": 1,
        "price": 9_950_000_000,
        "quantity": 1_000_000,
        "cover_price": 9_960_000_000,
        "timestamp_ms": 5,
    }
    (report,) = renderer.event(RfqTraded(recipient_user_id=ALICE, **traded), ALICE)
    fields = dict(report.fields)
    assert (fields[150], fields[39], fields[54], fields[31], fields[11], fields[448]) == (
        "F",
        "2",
        "1",
        "99.5",
        "alice-1",
        "dealer-a",
    )
    report_a, cover = renderer.event(RfqTraded(recipient_user_id=DA, **traded), DA)
    assert dict(report_a.fields)[54] == "2" and 11 not in dict(report_a.fields)
    assert cover.msg_type == "AJ" and dict(cover.fields)[694] == "4" and dict(cover.fields)[44] == "99.6"
    assert dict(cover.fields)[117] == "DA-7"


def test_endings_by_role() -> None:
    mirror, book, renderer = world()
    mirror.apply(
        QuoteSubmitted(
            recipient_user_id=DA,
            correlation_id=None,
            rfq_id=5,
            quote_id=7,
            dealer_user_id=DA,
            price=1,
            valid_until_ms=DEADLINE,
            replaced_quote_id=None,
            timestamp_ms=2,
        )
    )
    book.remember_own(7, 5, DA, "DA-7")
    expired = [
        RfqEnded(recipient_user_id=u, correlation_id=None, rfq_id=5, reason=EndReason.EXPIRED, timestamp_ms=9)
        for u in (ALICE, DA, DB)
    ]
    for event in expired:
        mirror.apply(event)
    (to_alice,) = renderer.event(expired[0], ALICE)
    (to_a,) = renderer.event(expired[1], DA)
    (to_b,) = renderer.event(expired[2], DB)
    assert (to_alice.msg_type, dict(to_alice.fields)[297], dict(to_alice.fields)[131]) == (
        "AI",
        "7",
        "alice-1",
    )
    assert (to_a.msg_type, dict(to_a.fields)[694], dict(to_a.fields)[117]) == ("AJ", "3", "DA-7")
    assert (to_b.msg_type, dict(to_b.fields)[297], dict(to_b.fields)[117]) == ("AI", "7", "5")


def test_a_snapshot_is_flagged_poss_resend() -> None:
    mirror, _, renderer = world()
    mirror.apply(
        QuoteSubmitted(
            recipient_user_id=DA,
            correlation_id=None,
            rfq_id=5,
            quote_id=7,
            dealer_user_id=DA,
            price=1,
            valid_until_ms=DEADLINE,
            replaced_quote_id=None,
            timestamp_ms=2,
        )
    )
    requester = renderer.snapshot(ALICE)
    assert [m.msg_type for m in requester] == ["AI", "S"]
    dealer = renderer.snapshot(DA)
    assert [m.msg_type for m in dealer] == ["R", "AI"]
    assert all(m.fields[0] == (f.POSS_RESEND, "Y") for m in requester + dealer)
    assert renderer.snapshot(999) == []


# --- the outbox -----------------------------------------------------------------------------------
def test_the_outbox_keeps_order_and_knows_when_it_lost_something() -> None:
    outbox = Outbox(capacity=3)
    outbox.add(1, [FixMessage("R"), FixMessage("S")])
    outbox.add(2, [FixMessage("R")])
    outbox.add(None, [FixMessage("j")])
    assert not outbox.complete() and [m.msg_type for m in outbox.all()] == ["S", "R", "j"]
    assert [m.msg_type for m in outbox.ended_only({2})] == ["S", "j"]
