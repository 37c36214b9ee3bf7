"""bench-fix: the FIX gateway's QuoteRequest → QuoteStatusReport latency at 500 messages/s, against a
real single node, over real TCP on 127.0.0.1.

Deployed as in production, each part in its own process (its own GIL): one node (``rfq node``, a
one-member cluster with a secret), the web gateway (``rfq gateway web``: only to add the instrument)
and the FIX gateway (``rfq gateway fix``), in a temporary folder whose directory is seeded before they
start: an operator, a trader with a FIX login, five dealers without one (so the FIX gateway renders the
requester's side only). The gateways share the node's media driver (``--aeron-dir``, IPC), as gateways
on a node's machine should (docs/operations.md); ``--own-driver`` gives each one of its own (UDP).
Once the instrument is added the web gateway stops (``--with-web`` keeps it): every gateway's cluster
session receives every event, and on two cores the idle web gateway's share (0.2-0.3 cores at 500/s)
would be billed to the FIX gateway, as bench-gateway runs no FIX gateway.
``--embedded`` measures ``rfq run --no-demo`` instead (node, web and FIX gateways in one process,
sharing one GIL). This process is the load generator only: an asyncio FIX client on a raw socket
(logon, heartbeats, test requests answered).

Open loop: QuoteRequest ``i`` is due at ``t0 + i / rate`` and is written then whatever the earlier
ones are doing; its latency runs from that due time to the receipt of its acknowledgment
(``AI 297=0`` with its QuoteReqID), so a stall delays every request due meanwhile and shows in the
percentiles (no coordinated omission). Before it, ``--prewarm`` seconds of QuoteRequests at
``--prewarm-rate``, all acknowledged (the JVMs compile for about a minute after start), then the
gateway's idle CPU; the run's first ``--warmup`` seconds are not counted either. The logon time (TCP
connect → the gateway's Logon, including the scrypt check) is reported too.

    make bench-fix                              # writes bench/results/fix.md; the last line is the summary
    .venv/bin/python bench/fix.py --smoke       # a few seconds, nothing written
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform as host_platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np

from rfq.gateway.fix.fields import SOH, FixMessage, parse, utc_timestamp
from rfq.gateway.identity import Directory
from rfq.jvm import DEFAULT_MAX_PARK_US
from rfq.topology import free_port_base

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # bench/ is a folder of scripts
from bench.deployment import Deployment, free_tcp_port

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "fix.md"
CUSIP = "912828YK0"
DEALERS = [f"dealer-{c}" for c in "abcde"]
IDLE_S = 2.0
"""How long the gateway's idle CPU is measured, logged on, before the QuoteRequests start."""
_FRAME = re.compile(rb"8=FIX\.4\.4\x019=(\d+)\x01")


def seed(data_dir: Path) -> str:
    """The bench's users in the directory under ``data_dir``; returns the operator's token."""
    directory = Directory(data_dir / "gateway.sqlite")
    directory.add_user("ops", "operator", user_id=1)
    token = directory.issue_token(1)
    directory.add_user("bench", "trader", user_id=101)
    directory.set_fix_login("BENCH", 101, "bench-pw")
    for i, name in enumerate(DEALERS):
        directory.add_user(name, "dealer", user_id=201 + i)
    directory.close()
    return token


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far (/proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Processes:
    """A one-node cluster, a web gateway and a FIX gateway, each a process of its own
    (bench/deployment.py, shared with bench/gateway.py)."""

    def __init__(self, idle_max_park_us: int, share_driver: bool = True) -> None:
        self.deployment = Deployment(
            "rfq-bench-fix-", idle_max_park_us=idle_max_park_us, share_driver=share_driver
        )
        self.fix_port = free_tcp_port()
        self.ops_token = seed(self.deployment.gateway_dir)
        self.url = ""

    def start(self, timeout_s: float = 180.0) -> None:
        self.deployment.start_node()
        web_port = free_tcp_port()
        self.url = f"http://127.0.0.1:{web_port}"
        self.deployment.start_gateway("web", f"--port={web_port}")
        self.deployment.start_gateway("fix", f"--port={self.fix_port}", "--gateway-id=3")
        self.deployment.wait_ready(self.url, timeout_s=timeout_s)

    def setup_done(self) -> None:
        """Stop the web gateway, which only added the instrument: every gateway's session receives
        every event, and on two cores its share would be measured against the FIX gateway (bench-gateway
        runs the web gateway without a FIX gateway likewise)."""
        self.deployment.stop_gateways("web")

    def stop(self) -> None:
        self.deployment.stop()

    def gateway_cpu_s(self) -> float:
        """CPU time the FIX gateway's process has used so far."""
        return process_cpu_s(self.deployment.gateways["fix"].pid)


class Platform:
    """``rfq run --no-demo`` in a temporary folder, with a seeded directory (``--embedded``)."""

    def __init__(self, idle_max_park_us: int, share_driver: bool = True) -> None:
        """``share_driver`` is moot: ``rfq run`` has one media driver."""
        self.idle_max_park_us = idle_max_park_us
        self.base = Path(tempfile.mkdtemp(prefix="rfq-bench-fix-"))
        self.fix_port = free_tcp_port()
        self.ops_token = seed(self.base / "gateway")
        self.process: subprocess.Popen[str] | None = None
        self.url = ""
        self.lines: list[str] = []

    def start(self, timeout_s: float = 180.0) -> None:
        args = [
            sys.executable,
            "-m",
            "rfq",
            "run",
            "--no-demo",
            f"--base-dir={self.base}",
            "--web-port=0",
            f"--fix-port={self.fix_port}",
            f"--port-base={free_port_base()}",
            f"--idle-max-park-us={self.idle_max_park_us}",
        ]
        self.process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        assert self.process.stdout is not None
        deadline = time.monotonic() + timeout_s
        for line in self.process.stdout:
            self.lines.append(line.rstrip())
            found = re.search(r"web gateway on (http://\S+)", line)
            if found:
                self.url = found.group(1)
            if line.startswith("rfq: running"):
                break
            if time.monotonic() > deadline:
                raise TimeoutError("rfq run did not start")
        else:
            raise RuntimeError("rfq run ended:\n" + "\n".join(self.lines))
        threading.Thread(target=self._drain, daemon=True).start()

    def setup_done(self) -> None:
        """Nothing to stop: ``rfq run`` hosts the web gateway with the rest."""

    def gateway_cpu_s(self) -> float:
        """CPU time ``rfq run`` (node and both gateways) has used so far."""
        assert self.process is not None
        return process_cpu_s(self.process.pid)

    def _drain(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip())

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        shutil.rmtree(self.base, ignore_errors=True)


class Client:
    """A FIX 4.4 initiator on a raw asyncio socket, timing acknowledgments by QuoteReqID."""

    def __init__(self, sender: str, password: str) -> None:
        self.sender, self.password = sender, password
        self.seq = 1
        self.acks: dict[str, float] = {}
        self.others: dict[str, int] = {}
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.logged_on = asyncio.Event()

    def frame(self, msg_type: str, fields: list[tuple[int, str]]) -> bytes:
        now = utc_timestamp(int(time.time() * 1000))
        header = f"49={self.sender}{SOH}56=RFQGW{SOH}34={self.seq}{SOH}52={now}{SOH}"
        body = f"35={msg_type}{SOH}{header}" + "".join(f"{t}={v}{SOH}" for t, v in fields)
        head = f"8=FIX.4.4{SOH}9={len(body)}{SOH}"
        self.seq += 1
        return f"{head}{body}10={sum((head + body).encode()) % 256:03d}{SOH}".encode()

    async def connect(self, port: int, timeout_s: float = 120.0) -> float:
        """Log on (retrying while the gateway starts or refuses); the last attempt's duration."""
        deadline = time.monotonic() + timeout_s
        while True:
            started = time.perf_counter()
            try:
                self.reader, self.writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.5)
                continue
            reading = asyncio.get_running_loop().create_task(self._read())
            self.seq = 1
            self.send("A", [(98, "0"), (108, "30"), (554, self.password)])
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.logged_on.wait(), 15)
            if self.logged_on.is_set():
                return time.perf_counter() - started
            reading.cancel()
            self.writer.close()
            if time.monotonic() > deadline:
                raise TimeoutError("no logon")
            await asyncio.sleep(0.5)

    def send(self, msg_type: str, fields: list[tuple[int, str]]) -> None:
        assert self.writer is not None
        self.writer.write(self.frame(msg_type, fields))

    async def _read(self) -> None:
        assert self.reader is not None
        buffer = b""
        while True:
            chunk = await self.reader.read(1 << 16)
            now = time.perf_counter()
            if not chunk:
                return
            buffer += chunk
            while True:
                match = _FRAME.search(buffer)
                if match is None:
                    break
                end = match.end() + int(match.group(1)) + 7
                if len(buffer) < end:
                    break
                message = parse(buffer[match.start() : end].decode())
                buffer = buffer[end:]
                self._on(message, now)

    def _on(self, message: FixMessage, now: float) -> None:
        if message.msg_type == "A":
            self.logged_on.set()
        elif message.msg_type == "1":
            self.send("0", [(112, message.get(112) or "")])
        elif message.msg_type == "AI" and message.get(297) == "0":
            self.acks[message.get(131) or ""] = now
        else:
            self.others[message.msg_type] = self.others.get(message.msg_type, 0) + 1


def quote_request(quote_req_id: str, expire_ms: int) -> list[tuple[int, str]]:
    fields = [
        (131, quote_req_id),
        (146, "1"),
        (55, "[N/A]"),
        (48, CUSIP),
        (22, "1"),
        (54, "1"),
        (38, "5000000"),
        (126, utc_timestamp(expire_ms)),
        (453, str(len(DEALERS))),
    ]
    for name in DEALERS:
        fields += [(448, name), (447, "D"), (452, "35")]
    return fields


@dataclass(frozen=True)
class RunSettings:
    rate: float
    warmup_s: float
    seconds: float
    prewarm_s: float
    """Seconds of QuoteRequests at ``prewarm_rate`` before anything is measured, all acknowledged
    before the idle CPU and the run: the JVMs' JIT compilers work for about a minute after start (in
    the FIX gateway C2 took 0.1-0.3 cores for 60 s at 300/s), and a run at 500/s on a cold platform
    builds a queue that it never drains."""
    prewarm_rate: float


@dataclass
class Outcome:
    logon_s: float
    latencies: list[float]
    missing: int
    others: dict[str, int]
    idle_cores: float
    """The FIX gateway's process CPU while logged on and idle (its Aeron agents, heartbeats)."""
    cpu_ms_per_message: float
    """The FIX gateway's process CPU per QuoteRequest over the whole run, warm-up included, less
    what it uses idle over the same time."""


async def paced(client: Client, prefix: str, count: int, rate: float, expire_ms: int) -> dict[str, float]:
    """Write ``count`` QuoteRequests open-loop at ``rate``: each one's due time, by QuoteReqID."""
    due: dict[str, float] = {}
    t0 = time.perf_counter() + 0.2
    for i in range(count):
        when = t0 + i / rate
        delay = when - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        key = f"{prefix}{i}"
        due[key] = when
        client.send("R", quote_request(key, expire_ms))
    return due


async def acknowledged(client: Client, keys: dict[str, float], timeout_s: float) -> int:
    """Wait until every QuoteRequest of ``keys`` is acknowledged or ``timeout_s`` passes: how many are not."""
    deadline = time.perf_counter() + timeout_s
    waiting = list(keys)
    while waiting and time.perf_counter() < deadline:
        await asyncio.sleep(0.05)
        waiting = [key for key in waiting if key not in client.acks]
    return len(waiting)


async def run(port: int, settings: RunSettings, cpu_s: Callable[[], float]) -> Outcome:
    client = Client("BENCH", "bench-pw")
    logon_s = await client.connect(port)
    expire_ms = int(time.time() * 1000) + 600_000
    if settings.prewarm_s > 0:
        count = int(settings.prewarm_s * settings.prewarm_rate)
        unanswered = await acknowledged(
            client, await paced(client, "w", count, settings.prewarm_rate, expire_ms), 60
        )
        if unanswered:
            raise RuntimeError(f"{unanswered} of the {count} warm-up QuoteRequests were never acknowledged")
        await asyncio.sleep(1.0)
    idle_before = cpu_s()
    await asyncio.sleep(IDLE_S)
    cpu_before = cpu_s()
    idle_cores = (cpu_before - idle_before) / IDLE_S
    started = time.perf_counter()
    total = int(settings.rate * (settings.warmup_s + settings.seconds))
    due = await paced(client, "b", total, settings.rate, expire_ms)
    await acknowledged(client, due, 30)
    busy_s = cpu_s() - cpu_before - idle_cores * (time.perf_counter() - started)
    cpu_ms = busy_s * 1000 / total
    t0 = min(due.values())
    counted = [key for key in due if due[key] >= t0 + settings.warmup_s]
    latencies = [(client.acks[key] - due[key]) * 1000 for key in counted if key in client.acks]
    missing = sum(1 for key in counted if key not in client.acks)
    return Outcome(logon_s, latencies, missing, client.others, idle_cores, cpu_ms)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=500.0)
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument(
        "--prewarm",
        type=float,
        default=60.0,
        help="seconds of QuoteRequests before anything is measured [60]",
    )
    parser.add_argument(
        "--own-driver",
        action="store_true",
        help="each gateway launches a media driver of its own (UDP to the node) instead of sharing the "
        "node's (--aeron-dir: IPC), to compare",
    )
    parser.add_argument(
        "--with-web",
        action="store_true",
        help="keep the web gateway (used to add the instrument) running beside the FIX gateway",
    )
    parser.add_argument("--prewarm-rate", type=float, default=300.0, help="their rate (/s) [300]")
    parser.add_argument(
        "--smoke", action="store_true", help="5 s pre-warm, 2 s warm-up, 3 s measured, nothing written"
    )
    parser.add_argument("--embedded", action="store_true", help="rfq run: node and gateways in one process")
    parser.add_argument(
        "--idle-max-park-us",
        type=int,
        default=DEFAULT_MAX_PARK_US,
        help="every process's --idle-max-park-us (README, 'Latency and idle CPU') [%(default)s]",
    )
    args = parser.parse_args()
    if args.smoke:
        args.prewarm, args.warmup, args.seconds = 5.0, 2.0, 3.0
    settings = RunSettings(args.rate, args.warmup, args.seconds, args.prewarm, args.prewarm_rate)
    kind = Platform if args.embedded else Processes
    platform: Processes | Platform = kind(args.idle_max_park_us, not args.own_driver)
    try:
        platform.start()
        headers = {"Authorization": f"Bearer {platform.ops_token}"}
        answer = httpx.post(
            f"{platform.url}/v1/instruments",
            json={"cusip": CUSIP, "min_quantity": 1000},
            headers=headers,
            timeout=30,
        )
        assert answer.status_code == 201, answer.text
        if not args.with_web:
            platform.setup_done()
        outcome = asyncio.run(run(platform.fix_port, settings, platform.gateway_cpu_s))
    finally:
        platform.stop()
    logon_s, latencies, missing, others = outcome.logon_s, outcome.latencies, outcome.missing, outcome.others
    values = np.array(latencies)
    p50, p90, p99, p999 = (float(np.percentile(values, q)) for q in (50, 90, 99, 99.9))
    worst = float(values.max())
    summary = (
        f"fix_rate={args.rate:g} fix_measured={len(latencies)} fix_missing={missing} "
        f"fix_logon_ms={logon_s * 1000:.1f} fix_p50_ms={p50:.2f} fix_p90_ms={p90:.2f} "
        f"fix_p99_ms={p99:.2f} fix_p999_ms={p999:.2f} fix_max_ms={worst:.2f} "
        f"fix_gateway_cpu_ms={outcome.cpu_ms_per_message:.2f} fix_gateway_idle_cores={outcome.idle_cores:.2f}"
    )
    if not args.smoke:
        when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        setup = (
            "`rfq run --no-demo` (one embedded node, web and FIX gateways in one process)"
            if args.embedded
            else "`rfq node` (one member), `rfq gateway web` and `rfq gateway fix`, each a process"
            + (
                " (the web gateway running throughout)"
                if args.with_web
                else " (the web gateway stopped once it added the instrument)"
            )
            + (
                ", each gateway with a media driver of its own"
                if args.own_driver
                else ", the gateways sharing the node's media driver (`--aeron-dir`)"
            )
        ) + f", with `--idle-max-park-us {args.idle_max_park_us}`"
        row = [
            len(latencies),
            missing,
            f"{logon_s * 1000:.1f}",
            *(f"{v:.2f}" for v in (p50, p90, p99, p999, worst, outcome.cpu_ms_per_message)),
        ]
        lines = [
            "# bench-fix: QuoteRequest → QuoteStatusReport over the FIX gateway",
            "",
            f"`make bench-fix` on {host_platform.node()} ({os.cpu_count()} cores, load average "
            f"{os.getloadavg()[0]:.1f} at the end), {when}.",
            f"{setup}; an asyncio FIX client on a raw socket writes QuoteRequests (five dealers each)",
            f"after a pre-warm of {args.prewarm:g} s at {args.prewarm_rate:g}/s (every one acknowledged"
            " before going on: the JVMs' JIT compilers are busy for about a minute after start),"
            f" open-loop at {args.rate:g}/s, {args.warmup:g} s of warm-up and {args.seconds:g} s measured;",
            "latency = due time → its AI 297=0; gateway CPU = the FIX gateway's process CPU per QuoteRequest"
            " (the whole `rfq run` with `--embedded`), the run's warm-up included, less its idle CPU"
            f" ({outcome.idle_cores:.2f} cores, measured for {IDLE_S:g} s after the pre-warm)"
            " over that time.",
            "",
            "| measured | missing | logon (ms) | p50 (ms) | p90 (ms) | p99 (ms) | p99.9 (ms) | max (ms) "
            "| gateway CPU (ms/msg) |",
            "|---|---|---|---|---|---|---|---|---|",
            "| " + " | ".join(str(cell) for cell in row) + " |",
            "",
            f"Other messages received: {others or 'none'}.",
            "",
            summary,
            "",
        ]
        RESULTS.write_text("\n".join(lines))
    print(summary)


if __name__ == "__main__":
    main()
