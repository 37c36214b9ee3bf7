"""The service's own counts (no JVM: RfqService driven directly): commands by type, refusals by reason,
duplicates, malformed frames and the time per message, exposed as Prometheus families that parse."""

from __future__ import annotations

import time
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector

from rfq.cluster.host import Actions
from rfq.cluster.metrics import LatencyHistogram, service_families
from rfq.cluster.service import RfqService
from rfq.codecs import rfq_sbe
from rfq.codecs.rfq_sbe import AddInstrument, BooleanType, CancelRfq, CreateRfq, CreateRfqDealers, Side


class _Families(Collector):
    def __init__(self, service: RfqService) -> None:
        self._service = service

    def collect(self) -> Iterator[Metric]:
        yield from service_families(self._service.stats)


def test_every_message_is_counted_and_the_families_parse() -> None:
    service = RfqService()
    actions = Actions(memoryview(bytearray(1 << 20)))
    now = int(time.time() * 1000)
    create = CreateRfq(
        correlation_id=2,
        user_id=10,
        instrument_id=1,
        side=Side.BUY,
        quantity=100,
        expire_time_ms=now + 60_000,
        cl_ord_id="x",
        dealers=[CreateRfqDealers(dealer_user_id=20)],
    )
    frames = [
        rfq_sbe.encode(
            AddInstrument(
                correlation_id=1, user_id=1, min_quantity=1, enabled=BooleanType.TRUE, cusip="037833100"
            )
        ),
        rfq_sbe.encode(create),
        rfq_sbe.encode(create),  # a resend: answered with its original outcome
        rfq_sbe.encode(CancelRfq(correlation_id=3, user_id=11, rfq_id=1)),  # NOT_A_PARTY
        rfq_sbe.encode(CancelRfq(correlation_id=4, user_id=10, rfq_id=77)),  # UNKNOWN_RFQ
        b"\x01\x02",  # MALFORMED_FRAME
    ]
    for frame in frames:
        actions.position = 0
        service.on_message(1, now, memoryview(frame), actions)

    stats = service.stats
    assert stats.commands_by_name()["CreateRfq"] == 2 and service.commands == 5
    assert {reason.name: count for reason, count in stats.refusals.items()} == {
        "NOT_A_PARTY": 1,
        "UNKNOWN_RFQ": 1,
        "MALFORMED_FRAME": 1,
    }
    assert (stats.duplicates, stats.malformed_frames, stats.message_time.count) == (1, 1, 6)

    registry = CollectorRegistry()
    registry.register(_Families(service))
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(generate_latest(registry).decode())
        for s in family.samples
    }
    assert samples[("rfq_node_commands_total", (("command", "CreateRfq"),))] == 2
    assert samples[("rfq_node_refusals_total", (("reason", "UNKNOWN_RFQ"),))] == 1
    assert samples[("rfq_node_duplicate_commands_total", ())] == 1
    assert samples[("rfq_node_message_seconds_count", ())] == 6
    assert samples[("rfq_node_message_seconds_bucket", (("le", "+Inf"),))] == 6


def test_the_histogram_is_cumulative_with_prometheus_bounds() -> None:
    histogram = LatencyHistogram((0.001, 0.01))
    for elapsed_ns in (500_000, 1_000_000, 5_000_000, 50_000_000):
        histogram.observe(elapsed_ns)
    assert histogram.cumulative() == [("0.001", 2.0), ("0.01", 3.0), ("+Inf", 4.0)]
    assert histogram.sum_ns == 56_500_000 and histogram.count == 4
