"""bench-cluster: RFQ commands through a real Aeron Cluster, one node and three, beside a Java echo.

What runs, all in one invocation so that machine noise hits every figure alike:

- **one node**: an :class:`EmbeddedNode` hosting :class:`RfqService` in this process (driver, archive,
  consensus module and the Python service), with the shared-secret authenticator on;
- **three nodes**: :class:`LocalCluster`, three ``rfq node`` processes on loopback (UDP log, Raft
  replication, a Python RfqService on every member), in a temporary folder removed afterwards;
- **Java echo**: one node like the first hosting ``JavaEchoService`` (bench/jvm), driven by EchoLoad:
  the reference, ``java_echo_ratio = one-node RFQ commands/s ÷ Java echo msgs/s``;
- **Python echo** (context only): the same node hosting the Python ``EchoService``, i.e. the cost of the
  Python host without any RFQ logic, so that the RFQ figure can be split into host and service.

The client side is Java (bench/jvm/rfq/bench/CommandLoad.java): commands are encoded here with
``rfq.codecs.rfq_sbe`` into one array and sent by a JVM thread that never needs the GIL; latency is
send → first egress event with the command's correlationId. The three-node client has a media driver
of its own in this process, as a gateway on another machine would.

The workload is valid: many RFQs negotiated side by side — create, a quote by another user, counters,
accept or reject, some cancels — with far-future expiries (no timer fires). RFQ ids are predicted
(a fresh cluster assigns 1, 2, 3...), so a single refusal would be visible: ``CommandRejected`` events
are counted and reported, and should be 0. Every measurement is on a fresh node or cluster, after a
warm-up; rounds rotate the order of the three configurations, and the report takes medians.

    make bench-cluster                   # writes bench/results/cluster.md; the last line is the summary
    .venv/bin/python bench/cluster.py --rounds 3 --commands 100000 --latency-commands 15000
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import os
import platform
import secrets
import shutil
import statistics
import struct
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jpype
import numpy as np

from rfq import jvm
from rfq.cluster.domain import Command
from rfq.cluster.echo import EchoService
from rfq.cluster.local import LocalCluster
from rfq.cluster.node import EmbeddedNode, NodeConfig
from rfq.cluster.service import RfqService
from rfq.codecs import rfq_sbe
from rfq.codecs.rfq_sbe import (
    AcceptRfq,
    AddInstrument,
    BooleanType,
    CancelRfq,
    CounterRfq,
    CreateRfq,
    QuoteRfq,
    RejectRfq,
    Side,
)
from rfq.topology import Topology, free_port_base

RESULTS = Path(__file__).resolve().parent / "results" / "cluster.md"
SHM = Path("/dev/shm")
CUSIPS = ("037833100", "38259P508", "594918104", "46625H100", "912828U24", "17275R102")
OPERATOR = 99
PRICE = 100 * 10**8
IN_FLIGHT = 500
"""RFQs negotiated side by side: a command's RFQ was last touched ~500 commands earlier."""
EXPIRY_MS = 7 * 24 * 3600 * 1000
"""Far in the future of cluster time: no expiry timer fires during a run (RfqExpired is not measured)."""
ECHO_PAYLOAD = 32
STALL_TIMEOUT_MS = 20_000
CONNECT_TIMEOUT_S = 90.0
BACKOFF = os.environ.get("BENCH_SPIN") is None
RESULT_HEADER = 6
"""Slots before the latencies in CommandLoad's result: see CommandLoad.RESULT_HEADER."""

# How each negotiation goes, one pattern per RFQ in turn (as bench-sm's mix, without its refusals).
PATTERNS: tuple[tuple[str, ...], ...] = (
    ("create", "quote", "counter", "counter", "accept"),
    ("create", "quote", "accept"),
    ("create", "quote", "counter", "reject"),
    ("create", "quote", "reject"),
    ("create", "cancel"),
    ("create", "quote", "counter", "counter", "counter", "accept"),
    ("create", "quote", "cancel"),
    ("create", "quote", "counter", "accept"),
)

_RECORD_LENGTH = struct.Struct("<i")


# --------------------------------------------------------------------------------------- workload
@dataclass
class _Negotiation:
    rfq_id: int
    requester: int
    responder: int
    moves: list[str]
    last_price_by: int = 0


class Workload:
    """An endless, valid command mix for one fresh cluster, in batches sent in order to that cluster.

    The generator mirrors the state machine closely enough to predict what the cluster will assign
    (instrument ids 1..6, RFQ ids 1, 2, 3... in creation order) and who may act next, so every command
    is accepted; a refusal would mean the prediction (or the service) is wrong, and is reported.
    """

    def __init__(self, now_ms: int) -> None:
        self._expire_ms = now_ms + EXPIRY_MS
        self._correlation_ids = itertools.count(1)
        self._next_rfq_id = 1
        self._started = 0
        self._live: list[_Negotiation] = []
        self.mix: Counter[str] = Counter()

    def setup(self) -> list[Command]:
        """Add the instruments. Re-sending these same commands is harmless (the cluster dedupes them)."""
        return [
            AddInstrument(
                correlation_id=next(self._correlation_ids),
                user_id=OPERATOR,
                min_quantity=100,
                enabled=BooleanType.TRUE,
                cusip=cusip,
            )
            for cusip in CUSIPS
        ]

    def batch(self, count: int) -> list[Command]:
        """The next ``count`` commands; negotiations carry over from one batch to the next."""
        commands: list[Command] = []
        while len(commands) < count:
            while len(self._live) < IN_FLIGHT:
                self._started += 1
                n = self._started
                self._live.append(
                    _Negotiation(0, 1 + n % 1_000, 1_001 + n % 997, list(PATTERNS[n % len(PATTERNS)]))
                )
            still_live: list[_Negotiation] = []
            for negotiation in self._live:
                if len(commands) < count:
                    commands.append(self._next_move(negotiation))
                if negotiation.moves:
                    still_live.append(negotiation)
            self._live = still_live
        self.mix.update(type(command).__name__ for command in commands)
        return commands

    def _next_move(self, rfq: _Negotiation) -> Command:
        move = rfq.moves.pop(0)
        cid = next(self._correlation_ids)
        # whoever did not put the last price on the table may counter, accept or reject it
        other = rfq.requester if rfq.last_price_by == rfq.responder else rfq.responder
        if move == "create":
            rfq.rfq_id = self._next_rfq_id
            self._next_rfq_id += 1
            return CreateRfq(
                correlation_id=cid,
                user_id=rfq.requester,
                instrument_id=1 + cid % len(CUSIPS),
                side=Side.BUY if cid % 2 else Side.SELL,
                quantity=1_000_000,
                expire_time_ms=self._expire_ms,
                cl_ord_id=f"ORD-{cid}",
            )
        if move == "quote":
            rfq.last_price_by = rfq.responder
            return QuoteRfq(correlation_id=cid, user_id=rfq.responder, rfq_id=rfq.rfq_id, price=PRICE)
        if move == "counter":
            rfq.last_price_by = other
            return CounterRfq(correlation_id=cid, user_id=other, rfq_id=rfq.rfq_id, price=PRICE - cid % 1_000)
        if move == "accept":
            return AcceptRfq(correlation_id=cid, user_id=other, rfq_id=rfq.rfq_id)
        if move == "reject":
            return RejectRfq(correlation_id=cid, user_id=other, rfq_id=rfq.rfq_id)
        return CancelRfq(correlation_id=cid, user_id=rfq.requester, rfq_id=rfq.rfq_id)


def records(commands: list[Command]) -> bytes:
    """``[int32 little-endian length][SBE frame]...``: the one array CommandLoad takes."""
    out = bytearray()
    for command in commands:
        frame = rfq_sbe.encode(command)
        out += _RECORD_LENGTH.pack(len(frame))
        out += frame
    return bytes(out)


# --------------------------------------------------------------------------------------- loads
@dataclass(frozen=True)
class Run:
    """One load against one cluster: throughput, latency percentiles (ms) and refusals."""

    count: int
    per_s: float
    p50_ms: float
    p99_ms: float
    p999_ms: float
    max_ms: float
    rejected: int = 0


def _summarise(count: int, elapsed_ns: int, latencies_ns: np.ndarray[Any, Any], rejected: int) -> Run:
    latencies = latencies_ns / 1e6
    p50, p99, p999 = np.percentile(latencies, [50, 99, 99.9])
    return Run(count, count / (elapsed_ns / 1e9), float(p50), float(p99), float(p999), float(latencies.max()), rejected)


@dataclass(frozen=True)
class Target:
    """Where a client finds a cluster: the media driver it uses, the ingress, the secret."""

    aeron_dir: str
    ingress_endpoints: str
    secret: bytes


def _java_bytes(data: bytes) -> Any:
    return jpype.JArray(jpype.JByte)(data)


def command_load(target: Target, commands: list[Command], window: int, rate: int) -> Run:
    """Send ``commands`` through CommandLoad (a Java client, its own session) and summarise."""
    raw = np.asarray(
        jvm.jclass("rfq.bench.CommandLoad").run(
            target.aeron_dir,
            target.ingress_endpoints,
            _java_bytes(records(commands)),
            window,
            rate,
            _java_bytes(target.secret),
            STALL_TIMEOUT_MS,
            BACKOFF,
        ),
        dtype=np.int64,
    )
    elapsed_ns, count, rejected = int(raw[0]), int(raw[1]), int(raw[2])
    if raw[3] or raw[4]:
        print(f"  note: {raw[3]} expiries and {raw[4]} events for no pending command were seen")
    return _summarise(count, elapsed_ns, raw[RESULT_HEADER:], rejected)


def echo_load(target: Target, messages: int, window: int, rate: int) -> Run:
    """Drive an echo service with EchoLoad (every reply checked) and summarise."""
    raw = np.asarray(
        jvm.jclass("rfq.bench.EchoLoad").run(
            target.aeron_dir,
            target.ingress_endpoints,
            messages,
            window,
            rate,
            ECHO_PAYLOAD,
            _java_bytes(target.secret),
        ),
        dtype=np.int64,
    )
    if raw[1]:
        raise RuntimeError(f"{raw[1]} echo replies came back out of order or altered")
    return _summarise(messages, int(raw[0]), raw[2:], 0)


@contextlib.contextmanager
def client_driver() -> Iterator[str]:
    """A media driver in this process for a client of another process's cluster; its folder removed after.

    The settings are the cluster client's (gateway/cluster_client.py): SHARED threading and a backoff
    idle strategy, because this machine has two cores shared by the whole cluster.
    """
    folder = (SHM if SHM.is_dir() else Path(tempfile.gettempdir())) / f"rfq-bench-client-{os.getpid()}"
    ctx = (
        jvm.jclass("io.aeron.driver.MediaDriver$Context")()
        .aeronDirectoryName(str(folder))
        .threadingMode(jvm.jclass("io.aeron.driver.ThreadingMode").SHARED)
        .sharedIdleStrategy(jvm.jclass("org.agrona.concurrent.BackoffIdleStrategy")(10, 20, 1_000, 1_000_000))
        .dirDeleteOnStart(True)
        .dirDeleteOnShutdown(True)
        .termBufferSparseFile(True)
    )
    driver = jvm.jclass("io.aeron.driver.MediaDriver").launchEmbedded(ctx)
    try:
        yield str(folder)
    finally:
        driver.close()
        shutil.rmtree(folder, ignore_errors=True)


# --------------------------------------------------------------------------------------- configurations
@dataclass(frozen=True)
class Settings:
    commands: int
    latency_commands: int
    warm_up: int
    window: int
    rate: int
    echo_messages: int


def _rfq_runs(target: Target, settings: Settings, workload: Workload, connect_wait_s: float) -> tuple[Run, Run]:
    """Set up instruments (retrying until the cluster answers), warm up, then throughput and latency."""
    setup = workload.setup()
    deadline = time.monotonic() + connect_wait_s
    while True:
        try:
            done = command_load(target, setup, settings.window, 0)
            break
        except Exception as error:  # not up yet, or an election right after it came up
            if time.monotonic() > deadline:
                raise RuntimeError(f"the cluster did not answer within {connect_wait_s:.0f} s") from error
            time.sleep(1.0)
    if done.rejected:
        raise RuntimeError(f"{done.rejected} of the instrument set-up commands were refused")
    command_load(target, workload.batch(settings.warm_up), settings.window, 0)
    throughput = command_load(target, workload.batch(settings.commands), settings.window, 0)
    latency = command_load(target, workload.batch(settings.latency_commands), settings.window, settings.rate)
    return throughput, latency


def one_node(settings: Settings) -> tuple[Run, Run]:
    """RfqService in an embedded node in this process, CommandLoad sharing its media driver."""
    secret = secrets.token_urlsafe(32).encode()
    config = NodeConfig(topology=Topology(port_base=free_port_base()), cluster_secret=secret)
    service = RfqService()
    with EmbeddedNode(config, service) as node:
        target = Target(node.aeron_directory_name, node.ingress_endpoints, secret)
        runs = _rfq_runs(target, settings, Workload(int(time.time() * 1000)), connect_wait_s=10.0)
        host = node.host
        if host is not None and host.service_errors:
            raise RuntimeError(f"the service raised {host.service_errors} times; last: {host.last_error}")
    return runs


def three_nodes(settings: Settings) -> tuple[Run, Run]:
    """LocalCluster (three ``rfq node`` processes) with CommandLoad on a media driver of its own."""
    with tempfile.TemporaryDirectory(prefix="rfq-bench-cluster-") as folder:
        topology = Topology(hosts=("localhost",) * 3, port_base=free_port_base(members=3))
        cluster = LocalCluster(Path(folder) / "cluster", topology)
        try:
            cluster.start()
            with client_driver() as aeron_dir:
                target = Target(aeron_dir, topology.ingress_endpoints(), cluster.secret)
                try:
                    return _rfq_runs(target, settings, Workload(int(time.time() * 1000)), CONNECT_TIMEOUT_S)
                except Exception:
                    for member in cluster.members:
                        print(f"--- node {member} log tail ---\n{cluster.log_tail(member)}")
                    raise
        finally:
            cluster.stop()


def echo(settings: Settings, service: Any) -> tuple[Run, Run]:
    """An echo service on one embedded node (same configuration as ``one_node``): warm-up, throughput,
    then a shorter paced run at the same rate as the RFQ latency runs (what the machine alone costs)."""
    secret = secrets.token_urlsafe(32).encode()
    config = NodeConfig(topology=Topology(port_base=free_port_base()), cluster_secret=secret)
    with EmbeddedNode(config, service) as node:
        target = Target(node.aeron_directory_name, node.ingress_endpoints, secret)
        echo_load(target, settings.warm_up, settings.window, 0)
        throughput = echo_load(target, settings.echo_messages, settings.window, 0)
        latency = echo_load(target, max(1_000, settings.latency_commands // 3), settings.window, settings.rate)
        return throughput, latency


# --------------------------------------------------------------------------------------- report
def median_run(runs: list[Run], key: Callable[[Run], float]) -> Run:
    """The run with the median ``key`` (keeps one consistent set of figures from one run)."""
    return sorted(runs, key=key)[len(runs) // 2]


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def _java_version() -> str:
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        out = subprocess.run(["java", "-version"], capture_output=True, text=True, timeout=30, check=False)
        return out.stderr.splitlines()[0].strip()
    return "java"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--commands", type=int, default=100_000, help="commands per throughput run")
    parser.add_argument("--latency-commands", type=int, default=15_000, help="commands per paced run")
    parser.add_argument("--warm-up", type=int, default=20_000, help="commands (or echoes) before measuring")
    parser.add_argument("--window", type=int, default=256, help="commands in flight")
    parser.add_argument("--rate", type=int, default=1_000, help="paced rate of the latency runs (commands/s)")
    parser.add_argument("--echo-messages", type=int, default=200_000, help="per echo throughput run")
    parser.add_argument(
        "--only", choices=("one", "three", "java-echo", "python-echo"), action="append", help="(profiling)"
    )
    args = parser.parse_args()
    settings = Settings(
        args.commands, args.latency_commands, args.warm_up, args.window, args.rate, args.echo_messages
    )
    chosen = args.only or ["one", "three", "java-echo", "python-echo"]

    jvm.start()
    steps: dict[str, Callable[[], Any]] = {
        "one": lambda: one_node(settings),
        "three": lambda: three_nodes(settings),
        "java-echo": lambda: echo(settings, jvm.jclass("rfq.bench.JavaEchoService")()),
        "python-echo": lambda: echo(settings, EchoService()),
    }
    results: dict[str, list[Any]] = {name: [] for name in chosen}
    load_before = os.getloadavg()
    round_loads: list[float] = []
    started = time.monotonic()
    for round_no in range(args.rounds):
        order = chosen[round_no % len(chosen) :] + chosen[: round_no % len(chosen)]
        for name in order:
            result = steps[name]()
            results[name].append(result)
            if isinstance(result, tuple):
                tp, lat = result
                print(
                    f"round {round_no + 1} {name}: {tp.per_s:,.0f} cmd/s (rejected {tp.rejected + lat.rejected}), "
                    f"at {args.rate}/s p50 {lat.p50_ms:.2f} p99 {lat.p99_ms:.2f} p99.9 {lat.p999_ms:.2f} ms",
                    flush=True,
                )
            else:
                print(f"round {round_no + 1} {name}: {result.per_s:,.0f} msg/s", flush=True)
        round_loads.append(os.getloadavg()[0])
    load_after = os.getloadavg()
    minutes = (time.monotonic() - started) / 60
    # write the report below
    return report(args, results, load_before, load_after, round_loads, minutes)


def report(
    args: argparse.Namespace,
    results: dict[str, list[Any]],
    load_before: tuple[float, float, float],
    load_after: tuple[float, float, float],
    round_loads: list[float],
    minutes: float,
) -> int:
    """Write bench/results/cluster.md and print it, the summary line last."""
    raise NotImplementedError


if __name__ == "__main__":
    raise SystemExit(main())
