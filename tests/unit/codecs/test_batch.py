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


@pytest.mark.parametrize(
    "cls",
    [rfq_sbe.CreateRfq, rfq_sbe.RfqCreated, rfq_sbe.CommandRejected, rfq_sbe.RfqRecord, rfq_sbe.SnapshotEnd],
)
def test_batch_bytes_equal_scalar_bytes(cls: type[Any]) -> None:
    codec = BatchCodec(cls)
    messages = _messages(cls, 200)
    scalar = b"".join(rfq_sbe.encode(m) for m in messages)
    records = codec.from_messages(messages)
    assert codec.encode(records) == scalar
    view = codec.decode(scalar)
    assert codec.to_messages(view) == messages
    assert codec.dtype.itemsize == 8 + cls.BLOCK_LENGTH


def test_batch_of_every_column_kind(features: ModuleType) -> None:
    codec = BatchCodec(features.Tick)
    messages = _messages(features.Tick, 300)
    buf = bytearray(codec.dtype.itemsize * 300 + 5)
    assert codec.encode_into(codec.from_messages(messages), buf, 5) == codec.dtype.itemsize * 300
    assert codec.to_messages(codec.decode(buf, 5)) == messages


def test_decode_is_a_zero_copy_view() -> None:
    codec = BatchCodec(rfq_sbe.CreateRfq)
    buf = bytearray(codec.encode(codec.from_messages(_messages(rfq_sbe.CreateRfq, 3))))
    view = codec.decode(buf)
    buf[8:16] = (123).to_bytes(8, "little")
    assert view["correlation_id"][0] == 123
    assert not codec.decode(bytes(buf)).flags.writeable


def test_records_built_column_by_column() -> None:
    codec = BatchCodec(rfq_sbe.CreateRfq)
    records = codec.empty(1000)
    records["correlation_id"] = np.arange(1, 1001)
    records["user_id"] = 7
    records["instrument_id"] = 3
    records["side"] = rfq_sbe.Side.SELL
    records["quantity"] = 1_000_000
    records["expire_time_ms"] = 99
    records["cl_ord_id"] = b"ORD-1"
    frames = codec.encode(records)
    assert rfq_sbe.decode(frames, 61 * 999, 61) == rfq_sbe.CreateRfq(
        correlation_id=1000,
        user_id=7,
        instrument_id=3,
        side=rfq_sbe.Side.SELL,
        quantity=1_000_000,
        expire_time_ms=99,
        cl_ord_id="ORD-1",
    )


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


def test_batch_refuses_what_the_scalar_decoder_refuses() -> None:
    codec = BatchCodec(rfq_sbe.RfqRecord)
    records = codec.from_messages(_messages(rfq_sbe.RfqRecord, 10))
    assert type(_bad(codec, records, "sbe_schema_id", 700)) is errors.WrongSchemaError
    assert type(_bad(codec, records, "sbe_template_id", 99)) is errors.UnknownTemplateError
    assert type(_bad(codec, records, "sbe_block_length", 10)) is errors.BlockLengthError
    assert type(_bad(codec, records, "rfq_id", 0)) is errors.BadValueError
    assert type(_bad(codec, records, "correlation_id", -(2**63))) is errors.NullValueError
    assert type(_bad(codec, records, "responder_user_id", 0)) is errors.BadValueError
    assert type(_bad(codec, records, "side", 3)) is errors.UnknownEnumValueError
    assert type(_bad(codec, records, "state", 7)) is errors.UnknownEnumValueError
    assert type(_bad(codec, records, "cl_ord_id", b"ORD\xe9")) is errors.BadStringError


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
    codec = BatchCodec(rfq_sbe.CreateRfq)
    raw = codec.encode(codec.from_messages(_messages(rfq_sbe.CreateRfq, 2)))
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
