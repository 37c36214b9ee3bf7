"""Schema evolution (notes/sbe-rules.md): version 2 frames decode with version 1 code and back.

evolution_v2.xml appends to evolution_v1.xml, with sinceVersion="2": fields to a message block and a
group entry block, var data after the last var data, and a group to a message without var data.
"""

from __future__ import annotations

import struct
from types import ModuleType

import pytest

from rfq.codecs import errors


def test_v2_frame_decodes_with_v1_code(evolution_v1: ModuleType, evolution_v2: ModuleType) -> None:
    v2 = evolution_v2
    order = v2.Order(
        order_id=42,
        quantity=7,
        side=v2.Side.SELL,
        limit_price=99_000,
        urgent=v2.Side.BUY,
        fills=[v2.OrderFills(price=100, fee=3, venue=b"XLON"), v2.OrderFills(price=101, fee=None, venue=b"")],
        note=b"hello",
        memo=b"only v2 knows",
    )
    frame = v2.encode(order)
    decoded = evolution_v1.decode(frame, 0, len(frame))  # the unknown tail is not "trailing garbage"
    assert decoded == evolution_v1.Order(
        order_id=42,
        quantity=7,
        side=evolution_v1.Side.SELL,
        fills=[
            evolution_v1.OrderFills(price=100, venue=b"XLON"),
            evolution_v1.OrderFills(price=101, venue=b""),
        ],
        note=b"hello",
    )
    _, end = evolution_v1.decode_from(frame)
    assert end == len(frame) - 2 - len(b"only v2 knows")  # v1 stops before the var data it does not know


def test_v2_group_after_the_last_group_is_skipped_by_v1(
    evolution_v1: ModuleType, evolution_v2: ModuleType
) -> None:
    basket = evolution_v2.Basket(
        basket_id=5,
        items=[evolution_v2.BasketItems(qty=1), evolution_v2.BasketItems(qty=2)],
        extras=[evolution_v2.BasketExtras(code=9)],
    )
    frame = evolution_v2.encode(basket)
    decoded = evolution_v1.decode(frame, 0, len(frame))
    assert decoded == evolution_v1.Basket(
        basket_id=5, items=[evolution_v1.BasketItems(qty=1), evolution_v1.BasketItems(qty=2)]
    )


def test_v1_frame_decodes_with_v2_code(evolution_v1: ModuleType, evolution_v2: ModuleType) -> None:
    v1 = evolution_v1
    order = v1.Order(
        order_id=1, quantity=2, side=v1.Side.BUY, fills=[v1.OrderFills(price=5, venue=b"X")], note=b"n"
    )
    decoded = evolution_v2.decode(v1.encode(order))
    assert decoded.limit_price is None
    assert decoded.urgent is None
    assert decoded.fills == [evolution_v2.OrderFills(price=5, fee=None, venue=b"X")]
    assert decoded.note == b"n"
    assert decoded.memo == b""
    basket = evolution_v2.decode(v1.encode(v1.Basket(basket_id=3, items=[v1.BasketItems(qty=4)])))
    assert basket.extras == []
    assert basket.items == [evolution_v2.BasketItems(qty=4)]


def test_block_lengths_and_layouts_by_version(evolution_v1: ModuleType, evolution_v2: ModuleType) -> None:
    assert evolution_v1.Order.BLOCK_LENGTH == 13
    assert evolution_v2.Order.BLOCK_LENGTH == 13 + 8 + 1
    assert evolution_v2.OrderFills._LAYOUT.min_lengths == (8, 8, 12)


def test_v2_header_too_short_for_its_version(evolution_v2: ModuleType) -> None:
    order = evolution_v2.Order(order_id=1, quantity=2, side=evolution_v2.Side.BUY)
    frame = bytearray(evolution_v2.encode(order))
    struct.pack_into("<H", frame, 0, 13)  # a version 2 header with a version 1 block length
    with pytest.raises(
        errors.BlockLengthError, match="acting blockLength 13 is shorter than the 22 bytes version 2"
    ):
        evolution_v2.decode(bytes(frame))


def test_v2_code_reencodes_a_v1_frame_as_v2(evolution_v1: ModuleType, evolution_v2: ModuleType) -> None:
    v1 = evolution_v1
    order = evolution_v2.decode(v1.encode(v1.Order(order_id=1, quantity=2, side=v1.Side.BUY)))
    frame = evolution_v2.encode(order)  # None in fields added later encodes their null values
    assert struct.unpack_from("<HHHH", frame) == (22, 1, 703, 2)
    assert evolution_v2.decode(frame) == order
