"""Correlation ids: gateway id | epoch | sequence, never reused across restarts of a gateway."""

from __future__ import annotations

from pathlib import Path

import pytest

from rfq.gateway.command_client import EPOCH_BITS, GATEWAY_ID_BITS, SEQUENCE_BITS, CorrelationIds
from rfq.gateway.identity import Directory


def test_the_layout_fills_a_positive_int64() -> None:
    assert GATEWAY_ID_BITS + EPOCH_BITS + SEQUENCE_BITS == 63
    ids = CorrelationIds(gateway_id=(1 << GATEWAY_ID_BITS) - 1, epoch=(1 << EPOCH_BITS) - 1)
    first = ids.next()
    assert 0 < first < 2**63
    assert CorrelationIds.split(first) == ((1 << GATEWAY_ID_BITS) - 1, (1 << EPOCH_BITS) - 1, 1)


def test_gateways_and_epochs_never_share_an_id() -> None:
    made = set()
    for gateway_id in (1, 2):
        for epoch in (1, 2):
            ids = CorrelationIds(gateway_id, epoch)
            made |= {ids.next() for _ in range(1000)}
    assert len(made) == 4000


def test_a_restarted_gateway_takes_a_new_epoch_from_its_directory(tmp_path: Path) -> None:
    path = tmp_path / "gateway.sqlite"
    seen: set[int] = set()
    for _ in range(3):  # three lives of gateway 7 with the same data dir
        directory = Directory(path)
        ids = CorrelationIds(7, directory.next_epoch(), renew_epoch=directory.next_epoch)
        life = [ids.next() for _ in range(100)]
        assert not seen & set(life)
        seen |= set(life)
        directory.close()
    assert {CorrelationIds.split(i)[1] for i in seen} == {1, 2, 3}


def test_an_exhausted_sequence_moves_to_a_new_epoch() -> None:
    epochs = iter([5, 6])
    ids = CorrelationIds(3, 4, renew_epoch=lambda: next(epochs))
    ids._sequence = (1 << SEQUENCE_BITS) - 2
    last = ids.next()
    renewed = ids.next()
    assert CorrelationIds.split(last) == (3, 4, (1 << SEQUENCE_BITS) - 1)
    assert CorrelationIds.split(renewed) == (3, 5, 1)
    assert ids.epoch == 5


def test_without_renewal_exhaustion_is_an_error_not_a_reuse() -> None:
    ids = CorrelationIds(3, 4)
    ids._sequence = (1 << SEQUENCE_BITS) - 1
    with pytest.raises(OverflowError):
        ids.next()


@pytest.mark.parametrize(
    "gateway_id, epoch", [(-1, 0), (1 << GATEWAY_ID_BITS, 0), (0, -1), (0, 1 << EPOCH_BITS)]
)
def test_out_of_range_parts_are_refused(gateway_id: int, epoch: int) -> None:
    with pytest.raises(ValueError):
        CorrelationIds(gateway_id, epoch)
