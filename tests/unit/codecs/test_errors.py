"""Each codec error, raised where the contract says, with a message that says what and where."""

from __future__ import annotations

import struct
from types import ModuleType
from typing import Any

import pytest

from rfq.codecs import errors, rfq_sbe
from rfq.codecs.rfq_sbe import CreateRfq, CreateRfqDealers, DedupeRecord, DedupeRecordOutcomes, Side

HEADER = struct.Struct("<HHHH")
# CreateRfq: the 8-byte header, the 53-byte block (to byte 61), the dealers group's 4-byte header
# (to 65) and its three 4-byte entries (to 77).
END = 77


def create_rfq(**changes: Any) -> CreateRfq:
    fields: dict[str, Any] = {
        "correlation_id": 11,
        "user_id": 7,
        "instrument_id": 3,
        "side": Side.BUY,
        "quantity": 1_000_000,
        "expire_time_ms": 1_700_000_000_000,
        "cl_ord_id": "ORD-1",
        "dealers": [CreateRfqDealers(dealer_user_id=u) for u in (21, 22, 23)],
    }
    fields.update(changes)
    return CreateRfq(**fields)


def frame(**changes: Any) -> bytearray:
    return bytearray(rfq_sbe.encode(create_rfq(**changes)))


def encode_error(msg: Any, buf: Any = None, offset: int = 0) -> errors.CodecError:
    with pytest.raises(errors.CodecError) as info:
        msg.encode(bytearray(128) if buf is None else buf, offset)
    return info.value


def decode_error(
    data: Any, offset: int = 0, length: int | None = None, module: ModuleType = rfq_sbe
) -> errors.CodecError:
    with pytest.raises(errors.CodecError) as info:
        module.decode(data, offset, length)
    return info.value


# ------------------------------------------------------------------------------------------ framing
def test_short_buffer_before_the_header() -> None:
    err = decode_error(b"\x35\x00\x03")
    assert type(err) is errors.ShortBufferError
    assert "shorter than the 8-byte header" in str(err)


def test_short_buffer_in_the_block() -> None:
    data = frame()[:40]
    err = decode_error(bytes(data))
    assert type(err) is errors.ShortBufferError
    assert str(err) == "CreateRfq: the block needs the frame to reach byte 61, it ends at 40"
    assert err.template_id == 3


def test_length_past_the_end_of_the_buffer() -> None:
    err = decode_error(bytes(frame()), 0, END + 1)
    assert type(err) is errors.ShortBufferError
    assert "runs past the buffer" in str(err)


def test_short_buffer_when_encoding() -> None:
    err = encode_error(create_rfq(), bytearray(20))
    assert type(err) is errors.ShortBufferError
    assert str(err) == f"CreateRfq: needs {END} bytes at offset 0, the buffer has 20"


def test_read_only_buffer_and_negative_offset() -> None:
    assert type(encode_error(create_rfq(), bytes(100))) is errors.BadBufferError
    assert "read-only" in str(encode_error(create_rfq(), bytes(100)))
    assert type(encode_error(create_rfq(), bytearray(100), -1)) is errors.BadBufferError
    assert type(decode_error(bytes(frame()), -1)) is errors.BadBufferError
    err = decode_error("not a buffer")
    assert type(err) is errors.BadBufferError
    assert "not a bytes-like buffer" in str(err)


def test_wrong_schema() -> None:
    data = frame()
    HEADER.pack_into(data, 0, 53, 3, 702, 1)
    err = decode_error(bytes(data))
    assert type(err) is errors.WrongSchemaError
    assert str(err) == "schemaId 702 is not this schema's id 701 (templateId 3)"


def test_unknown_template() -> None:
    data = frame()
    HEADER.pack_into(data, 0, 53, 99, 701, 1)
    err = decode_error(bytes(data))
    assert type(err) is errors.UnknownTemplateError
    assert str(err) == "templateId 99 names no message of schema 701"
    assert err.template_id == 99


def test_acting_block_length_too_short() -> None:
    data = frame()
    HEADER.pack_into(data, 0, 20, 3, 701, 1)
    err = decode_error(bytes(data[:28]))
    assert type(err) is errors.BlockLengthError
    assert str(err) == "CreateRfq: acting blockLength 20 is shorter than the 53 bytes version 1 needs"


def test_longer_acting_block_length_is_skipped() -> None:
    data = frame()
    HEADER.pack_into(data, 0, 60, 3, 701, 2)
    data[61:61] = bytes(7)  # a newer version's fields: the dealers group starts after them
    assert rfq_sbe.decode_from(bytes(data)) == (create_rfq(), END + 7)


def test_unsupported_version(features: ModuleType) -> None:
    data = bytearray(features.encode(features.Bare(blob=b"x")))
    HEADER.pack_into(data, 0, 0, 3, 702, 0)
    err = decode_error(bytes(data), module=features)
    assert type(err) is errors.UnsupportedVersionError
    assert str(err) == "Bare: acting version 0 is older than the message (since 1)"


def test_trailing_bytes_of_a_known_version() -> None:
    data = bytes(frame()) + b"\x00"
    err = decode_error(data, 0, len(data))
    assert type(err) is errors.TrailingBytesError
    assert str(err) == f"CreateRfq: 1 bytes after the message (ends at {END}, frame at {END + 1})"
    assert rfq_sbe.decode(data) == create_rfq()  # without a length the rest of the buffer is not the frame's


# ------------------------------------------------------------------------------------------ values
def test_out_of_range_value() -> None:
    err = encode_error(create_rfq(user_id=0))
    assert type(err) is errors.BadValueError
    assert str(err) == "CreateRfq.user_id: 0 is outside the allowed range [1, 2147483647]"
    assert err.template_id == 3
    err = encode_error(create_rfq(instrument_id=2**31))
    assert type(err) is errors.BadValueError
    assert "instrument_id: 2147483648 is outside" in str(err)


def test_out_of_range_value_on_the_wire() -> None:
    data = frame()
    struct.pack_into("<i", data, 16, 0)
    err = decode_error(bytes(data))
    assert type(err) is errors.BadValueError
    assert str(err) == "CreateRfq.user_id: 0 is outside the allowed range [1, 2147483647]"


def test_wrong_type() -> None:
    err = encode_error(create_rfq(quantity="many"))
    assert type(err) is errors.BadValueError
    assert str(err) == "CreateRfq.quantity: expected int, got str"


def test_null_in_a_required_field() -> None:
    err = encode_error(create_rfq(correlation_id=None))
    assert type(err) is errors.NullValueError
    assert str(err) == "CreateRfq.correlation_id: None in a required field"
    err = encode_error(create_rfq(quantity=-(2**63)))
    assert type(err) is errors.NullValueError
    assert str(err) == "CreateRfq.quantity: the null value -9223372036854775808 in a required field"


def test_null_in_a_required_field_on_the_wire() -> None:
    data = frame()
    struct.pack_into("<q", data, 8, -(2**63))
    err = decode_error(bytes(data))
    assert type(err) is errors.NullValueError
    assert str(err) == "CreateRfq.correlation_id: the null value -9223372036854775808 in a required field"


def test_unknown_enum_value() -> None:
    err = encode_error(create_rfq(side=7))
    assert type(err) is errors.UnknownEnumValueError
    assert str(err) == "CreateRfq.side: 7 is not a Side value (BUY=1, SELL=2)"
    data = frame()
    data[8 + 16] = 9
    err = decode_error(bytes(data))
    assert type(err) is errors.UnknownEnumValueError
    assert str(err) == "CreateRfq.side: 9 is not a Side value (BUY=1, SELL=2)"


def test_unknown_set_bits(features: ModuleType, everything: Any) -> None:
    everything.flags = 0b1000
    err = encode_error(everything, bytearray(256))
    assert type(err) is errors.UnknownSetBitsError
    assert str(err) == "Everything.flags: bits 0x8 of 0x8 name no Flags choice"
    everything.flags = features.Flags.urgent
    data = bytearray(features.encode(everything))
    offset = 8 + features.Everything._LAYOUT.fields[19].offset
    data[offset] = 0b1001
    err = decode_error(bytes(data), module=features)
    assert type(err) is errors.UnknownSetBitsError


def test_strings_too_long_non_ascii_or_with_nul() -> None:
    err = encode_error(create_rfq(cl_ord_id="X" * 21))
    assert type(err) is errors.BadStringError
    assert str(err) == "CreateRfq.cl_ord_id: 21 bytes do not fit a char[20] ('XXXXXXXXXXXXXXXXXXXXX')"
    err = encode_error(create_rfq(cl_ord_id="ORDÉ"))
    assert type(err) is errors.BadStringError
    assert str(err) == "CreateRfq.cl_ord_id: 'É' at index 3 is not ASCII"
    err = encode_error(create_rfq(cl_ord_id="A\x00B"))
    assert type(err) is errors.BadStringError
    assert "NUL at index 1" in str(err)
    data = frame()
    data[8 + 33] = 0xE9
    err = decode_error(bytes(data))
    assert type(err) is errors.BadStringError
    assert str(err) == "CreateRfq.cl_ord_id: byte 0xe9 at index 0 is not ASCII"


def test_group_count_out_of_range(features: ModuleType) -> None:
    fills = [features.NestedLegsFills(qty=1, symbol="A")] * 21
    nested = features.Nested(id=1, legs=[features.NestedLegs(leg_id=1, grade=features.Grade.A, fills=fills)])
    err = encode_error(nested, bytearray(4096))
    assert type(err) is errors.GroupCountError
    assert str(err) == "Nested.legs.fills: 21 entries is outside the allowed count [0, 20]"
    record = DedupeRecord(correlation_id=1, applied_time_ms=2, command_digest=3, outcomes=[])
    data = bytearray(rfq_sbe.encode(record))
    struct.pack_into("<HH", data, 32, 2, 65535)
    err = decode_error(bytes(data))
    assert type(err) is errors.GroupCountError
    assert str(err) == "DedupeRecord.outcomes: 65535 entries is outside the allowed count [0, 65534]"
    data = frame()
    struct.pack_into("<HH", data, 61, 4, 65535)
    err = decode_error(bytes(data))
    assert type(err) is errors.GroupCountError
    assert str(err) == "CreateRfq.dealers: 65535 entries is outside the allowed count [0, 65534]"
    assert err.template_id == 3
    err = encode_error(create_rfq(dealers=[CreateRfqDealers(dealer_user_id=9)] * 65535), bytearray(270_000))
    assert type(err) is errors.GroupCountError


def test_bad_value_in_a_group_entry() -> None:
    err = encode_error(
        create_rfq(dealers=[CreateRfqDealers(dealer_user_id=5), CreateRfqDealers(dealer_user_id=0)])
    )
    assert type(err) is errors.BadValueError
    assert str(err) == "CreateRfq.dealers.dealer_user_id: 0 is outside the allowed range [1, 2147483647]"
    data = frame()
    struct.pack_into("<i", data, 69, 0)  # the second dealer
    err = decode_error(bytes(data))
    assert type(err) is errors.BadValueError
    assert str(err) == "CreateRfq.dealers.dealer_user_id: 0 is outside the allowed range [1, 2147483647]"


def test_short_group_entry_and_var_data() -> None:
    record = DedupeRecord(
        correlation_id=1,
        applied_time_ms=2,
        command_digest=2**64 - 2,
        outcomes=[DedupeRecordOutcomes(template_id=3, frame=b"abcdef")],
    )
    data = rfq_sbe.encode(record)  # block to byte 32, group header to 36, entry to 38, var data to 48
    err = decode_error(data[:37])
    assert type(err) is errors.ShortBufferError
    assert str(err) == "DedupeRecord.outcomes: a group entry needs the frame to reach byte 38, it ends at 37"
    err = decode_error(data[:-1])
    assert type(err) is errors.ShortBufferError
    assert (
        str(err)
        == "DedupeRecord.outcomes.frame: the var data needs the frame to reach byte 48, it ends at 47"
    )
    err = decode_error(bytes(frame()[: END - 1]))
    assert type(err) is errors.ShortBufferError
    assert str(err) == f"CreateRfq.dealers: a group entry needs the frame to reach byte {END}, it ends at 76"
    err = decode_error(bytes(frame()[:63]))
    assert type(err) is errors.ShortBufferError
    assert str(err) == "CreateRfq.dealers: the group header needs the frame to reach byte 65, it ends at 63"
    assert err.template_id == 3


def test_var_data_too_long(features: ModuleType) -> None:
    err = encode_error(features.Bare(blob=bytes(65537)), bytearray(70000))
    assert type(err) is errors.VarDataTooLongError
    assert str(err) == "Bare.blob: 65537 bytes is longer than the maximum 65536"
    data = bytearray(features.encode(features.Bare(blob=b"x")))
    struct.pack_into("<I", data, 8, 70000)
    err = decode_error(bytes(data), module=features)
    assert type(err) is errors.VarDataTooLongError
    assert str(err) == "Bare.blob: 70000 bytes is longer than the maximum 65536"
    record = DedupeRecord(
        correlation_id=1,
        applied_time_ms=2,
        command_digest=0,
        outcomes=[DedupeRecordOutcomes(template_id=3, frame=bytes(1048577))],
    )
    err = encode_error(record, bytearray(1048700))
    assert type(err) is errors.VarDataTooLongError


def test_encode_of_something_else() -> None:
    with pytest.raises(errors.BadValueError, match="not a message of this schema"):
        rfq_sbe.encode(42)  # type: ignore[arg-type]


def test_errors_are_codec_errors_only() -> None:
    for name in errors.__all__:
        assert issubclass(getattr(errors, name), errors.CodecError)
        assert not issubclass(getattr(errors, name), ValueError)


@pytest.fixture
def everything(features: ModuleType) -> Any:
    f = features
    return f.Everything(
        i8=1, u8=2, i16=3, u16=4, i32=5, u32=6, i64=7, u64=8, f32=1.5, f64=2.5, symbol="AB", letter="x",
        grade=f.Grade.A, delta=f.Delta.UP, flags=f.Flags.retry, wide=f.WideFlags.low, percent=5,
        point=f.Point(x=1, y=2, colour=f.Colour.RED), amount=100,
    )  # fmt: skip
