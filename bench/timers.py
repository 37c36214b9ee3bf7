"""bench-timers: what pending expiry timers cost the consensus module while they wait, by timer service.

Every live RFQ holds one Aeron Cluster timer (its expiry) in the leader's consensus module until it
ends. Aeron's default ``WheelTimerService`` sizes every spoke of its wheel for the fullest one and
scans the current spoke on each duty cycle, so RFQs that share an expiry time (a batch sent with one
ExpireTime, everything expiring at the close) make the consensus module busy while nothing happens.
``NodeConfig.timer_service`` picks Aeron's ``PriorityHeapTimerService`` instead, which looks only at
its earliest deadline. This bench shows the difference on this machine, in one process:

for each timer service (``priority-heap``, the platform's default, and ``wheel``) and each layout of
deadlines (``spread``: one per second over an hour, the reference; ``shared``: every RFQ the same),
a fresh embedded node (bench/cluster.py's, RfqService, secret on) takes ``--rfqs`` CreateRfq commands
from the Java load client (bench/jvm CommandLoad, as fast as it goes), then sits idle for ``--idle``
seconds while the CPU of its consensus-module thread is read from /proc. No timer fires: the earliest
deadline is an hour away. Configurations rotate over ``--rounds`` rounds; the report gives each run
and the medians, and the ratio that matters: shared ÷ spread, per timer service.

    make bench-timers                         # writes bench/results/timers.md; the last line is the summary
    .venv/bin/python bench/timers.py --smoke  # one small round, nothing written
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import secrets
import statistics
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from rfq import jvm
from rfq.cluster.node import EmbeddedNode, NodeConfig
from rfq.cluster.service import RfqService
from rfq.codecs.rfq_sbe import AddInstrument, BooleanType, CreateRfq, CreateRfqDealers, Side
from rfq.topology import Topology, free_port_base

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # bench/ is a folder of scripts
from bench.cluster import CLOCK_TICKS, CUSIPS, OPERATOR, Target, command_load, command_records

RESULTS = Path(__file__).resolve().parent / "results" / "timers.md"
SERVICES = ("priority-heap", "wheel")
LAYOUTS = ("spread", "shared")
HOUR_MS = 3_600_000
CONSENSUS_THREAD = "consensus-modul"
"""The consensus module agent's thread name as /proc shows it (15 characters of 'consensus-module')."""


@dataclass(frozen=True)
class Run:
    service: str
    layout: str
    rfqs: int
    creates_per_s: float
    idle_cores: float
    """The consensus-module thread's CPU while idle with the RFQs' timers pending, in cores."""
    rejected: int
    load: float


def commands(rfqs: int, layout: str, now_ms: int) -> list[AddInstrument | CreateRfq]:
    """The instruments, then ``rfqs`` valid CreateRfq, their expiries an hour away or more."""
    setup: list[AddInstrument | CreateRfq] = [
        AddInstrument(
            correlation_id=n + 1, user_id=OPERATOR, min_quantity=100, enabled=BooleanType.TRUE, cusip=cusip
        )
        for n, cusip in enumerate(CUSIPS)
    ]
    first = len(setup) + 1
    creates = [
        CreateRfq(
            correlation_id=first + n,
            user_id=1 + n % 1_000,
            instrument_id=1 + n % len(CUSIPS),
            side=Side.BUY if n % 2 else Side.SELL,
            quantity=1_000_000,
            expire_time_ms=now_ms + HOUR_MS + (1_000 * (n % 3_600) if layout == "spread" else 0),
            cl_ord_id=f"T-{n}",
            dealers=[CreateRfqDealers(dealer_user_id=1_001 + (n + k) % 997) for k in range(5)],
        )
        for n in range(rfqs)
    ]
    return [*setup, *creates]


def thread_cpu_s(name: str) -> float:
    """CPU seconds so far of this process's threads called ``name`` (/proc)."""
    total = 0.0
    for task in os.listdir("/proc/self/task"):
        with contextlib.suppress(OSError):
            stat = Path(f"/proc/self/task/{task}/stat").read_text()
            if stat[stat.index("(") + 1 : stat.rindex(")")] == name:
                fields = stat[stat.rindex(")") + 2 :].split()
                total += (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    return total


@contextlib.contextmanager
def node(service: str) -> Iterator[Target]:
    """A fresh embedded node in this process with ``service`` as its consensus module's timer service."""
    secret = secrets.token_urlsafe(32).encode()
    config = NodeConfig(
        topology=Topology(port_base=free_port_base()), cluster_secret=secret, timer_service=service
    )
    with EmbeddedNode(config, RfqService()) as embedded:
        yield Target(embedded.aeron_directory_name, embedded.ingress_endpoints, secret)


def measure(service: str, layout: str, rfqs: int, idle_s: float) -> Run:
    with node(service) as target:
        frames = command_records(commands(rfqs, layout, int(time.time() * 1000)))
        load = command_load(target, frames, window=64, rate=0)
        time.sleep(1.0)  # the last answers and the JIT's work on them settle
        before = thread_cpu_s(CONSENSUS_THREAD)
        time.sleep(idle_s)
        idle_cores = (thread_cpu_s(CONSENSUS_THREAD) - before) / idle_s
    return Run(service, layout, rfqs, load.per_s, idle_cores, load.rejected, os.getloadavg()[0])


def median(runs: list[Run], service: str, layout: str) -> float:
    return statistics.median(r.idle_cores for r in runs if (r.service, r.layout) == (service, layout))


def render(
    runs: list[Run], argv: str, loads: tuple[tuple[float, ...], tuple[float, ...]]
) -> tuple[list[str], str]:
    ratios = {s: median(runs, s, "shared") / max(median(runs, s, "spread"), 1e-6) for s in SERVICES}
    summary = (
        f"bench-timers: heap_shared_cores={median(runs, 'priority-heap', 'shared'):.3f} "
        f"heap_shared_ratio={ratios['priority-heap']:.2f} "
        f"wheel_shared_cores={median(runs, 'wheel', 'shared'):.3f} wheel_shared_ratio={ratios['wheel']:.2f}"
    )
    lines = [
        "# bench-timers: pending expiry timers and the consensus module's idle CPU",
        "",
        f"Command: `{argv}`. Machine: {platform.machine()}, {os.cpu_count()} cores shared with other work, "
        f"Python {platform.python_version()}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}. "
        f"Load average (1 / 5 / 15 min): {' / '.join(f'{v:.2f}' for v in loads[0])} before, "
        f"{' / '.join(f'{v:.2f}' for v in loads[1])} after.",
        "",
        "Each run: a fresh embedded node, the RFQs created as fast as the Java load client goes, then the "
        "consensus-module thread's CPU while idle with their timers pending (module docstring). "
        "`spread`: deadlines one second apart over an hour (the reference); `shared`: one deadline for all.",
        "",
        "| timer service | deadlines | median idle cores | shared ÷ spread |",
        "|---|---|---:|---:|",
    ]
    for service in SERVICES:
        for layout in LAYOUTS:
            ratio = f"{ratios[service]:.2f}" if layout == "shared" else ""
            lines.append(f"| {service} | {layout} | {median(runs, service, layout):.3f} | {ratio} |")
    lines += [
        "",
        "| run | timer service | deadlines | RFQs | creates /s | idle cores | refused | load |",
        "|---:|---|---|---:|---:|---:|---:|---:|",
    ]
    for n, r in enumerate(runs, 1):
        lines.append(
            f"| {n} | {r.service} | {r.layout} | {r.rfqs:,} | {r.creates_per_s:,.0f} | {r.idle_cores:.3f} "
            f"| {r.rejected} | {r.load:.2f} |"
        )
    return lines, summary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rfqs", type=int, default=20_000, help="RFQs (pending timers) per run")
    parser.add_argument("--idle", type=float, default=5.0, help="seconds of idle CPU measured per run")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--smoke", action="store_true", help="one round of 2,000 RFQs, 2 s idle, nothing written"
    )
    args = parser.parse_args()
    if args.smoke:
        args.rfqs, args.idle, args.rounds = 2_000, 2.0, 1
    jvm.start()
    load_before = os.getloadavg()
    runs: list[Run] = []
    configurations = [(s, layout) for s in SERVICES for layout in LAYOUTS]
    for round_no in range(args.rounds):
        shift = round_no % len(configurations)
        for service, layout in configurations[shift:] + configurations[:shift]:
            run = measure(service, layout, args.rfqs, args.idle)
            runs.append(run)
            print(
                f"round {round_no + 1} {service:13} {layout:6}: {run.rfqs:,} RFQs at "
                f"{run.creates_per_s:,.0f}/s, refused {run.rejected}; consensus module idle "
                f"{run.idle_cores:.3f} cores; load {run.load:.2f}",
                flush=True,
            )
    lines, summary = render(
        runs, " ".join(["bench/timers.py", *sys.argv[1:]]), (load_before, os.getloadavg())
    )
    if not args.smoke:
        RESULTS.write_text("\n".join([*lines, "", "```", summary, "```", ""]))
        print("\n".join(lines))
    print(summary)
    return 0 if all(r.rejected == 0 for r in runs) else 1


if __name__ == "__main__":
    raise SystemExit(main())
