"""NodeConfig refuses what a node could not start with, before any JVM is involved."""

from __future__ import annotations

import pytest

from rfq.cluster.node import TIMER_SERVICES, NodeConfig


def test_the_timer_service_is_aerons_priority_heap_by_default() -> None:
    assert NodeConfig().timer_service == "priority-heap"
    assert TIMER_SERVICES["priority-heap"] == "io.aeron.cluster.PriorityHeapTimerServiceSupplier"


@pytest.mark.parametrize("name", sorted(TIMER_SERVICES))
def test_each_named_timer_service_is_accepted(name: str) -> None:
    assert NodeConfig(timer_service=name).timer_service == name


@pytest.mark.parametrize("name", ["", "heap", "Wheel", "io.aeron.cluster.WheelTimerServiceSupplier"])
def test_an_unknown_timer_service_is_refused_with_the_names_it_could_be(name: str) -> None:
    with pytest.raises(ValueError, match="priority-heap, wheel"):
        NodeConfig(timer_service=name)
