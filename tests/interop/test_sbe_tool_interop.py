"""Our generated codecs against sbe-tool's Java codecs: same bytes, and each decodes the other's.

For every message of schema/rfq.xml and of the test-only features schema, hypothesis picks the
values (200 examples a message); sbe-tool's encoders and decoders run in the same process (JPype).
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rfq.codecs import rfq_sbe
from rfq.codecs.testing import message_strategy

RFQ_MESSAGES = [cls.__name__ for cls in rfq_sbe.MESSAGE_TYPES.values()]
FEATURE_MESSAGES = ["Everything", "Nested", "Bare", "Tick"]

INTEROP = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _both_ways(module: ModuleType, java: Any, value: Any) -> None:
    ours = module.encode(value)
    theirs = java.encode(value)
    assert ours == theirs, f"bytes differ for {value!r}:\n ours   {ours.hex()}\n theirs {theirs.hex()}"
    assert module.decode(theirs, 0, len(theirs)) == value
    assert java.decode(ours) == value


@pytest.mark.parametrize("name", RFQ_MESSAGES)
@INTEROP
@given(data=st.data())
def test_rfq_message_matches_sbe_tool(java_rfq: Any, name: str, data: st.DataObject) -> None:
    cls = getattr(rfq_sbe, name)
    _both_ways(rfq_sbe, java_rfq, data.draw(message_strategy(cls)))


@pytest.mark.parametrize("name", FEATURE_MESSAGES)
@INTEROP
@given(data=st.data())
def test_feature_message_matches_sbe_tool(
    java_features: Any, features_module: ModuleType, name: str, data: st.DataObject
) -> None:
    cls = getattr(features_module, name)
    _both_ways(features_module, java_features, data.draw(message_strategy(cls)))


def test_every_rfq_message_is_covered() -> None:
    assert len(RFQ_MESSAGES) == 23
    assert set(RFQ_MESSAGES) >= {"CreateRfq", "RfqCreated", "DedupeRecord", "CommandRejected"}
