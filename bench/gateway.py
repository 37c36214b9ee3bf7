"""bench-gateway: the web gateway's REST and SSE latency over real HTTP, against a real single node.

Deployed as the README describes, each part a process of its own (its own GIL): the node (``rfq
node``, a one-member cluster with a secret; its Python service in that process) and the web gateway
(``rfq gateway web --aeron-dir``, sharing the node's media driver as a gateway on a node's machine
should: one driver per host, the session over IPC; docs/operations.md; ``--own-driver`` gives it a
driver of its own and UDP, as on another machine), in a temporary folder whose
directory is seeded before they start: an operator, a trader, five dealers and the SSE subscribers
(dealers too). No FIX gateway (bench-fix measures that one). The launcher is bench/deployment.py,
shared with bench/fix.py. This process is the load generator only: asyncio, requests over a
keep-alive pool of HTTP/1.1 connections (``KeepAliveClient``, ~0.1 ms of CPU per request;
``--client httpx`` uses ``httpx.AsyncClient`` instead, which costs ~2 ms per request here and makes
the generator the bottleneck: see the class).

REST, open loop: request ``i`` of a run is due at ``t0 + i / rate`` and is sent then whatever the
earlier ones are doing; its latency runs from that due time to its response, so a stall delays every
request due meanwhile and shows in the percentiles instead of slowing the generator down (no
coordinated omission). Before the first run, a minute of unmeasured creates at 200/s (``--prewarm``:
the JVMs compile for about that long after start); each run has a warm-up too (its first seconds are
not counted). Measured:

- ``POST /v1/rfqs`` (create an RFQ asking the five dealers, with an Idempotency-Key, as clients are
  told to send): the cluster path;
- ``GET /v1/me`` (bearer token → SQLite lookup → JSON, no cluster): the same run's reference, at the
  same rates, alternating with the creates, so the machine's and the generator's own noise shows apart
  from the cluster path;
- the highest create rate held: rates stepped up until p99 > 10 ms, an error, or fewer responses per
  second than asked.

Each create's answer carries the RFQ's ``created_at``, the cluster time (ms, truncated) at which the
leader appended the command to its log: it splits the latency into before the cluster (HTTP, auth,
idempotency row, hand-off to the cluster thread, Aeron ingress, consensus) and after it (egress, the
core's event loop, rendering, the response), to within a millisecond.

SSE: the subscribers' streams are opened (each gets its snapshot), then the operator toggles
instruments (disable / enable: a broadcast, to every stream) in an open loop at 20/s; each
subscriber's receipt of each toggle is one delivery. Latency = receipt time minus the due (send) time
of the POST that caused it: what a user sees (an action → everyone's screen), with microsecond clocks
of one process at both ends, and an upper bound of "cluster event → received". Then a second SSE load
whose events carry the cluster time in their data: RFQs created at 20/s, each inviting 10 of the
subscribers (``rfq_invited``). Receipt times are taken in an ``asyncio.Protocol``'s ``data_received``
(parsing comes after the run), so the generator's own parsing of 99 streams is not billed to the
hundredth.

Inside the node's and the gateway's processes (``serve_wrapped``: this file is their entry point, the
same ``rfq node`` and ``rfq gateway web`` with Python threads named for /proc): the CPU of each
thread of both during each run, and the gateway's memory (RSS) before and after each run; unless
``--no-trace``, in the gateway's process, a timestamp at each step of every command through it
(``_install_trace``: a few µs per command), which gives where a create's time goes, and for the SSE
deliveries the moment the event came out of the cluster and its cluster time (ms) → receipt; and
every garbage collection's pause (``gc.callbacks``) with the objects it freed, and the objects frozen
by the gateway's collector policy (rfq/collector.py).

    make bench-gateway                  # writes bench/results/gateway.md; the last line is the summary
    .venv/bin/python bench/gateway.py --smoke        # a few seconds of each load, nothing written
    .venv/bin/python bench/gateway.py --profile DIR  # also cProfile the gateway's threads into DIR
    .venv/bin/python bench/gateway.py --smoke --switch-interval 0.0005   # compare a platform setting
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import itertools
import json
import math
import os
import platform
import re
import signal
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from rfq.cluster.domain.cusip import check_digit
from rfq.gateway.identity import Directory
from rfq.jvm import DEFAULT_MAX_PARK_US

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # bench/ is a folder of scripts
from bench.deployment import Deployment, free_tcp_port

RESULTS = Path(__file__).resolve().parent / "results" / "gateway.md"
TARGET_P99_MS = 10.0
TARGET_SSE_P99_MS = 20.0
DEALERS = [f"dealer-{n}" for n in range(1, 6)]
INVITED_PER_RFQ = 10
TOGGLED_INSTRUMENTS = 20
RFQ_TTL_S = 3_600
"""Far beyond the bench: no RFQ expires (no timer events) while it runs."""


def cusip(base: str) -> str:
    return base + str(check_digit(base))


RFQ_CUSIP = cusip("BENCH001")
TOGGLE_CUSIPS = [cusip(f"TOGGL{n:03d}") for n in range(TOGGLED_INSTRUMENTS)]


# --- the platform: a node and the web gateway, each a process --------------------------------
class Platform:
    """One node (``rfq node``, one member) and the web gateway (``rfq gateway web``), each a process
    of its own as the README deploys them (bench/deployment.py, shared with bench/fix.py), both
    started through this file (``serve_wrapped``: Python threads named for /proc, and in the gateway
    the trace); :meth:`stop` ends them and removes their folders."""

    def __init__(self, idle_max_park_us: int, share_driver: bool = False) -> None:
        self.deployment = Deployment(
            "rfq-bench-gateway-", idle_max_park_us=idle_max_park_us, share_driver=share_driver
        )
        self.directory_path = self.deployment.gateway_dir / "gateway.sqlite"
        """Seed it before :meth:`start`."""
        self.url = ""
        self.pids: dict[str, int] = {}
        """The processes measured, by label: ``node``, ``gateway``."""

    def start(self, wrap: dict[str, Any], env: dict[str, str], timeout_s: float = 180.0) -> None:
        """Start the node, then the gateway; ``wrap`` is ``serve_wrapped``'s options for the gateway
        (the node gets none but the thread names), ``env`` adds to the gateway's environment."""
        wrapper = (sys.executable, __file__, "--serve-wrapped")
        self.deployment.start_node(launcher=(*wrapper, "{}"))
        port = free_tcp_port()
        self.url = f"http://127.0.0.1:{port}"
        gateway = self.deployment.start_gateway(
            "web", f"--port={port}", env=env, launcher=(*wrapper, json.dumps(wrap))
        )
        self.pids = {"node": self.deployment.node_pid, "gateway": gateway.pid}
        self.deployment.wait_ready(self.url, timeout_s=timeout_s)

    @property
    def gateway_pid(self) -> int:
        return self.pids["gateway"]

    def stop_gateway(self) -> None:
        """The gateway first (it writes its trace as it stops)."""
        self.deployment.stop_gateways()

    def stop(self) -> None:
        self.deployment.stop()

    def cpu_seconds(self) -> float:
        """User + system CPU time the node and the gateway have used so far (from /proc)."""
        return sum(_cpu(Path(f"/proc/{pid}/stat")) for pid in self.pids.values())

    def thread_cpu(self) -> dict[tuple[int, str], float]:
        """CPU seconds so far of each thread of both processes, by (thread id, ``process: name``)."""
        found = {}
        for label, pid in self.pids.items():
            for task in Path(f"/proc/{pid}/task").iterdir():
                try:
                    name = (task / "comm").read_text().strip()
                    found[(int(task.name), f"{label}: {name}")] = _cpu(task / "stat")
                except (OSError, ValueError):
                    continue  # the thread ended meanwhile
        return found

    def gateway_rss_mb(self) -> float:
        """The gateway process's resident memory now, MB (VmRSS)."""
        for line in Path(f"/proc/{self.gateway_pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return math.nan


def _cpu(stat: Path) -> float:
    fields = stat.read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def busiest(before: dict[tuple[int, str], float], after: dict[tuple[int, str], float], seconds: float) -> str:
    """The threads that used the most CPU between two ``thread_cpu`` readings, as text (cores)."""
    use: dict[str, float] = defaultdict(float)
    for key, cpu in after.items():
        name = re.sub(r"[-_ ]?\d+$", "", key[1])  # one row per kind of thread
        use[name] += (cpu - before.get(key, 0.0)) / seconds
    top = sorted(use.items(), key=lambda item: -item[1])[:6]
    return ", ".join(f"{name} {cores:.2f}" for name, cores in top if cores >= 0.01)


def seed_directory(path: Path, subscribers: int) -> dict[str, str]:
    """The users, added before the gateway starts; their tokens by name."""
    directory = Directory(path)
    tokens: dict[str, str] = {}
    try:
        users = [("ops", "operator"), ("trader", "trader")] + [(name, "dealer") for name in DEALERS]
        users += [(subscriber_name(n), "dealer") for n in range(subscribers)]
        for name, role in users:
            user = directory.add_user(name, role)
            tokens[name] = directory.issue_token(user.user_id, "bench")
    finally:
        directory.close()
    return tokens


def subscriber_name(n: int) -> str:
    return f"sse-{n:03d}"


# --- HTTP clients -----------------------------------------------------------------------------
class KeepAliveClient:
    """A minimal HTTP/1.1 client over asyncio streams with a keep-alive pool: the load generator's.

    Why not httpx on the measured path: on this machine ``httpx.AsyncClient`` costs 1.8-2.6 ms of CPU per
    request (httpcore over anyio: an epoll registration per read, and without ``sniffio`` a failing
    import per request), this client ~0.1 ms; with httpx the generator needs a core at ~400 requests/s
    and its own queueing, not the gateway's, fills the percentiles (``--client httpx`` shows it). Each
    request is one write (asyncio sets TCP_NODELAY); answers have a Content-Length (the gateway's do).
    """

    IDLE_S = 4.0
    """An idle connection is dropped after this long: uvicorn closes them after 5 s."""
    MAX_CONNECTIONS = 256
    """Past this many requests in flight, a request waits for a connection (its latency counts on from
    its due time): a saturated gateway is not buried under new connections."""

    def __init__(self, url: str) -> None:
        self.host, port = url.removeprefix("http://").rsplit(":", 1)
        self.port = int(port)
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter, float]] = []
        self._open: set[asyncio.StreamWriter] = set()
        self._slots = asyncio.Semaphore(self.MAX_CONNECTIONS)

    async def request(
        self, method: str, path: str, headers: dict[str, str], body: bytes | None = None
    ) -> tuple[int, bytes]:
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        if body is not None:
            lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
        message = "\r\n".join(lines).encode() + b"\r\n\r\n" + (body or b"")
        async with self._slots:
            return await self._send(message)

    async def _send(self, message: bytes) -> tuple[int, bytes]:
        reader, writer, reused = await self._connection()
        try:
            return await self._exchange(reader, writer, message)
        except asyncio.IncompleteReadError as error:
            # the server closed a kept-alive connection as it was reused: send again on a new one
            # (safe: a GET, or a POST with an Idempotency-Key)
            if not reused or error.partial:
                raise
        reader, writer = await self._connect()
        return await self._exchange(reader, writer, message)

    async def _connection(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, bool]:
        now = time.monotonic()
        while self._idle:
            reader, writer, since = self._idle.pop()
            if now - since < self.IDLE_S and not reader.at_eof():
                return reader, writer, True
            self._close(writer)
        return (*await self._connect(), False)

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        reader, writer = await asyncio.open_connection(self.host, self.port)
        self._open.add(writer)
        return reader, writer

    async def _exchange(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, message: bytes
    ) -> tuple[int, bytes]:
        try:
            writer.write(message)
            head = (await reader.readuntil(b"\r\n\r\n")).lower()
            found = re.search(rb"\r\ncontent-length: *(\d+)", head)
            data = await reader.readexactly(int(found.group(1))) if found else b""
        except BaseException:
            self._close(writer)
            raise
        if found is None or b"\r\nconnection: close" in head:
            self._close(writer)
        else:
            self._idle.append((reader, writer, time.monotonic()))
        return int(head[9:12]), data

    def _close(self, writer: asyncio.StreamWriter) -> None:
        self._open.discard(writer)
        writer.close()

    async def aclose(self) -> None:
        for writer in self._open:
            writer.close()
        self._open.clear()
        self._idle.clear()


class HttpxClient:
    """The same interface over ``httpx.AsyncClient`` (keep-alive pool): ``--client httpx``."""

    def __init__(self, url: str) -> None:
        self._client = httpx.AsyncClient(
            base_url=url,
            timeout=30.0,
            limits=httpx.Limits(
                max_connections=KeepAliveClient.MAX_CONNECTIONS,
                max_keepalive_connections=KeepAliveClient.MAX_CONNECTIONS,
            ),
        )

    async def request(
        self, method: str, path: str, headers: dict[str, str], body: bytes | None = None
    ) -> tuple[int, bytes]:
        if body is not None:
            headers = {**headers, "Content-Type": "application/json"}
        response = await self._client.request(method, path, headers=headers, content=body)
        return response.status_code, response.content

    async def aclose(self) -> None:
        await self._client.aclose()


Client = KeepAliveClient | HttpxClient


# --- open-loop load ---------------------------------------------------------------------------
@dataclass
class Sample:
    due: float
    sent: float
    done: float
    status: int
    cluster_ms: float | None = None
    """The cluster time (epoch ms) the answer reports, when it has one."""
    body: Any = None


async def open_loop(
    rate: float, seconds: float, request: Callable[[int], Awaitable[tuple[int, Any]]]
) -> list[Sample]:
    """Send ``request(i)`` at ``t0 + i / rate`` for ``seconds``, never waiting for an answer to send the
    next; the samples in the order they were due."""
    count = max(1, round(rate * seconds))
    samples: list[Sample | None] = [None] * count

    async def one(i: int, due: float) -> None:
        sent = time.perf_counter()
        try:
            status, body = await request(i)
        except (httpx.HTTPError, OSError, asyncio.IncompleteReadError) as error:
            status, body = 0, repr(error)
        samples[i] = Sample(due, sent, time.perf_counter(), status, body=body)

    tasks = []
    t0 = time.perf_counter() + 0.01
    for i in range(count):
        due = t0 + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i, due)))
    await asyncio.gather(*tasks)
    return [s for s in samples if s is not None]


@dataclass(frozen=True)
class Run:
    """One measured run of one endpoint at one rate (warm-up excluded)."""

    name: str
    rate: float
    seconds: float
    count: int
    errors: int
    p50_ms: float
    p99_ms: float
    p999_ms: float
    max_ms: float
    answered_per_s: float
    lag_p99_ms: float
    """The generator's own lateness: due time → the request's coroutine starting."""
    to_cluster_p50_ms: float | None = None
    to_cluster_p99_ms: float | None = None
    from_cluster_p50_ms: float | None = None
    from_cluster_p99_ms: float | None = None
    load: float = 0.0
    platform_cores: float = 0.0
    """CPU the node and the gateway used during the run, in cores."""
    live_rfqs_before: int = 0
    error_text: str = ""
    run_id: int = 0
    threads: str = ""
    """The platform's busiest threads during the run (cores)."""
    window: tuple[float, float] = (0.0, 0.0)
    """When the run started and ended (``perf_counter``, CLOCK_MONOTONIC: the trace's clock too)."""
    gateway_rss_mb: tuple[float, float] = (0.0, 0.0)
    """The gateway process's resident memory before and after the run, MB."""

    @property
    def held(self) -> bool:
        return self.errors == 0 and self.p99_ms <= TARGET_P99_MS and self.answered_per_s >= 0.95 * self.rate


def summarise(
    name: str, rate: float, warmup_s: float, samples: list[Sample], wall_offset: float, **extra: Any
) -> Run:
    start = samples[0].due + warmup_s
    measured = [s for s in samples if s.due >= start]
    latency = np.array([(s.done - s.due) * 1e3 for s in measured])
    lag = np.array([(s.sent - s.due) * 1e3 for s in measured])
    failures = [s for s in measured if not 200 <= s.status < 300]
    end = max(s.done for s in measured)
    span = measured[-1].due - measured[0].due + 1 / rate
    splits: dict[str, float | None] = {}
    clustered = [s for s in measured if s.cluster_ms is not None]
    if clustered:
        to_cluster = np.array([s.cluster_ms - (s.due + wall_offset) * 1e3 for s in clustered])  # type: ignore[operator]
        from_cluster = np.array([(s.done + wall_offset) * 1e3 - s.cluster_ms for s in clustered])  # type: ignore[operator]
        splits = {
            "to_cluster_p50_ms": float(np.percentile(to_cluster, 50)),
            "to_cluster_p99_ms": float(np.percentile(to_cluster, 99)),
            "from_cluster_p50_ms": float(np.percentile(from_cluster, 50)),
            "from_cluster_p99_ms": float(np.percentile(from_cluster, 99)),
        }
    return Run(
        name=name,
        rate=rate,
        seconds=span,
        count=len(measured),
        errors=len(failures),
        p50_ms=float(np.percentile(latency, 50)),
        p99_ms=float(np.percentile(latency, 99)),
        p999_ms=float(np.percentile(latency, 99.9)),
        max_ms=float(latency.max()),
        answered_per_s=len(measured) / max(end - measured[0].due, 1e-9),
        lag_p99_ms=float(np.percentile(lag, 99)),
        error_text="; ".join(sorted({f"{s.status} {str(s.body)[:120]}" for s in failures})[:3]),
        **splits,  # type: ignore[arg-type]
        **extra,
    )


def _json(body: dict[str, Any] | None) -> bytes | None:
    return None if body is None else json.dumps(body, separators=(",", ":")).encode()


def cluster_ms(created_at: str) -> float:
    """An RFC 3339 time the gateway wrote (cluster milliseconds) as epoch milliseconds."""
    return datetime.fromisoformat(created_at).timestamp() * 1e3


class Bench:
    """The load generator's side: one HTTP client, the users' tokens, the platform's URL."""

    def __init__(self, platform_: Platform, tokens: dict[str, str], client: str) -> None:
        self.platform = platform_
        self.tokens = tokens
        self.http: Client = (
            HttpxClient(platform_.url) if client == "httpx" else KeepAliveClient(platform_.url)
        )
        self.keys = itertools.count(1)
        self.run_id = 0
        """Creates of run ``r`` send Idempotency-Key ``c<r>-<i>``: a trace finds them by it."""
        self.samples: dict[int, list[Sample]] = {}
        """Each measured create run's samples, by run id."""
        self.rfqs_created = 0
        # one process's wall clock against its performance counter: cluster times are wall-clock ms
        self.wall_offset = time.time() - time.perf_counter()

    def auth(self, user: str, key: bool = False) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.tokens[user]}"}
        if key:
            headers["Idempotency-Key"] = f"bench-{next(self.keys)}"
        return headers

    async def post(
        self, user: str, path: str, body: dict[str, Any] | None = None, key: str | None = None
    ) -> tuple[int, Any]:
        headers = self.auth(user, key=key is None)
        if key is not None:
            headers["Idempotency-Key"] = key
        status, data = await self.http.request("POST", path, headers, _json(body))
        return status, json.loads(data)

    async def setup(self) -> dict[str, int]:
        """The instruments, added through the API; their ids by CUSIP."""
        ids: dict[str, int] = {}
        for code in [RFQ_CUSIP, *TOGGLE_CUSIPS]:
            status, body = await self.post("ops", "/v1/instruments", {"cusip": code, "min_quantity": 1_000})
            if status != 201:
                raise RuntimeError(f"adding {code}: {status} {body}")
            ids[code] = int(body["instrument_id"])
        return ids

    # --- REST ---------------------------------------------------------------------------------
    async def create_rfq(self, i: int, dealers: list[str] | None = None) -> tuple[int, Any]:
        body = {
            "cusip": RFQ_CUSIP,
            "side": "buy" if i % 2 else "sell",
            "quantity": 1_000_000,
            "ttl_seconds": RFQ_TTL_S,
            "client_order_id": f"b{next(self.keys)}",
            "dealers": dealers or DEALERS,
        }
        headers = {**self.auth("trader"), "Idempotency-Key": f"c{self.run_id}-{i}"}
        return await self.http.request("POST", "/v1/rfqs", headers, _json(body))

    async def me(self, i: int) -> tuple[int, Any]:
        return await self.http.request("GET", "/v1/me", self.auth("trader"))

    async def measure(self, name: str, rate: float, warmup_s: float, seconds: float) -> Run:
        request = self.create_rfq if name == "create" else self.me
        self.run_id += 1
        live_before = self.rfqs_created
        load = os.getloadavg()[0]
        cpu, threads = self.platform.cpu_seconds(), self.platform.thread_cpu()
        rss_before = self.platform.gateway_rss_mb()
        started = time.perf_counter()
        samples = await open_loop(rate, warmup_s + seconds, request)
        ended = time.perf_counter()
        elapsed = ended - started
        cores = (self.platform.cpu_seconds() - cpu) / elapsed
        by_thread = busiest(threads, self.platform.thread_cpu(), elapsed)
        if name == "create":
            for sample in samples:
                if sample.status == 201:
                    self.rfqs_created += 1
                    sample.cluster_ms = cluster_ms(json.loads(sample.body)["created_at"])
        run = summarise(
            name,
            rate,
            warmup_s,
            samples,
            self.wall_offset,
            load=load,
            platform_cores=cores,
            live_rfqs_before=live_before,
            run_id=self.run_id,
            threads=by_thread,
            window=(started, ended),
            gateway_rss_mb=(rss_before, self.platform.gateway_rss_mb()),
        )
        if name == "create":
            self.samples[self.run_id] = samples
        print(
            f"  {name:>6} at {rate:>5.0f}/s: p50 {run.p50_ms:6.2f} ms, p99 {run.p99_ms:6.2f} ms, "
            f"max {run.max_ms:7.2f} ms, {run.answered_per_s:6.0f} answered/s, errors {run.errors}, "
            f"generator lag p99 {run.lag_p99_ms:.2f} ms, platform {cores:.2f} cores, load {load:.2f}"
            + (
                f"; send → cluster p50 {run.to_cluster_p50_ms:.1f} ms, cluster → answer p50 "
                f"{run.from_cluster_p50_ms:.1f} ms"
                if run.to_cluster_p50_ms is not None and run.from_cluster_p50_ms is not None
                else ""
            )
            + f"\n      threads (cores): {by_thread}; gateway RSS {run.gateway_rss_mb[0]:.0f} → "
            f"{run.gateway_rss_mb[1]:.0f} MB" + (f" [{run.error_text}]" if run.errors else ""),
            flush=True,
        )
        await asyncio.sleep(0.5)
        return run

    async def metrics(self) -> dict[str, float]:
        """The gateway's own submit → outcome histogram for CreateRfq (cumulative counts by bucket
        bound, from /metrics; empty if it has none)."""
        status, data = await self.http.request("GET", "/metrics", {})
        found: dict[str, dict[str, float]] = defaultdict(dict)
        pattern = re.compile(r"^(rfq_gateway_command\w*_seconds)_bucket\{(.*)\} (\S+)$")
        for line in data.decode().splitlines() if status == 200 else []:
            match = pattern.match(line)
            bound = re.search(r'le="([^"]+)"', match.group(2)) if match else None
            if match and bound and 'command="CreateRfq"' in match.group(2):
                found[match.group(1)][bound.group(1)] = float(match.group(3))
        for name in ("rfq_gateway_command_round_trip_seconds", "rfq_gateway_command_seconds"):
            if name in found:
                return found[name]
        return {}


# --- SSE --------------------------------------------------------------------------------------
class SseStream(asyncio.Protocol):
    """One subscriber's raw stream: bytes timestamped as they arrive; parsed after the run."""

    def __init__(self) -> None:
        self.pieces: list[tuple[float, bytes]] = []
        self.transport: asyncio.Transport | None = None
        self.closed = asyncio.Event()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.pieces.append((time.perf_counter(), data))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed.set()

    def received(self, marker: bytes) -> int:
        return sum(piece.count(marker) for _, piece in self.pieces)

    def events(self) -> Iterator[tuple[float, str, str]]:
        """(receipt time, event name, data) of every event, in order: the HTTP head is skipped, the
        chunked body decoded, SSE lines read (any of the three line ends)."""
        parser = _SseParser()
        for at, piece in self.pieces:
            for name, data in parser.feed(piece):
                yield at, name, data


class _SseParser:
    """Incremental: HTTP/1.1 response head, chunked transfer coding, then server-sent events."""

    def __init__(self) -> None:
        self.raw = b""
        self.head_done = False
        self.chunked = False
        self.chunk_left = -1
        """Data bytes left in the current chunk; -1: a size line comes next."""
        self.crlf_left = 0
        self.text = b""
        self.event: dict[str, str] = {}

    def feed(self, data: bytes) -> list[tuple[str, str]]:
        self.raw += data
        if not self.head_done:
            head, sep, rest = self.raw.partition(b"\r\n\r\n")
            if not sep:
                return []
            status = head.split(b"\r\n", 1)[0]
            if b" 200 " not in status:
                raise RuntimeError(f"the event stream answered {status!r}")
            self.chunked = b"transfer-encoding: chunked" in head.lower()
            self.head_done, self.raw = True, rest
        if not self.chunked:
            self.text += self.raw
            self.raw = b""
        while self.chunked and self.raw:
            if self.crlf_left:  # the CRLF closing a chunk's data
                dropped = min(self.crlf_left, len(self.raw))
                self.raw, self.crlf_left = self.raw[dropped:], self.crlf_left - dropped
            elif self.chunk_left < 0:
                size_line, sep, rest = self.raw.partition(b"\r\n")
                if not sep:
                    break
                self.chunk_left, self.raw = int(size_line.split(b";")[0], 16), rest
                if self.chunk_left == 0:  # the last chunk: the stream ended
                    self.chunked, self.raw = False, b""
            else:
                take = self.raw[: self.chunk_left]
                self.text += take
                self.raw, self.chunk_left = self.raw[len(take) :], self.chunk_left - len(take)
                if self.chunk_left == 0:
                    self.chunk_left, self.crlf_left = -1, 2
        return self._lines()

    def _lines(self) -> list[tuple[str, str]]:
        found: list[tuple[str, str]] = []
        text, held = (self.text[:-1], b"\r") if self.text.endswith(b"\r") else (self.text, b"")
        lines = re.split(rb"\r\n|\r|\n", text)
        self.text = lines.pop() + held  # the incomplete last line (and maybe the first half of a CRLF)
        for line in lines:
            if not line:
                if "data" in self.event:
                    found.append((self.event.get("event", "message"), self.event["data"]))
                self.event = {}
            elif not line.startswith(b":"):
                name, _, value = line.decode().partition(":")
                self.event[name] = value[1:] if value.startswith(" ") else value
        return found


@dataclass
class Deliveries:
    """Latencies of one SSE load's deliveries, ms."""

    name: str
    sent: int
    expected: int
    delivered: int
    p50_ms: float
    p99_ms: float
    p999_ms: float
    max_ms: float
    cluster_p50_ms: float | None = None
    cluster_p99_ms: float | None = None
    cluster_max_ms: float | None = None
    post_p99_ms: float = 0.0
    """The POSTs' own latency (due → response)."""
    load: float = 0.0
    raw: list[tuple[str, float]] = field(default_factory=list)
    """Each measured delivery: the causing POST's Idempotency-Key, the receipt time."""
    traced: dict[str, tuple[float, float, float]] = field(default_factory=dict)
    """With ``--trace``: (p50, p99, max ms) of the cluster's event reaching the gateway → receipt
    (``gateway``) and of the event's cluster time → receipt (``cluster``)."""


async def open_streams(url: str, tokens: list[str], timeout_s: float = 60.0) -> list[SseStream]:
    host, port = url.removeprefix("http://").rsplit(":", 1)
    loop = asyncio.get_running_loop()
    streams = []
    for token in tokens:
        transport, stream = await loop.create_connection(SseStream, host, int(port))
        request = (
            f"GET /v1/events HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {token}\r\n"
            "Accept: text/event-stream\r\nCache-Control: no-cache\r\n\r\n"
        )
        transport.write(request.encode())
        streams.append(stream)
        await asyncio.sleep(0.01)
    deadline = time.monotonic() + timeout_s
    while not all(s.received(b"event: snapshot") for s in streams):
        if time.monotonic() > deadline:
            missing = sum(not s.received(b"event: snapshot") for s in streams)
            raise TimeoutError(f"{missing} of {len(streams)} streams had no snapshot in {timeout_s:.0f} s")
        await asyncio.sleep(0.05)
    return streams


async def wait_for(streams: list[SseStream], marker: bytes, count: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while any(s.received(marker) < count for s in streams) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)


async def sse_toggles(
    bench: Bench, streams: list[SseStream], ids: dict[str, int], rate: float, seconds: float, warmup_s: float
) -> Deliveries:
    """Broadcasts: toggle ``k`` disables (even passes) or enables instrument ``k % N``; each stream's
    ``j``-th update of instrument ``m`` is therefore toggle ``j * N + m``."""
    toggled = [ids[c] for c in TOGGLE_CUSIPS]
    index = {instrument: m for m, instrument in enumerate(toggled)}

    bench.run_id += 1

    def key(k: int) -> str:
        return f"t{bench.run_id}-{k}"

    async def toggle(k: int) -> tuple[int, Any]:
        action = "disable" if (k // TOGGLED_INSTRUMENTS) % 2 == 0 else "enable"
        path = f"/v1/instruments/{toggled[k % TOGGLED_INSTRUMENTS]}/{action}"
        return await bench.post("ops", path, key=key(k))

    load = os.getloadavg()[0]
    samples = await open_loop(rate, warmup_s + seconds, toggle)
    bad = [s for s in samples if s.status != 200]
    if bad:
        raise RuntimeError(f"{len(bad)} toggles failed: {bad[0].status} {bad[0].body}")
    await wait_for(streams, b"instrument_updated", len(samples), 10.0)
    first = samples[0].due + warmup_s
    latencies: list[float] = []
    raw: list[tuple[str, float]] = []
    for stream in streams:
        seen: dict[int, int] = defaultdict(int)
        for at, name, data in stream.events():
            if name != "instrument_updated":
                continue
            instrument = json.loads(data)["instrument"]
            m = index[instrument["instrument_id"]]
            k = seen[m] * TOGGLED_INSTRUMENTS + m
            seen[m] += 1
            if instrument["enabled"] != ((k // TOGGLED_INSTRUMENTS) % 2 == 1):
                raise RuntimeError(f"update {k} of instrument {m} out of order")
            if samples[k].due >= first:
                latencies.append((at - samples[k].due) * 1e3)
                raw.append((key(k), at))
    measured = [s for s in samples if s.due >= first]
    return _deliveries("instrument toggles (broadcast)", measured, latencies, len(streams), [], load, raw)


async def sse_invites(
    bench: Bench, streams: list[SseStream], rate: float, seconds: float, warmup_s: float
) -> Deliveries:
    """RFQ ``k`` invites subscribers ``(k % G) * 10 ... + 9``: each receives ``rfq_invited`` with
    the RFQ's cluster time."""
    groups = len(streams) // INVITED_PER_RFQ

    async def create(k: int) -> tuple[int, Any]:
        g = k % groups
        names = [subscriber_name(g * INVITED_PER_RFQ + n) for n in range(INVITED_PER_RFQ)]
        status, body = await bench.create_rfq(k, names)
        return status, json.loads(body)

    load = os.getloadavg()[0]
    bench.run_id += 1  # new Idempotency-Keys
    samples = await open_loop(rate, warmup_s + seconds, create)
    bad = [s for s in samples if s.status != 201]
    if bad:
        raise RuntimeError(f"{len(bad)} creates failed: {bad[0].status} {bad[0].body}")
    bench.rfqs_created += len(samples)
    by_rfq = {s.body["rfq_id"]: (i, s) for i, s in enumerate(samples)}
    first = samples[0].due + warmup_s
    per_stream = len(samples) // groups
    await wait_for(streams[: groups * INVITED_PER_RFQ], b"event: rfq_invited", per_stream, 10.0)
    latencies: list[float] = []
    from_cluster: list[float] = []
    raw: list[tuple[str, float]] = []
    for stream in streams[: groups * INVITED_PER_RFQ]:
        for at, name, data in stream.events():
            if name != "rfq_invited":
                continue
            rfq = json.loads(data)["rfq"]
            i, sample = by_rfq[rfq["rfq_id"]]
            if sample.due >= first:
                latencies.append((at - sample.due) * 1e3)
                from_cluster.append((at + bench.wall_offset) * 1e3 - cluster_ms(rfq["created_at"]))
                raw.append((f"c{bench.run_id}-{i}", at))
    measured = [s for s in samples if s.due >= first]
    return _deliveries(
        f"RFQ invitations ({INVITED_PER_RFQ} subscribers each)",
        measured,
        latencies,
        INVITED_PER_RFQ,
        from_cluster,
        load,
        raw,
    )


def _deliveries(
    name: str,
    measured: list[Sample],
    latencies: list[float],
    fanout: int,
    from_cluster: list[float],
    load: float,
    raw: list[tuple[str, float]],
) -> Deliveries:
    values = np.array(latencies) if latencies else np.array([math.nan])
    post = np.array([(s.done - s.due) * 1e3 for s in measured])
    cluster = np.array(from_cluster) if from_cluster else None
    return Deliveries(
        name=name,
        sent=len(measured),
        expected=len(measured) * fanout,
        delivered=len(latencies),
        p50_ms=float(np.percentile(values, 50)),
        p99_ms=float(np.percentile(values, 99)),
        p999_ms=float(np.percentile(values, 99.9)),
        max_ms=float(values.max()),
        cluster_p50_ms=None if cluster is None else float(np.percentile(cluster, 50)),
        cluster_p99_ms=None if cluster is None else float(np.percentile(cluster, 99)),
        cluster_max_ms=None if cluster is None else float(cluster.max()),
        post_p99_ms=float(np.percentile(post, 99)),
        load=load,
        raw=raw,
    )


def trace_deliveries(trace: list[list[Any]], deliveries: Deliveries, wall_offset: float) -> None:
    """Fill ``deliveries.traced`` from the platform's trace: when the causing command's first event came
    out of the cluster (on the gateway's cluster thread) and its cluster time, against each receipt."""
    key_ids = {name: value for step, name, value, *_ in trace if step == "key"}
    egress: dict[int, tuple[float, int | None]] = {}
    for step, name, value, *extra in trace:
        if step == "egress" and name is not None and name not in egress:
            egress[name] = (value, extra[0] if extra else None)
    gateway, cluster = [], []
    for key, at in deliveries.raw:
        found = egress.get(key_ids.get(key, -1))
        if found is None:
            continue
        gateway.append((at - found[0]) * 1e3)
        if found[1] is not None:
            cluster.append((at + wall_offset) * 1e3 - found[1])
    for name, values in (("gateway", gateway), ("cluster", cluster)):
        if values:
            deliveries.traced[name] = (
                float(np.percentile(values, 50)),
                float(np.percentile(values, 99)),
                float(max(values)),
            )


# --- the whole bench --------------------------------------------------------------------------
@dataclass
class Config:
    pair_rates: list[float]
    step_rates: list[float]
    warmup_s: float
    seconds: float
    subscribers: int
    sse_rate: float
    sse_seconds: float
    prewarm_s: float = 60.0
    """Seconds of unmeasured creates at ``prewarm_rate`` before the idle CPU and the first run: the
    JVMs' JIT compilers are busy for about a minute after start (bench-fix measured it), which a
    3-second warm-up left inside the first runs."""
    prewarm_rate: float = 200.0
    client: str = "asyncio"
    idle_max_park_us: int = DEFAULT_MAX_PARK_US
    share_driver: bool = True


@dataclass
class Report:
    pairs: list[tuple[Run, Run]] = field(default_factory=list)
    steps: list[Run] = field(default_factory=list)
    gateway_histogram: dict[float, tuple[float, float]] = field(default_factory=dict)
    """Per pair rate: the gateway's own submit → outcome p50 and p99 (from its /metrics), ms."""
    toggles: Deliveries | None = None
    invites: Deliveries | None = None
    max_rps: float = 0.0
    idle_cores: float = 0.0
    """CPU the node and the gateway use with no traffic (the node's and the drivers' idle loops)."""
    samples: dict[int, list[Sample]] = field(default_factory=dict)
    """The measured create runs' samples, by run id (for ``--trace``)."""
    wall_offset: float = 0.0
    breakdown: dict[str, list[tuple[str, float, float, float]]] = field(default_factory=dict)
    """Per create run (by its rate): (step, p50, p99, max ms) of the creates' way through the gateway."""
    collections: list[Collections] = field(default_factory=list)
    """Per REST run: the gateway's garbage collections during it, their pauses (ms) by generation."""
    gc_policy: str = ""
    """The gateway's collector settings, as it logged them."""
    frozen: list[tuple[float, int]] = field(default_factory=list)
    """(time, objects frozen) after each of the gateway's full collections."""


async def run_bench(platform_: Platform, tokens: dict[str, str], config: Config) -> Report:
    bench = Bench(platform_, tokens, config.client)
    report = Report()
    try:
        ids = await bench.setup()
        # warm the gateway, the node and the pool: unmeasured creates and reads (Config.prewarm_s: why)
        bench.run_id += 1
        await open_loop(config.prewarm_rate, config.prewarm_s, bench.create_rfq)
        bench.rfqs_created += int(config.prewarm_rate * config.prewarm_s)
        await open_loop(100, 1, bench.me)
        cpu, started = platform_.cpu_seconds(), time.perf_counter()
        await asyncio.sleep(3.0)
        report.idle_cores = (platform_.cpu_seconds() - cpu) / (time.perf_counter() - started)
        print(f"platform idle: {report.idle_cores:.2f} cores", flush=True)

        print("REST: create RFQ beside GET /v1/me (the reference), same rates, alternating", flush=True)
        for n, rate in enumerate(config.pair_rates):
            order = ("me", "create") if n % 2 == 0 else ("create", "me")
            runs: dict[str, Run] = {}
            for name in order:
                before = await bench.metrics() if name == "create" else {}
                runs[name] = await bench.measure(name, rate, config.warmup_s, config.seconds)
                if name == "create":
                    after = await bench.metrics()
                    if after:
                        report.gateway_histogram[rate] = histogram_percentiles(before, after)
            report.pairs.append((runs["create"], runs["me"]))

        print(f"REST: create RFQ, rates stepped up until p99 > {TARGET_P99_MS:g} ms", flush=True)
        for rate in config.step_rates:
            run = await bench.measure("create", rate, config.warmup_s, config.seconds)
            report.steps.append(run)
            if not run.held:
                break
        held = [run.rate for run in report.steps if run.held]
        report.max_rps = max(held) if held and report.steps[0].held else 0.0
        if report.steps and not report.steps[0].held:
            for rate in (100.0, 50.0):  # below the first step
                run = await bench.measure("create", rate, config.warmup_s, config.seconds)
                report.steps.insert(0, run)
                if run.held:
                    report.max_rps = rate
                    break

        print(f"SSE: {config.subscribers} subscribers", flush=True)
        names = [subscriber_name(n) for n in range(config.subscribers)]
        streams = await open_streams(platform_.url, [tokens[n] for n in names])
        try:
            sse_warmup = min(1.0, config.sse_seconds / 5)
            report.toggles = await sse_toggles(
                bench, streams, ids, config.sse_rate, config.sse_seconds, sse_warmup
            )
            print_deliveries(report.toggles)
            report.invites = await sse_invites(
                bench, streams, config.sse_rate, config.sse_seconds, sse_warmup
            )
            print_deliveries(report.invites)
        finally:
            for stream in streams:
                if stream.transport is not None:
                    stream.transport.close()
    finally:
        await bench.http.aclose()
    report.samples = bench.samples
    report.wall_offset = bench.wall_offset
    return report


STEPS = [
    ("arrive", "due → the ASGI app has the request (generator, loopback, uvicorn's HTTP parsing)"),
    ("submit", "→ submitted to the core (routing, auth, body, dealer lookups, idempotency row)"),
    ("offer", "→ the cluster thread offers it (hand-off: queue, wake, GIL)"),
    ("offered", "→ offered (JPype → Aeron publication)"),
    ("egress", "→ its outcome polled on the cluster thread (Aeron, consensus, log, service, egress)"),
    ("deliver", "→ on the event loop (call_soon_threadsafe, GIL)"),
    ("resolve", "→ the future resolved (mirror, routing, streams for the batch before it)"),
    ("respond", "→ the response starts (render; the idempotency row is written after, once per turn)"),
    ("done", "→ received by the generator (write, loopback, client)"),
]


def traced_runs(report: Report) -> list[Run]:
    """The create runs whose steps the report shows: the pairs', and the stepped runs held, or the
    lowest-rate one when none was (a saturated gateway's figures are mostly its queue)."""
    held = [run for run in report.steps if run.held]
    lowest = sorted(report.steps, key=lambda run: run.rate)[:1]
    return [*(c for c, _ in report.pairs), *(held or lowest)]


def trace_breakdown(
    trace: list[list[Any]], runs: list[Run], samples: dict[int, list[Sample]], warmup_s: float
) -> dict[str, list[tuple[str, float, float, float]]]:
    """Per create run: each step's latency (p50, p99, max ms) from the platform's trace."""
    by_key: dict[str, dict[str, float]] = defaultdict(dict)
    by_id: dict[int, dict[str, float]] = defaultdict(dict)
    key_ids: dict[str, int] = {}
    for step, name, value, *_ in trace:
        if step in ("gc", "gc_state", "jpype_gc"):
            continue
        if step == "key":
            key_ids[name] = value
        elif step in ("arrive", "respond"):
            by_key[name].setdefault(step, value)
        elif name is not None:
            by_id[name].setdefault(step, value)
    result: dict[str, list[tuple[str, float, float, float]]] = {}
    for run in runs:
        measured = [(i, s) for i, s in enumerate(samples.get(run.run_id, [])) if s.status == 201]
        first = measured[0][1].due + warmup_s if measured else 0.0
        rows: dict[str, list[float]] = defaultdict(list)
        for i, sample in measured:
            key = f"c{run.run_id}-{i}"
            times = {**by_key.get(key, {}), **by_id.get(key_ids.get(key, -1), {}), "done": sample.done}
            if sample.due < first or any(step not in times for step, _ in STEPS):
                continue
            previous = sample.due
            for step, _ in STEPS:
                rows[step].append((times[step] - previous) * 1e3)
                previous = times[step]
        if rows:
            label = f"{run.rate:,.0f}/s" + ("" if run.held else " (not held)")
            if label in result:
                label += f", run {run.run_id}"
            result[label] = [
                (
                    text,
                    float(np.percentile(rows[step], 50)),
                    float(np.percentile(rows[step], 99)),
                    float(max(rows[step])),
                )
                for step, text in STEPS
            ]
    return result


@dataclass
class Collections:
    """The gateway's garbage collections during one REST run (from the trace), by generation: each
    one's pause (first gc callback's start → last one's stop: every callback's work is in it, JPype's
    too) and the collector's own part of it, ms."""

    run: Run
    pauses: dict[int, list[float]] = field(default_factory=lambda: {0: [], 1: [], 2: []})
    own: dict[int, list[float]] = field(default_factory=lambda: {0: [], 1: [], 2: []})
    collected: int = 0
    """Objects the collections freed (cyclic garbage)."""


def gc_pauses(trace: list[list[Any]], report: Report) -> list[Collections]:
    """Per REST run: the gateway's collections during it; the collector's state at the end into
    ``report.gc_policy``."""
    found = [Collections(run) for run in [*(r for pair in report.pairs for r in pair), *report.steps]]
    for record in trace:
        if record[0] == "gc":
            _, generation, start, seconds, collected, own_seconds, frozen = record
            if frozen is not None:
                report.frozen.append((start, frozen))
            for item in found:
                if item.run.window[0] <= start <= item.run.window[1]:
                    item.pauses[generation].append(seconds * 1e3)
                    item.own[generation].append(own_seconds * 1e3)
                    item.collected += collected
        elif record[0] == "gc_state":
            thresholds, _, tracked, kinds = record[1:5]
            report.gc_policy = (
                f"thresholds {tuple(thresholds)}, {tracked:,} objects tracked at the end, most of them "
                + ", ".join(f"{name} {count:,}" for name, count in kinds)
            )
        elif record[0] == "jpype_gc" and record[2]:
            report.gc_policy += f"; JPype asked the JVM for {record[2].get('triggered', 0):,} collections"
    return found


def gc_table(report: Report) -> list[str]:
    """The gateway's garbage collections per REST run, and its memory."""
    if not report.collections:
        return []
    lines = [
        "### The gateway's garbage collections and memory during each run",
        "",
        "| run | young (gen 0): count, p99 / max ms (the collector's own p99) | gen 1: count, p99 / max ms "
        "(own p99) | "
        "full (gen 2): count, max ms (the collector's own) | pauses ms / s | cyclic garbage freed | "
        "gateway RSS before → after MB |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for item in report.collections:
        run = item.run
        seconds = max(run.window[1] - run.window[0], 1e-9)

        def spread(item: Collections, generation: int) -> str:
            values, own = item.pauses[generation], item.own[generation]
            p99 = float(np.percentile(values, 99)) if values else 0.0
            own_p99 = float(np.percentile(own, 99)) if own else 0.0
            return f"{len(values)}, {p99:.2f} / {max(values, default=0.0):.2f} ({own_p99:.2f})"

        cells = [
            spread(item, 0),
            spread(item, 1),
            f"{len(item.pauses[2])}, {max(item.pauses[2], default=0.0):.2f} "
            f"({max(item.own[2], default=0.0):.2f})",
            f"{sum(sum(v) for v in item.pauses.values()) / seconds:.2f}",
            f"{item.collected:,}",
            f"{run.gateway_rss_mb[0]:.0f} → {run.gateway_rss_mb[1]:.0f}",
        ]
        label = f"{'create' if run.name == 'create' else 'me'} at {run.rate:,.0f}/s"
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "Pauses from `gc.callbacks` in the gateway process (the bench's trace: a callback first in the "
        "list and one last, so any other callback is inside; JPype's, which would ask the JVM for a full "
        "collection, is taken out by rfq/jvm.py); "
        "a collection stops every Python thread of the process (the event loop and the cluster thread). "
        f"The gateway's collector at the end: {report.gc_policy or 'not recorded'}. Objects frozen "
        "(`gc.freeze()`, never scanned again; rfq/collector.py) after each full collection: "
        + (", ".join(f"{count:,}" for _, count in report.frozen) or "none")
        + ".",
        "",
    ]
    return lines


def histogram_percentiles(before: dict[str, float], after: dict[str, float]) -> tuple[float, float]:
    """p50 and p99 (ms, the upper bound of the bucket they fall in) of the observations between two
    scrapes of a cumulative Prometheus histogram."""
    bounds = sorted((float(le), after[le] - before.get(le, 0.0)) for le in after)
    total = bounds[-1][1] if bounds else 0.0
    result = []
    for q in (0.5, 0.99):
        bound = next((le for le, count in bounds if total and count >= q * total), math.inf)
        result.append(bound * 1e3)
    return result[0], result[1]


def print_deliveries(d: Deliveries) -> None:
    cluster = "" if d.cluster_p99_ms is None else f"; cluster time → receipt p99 {d.cluster_p99_ms:.2f} ms"
    print(
        f"  {d.name}: {d.delivered:,}/{d.expected:,} deliveries, send → receipt p50 {d.p50_ms:.2f} ms, "
        f"p99 {d.p99_ms:.2f} ms, max {d.max_ms:.2f} ms{cluster}",
        flush=True,
    )


# --- the report -------------------------------------------------------------------------------
def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.2f}"


def run_table(runs: list[Run], idle_cores: float) -> list[str]:
    lines = [
        "| endpoint | rate /s | answered /s | requests | errors | p50 ms | p99 ms | p99.9 ms | max ms | "
        "generator lag p99 ms | platform cores | platform CPU ms / answer | load | "
        "send → cluster p50 / p99 ms | cluster → answer p50 / p99 ms | live RFQs before |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for run in runs:
        label = "POST /v1/rfqs" if run.name == "create" else "GET /v1/me (reference)"
        lines.append(
            f"| {label} | {run.rate:,.0f} | {run.answered_per_s:,.0f} | {run.count:,} | {run.errors} | "
            f"{run.p50_ms:,.2f} | {run.p99_ms:,.2f} | {run.p999_ms:,.2f} | {run.max_ms:,.2f} | "
            f"{run.lag_p99_ms:,.2f} | {run.platform_cores:.2f} | "
            f"{(run.platform_cores - idle_cores) * 1e3 / max(run.answered_per_s, 1e-9):.2f} | "
            f"{run.load:.2f} | {_ms(run.to_cluster_p50_ms)} / {_ms(run.to_cluster_p99_ms)} | "
            f"{_ms(run.from_cluster_p50_ms)} / {_ms(run.from_cluster_p99_ms)} | "
            + (f"{run.live_rfqs_before:,} |" if run.name == "create" else " |")
        )
    return lines


def render(
    report: Report,
    config: Config,
    command: str,
    loads: tuple[tuple[float, ...], tuple[float, ...]],
    extra: str,
) -> tuple[list[str], str]:
    at_500 = next((c for c, _ in report.pairs if c.rate == 500), report.pairs[-1][0])
    toggles = report.toggles
    assert toggles is not None
    summary = (
        f"bench-gateway: rest_p50_ms={at_500.p50_ms:.2f} rest_p99_ms={at_500.p99_ms:.2f} "
        f"rest_max_rps={report.max_rps:.0f} sse_p99_ms={toggles.p99_ms:.2f}{extra}"
    )
    before, after = loads
    client = (
        "`httpx.AsyncClient` (keep-alive pool)"
        if config.client == "httpx"
        else "a minimal HTTP/1.1 client with a keep-alive pool (`KeepAliveClient`: httpx costs ~2 ms of "
        "CPU per request on this machine, ~20 times as much, and would make the generator the bottleneck)"
    )
    machine = (
        f"{platform.machine()}, {os.cpu_count()} cores shared with other engineers' work, "
        f"{platform.system()} {platform.release()}, Python {platform.python_version()}"
    )
    ceiling = max(
        (
            run.answered_per_s
            for run in [*(c for c, _ in report.pairs), *report.steps]
            if run.name == "create"
        ),
        default=0.0,
    )
    met_rest = "met" if at_500.p99_ms <= TARGET_P99_MS and at_500.errors == 0 else "not met"
    met_sse = "met" if toggles.p99_ms <= TARGET_SSE_P99_MS else "not met"
    lines = [
        "# bench-gateway: the web gateway's REST and SSE latency, one node",
        "",
        f"Command: {command}.",
        f"Machine: {machine}.",
        "Load average (1 / 5 / 15 min): "
        + " / ".join(f"{v:.2f}" for v in before)
        + " before, "
        + " / ".join(f"{v:.2f}" for v in after)
        + " after; each run's 1-minute load is in its row.",
        "",
        "The platform is deployed as the README describes, each part a process of its own (its own "
        "GIL): the node (`rfq node`, one member, its Python service in that process) and the web gateway "
        + (
            "(`rfq gateway web --aeron-dir`: sharing the node's media driver, to the node over IPC), "
            if config.share_driver
            else "(`rfq gateway web`, with its own media driver, to the node over UDP on loopback), "
        )
        + "started by "
        "bench/deployment.py, its users seeded before it starts; no FIX gateway (bench-fix measures that "
        f"one). Both run with `--idle-max-park-us {config.idle_max_park_us}` (their idle Aeron agents "
        "park at most that long; README, 'Latency and idle CPU'). 'platform' below is both processes "
        "together. The "
        f"load generator is the bench's process: asyncio, {client}, open loop: "
        "request *i* is due at t0 + i/rate and sent then whatever the others are doing; latency is from "
        "that due time to the response (no coordinated omission). 'generator lag' is how late the "
        "generator itself started requests (it is in every figure, the reference's too). "
        f"Before the first run, {config.prewarm_s:g} s of unmeasured creates at {config.prewarm_rate:g}/s "
        "(the JVMs compile for about a minute after start). "
        f"Each run: {config.warmup_s:g} s warm-up, then {config.seconds:g} s measured. Creates ask "
        f"{len(DEALERS)} dealers and send an Idempotency-Key; RFQs live {RFQ_TTL_S} s, so none expires "
        "during the bench and the live RFQs accumulate (counted in the tables).",
        "",
        "## Targets (issue 9)",
        "",
        "| target | measured | |",
        "|---|---|---|",
        f"| REST create p99 ≤ {TARGET_P99_MS:g} ms at 500/s | {at_500.p99_ms:.2f} ms at "
        f"{at_500.rate:.0f}/s | {met_rest} |",
        f"| SSE p99 ≤ {TARGET_SSE_P99_MS:g} ms, {config.subscribers} subscribers | {toggles.p99_ms:.2f} ms "
        f"(POST sent → each subscriber's receipt) | {met_sse} |",
        "",
        "## REST: create RFQ beside the reference (same rates, alternating)",
        "",
        *run_table([run for pair in report.pairs for run in pair], report.idle_cores),
        "",
        "send → cluster: the RFQ's `created_at` (the leader's log append, wall-clock ms, truncated) minus "
        "the due time; cluster → answer: the response's arrival minus it. Both are within 1 ms (the "
        "truncation moves up to 1 ms from the first to the second).",
        "",
        "The gateway's own view of the creates (its Prometheus histogram of submit → outcome on its "
        "event loop, read from /metrics around each create run; the upper bounds of the buckets the "
        "percentiles fall in): "
        + (
            "; ".join(
                f"at {rate:,.0f}/s p50 ≤ {p50:g} ms, p99 ≤ {p99:g} ms"
                for rate, (p50, p99) in report.gateway_histogram.items()
            )
            or "not available"
        )
        + ".",
        "",
        *breakdown_table(report),
        *gc_table(report),
        f"## REST: highest create rate held (p99 ≤ {TARGET_P99_MS:g} ms, no error, ≥ 95% answered)",
        "",
        *run_table(report.steps, report.idle_cores),
        "",
        f"Highest rate held: **{report.max_rps:,.0f}/s** (rest_max_rps; 0 when not even the lowest). "
        f"The most creates answered per second in any run: {ceiling:,.0f}.",
        "",
        "### The platform's CPU by thread during each run (cores, by process: `node` or `gateway`; Python "
        "threads by name, JVM threads by theirs, `/dev/shm/…` the media drivers' conductors)",
        "",
        "| run | busiest threads |",
        "|---|---|",
        *(
            f"| {'create' if run.name == 'create' else 'me'} at {run.rate:,.0f}/s | {run.threads} |"
            for run in [*(r for pair in report.pairs for r in pair), *report.steps]
        ),
        "",
        f"Idle (no traffic): {report.idle_cores:.2f} cores. 'platform CPU ms / answer' in the tables is "
        "(platform cores - idle cores) / answers per second: every thread of both processes, gateway, "
        "node and their JVMs.",
        "",
        f"## SSE: {config.subscribers} subscribers",
        "",
        "| load | POSTs measured | deliveries | p50 ms | p99 ms | p99.9 ms | max ms | cluster time → receipt "
        "p50 / p99 / max ms | event out of the cluster → receipt p50 / p99 / max ms | the POSTs' own p99 ms "
        "| load |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for d in (report.toggles, report.invites):
        if d is None:
            continue
        cluster = (
            f"{_ms(d.cluster_p50_ms)} / {_ms(d.cluster_p99_ms)} / {_ms(d.cluster_max_ms)}"
            if d.cluster_p99_ms is not None
            else " / ".join(f"{v:,.2f}" for v in d.traced["cluster"])
            if "cluster" in d.traced
            else "n/a"
        )
        gateway = " / ".join(f"{v:,.2f}" for v in d.traced["gateway"]) if "gateway" in d.traced else "n/a"
        lines.append(
            f"| {d.name}, {config.sse_rate:g}/s | {d.sent:,} | {d.delivered:,} of {d.expected:,} | "
            f"{d.p50_ms:,.2f} | {d.p99_ms:,.2f} | {d.p999_ms:,.2f} | {d.max_ms:,.2f} | {cluster} | "
            f"{gateway} | {d.post_p99_ms:,.2f} | {d.load:.2f} |"
        )
    lines += [
        "",
        "Definition used for p50 … max and the summary's sse_p99_ms: a subscriber's receipt minus the due "
        "(send) time of the POST that caused the event. Why: it is what a user sees (an operator's action → "
        "every screen); both ends are this process's microsecond clock; and it is the stricter figure, as "
        "it includes the command's own way into the cluster, so it bounds the issue's 'cluster event → "
        "received' from above. That one is reported beside it: the event's cluster time (ms, truncated: "
        "up to 1 ms high; in the invitation's data, and for the instrument events, which carry none in their "
        "data, from the trace) → receipt; and, from the trace, the moment the event came out of the cluster "
        "on the gateway's cluster thread → receipt: the gateway's own part (hand-off to the event loop, "
        "routing, personalisation, the stream log, every subscriber's SSE write). Receipts are timestamped "
        "as the bytes arrive (asyncio.Protocol.data_received) and parsed after the run, so the generator's "
        "parsing of 99 streams is not billed to the hundredth.",
        "",
    ]
    if extra:
        lines += [
            "The summary's `fix_p50_ms` and `fix_p99_ms` are bench/fix.py's (`make bench-fix`, FIX "
            "QuoteRequest → QuoteStatusReport at 500/s), run right after this bench, on the same machine "
            "(it rewrites its own report, bench/results/fix.md).",
            "",
        ]
    return lines, summary


def breakdown_table(report: Report) -> list[str]:
    """The ``--trace`` section: where a create's time goes, step by step, per rate."""
    if not report.breakdown:
        return []
    rates = list(report.breakdown)
    lines = [
        "### Where a create's time goes (timestamps inside the gateway, same runs)",
        "",
        "| step | " + " | ".join(f"at {r} p50 / p99 / max ms" for r in rates) + " |",
        "|---|" + "---:|" * len(rates),
    ]
    for n, (text, *_) in enumerate(report.breakdown[rates[0]]):
        cells = [report.breakdown[r][n] for r in rates]
        lines.append(
            f"| {text} | " + " | ".join(f"{a:,.2f} / {b:,.2f} / {c:,.2f}" for _, a, b, c in cells) + " |"
        )
    lines += [
        "",
        "Each step from the one before; the traced points are the ASGI app's call and response start, "
        "`GatewayCore.submit`, the cluster thread's `submit_frame` (before and after), the outcome's "
        "arrival in its `on_event`, `GatewayCore._deliver` and `_resolve`: monkeypatched in the gateway's "
        "process by the bench (`_install_trace`; `--no-trace` turns it off), never in the product. "
        "Clocks: CLOCK_MONOTONIC in both processes.",
        "",
    ]
    return lines


def fix_figures() -> str:
    """`` fix_p50_ms=… fix_p99_ms=…`` from bench/fix.py's summary line, when that bench exists."""
    fix = Path(__file__).resolve().parent / "fix.py"
    if not fix.exists():
        return ""
    done = subprocess.run([sys.executable, str(fix)], capture_output=True, text=True, check=False)
    lines = done.stdout.strip().splitlines()
    last = lines[-1] if lines else ""
    found = {k: v for k, v in re.findall(r"(fix_p\d+_ms)=(\S+)", last)}
    if done.returncode != 0 or not found:
        print(f"bench/fix.py gave no FIX figures (exit {done.returncode}): {last!r}", file=sys.stderr)
        return ""
    return "".join(f" {k}={found[k]}" for k in ("fix_p50_ms", "fix_p99_ms") if k in found)


def serve_wrapped(options: dict[str, Any], argv: list[str]) -> None:
    """In the node's and the web gateway's processes: ``rfq <argv>`` (``node …``, ``gateway web …``),
    with ``options`` (the gateway's; the node has none but the thread names): ``switch_interval``
    (seconds: the interpreter's GIL switch interval), ``profile`` (a folder: the web gateway's
    event-loop thread and its cluster thread each under cProfile, timed by their own CPU time,
    dumped there when they end),
    ``trace`` (a file: the timestamps of every create's steps through the gateway and the garbage
    collections, ``_install_trace``), ``default_collector`` (the gateway's collector policy off)."""
    import cProfile

    from rfq import cli

    _name_threads()
    if options.get("switch_interval"):
        sys.setswitchinterval(float(options["switch_interval"]))
    if options.get("trace"):
        _install_trace(Path(options["trace"]))
    if options.get("default_collector"):
        # to compare: the gateway without its collector policy (CPython's defaults)
        from rfq.collector import CollectorPolicy

        CollectorPolicy.install = lambda self: None  # type: ignore[method-assign]
    if options.get("profile"):
        from rfq.gateway.core import GatewayCore
        from rfq.gateway.web.server import WebGatewayServer

        out = Path(options["profile"])
        out.mkdir(parents=True, exist_ok=True)

        def profiled(method: Callable[..., None], name: str) -> Callable[..., None]:
            def run(self: Any) -> None:
                # the thread's CPU time, not the wall clock: time waiting (for the GIL, a socket,
                # egress) is not cost, and would hide where the CPU goes
                profile = cProfile.Profile(time.thread_time)
                profile.enable()
                try:
                    method(self)
                finally:
                    profile.disable()
                    profile.dump_stats(out / f"{name}.prof")

            return run

        WebGatewayServer.run = profiled(WebGatewayServer.run, "event_loop")  # type: ignore[method-assign]
        GatewayCore._run = profiled(GatewayCore._run, "cluster_thread")  # type: ignore[method-assign]
    cli.main(argv, prog_name="rfq")


def _name_threads() -> None:
    """Give each Python thread its name in the OS too (Linux ``prctl(PR_SET_NAME)``, 15 characters), so
    that /proc tells the event loop, the cluster thread and the node's service thread apart."""
    import ctypes
    import threading

    libc = ctypes.CDLL(None)
    run = threading.Thread.run

    def named_run(self: threading.Thread) -> None:
        libc.prctl(15, self.name[:15].encode(), 0, 0, 0)
        run(self)

    threading.Thread.run = named_run  # type: ignore[method-assign]


class _TracedApp:
    """The ASGI app, recording when a request with an Idempotency-Key reaches it and when its
    response starts; everything else is the app's (``__getattr__``)."""

    def __init__(self, app: Any, record: Callable[[tuple[Any, ...]], None]) -> None:
        self.app = app
        self.record = record

    def __getattr__(self, name: str) -> Any:
        return getattr(self.app, name)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        key = None
        if scope["type"] == "http":
            key = next((v.decode() for k, v in scope["headers"] if k == b"idempotency-key"), None)
        if key is None:
            await self.app(scope, receive, send)
            return
        self.record(("arrive", key, time.perf_counter()))

        async def traced_send(message: Any) -> None:
            if message["type"] == "http.response.start":
                self.record(("respond", key, time.perf_counter()))
            await send(message)

        await self.app(scope, receive, traced_send)


def _jpype_gc_stats() -> dict[str, int]:
    """JPype's own garbage-collection figures (``triggered``: Java collections it asked for, from its
    gc callback, holding the GIL), or none without JPype."""
    try:
        import _jpype
    except ImportError:
        return {}
    return dict(_jpype.gcStats())


def _install_trace(out: Path) -> None:
    """Record (step, key or correlation id, ``perf_counter``) at each step of a command through the
    gateway, and (``gc``, generation, start, seconds, objects collected) for every garbage collection
    (``gc.callbacks``), into a list written to ``out`` as JSON when the server stops, with the
    collector's settings then (``gc_state``: thresholds, objects frozen, objects tracked). ``perf_counter`` is
    CLOCK_MONOTONIC, one clock for every process of the machine: the bench joins these with its own
    times. Appending to a list is atomic under the GIL: the event loop and the cluster thread share it."""
    from rfq.gateway.core import GatewayCore
    from rfq.gateway.idempotency import IdempotencyStore
    from rfq.gateway.web import server as server_module

    records: list[tuple[Any, ...]] = []
    record = records.append
    clock = time.perf_counter
    gc_times = [0.0, 0.0, 0.0]

    def gc_first(phase: str, info: dict[str, int]) -> None:
        # first of gc.callbacks: a collection starts here, and its own work ends here
        gc_times[0 if phase == "start" else 2] = clock()

    def gc_last(phase: str, info: dict[str, int]) -> None:
        # last of gc.callbacks: the collection's own work starts here (after other callbacks' starts,
        # JPype's among them), and everything ends here (after their stops)
        if phase == "start":
            gc_times[1] = clock()
            return
        begun, work_begun, work_ended = gc_times
        end = clock()
        generation = info["generation"]
        frozen = gc.get_freeze_count() if generation == 2 else None  # O(frozen): full ones only
        record(("gc", generation, begun, end - begun, info["collected"], work_ended - work_begun, frozen))

    start, submit = IdempotencyStore.start, GatewayCore.submit
    deliver, resolve = GatewayCore._deliver, GatewayCore._resolve
    create_app, run = getattr(server_module, "create_app"), server_module.WebGatewayServer.run  # noqa: B009

    def traced_start(
        self: Any, user_id: int, key: str, digest: str, correlation_id: int, frame: bytes
    ) -> Any:
        found = start(self, user_id, key, digest, correlation_id, frame)
        if found is None:  # a new key: it stands for this correlation id
            record(("key", key, correlation_id))
        return found

    def traced_submit(self: Any, correlation_id: int, frame: bytes) -> Any:
        record(("submit", correlation_id, clock()))
        return submit(self, correlation_id, frame)

    def traced_deliver(self: Any, batch: list[Any]) -> None:
        now = clock()
        for event in batch:
            record(("deliver", getattr(event, "correlation_id", None), now))
        deliver(self, batch)

    def traced_resolve(self: Any, correlation_id: int, outcome: Any) -> None:
        record(("resolve", correlation_id, clock()))
        resolve(self, correlation_id, outcome)

    def traced_factory(factory: Callable[..., Any]) -> Callable[..., Any]:
        def make(on_event: Callable[[Any], None], on_session_change: Any, ids: Any) -> Any:
            def traced_event(event: Any) -> None:
                cid = getattr(event, "correlation_id", None)
                record(("egress", cid, clock(), getattr(event, "timestamp_ms", None)))
                on_event(event)

            transport = factory(traced_event, on_session_change, ids)
            submit_frame = transport.submit_frame

            def traced_submit_frame(correlation_id: int, frame: bytes) -> None:
                record(("offer", correlation_id, clock()))
                submit_frame(correlation_id, frame)
                record(("offered", correlation_id, clock()))

            transport.submit_frame = traced_submit_frame
            return transport

        return make

    def traced_create_app(settings: Any, factory: Any) -> Any:
        return _TracedApp(create_app(settings, traced_factory(factory)), record)

    def traced_run(self: Any) -> None:
        # the JVM has started by now: JPype's callback is in the list, between these two
        gc.callbacks.insert(0, gc_first)
        gc.callbacks.append(gc_last)
        try:
            run(self)
        finally:
            gc.callbacks.remove(gc_first)
            gc.callbacks.remove(gc_last)
            record(("jpype_gc", None, _jpype_gc_stats()))
            tracked = Counter(type(o).__name__ for o in gc.get_objects())
            record(("gc_state", list(gc.get_threshold()), gc.get_freeze_count(), tracked.total(),
                    tracked.most_common(8)))  # fmt: skip
            out.write_text(json.dumps(records))

    IdempotencyStore.start = traced_start  # type: ignore[method-assign]
    GatewayCore.submit = traced_submit  # type: ignore[method-assign]
    GatewayCore._deliver = traced_deliver  # type: ignore[method-assign]
    GatewayCore._resolve = traced_resolve  # type: ignore[method-assign]
    setattr(server_module, "create_app", traced_create_app)  # noqa: B010
    server_module.WebGatewayServer.run = traced_run  # type: ignore[method-assign]


def main() -> int:
    if len(sys.argv) > 2 and sys.argv[1] == "--serve-wrapped":
        serve_wrapped(json.loads(sys.argv[2]), sys.argv[3:])
        return 0
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pair-rates", default="200,500", help="create and reference at these rates (/s)")
    parser.add_argument("--step-rates", default="200,300,400,500,700,1000", help="create rates stepped up")
    parser.add_argument("--warmup", type=float, default=None, help="seconds of each run not counted [3]")
    parser.add_argument("--seconds", type=float, default=None, help="seconds of each run counted [12]")
    parser.add_argument("--subscribers", type=int, default=100)
    parser.add_argument("--sse-rate", type=float, default=20.0, help="broadcasts (then RFQs) per second")
    parser.add_argument("--sse-seconds", type=float, default=None, help="[10]")
    parser.add_argument("--profile", type=Path, default=None, help="cProfile the gateway into this folder")
    parser.add_argument(
        "--switch-interval",
        type=float,
        default=None,
        help="the platform's GIL switch interval (s), to compare",
    )
    parser.add_argument(
        "--default-collector",
        action="store_true",
        help="the gateway without its collector policy (rfq/collector.py), to compare",
    )
    parser.add_argument(
        "--no-trace",
        dest="trace",
        action="store_false",
        help="do not time each command's steps inside the gateway (a few µs each; see _install_trace)",
    )
    parser.add_argument(
        "--platform-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="add to the platform's environment (e.g. PYTHONPATH with other packages), to compare",
    )
    parser.add_argument(
        "--client",
        choices=("asyncio", "httpx"),
        default="asyncio",
        help="the generator's HTTP client (KeepAliveClient's docstring: why not httpx by default)",
    )
    parser.add_argument("--results", type=Path, default=RESULTS, help="where to write the report")
    parser.add_argument(
        "--no-fix", action="store_true", help="do not run bench/fix.py for the summary's FIX figures"
    )
    parser.add_argument(
        "--idle-max-park-us",
        type=int,
        default=DEFAULT_MAX_PARK_US,
        help="the node's and the gateway's --idle-max-park-us (README, 'Latency and idle CPU') [%(default)s]",
    )
    parser.add_argument(
        "--own-driver",
        action="store_true",
        help="the gateway launches a media driver of its own (UDP to the node) instead of sharing the "
        "node's (rfq gateway web --aeron-dir: IPC), to compare",
    )
    parser.add_argument(
        "--prewarm",
        type=float,
        default=None,
        help="seconds of unmeasured creates at 200/s first [60; smoke 5]",
    )
    parser.add_argument("--smoke", action="store_true", help="short runs, no report written")
    args = parser.parse_args()
    config = Config(
        pair_rates=[float(r) for r in args.pair_rates.split(",")],
        step_rates=[float(r) for r in args.step_rates.split(",")],
        warmup_s=args.warmup if args.warmup is not None else 0.5 if args.smoke else 3.0,
        seconds=args.seconds if args.seconds is not None else 2.0 if args.smoke else 12.0,
        subscribers=args.subscribers,
        sse_rate=args.sse_rate,
        sse_seconds=args.sse_seconds if args.sse_seconds is not None else 2.0 if args.smoke else 10.0,
        client=args.client,
        idle_max_park_us=args.idle_max_park_us,
        share_driver=not args.own_driver,
        prewarm_s=args.prewarm if args.prewarm is not None else 5.0 if args.smoke else 60.0,
    )
    if args.smoke:
        config.step_rates = config.step_rates[:2]
    if config.subscribers % INVITED_PER_RFQ:
        parser.error(f"--subscribers must be a multiple of {INVITED_PER_RFQ}")

    # a SIGTERM (make interrupted, a CI timeout) ends the bench through its finally blocks too
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(143))
    platform_ = Platform(config.idle_max_park_us, config.share_driver)
    trace_path = platform_.deployment.base / "trace.json"
    loads_before = os.getloadavg()
    try:
        tokens = seed_directory(platform_.directory_path, config.subscribers)
        wrap: dict[str, Any] = {}
        if args.profile is not None:
            wrap["profile"] = str(args.profile.resolve())
        if args.switch_interval is not None:
            wrap["switch_interval"] = args.switch_interval
        if args.trace:
            wrap["trace"] = str(trace_path)
        if args.default_collector:
            wrap["default_collector"] = True
        env = dict(item.split("=", 1) for item in args.platform_env)
        platform_.start(wrap, env)
        print(
            f"node: pid {platform_.pids['node']}; web gateway: pid {platform_.gateway_pid}, {platform_.url}; "
            f"load {loads_before[0]:.2f}",
            flush=True,
        )
        report = asyncio.run(run_bench(platform_, tokens, config))
        platform_.stop_gateway()  # it writes its trace as it stops
        if args.trace:
            trace = json.loads(trace_path.read_text())
            report.breakdown = trace_breakdown(trace, traced_runs(report), report.samples, config.warmup_s)
            report.collections = gc_pauses(trace, report)
            for deliveries in (report.toggles, report.invites):
                if deliveries is not None:
                    trace_deliveries(trace, deliveries, report.wall_offset)
    finally:
        platform_.stop()
    loads_after = os.getloadavg()
    # bench/fix.py (another issue's) is run only for the report of record: it rewrites its own report
    extra = "" if args.smoke or args.no_fix or args.results != RESULTS else fix_figures()
    command = (
        f"`.venv/bin/python bench/gateway.py {' '.join(sys.argv[1:])}`"
        if sys.argv[1:]
        else "`make bench-gateway` (`.venv/bin/python bench/gateway.py`)"
    )
    lines, summary = render(report, config, command, (loads_before, loads_after), extra)
    if args.smoke:
        print("\n".join([*breakdown_table(report), *gc_table(report)]))
        print(summary.replace("bench-gateway:", "bench-gateway smoke:"))
        return 0
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text("\n".join([*lines, "```", summary, "```", ""]))
    print("\n".join(lines))
    print(f"(written to {args.results})", file=sys.stderr)
    print(summary)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
