"""The adapter's answer to a frame that does not decode: `rfq.cluster.service.rejection_for` (no JVM)."""

from __future__ import annotations

import struct

import pytest

from rfq.cluster.service import rejection_for
from rfq.codecs import rfq_sbe
from rfq.codecs.errors import (
    BadValueError,
    CodecError,
    ShortBufferError,
    UnknownTemplateError,
    UnsupportedVersionError,
    WrongSchemaError,
)
from rfq.codecs.rfq_sbe import CancelRfq, RejectReason, SubmitQuote

HEADER = struct.Struct("<HHHH")


def frame_of(correlation_id: int, user_id: int) -> bytes:
    return rfq_sbe.encode(CancelRfq(correlation_id=correlation_id, user_id=user_id, rfq_id=9))


def with_user(frame: bytes, user_id: int) -> bytes:
    """``frame`` with the int32 at body offset 8 (every command's userId) set to any value."""
    out = bytearray(frame)
    struct.pack_into("<i", out, HEADER.size + 8, user_id)
    return bytes(out)


def test_a_readable_frame_is_answered_with_its_correlation_id_user_id_and_template() -> None:
    frame = frame_of(77, 4242)
    rejected = rejection_for(memoryview(frame), WrongSchemaError("schema 9"), 123)
    assert rejected.correlation_id == 77
    assert rejected.user_id == 4242
    assert rejected.template_id == CancelRfq.TEMPLATE_ID
    assert rejected.reason is RejectReason.WRONG_SCHEMA
    assert rejected.timestamp_ms == 123


@pytest.mark.parametrize("user_id", [0, -1, -(2**31)])
def test_a_value_that_is_not_a_user_id_is_not_named(user_id: int) -> None:
    rejected = rejection_for(memoryview(with_user(frame_of(5, 1), user_id)), BadValueError("x"), 1)
    assert rejected.user_id is None
    assert rejected.correlation_id == 5


def test_the_largest_user_id_is_named() -> None:
    frame = with_user(frame_of(5, 1), 2**31 - 1)
    assert rejection_for(memoryview(frame), BadValueError("x"), 1).user_id == 2**31 - 1


@pytest.mark.parametrize(
    ("length", "correlation_id", "user_id", "template_id"),
    [
        (0, 0, None, 0),
        (7, 0, None, 0),
        (8, 0, None, CancelRfq.TEMPLATE_ID),
        (15, 0, None, CancelRfq.TEMPLATE_ID),
        (16, 77, None, CancelRfq.TEMPLATE_ID),
        (19, 77, None, CancelRfq.TEMPLATE_ID),
        (20, 77, 4242, CancelRfq.TEMPLATE_ID),
    ],
)
def test_what_a_short_frame_holds_is_read_and_nothing_more(
    length: int, correlation_id: int, user_id: int | None, template_id: int
) -> None:
    frame = frame_of(77, 4242)[:length]
    rejected = rejection_for(memoryview(frame), ShortBufferError("short"), 1)
    assert (rejected.correlation_id, rejected.user_id, rejected.template_id) == (
        correlation_id,
        user_id,
        template_id,
    )
    assert rejected.reason is RejectReason.MALFORMED_FRAME


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (WrongSchemaError("s"), RejectReason.WRONG_SCHEMA),
        (UnknownTemplateError("t"), RejectReason.UNKNOWN_TEMPLATE),
        (UnsupportedVersionError("v"), RejectReason.UNSUPPORTED_VERSION),
        (BadValueError("b"), RejectReason.INVALID_FIELD),
        (ShortBufferError("s"), RejectReason.MALFORMED_FRAME),
    ],
)
def test_each_codec_error_has_its_reason(error: CodecError, reason: RejectReason) -> None:
    assert rejection_for(memoryview(frame_of(1, 2)), error, 1).reason is reason


def test_the_rejection_encodes_and_names_its_sender_for_routing() -> None:
    from rfq.cluster.domain.routing import recipients

    quote = rfq_sbe.encode(SubmitQuote(correlation_id=3, user_id=201, rfq_id=1, price=1))
    bad = quote[:-4]  # truncated: a command of this schema whose user id is still readable
    rejected = rejection_for(memoryview(bad), ShortBufferError("short"), 1)
    assert rfq_sbe.decode(rfq_sbe.encode(rejected)) == rejected
    assert recipients(rejected) == (201,)
    short = rejection_for(memoryview(bad[:12]), ShortBufferError("short"), 1)
    assert recipients(short) == ()


def test_a_frame_of_another_schema_or_template_names_no_user() -> None:
    """Offset 8 is a user id only in a command of this schema: elsewhere it holds something else."""
    quote = rfq_sbe.encode(SubmitQuote(correlation_id=3, user_id=201, rfq_id=1, price=1))
    block, template = HEADER.unpack_from(quote)[:2]
    other_schema = HEADER.pack(block, template, 999, 1) + quote[HEADER.size :]
    assert rejection_for(memoryview(other_schema), WrongSchemaError("999"), 1).user_id is None
    event_template = HEADER.pack(block, 25, rfq_sbe.SCHEMA_ID, 1) + quote[HEADER.size :]
    assert rejection_for(memoryview(event_template), BadValueError("x"), 1).user_id is None
    assert rejection_for(memoryview(other_schema), WrongSchemaError("999"), 1).correlation_id == 3
