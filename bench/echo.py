"""bench-echo: the Python service host against a Java echo service, through a real cluster, same run.

Both services run in the same embedded single-node cluster configuration, driven by the same Java
load generator (bench/jvm/rfq/bench/EchoLoad.java), which keeps Python (and its GIL) off the client
side so that the difference is the service host alone. Rounds alternate Python and Java so that
machine noise hits both; the report takes the median round of each.

    make bench-echo                      # writes bench/results/echo.md, prints the summary line
    .venv/bin/python bench/echo.py --rounds 5 --messages 300000
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rfq import jvm
from rfq.cluster.echo import EchoService
from rfq.cluster.node import EmbeddedNode, NodeConfig
from rfq.topology import Topology, free_port_base

RESULTS = Path(__file__).resolve().parent / "results" / "echo.md"
PAYLOAD = 32


@dataclass(frozen=True)
class Run:
    """One load against one service: throughput and round-trip latency percentiles."""

    msgs_per_s: float
    p50_us: float
    p99_us: float
    p999_us: float
    max_us: float


def measure(service: Any, messages: int, window: int, rate: int) -> Run:
    """Start a fresh node around ``service``, drive it with EchoLoad, stop it; every reply is checked."""
    load = jvm.jclass("rfq.bench.EchoLoad")
    with EmbeddedNode(NodeConfig(topology=Topology(port_base=free_port_base())), service) as node:
        raw = np.asarray(
            load.run(
                node.aeron_directory_name, node.ingress_endpoints, messages, window, rate, PAYLOAD, None, True
            ),
            dtype=np.int64,
        )
    elapsed_ns, mismatches, latencies = raw[0], raw[1], raw[2:] / 1_000.0
    if mismatches:
        raise RuntimeError(f"{mismatches} replies came back out of order or altered")
    p50, p99, p999 = np.percentile(latencies, [50, 99, 99.9])
    return Run(messages / (elapsed_ns / 1e9), float(p50), float(p99), float(p999), float(latencies.max()))


def median_run(runs: list[Run]) -> Run:
    """The run with the median throughput (keeps one consistent set of figures)."""
    return sorted(runs, key=lambda run: run.msgs_per_s)[len(runs) // 2]


def services() -> dict[str, Any]:
    return {"python": EchoService(), "java": jvm.jclass("rfq.bench.JavaEchoService")()}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--messages", type=int, default=200_000, help="per throughput run")
    parser.add_argument("--window", type=int, default=256, help="frames in flight in throughput runs")
    parser.add_argument("--rate", type=int, default=5_000, help="paced rate of the latency runs (msg/s)")
    parser.add_argument("--latency-messages", type=int, default=50_000)
    parser.add_argument("--warmup-messages", type=int, default=100_000, help="per service, not measured")
    args = parser.parse_args()

    jvm.start()
    throughput: dict[str, list[Run]] = {"python": [], "java": []}
    latency: dict[str, list[Run]] = {"python": [], "java": []}
    load_before = os.getloadavg()
    # One unmeasured run of each first: the JIT compiles Aeron's paths during the process's first
    # runs, which would otherwise count against whichever service goes first.
    for name in ("python", "java"):
        measure(services()[name], args.warmup_messages, args.window, 0)
    for round_no in range(args.rounds):
        for name in ("python", "java") if round_no % 2 == 0 else ("java", "python"):
            throughput[name].append(measure(services()[name], args.messages, args.window, 0))
            latency[name].append(measure(services()[name], args.latency_messages, 64, args.rate))
            print(
                f"round {round_no + 1} {name}: {throughput[name][-1].msgs_per_s:,.0f} msg/s, "
                f"p50 {latency[name][-1].p50_us:.0f} µs at {args.rate}/s"
            )
    load_after = os.getloadavg()

    tp = {name: median_run(runs) for name, runs in throughput.items()}
    lat = {name: median_run(runs) for name, runs in latency.items()}
    ratios = [
        p.msgs_per_s / j.msgs_per_s for p, j in zip(throughput["python"], throughput["java"], strict=True)
    ]
    ratio = statistics.median(ratios)

    lines = [
        "# bench-echo: Python service host vs Java echo service (same run)",
        "",
        f"Command: `make bench-echo` (`bench/echo.py --rounds {args.rounds} --messages {args.messages} "
        f"--window {args.window} --rate {args.rate} --warmup-messages {args.warmup_messages}`)",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"load average {load_before[0]:.2f} before, {load_after[0]:.2f} after.",
        "Cluster: one embedded node (SHARED driver and archive threads, backoff idle), UDP ingress on "
        "loopback, IPC log; load from the Java EchoLoad client in the same process (backing off when "
        "idle, like the node's agents, so that it does not take a core from them); 32-byte frames, "
        "each reply checked.",
        "",
        f"## Throughput ({args.window} in flight, {args.messages:,} messages, "
        f"median of {args.rounds} rounds)",
        "",
        "| service | msg/s | p50 µs | p99 µs |",
        "|---|---:|---:|---:|",
        *(f"| {n} | {tp[n].msgs_per_s:,.0f} | {tp[n].p50_us:,.0f} | {tp[n].p99_us:,.0f} |" for n in tp),
        "",
        f"Per-round python/java ratios (each pair measured back to back): "
        f"{', '.join(f'{r:.2f}' for r in ratios)}; the summary's ratio is their median.",
        "",
        f"## Round-trip latency at {args.rate:,} msg/s ({args.latency_messages:,} messages)",
        "",
        "| service | p50 µs | p99 µs | p99.9 µs | max µs |",
        "|---|---:|---:|---:|---:|",
        *(
            f"| {n} | {lat[n].p50_us:,.0f} | {lat[n].p99_us:,.0f} | {lat[n].p999_us:,.0f} "
            f"| {lat[n].max_us:,.0f} |"
            for n in lat
        ),
        "",
    ]
    summary = (
        f"bench-echo: python_msgs_per_s={tp['python'].msgs_per_s:.0f} "
        f"java_msgs_per_s={tp['java'].msgs_per_s:.0f} "
        f"ratio={ratio:.2f} p50_us={lat['python'].p50_us:.0f} p99_us={lat['python'].p99_us:.0f} "
        f"p99.9_us={lat['python'].p999_us:.0f}"
    )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join([*lines, "```", summary, "```", ""]))
    print("\n".join(lines))
    print(summary)


if __name__ == "__main__":
    main()
