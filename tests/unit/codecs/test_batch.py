"""The numpy batch path: the same bytes and the same refusals as the scalar codecs, zero-copy."""

from __future__ import annotations

import random
from types import ModuleType
from typing import Any

import numpy as np
import pytest

from rfq.codecs import errors, rfq_sbe
from rfq.codecs.batch import BatchCodec
from rfq.codecs.testing import random_message


def _messages(cls: type[Any], count: int, seed: int = 7) -> list[Any]:
    rng = random.Random(seed)
    return [random_message(cls, rng) for _ in range(count)]


# The batch path takes fixed-size messages only (no groups, no var data): since the multi-dealer
# schema, CreateRfq, RfqCreated and RfqRecord carry a dealers group, so the hot fixed-size ones stand
# in for them: SubmitQuote (a Price and an optional time), QuoteSubmitted (optional ids), RfqTraded
# (an OptionalPrice, a TradeKind enum), RfqInvited (a uint8 with a range), AddInstrument (a char array).
FIXED_SIZE = [
    rfq_sbe.SubmitQuote,
    rfq_sbe.AddInstrument,
    rfq_sbe.QuoteSubmitted,
    rfq_sbe.RfqTraded,
    rfq_sbe.RfqInvited,
    rfq_sbe.CommandRejected,
    rfq_sbe.SnapshotEnd,
]


@pytest.mark.parametrize("cls", FIXED_SIZE)
def test_batch_bytes_equal_scalar_bytes(cls: type[Any]) -> None:
    codec = BatchCodec(cls)
    messages = _messages(cls, 200)
    scalar = b"".join(rfq_sbe.encode(m) for m in messages)
    records = codec.from_messages(messages)
    assert codec.encode(records) == scalar
    view = codec.decode(scalar)
    assert codec.to_messages(view) == messages
    assert codec.dtype.itemsize == 8 + cls.BLOCK_LENGTH


def test_every_fixed_size_message_has_a_batch_codec() -> None:
    """A message is batchable exactly when it has no groups and no var data."""
    for cls in rfq_sbe.MESSAGE_TYPES.values():
        fixed = all(spec.kind not in ("group", "data") for spec in cls._SPEC)
        if fixed:
            codec = BatchCodec(cls)
            messages = _messages(cls, 20)
            assert codec.encode(codec.from_messages(messages)) == b"".join(
                rfq_sbe.encode(m) for m in messages
            )
        else:
            with pytest.raises(TypeError, match="groups or var data"):
                BatchCodec(cls)


def test_batch_of_every_column_kind(features: ModuleType) -> None:
    codec = BatchCodec(features.Tick)
    messages = _messages(features.Tick, 300)
    buf = bytearray(codec.dtype.itemsize * 300 + 5)
    assert codec.encode_into(codec.from_messages(messages), buf, 5) == codec.dtype.itemsize * 300
    assert codec.to_messages(codec.decode(buf, 5)) == messages


def test_decode_is_a_zero_copy_view() -> None:
    codec = BatchCodec(rfq_sbe.SubmitQuote)
    buf = bytearray(codec.encode(codec.from_messages(_messages(rfq_sbe.SubmitQuote, 3))))
    view = codec.decode(buf)
    buf[8:16] = (123).to_bytes(8, "little")
    assert view["correlation_id"][0] == 123
    assert not codec.decode(bytes(buf)).flags.writeable


def test_records_built_column_by_column() -> None:
    codec = BatchCodec(rfq_sbe.SubmitQuote)
    records = codec.empty(1000)
    records["correlation_id"] = np.arange(1, 1001)
    records["user_id"] = 7
    records["rfq_id"] = 3
    records["price"] = 10_050_000_000
    records["valid_until_ms"] = 99
    records["valid_until_ms"][1::2] = -(2**63)  # the null of an optional field: None
    frames = codec.encode(records)
    assert codec.dtype.itemsize == 44
    assert rfq_sbe.decode(frames, 44 * 998, 44) == rfq_sbe.SubmitQuote(
        correlation_id=999, user_id=7, rfq_id=3, price=10_050_000_000, valid_until_ms=99
    )
    assert rfq_sbe.decode(frames, 44 * 999, 44) == rfq_sbe.SubmitQuote(
        correlation_id=1000, user_id=7, rfq_id=3, price=10_050_000_000, valid_until_ms=None
    )


def test_char_array_column() -> None:
    codec = BatchCodec(rfq_sbe.AddInstrument)
    records = codec.empty(3)
    records["correlation_id"] = [1, 2, 3]
    records["user_id"] = 1
    records["min_quantity"] = 100
    records["enabled"] = rfq_sbe.BooleanType.TRUE
    records["cusip"] = [b"912828ZT0", b"AB", b""]
    assert [m.cusip for m in codec.to_messages(codec.decode(codec.encode(records)))] == [
        "912828ZT0",
        "AB",
        "",
    ]


def _bad(codec: BatchCodec, records: Any, field: str, value: Any, row: int = 3) -> errors.CodecError:
    records = records.copy()
    records[field][row] = value
    raw = records.tobytes()
    with pytest.raises(errors.CodecError) as info:
        codec.decode(raw)
    with pytest.raises(type(info.value)):
        rfq_sbe.decode(raw, row * codec.dtype.itemsize, codec.dtype.itemsize)  # the scalar codec agrees
    assert f"row {row}" in str(info.value)
    return info.value


@pytest.mark.parametrize(
    ("cls", "field", "value", "error"),
    [
        (rfq_sbe.QuoteSubmitted, "sbe_schema_id", 700, errors.WrongSchemaError),
        (rfq_sbe.QuoteSubmitted, "sbe_template_id", 99, errors.UnknownTemplateError),
        (rfq_sbe.QuoteSubmitted, "sbe_block_length", 10, errors.BlockLengthError),
        (rfq_sbe.QuoteSubmitted, "rfq_id", 0, errors.BadValueError),
        (rfq_sbe.QuoteSubmitted, "timestamp_ms", -(2**63), errors.NullValueError),
        (rfq_sbe.QuoteSubmitted, "replaced_quote_id", 0, errors.BadValueError),  # optional, minValue 1
        (rfq_sbe.RfqInvited, "side", 3, errors.UnknownEnumValueError),
        (rfq_sbe.RfqInvited, "dealer_count", 0, errors.BadValueError),
        (rfq_sbe.RfqInvited, "dealer_count", 65, errors.BadValueError),
        (rfq_sbe.RfqTraded, "kind", 3, errors.UnknownEnumValueError),
        (rfq_sbe.RfqTraded, "price", -(2**63), errors.NullValueError),
        (rfq_sbe.RfqEnded, "reason", 0, errors.UnknownEnumValueError),
        (rfq_sbe.InstrumentRecord, "cusip", b"ORD\xe9", errors.BadStringError),
    ],
)
def test_batch_refuses_what_the_scalar_decoder_refuses(
    cls: type[Any], field: str, value: Any, error: type[errors.CodecError]
) -> None:
    codec = BatchCodec(cls)
    records = codec.from_messages(_messages(cls, 10))
    assert type(_bad(codec, records, field, value)) is error


def test_batch_refusals_of_features(features: ModuleType) -> None:
    codec = BatchCodec(features.Tick)
    records = codec.from_messages(_messages(features.Tick, 10))
    for field, value, error in [
        ("flags", 0b100, errors.UnknownSetBitsError),
        ("colour", 3, errors.UnknownEnumValueError),
        ("delta", 2, errors.UnknownEnumValueError),
        ("grade", ord("D"), errors.UnknownEnumValueError),
        ("price", np.nan, errors.NullValueError),
        ("percent", 101, errors.BadValueError),
    ]:
        bad = records.copy()
        bad[field][4] = value
        with pytest.raises(error, match="row 4"):
            codec.decode(bad.tobytes())
    bad = records.copy()
    bad["colour"][4] = 0xFFFF  # the null of an optional enum is fine
    assert codec.to_messages(codec.decode(bad.tobytes()))[4].colour is None


def test_batch_framing_errors() -> None:
    codec = BatchCodec(rfq_sbe.SubmitQuote)
    raw = codec.encode(codec.from_messages(_messages(rfq_sbe.SubmitQuote, 2)))
    with pytest.raises(errors.TrailingBytesError):
        codec.decode(raw + b"\x00")
    with pytest.raises(errors.ShortBufferError):
        codec.decode(raw, 0, 3)
    with pytest.raises(errors.BadBufferError):
        codec.decode("no")
    with pytest.raises(errors.ShortBufferError):
        codec.encode_into(codec.decode(raw).copy(), bytearray(10))
    with pytest.raises(errors.BadBufferError):
        codec.encode_into(codec.decode(raw).copy(), bytes(200))
    with pytest.raises(TypeError, match="groups or var data"):
        BatchCodec(rfq_sbe.DedupeRecord)
    with pytest.raises(TypeError, match="CreateRfq has groups or var data"):
        BatchCodec(rfq_sbe.CreateRfq)  # its dealers group
