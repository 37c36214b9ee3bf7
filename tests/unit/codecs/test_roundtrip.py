"""Every message of rfq.xml and of the features schema survives encode → decode, at any offset."""

from __future__ import annotations

import enum
from types import ModuleType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rfq.codecs import rfq_sbe
from rfq.codecs.testing import message_strategy, messages

ROUND_TRIP = settings(max_examples=300, deadline=None)


def _round_trip(module: ModuleType, msg: Any, offset: int) -> None:
    size = msg.encoded_length()
    buf = bytearray(offset + size + 7)
    assert msg.encode(buf, offset) == size
    assert bytes(buf[offset : offset + size]) == module.encode(msg)
    decoded, end = module.decode_from(buf, offset, size)
    assert end == offset + size
    assert decoded == msg
    assert module.decode(memoryview(buf), offset) == msg
    assert module.decode(bytes(buf[offset : offset + size])) == msg


@ROUND_TRIP
@given(msg=messages(rfq_sbe), offset=st.integers(0, 64))
def test_rfq_messages_round_trip(msg: Any, offset: int) -> None:
    _round_trip(rfq_sbe, msg, offset)


@pytest.mark.parametrize("name", ["Everything", "Nested", "Bare", "Tick"])
@ROUND_TRIP
@given(data=st.data())
def test_feature_messages_round_trip(features: ModuleType, name: str, data: st.DataObject) -> None:
    msg = data.draw(message_strategy(getattr(features, name)))
    _round_trip(features, msg, data.draw(st.integers(0, 64)))


def test_contract_of_docs_codec_api() -> None:
    """The names docs/codec-api.md promises to the domain and the adapters."""
    assert issubclass(rfq_sbe.Side, enum.IntEnum)
    assert int(rfq_sbe.Side.BUY) == 1
    assert int(rfq_sbe.BooleanType.TRUE) == 1
    assert int(rfq_sbe.DealerState.QUOTED) == 1
    assert int(rfq_sbe.EndReason.CANCELED) == 3
    assert int(rfq_sbe.TradeKind.QUOTE_HIT) == 1
    assert int(rfq_sbe.RejectReason.UNKNOWN_RFQ) == 17
    assert rfq_sbe.PRICE_EXPONENT == -8
    assert rfq_sbe.CreateRfq.TEMPLATE_ID == 3
    assert rfq_sbe.CreateRfq.BLOCK_LENGTH == 53
    assert rfq_sbe.CreateRfq.SCHEMA_ID == rfq_sbe.SCHEMA_ID == 701
    assert rfq_sbe.CreateRfq.SCHEMA_VERSION == rfq_sbe.SCHEMA_VERSION == 1
    assert rfq_sbe.CreateRfq.__slots__ == (
        "correlation_id",
        "user_id",
        "instrument_id",
        "side",
        "quantity",
        "expire_time_ms",
        "cl_ord_id",
        "dealers",
    )
    create = rfq_sbe.CreateRfq(
        correlation_id=1,
        user_id=7,
        instrument_id=3,
        side=rfq_sbe.Side.BUY,
        quantity=1_000_000,
        expire_time_ms=99,
        cl_ord_id="ORD-1",
        dealers=(rfq_sbe.CreateRfqDealers(dealer_user_id=21), rfq_sbe.CreateRfqDealers(dealer_user_id=22)),
    )
    assert create.dealers == [  # any sequence, copied into a list
        rfq_sbe.CreateRfqDealers(dealer_user_id=21),
        rfq_sbe.CreateRfqDealers(dealer_user_id=22),
    ]
    assert create.encoded_length() == 8 + 53 + 4 + 2 * 4
    record = rfq_sbe.DedupeRecord(
        correlation_id=1,
        applied_time_ms=2,
        command_digest=2**64 - 2,
        outcomes=[rfq_sbe.DedupeRecordOutcomes(template_id=23, frame=b"x")],
    )
    assert isinstance(record.outcomes, list)
    assert rfq_sbe.MESSAGE_TYPES[44] is rfq_sbe.DedupeRecord
    assert rfq_sbe.decode(rfq_sbe.encode(record)) == record


def test_optional_fields_are_none_and_default_to_none() -> None:
    event = rfq_sbe.QuoteSubmitted(
        recipient_user_id=5,
        rfq_id=1,
        quote_id=2,
        dealer_user_id=5,
        price=100,
        valid_until_ms=3,
        timestamp_ms=4,
    )
    assert event.correlation_id is None
    assert event.replaced_quote_id is None
    decoded = rfq_sbe.decode(rfq_sbe.encode(event))
    assert decoded == event
    assert decoded.correlation_id is None  # type: ignore[union-attr]
    assert decoded.replaced_quote_id is None  # type: ignore[union-attr]
    assert (
        rfq_sbe.CreateRfq(
            correlation_id=1,
            user_id=7,
            instrument_id=3,
            side=rfq_sbe.Side.BUY,
            quantity=1,
            expire_time_ms=99,
            cl_ord_id="",
        ).dealers
        == []
    )  # a group defaults to no entries


def test_price_is_the_mantissa() -> None:
    quote = rfq_sbe.SubmitQuote(correlation_id=1, user_id=2, rfq_id=3, price=10_050_000_000)
    frame = rfq_sbe.encode(quote)
    assert frame[8 + 20 : 8 + 28] == (10_050_000_000).to_bytes(8, "little", signed=True)
    assert frame[8 + 28 : 8 + 36] == (-(2**63)).to_bytes(8, "little", signed=True)  # valid_until_ms null
    assert rfq_sbe.decode(frame) == quote


def test_equality_repr_and_hash() -> None:
    a = rfq_sbe.WithdrawQuote(correlation_id=1, user_id=2, rfq_id=3)
    b = rfq_sbe.WithdrawQuote(correlation_id=1, user_id=2, rfq_id=3)
    assert a == b
    assert a != rfq_sbe.PassRfq(correlation_id=1, user_id=2, rfq_id=3)  # same fields, another message
    assert repr(a) == "WithdrawQuote(correlation_id=1, user_id=2, rfq_id=3)"
    with pytest.raises(TypeError):
        hash(a)
    with pytest.raises(AttributeError):
        a.unknown = 1  # type: ignore[attr-defined]


def test_char_arrays_stop_at_the_first_nul_like_sbe_tool() -> None:
    msg = rfq_sbe.InstrumentRecord(
        instrument_id=1, min_quantity=1, enabled=rfq_sbe.BooleanType.TRUE, cusip="AB"
    )
    frame = bytearray(rfq_sbe.encode(msg))
    frame[-9:] = b"AB\x00CD\x00\x00\x00\x00"
    assert rfq_sbe.decode(bytes(frame)).cusip == "AB"  # type: ignore[union-attr]


def test_constants_and_composites_of_the_features_schema(features: ModuleType) -> None:
    assert features.Everything.magic == 4242
    assert features.Everything.fixed_grade is features.Grade.B
    assert features.DECIMAL32_EXPONENT == -2
    assert features.Everything.BLOCK_LENGTH == 120
    assert issubclass(features.Flags, enum.IntFlag)
    assert features.Point(x=1, y=2, colour=features.Colour.RED) == features.Point(x=1, y=2, colour=1)
