"""Frozen messages (the dedupe window's form) thaw back to equal messages and are plain values."""

from __future__ import annotations

import gc
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rfq.cluster.domain.frozen import freeze, thaw
from rfq.cluster.domain.messages import COMMAND_TYPES, EVENT_TYPES
from rfq.codecs.testing import message_strategy, random_message

FROZEN_TYPES = (*COMMAND_TYPES, *EVENT_TYPES)


@pytest.mark.parametrize("cls", FROZEN_TYPES, ids=lambda cls: cls.__name__)
@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_thaw_of_freeze_is_the_message(cls: type, data: st.DataObject) -> None:
    message = data.draw(message_strategy(cls))
    frozen = freeze(message)
    assert frozen[0] == cls.TEMPLATE_ID  # type: ignore[attr-defined]
    assert thaw(frozen) == message


def test_frozen_values_are_untracked_by_the_garbage_collector() -> None:
    """Only ints, strings, None and tuples of them: after two collections (a tuple is untracked only
    once its items are) nothing frozen is tracked, so the window costs the collector nothing."""
    rng = random.Random(7)
    frozen = [freeze(random_message(cls, rng)) for cls in FROZEN_TYPES for _ in range(5)]
    gc.collect()
    gc.collect()
    assert [f[0] for f in frozen if gc.is_tracked(f)] == []


def test_equal_messages_freeze_equal_and_different_ones_differ() -> None:
    from rfq.codecs.rfq_sbe import SubmitQuote

    quote = SubmitQuote(correlation_id=1, user_id=2, rfq_id=3, price=4, valid_until_ms=None)
    again = SubmitQuote(correlation_id=1, user_id=2, rfq_id=3, price=4, valid_until_ms=None)
    other = SubmitQuote(correlation_id=1, user_id=2, rfq_id=3, price=5, valid_until_ms=None)
    assert freeze(quote) == freeze(again)
    assert freeze(quote) != freeze(other)


def test_every_command_and_event_has_its_freezer() -> None:
    from rfq.cluster.domain.frozen import FREEZERS

    assert set(FREEZERS) == set(FROZEN_TYPES)
