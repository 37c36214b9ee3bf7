"""Prometheus metrics of one web gateway (``GET /metrics``), in a registry of its own.

Why its own registry: a process may run several gateways (tests, ``rfq run``), and each must count
only its own. What is measured: every command by kind and result with its latency as the HTTP layer
sees it (from submission to the cluster's outcome), and the core's state read at scrape time (session,
pending commands, stream subscribers, events routed, duplicates recognised).
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from rfq.gateway.core import GatewayCore

LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class GatewayMetrics:
    """The counters the HTTP layer updates, and a collector of the core's state."""

    def __init__(self, core: GatewayCore) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.commands = Counter(
            "rfq_gateway_commands",
            "Commands sent to the cluster, by kind and result (outcome, refused, timeout, unavailable)",
            ["command", "result"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "rfq_gateway_command_seconds",
            "From submitting a command to its outcome",
            ["command"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.registry.register(_CoreCollector(core))


class _CoreCollector(Collector):
    def __init__(self, core: GatewayCore) -> None:
        self._core = core

    def collect(self) -> Iterator[Metric]:
        core = self._core
        values = {
            "rfq_gateway_ready": ("1 when the gateway is ready", float(core.ready)),
            "rfq_gateway_leader_member_id": (
                "The member the session believes leads",
                core.status.leader_member_id,
            ),
            "rfq_gateway_pending_commands": ("Commands awaiting their outcome", len(core._futures)),
            "rfq_gateway_stream_subscribers": ("Open event streams", core.streams.subscribers),
            "rfq_gateway_events_routed": ("Cluster events applied and routed", core.events),
            "rfq_gateway_duplicate_events": ("Events recognised as answers to resends", core.duplicates),
            "rfq_gateway_epoch": ("This life's epoch", core.start_epoch),
        }
        for name, (text, value) in values.items():
            yield GaugeMetricFamily(name, text, value=float(value))
