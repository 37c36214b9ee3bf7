"""What the replicated service counts about its own work, cheaply enough for the per-message path.

Why not prometheus-client's own Counter and Histogram on the hot path: each ``inc``/``observe`` takes a
lock and costs a microsecond or two, and the service thread handles every message of the cluster. These
are plain integers and lists, written by the service thread alone (one writer, no lock); the node's
status server turns them into Prometheus families when scraped (:func:`service_families`). A scrape may
see a count and a sum one message apart: acceptable for monitoring.

Contract: counts are this process's, since it started (a restarted member counts again the log it
replays after its snapshot); they are observations, never state: nothing here is replicated, nothing
here reaches the state machine.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric

from rfq.cluster.domain.messages import COMMAND_TYPES
from rfq.codecs.rfq_sbe import RejectReason

MESSAGE_BUCKETS_S: tuple[float, ...] = (
    0.000_01,
    0.000_025,
    0.000_05,
    0.000_1,
    0.000_25,
    0.000_5,
    0.001,
    0.002_5,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
)
"""Upper bounds of the service-time histogram: 10 µs (an echo) to 100 ms (a pathological command)."""

_COMMAND_NAMES = {command.TEMPLATE_ID: command.__name__ for command in COMMAND_TYPES}
_TEMPLATE_SLOTS = max(_COMMAND_NAMES) + 1


class LatencyHistogram:
    """Durations in nanoseconds into fixed buckets; :meth:`observe` is a bisect and two additions."""

    __slots__ = ("bounds_ns", "bounds_s", "counts", "sum_ns")

    def __init__(self, bounds_s: tuple[float, ...] = MESSAGE_BUCKETS_S) -> None:
        self.bounds_s = bounds_s
        self.bounds_ns = [round(bound * 1e9) for bound in bounds_s]
        self.counts = [0] * (len(bounds_s) + 1)
        """Per bucket, not cumulative; the last one is +Inf."""
        self.sum_ns = 0

    def observe(self, elapsed_ns: int) -> None:
        self.counts[bisect_left(self.bounds_ns, elapsed_ns)] += 1
        self.sum_ns += elapsed_ns

    @property
    def count(self) -> int:
        return sum(self.counts)

    def cumulative(self) -> list[tuple[str, float]]:
        """Prometheus buckets: ``(le, cumulative count)``, ending with ``+Inf``."""
        buckets: list[tuple[str, float]] = []
        total = 0
        for bound, count in zip((*map(repr, self.bounds_s), "+Inf"), self.counts, strict=True):
            total += count
            buckets.append((bound, float(total)))
        return buckets


class ServiceStats:
    """The service's counts: commands applied by type, refusals by reason, duplicates, malformed
    frames, snapshots, and the time each message took in Python (decode → apply → encode)."""

    __slots__ = ("commands", "duplicates", "malformed_frames", "message_time", "refusals", "snapshots")

    def __init__(self) -> None:
        self.commands = [0] * _TEMPLATE_SLOTS
        """Indexed by template id: a list index is the cheapest count there is."""
        self.refusals: dict[RejectReason, int] = {}
        """Every ``CommandRejected`` the service answered with, malformed frames included."""
        self.duplicates = 0
        """Commands answered with their original outcome (a resend after a leader change)."""
        self.malformed_frames = 0
        self.snapshots = 0
        self.message_time = LatencyHistogram()

    def refusal(self, reason: RejectReason) -> None:
        self.refusals[reason] = self.refusals.get(reason, 0) + 1

    def commands_by_name(self) -> dict[str, int]:
        return {name: self.commands[template_id] for template_id, name in sorted(_COMMAND_NAMES.items())}


def service_families(stats: ServiceStats, prefix: str = "rfq_node") -> Iterator[Metric]:
    """The Prometheus families of ``stats`` (read at scrape time)."""
    commands = CounterMetricFamily(
        f"{prefix}_commands",
        "Commands the service applied, by type (duplicates included)",
        labels=["command"],
    )
    for name, count in stats.commands_by_name().items():
        commands.add_metric([name], count)
    yield commands
    refusals = CounterMetricFamily(
        f"{prefix}_refusals",
        "CommandRejected answers, by reason (malformed frames included)",
        labels=["reason"],
    )
    for reason, count in sorted(stats.refusals.items(), key=lambda item: item[0].name):
        refusals.add_metric([reason.name], count)
    yield refusals
    yield CounterMetricFamily(
        f"{prefix}_duplicate_commands",
        "Commands answered with their original outcome",
        value=stats.duplicates,
    )
    yield CounterMetricFamily(
        f"{prefix}_malformed_frames", "Frames that were not a valid command", value=stats.malformed_frames
    )
    yield CounterMetricFamily(
        f"{prefix}_service_snapshots", "Snapshots this replica's service wrote", value=stats.snapshots
    )
    histogram = stats.message_time
    family = HistogramMetricFamily(
        f"{prefix}_message_seconds", "Time the service spent on one log message (decode, apply, encode)"
    )
    family.add_metric([], histogram.cumulative(), sum_value=histogram.sum_ns / 1e9)
    yield family
