"""Prometheus metrics of one web gateway (``GET /metrics``): the core's, plus what only HTTP knows.

Why two layers: commands, refusals, round trips, routed events, stream clients, leader changes and
resends are the core's (``rfq.gateway.metrics``), shared with the FIX gateway; this module adds each
HTTP command's result as the caller saw it (``outcome``, ``refused``, ``timeout``: 503 while the
command stays pending, ``unavailable``: no cluster session) and its latency as the HTTP layer saw it.
The registry is this gateway's own (a process may run several gateways) and serves both layers.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import Metric
from prometheus_client.registry import Collector

from rfq.gateway.core import GatewayCore
from rfq.gateway.metrics import ROUND_TRIP_BUCKETS

LATENCY_BUCKETS = ROUND_TRIP_BUCKETS


class GatewayMetrics:
    """The counters the HTTP layer updates, and the core's families."""

    def __init__(self, core: GatewayCore) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.commands = Counter(
            "rfq_gateway_http_commands",
            "Commands run for HTTP requests, by command and result (outcome, refused, timeout, unavailable)",
            ["command", "result"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "rfq_gateway_http_command_seconds",
            "From the HTTP request's command to its answer",
            ["command"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.registry.register(_Registry(core.metrics.registry))


class _Registry(Collector):
    """Another registry's families, served from this one."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._registry = registry

    def collect(self) -> Iterator[Metric]:
        yield from self._registry.collect()
