"""Prometheus metrics of one gateway core, shared by every edge that drives it (web, FIX).

Why in the core and not in an edge: commands, refusals, their round trip, routed events, leader
changes and resends happen in the core whichever protocol brought the command, so they are counted
once, here; an edge adds what only it knows (the web gateway its HTTP results, the FIX gateway its
sessions through :meth:`CoreMetrics.set_fix_sessions`). Each core has a registry of its own: a process
may run several gateways (tests, ``rfq run``), and each must count only its own traffic.

Contract: ``rfq_gateway_commands_total{command}`` counts every command an edge submitted once (resends
are ``rfq_gateway_resends_total``); every outcome observes ``rfq_gateway_command_round_trip_seconds``
(from :meth:`GatewayCore.submit` to the outcome, on the event loop); a ``CommandRejected`` outcome
counts ``rfq_gateway_refusals_total{command,reason}``. The core's own state queries are not commands.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from rfq.cluster.domain.messages import COMMAND_TYPES

ROUND_TRIP_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
"""Seconds: a round trip is ~1 ms on a quiet cluster, seconds across a failover."""

_HEADER = struct.Struct("<HHHH")
_NAMES = {command.TEMPLATE_ID: command.__name__ for command in COMMAND_TYPES}


def command_name(frame: bytes) -> str:
    """The command type of an encoded frame (from its SBE header), or ``unknown``."""
    if len(frame) < _HEADER.size:
        return "unknown"
    return _NAMES.get(_HEADER.unpack_from(frame)[1], "unknown")


class CoreMetrics:
    """The counters a gateway core updates, in its own registry (see the module's contract)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.commands = Counter(
            "rfq_gateway_commands",
            "Commands submitted to the cluster, by type",
            ["command"],
            registry=self.registry,
        )
        self.refusals = Counter(
            "rfq_gateway_refusals",
            "Commands the cluster refused, by type and reason",
            ["command", "reason"],
            registry=self.registry,
        )
        self.round_trip = Histogram(
            "rfq_gateway_command_round_trip_seconds",
            "From submitting a command to its outcome",
            ["command"],
            buckets=ROUND_TRIP_BUCKETS,
            registry=self.registry,
        )
        self.resyncs = Counter(
            "rfq_gateway_resyncs",
            "State reloads after a new leader or a new session (users' streams barriered where needed)",
            registry=self.registry,
        )
        self.fix_sessions = Gauge(
            "rfq_gateway_fix_sessions", "FIX sessions logged on", registry=self.registry
        )

    def set_fix_sessions(self, count: int) -> None:
        """The FIX gateway reports how many FIX sessions are logged on (thread-safe)."""
        self.fix_sessions.set(count)

    def add_state(self, read: Callable[[], CoreState]) -> None:
        """Register the families read from the core at scrape time."""
        self.registry.register(_StateCollector(read))


@dataclass(frozen=True)
class CoreState:
    """The core's state at scrape time (made by ``GatewayCore.metrics_state``)."""

    ready: bool = False
    leader_member_id: int = -1
    pending_commands: int = 0
    stream_subscribers: int = 0
    epoch: int = 0
    events_routed: int = 0
    duplicate_events: int = 0
    leader_changes: int = 0
    resends: int = 0
    reconnects: int = 0


class _StateCollector(Collector):
    def __init__(self, read: Callable[[], CoreState]) -> None:
        self._read = read

    def collect(self) -> Iterator[Metric]:
        state = self._read()
        gauges = {
            "rfq_gateway_ready": ("1 when the gateway is ready", float(state.ready)),
            "rfq_gateway_leader_member_id": ("The member the session believes leads", state.leader_member_id),
            "rfq_gateway_pending_commands": ("Commands awaiting their outcome", state.pending_commands),
            "rfq_gateway_sse_clients": (
                "Open event streams (the web gateway's SSE clients)",
                state.stream_subscribers,
            ),
            "rfq_gateway_epoch": ("This life's epoch", state.epoch),
        }
        for name, (text, value) in gauges.items():
            yield GaugeMetricFamily(name, text, value=float(value))
        counters = {
            "rfq_gateway_events_routed": ("Cluster events applied and routed to users", state.events_routed),
            "rfq_gateway_duplicate_events": (
                "Events recognised as answers to resends",
                state.duplicate_events,
            ),
            "rfq_gateway_leader_changes": ("New leaders the cluster session heard of", state.leader_changes),
            "rfq_gateway_resends": ("Commands sent again (new leader, reconnection, silence)", state.resends),
            "rfq_gateway_reconnects": ("Cluster sessions opened again after one closed", state.reconnects),
        }
        for name, (text, value) in counters.items():
            yield CounterMetricFamily(name, text, value=float(value))
