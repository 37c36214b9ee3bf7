"""`make bench-codec`: SBE round trips in JMH-like sample mode, our Python codecs beside sbe-tool's Java.

A round trip is what a service does with a frame: ``msg.encode(buf, 0)`` then ``decode(buf, 0, n)``
(header read, schema and template checked, every field decoded and validated, a value object built).
Sample mode: many samples, each the mean of a short timed batch of round trips, so the percentiles
describe the spread over time (GC, JIT, the neighbours on a shared machine) without timing each
call with a clock that costs as much as the call. Java runs sbe-tool's generated flyweights in the
same process (JPype; the harness is bench/codec-jvm/rfq/bench/CodecBench.java). Allocation per op:
Python's tracemalloc over a run that keeps every decoded message (what a round trip leaves
allocated: transient tuples are freed at once), Java's per-thread allocated-bytes counter.
Both messages carry a dealers group of five dealers (``DEALERS``, as CodecBench.DEALERS): a typical
multi-dealer RFQ. Before timing, Java's frame of each message is checked to equal Python's, byte for
byte, so both sides time the same message.
The batch path (rfq.codecs.batch) takes fixed-size messages only (no groups), so it is timed with
SubmitQuote, the dealers' hot command, as encode_into + decode of a large array, per message.

Writes bench/results/codec.md; its last line is the summary the issue asks for.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import statistics
import sys
import time
import tracemalloc
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rfq import jvm
from rfq.codecs import rfq_sbe
from rfq.codecs.batch import BatchCodec

RESULTS = Path(__file__).resolve().parent / "results" / "codec.md"

DEALERS = 5  # CodecBench.DEALERS: user ids 21 to 25
CREATE_RFQ = rfq_sbe.CreateRfq(
    correlation_id=1,
    user_id=7,
    instrument_id=3,
    side=rfq_sbe.Side.BUY,
    quantity=1_000_000,
    expire_time_ms=1_700_000_000_000,
    cl_ord_id="ORD-1",
    dealers=[rfq_sbe.CreateRfqDealers(dealer_user_id=21 + k) for k in range(DEALERS)],
)
RFQ_CREATED = rfq_sbe.RfqCreated(
    correlation_id=1,
    rfq_id=42,
    requester_user_id=7,
    instrument_id=3,
    side=rfq_sbe.Side.SELL,
    quantity=1_000_000,
    expire_time_ms=1_700_000_000_000,
    timestamp_ms=1_699_999_999_000,
    cl_ord_id="ORD-1",
    dealers=[rfq_sbe.RfqCreatedDealers(dealer_user_id=21 + k) for k in range(DEALERS)],
)


@dataclass(frozen=True)
class Stats:
    """Per-op nanoseconds over the samples, and bytes allocated per op."""

    name: str
    samples: int
    ops_per_sample: int
    p50: float
    p90: float
    p99: float
    p999: float
    mean: float
    alloc: float

    def row(self) -> str:
        return (
            f"| {self.name} | {self.p50:,.0f} | {self.p90:,.0f} | {self.p99:,.0f} | {self.p999:,.0f} | "
            f"{self.mean:,.0f} | {self.alloc:,.1f} | {self.samples:,} x {self.ops_per_sample} |"
        )


def stats(name: str, per_op_ns: list[float], ops_per_sample: int, alloc: float) -> Stats:
    p50, p90, p99, p999 = (float(v) for v in np.percentile(np.array(per_op_ns), [50, 90, 99, 99.9]))
    return Stats(
        name, len(per_op_ns), ops_per_sample, p50, p90, p99, p999, statistics.fmean(per_op_ns), alloc
    )


# ------------------------------------------------------------------------------------------- Python
def python_samples(msg: Any, samples: int, ops: int) -> list[float]:
    """Per-op ns of ``samples`` timed batches of ``ops`` round trips (after a warm-up)."""
    buf = bytearray(256)
    encode = msg.encode
    decode = rfq_sbe.decode
    clock = time.perf_counter_ns
    batch = range(ops)
    for _ in range(20_000):
        decode(buf, 0, encode(buf, 0))
    out = []
    for _ in range(samples):
        start = clock()
        for _ in batch:
            n = encode(buf, 0)
            decode(buf, 0, n)
        out.append((clock() - start) / ops)
    return out


def python_alloc(msg: Any, ops: int = 20_000) -> float:
    """Bytes a round trip leaves allocated: tracemalloc over ``ops`` round trips whose results are kept."""
    buf = bytearray(256)
    kept: list[Any] = [None] * ops
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for i in range(ops):
        kept[i] = rfq_sbe.decode(buf, 0, msg.encode(buf, 0))
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return (after - before) / ops


def batch_samples(samples: int, count: int) -> list[float]:
    """Per-message ns of encode_into + decode (validated, zero-copy) of ``count`` SubmitQuote records.

    The batch path is for fixed-size messages: CreateRfq has a dealers group, SubmitQuote has none.
    """
    codec = BatchCodec(rfq_sbe.SubmitQuote)
    records = codec.empty(count)
    records["correlation_id"] = np.arange(1, count + 1)
    records["user_id"] = 21
    records["rfq_id"] = 42
    records["price"] = 10_050_000_000
    records["valid_until_ms"] = 1_700_000_000_000
    buf = bytearray(records.nbytes)
    out = []
    for i in range(samples + 3):
        start = time.perf_counter_ns()
        codec.encode_into(records, buf)
        decoded = codec.decode(buf)
        elapsed = time.perf_counter_ns() - start
        assert len(decoded) == count
        if i >= 3:
            out.append(elapsed / count)
    return out


# ------------------------------------------------------------------------------------------- Java
def java_bench() -> Any:
    jvm.start(extra_classpath=[jvm.SBE_CLASSES_DIR])
    bench = jvm.jclass("rfq.bench.CodecBench")()
    if int(bench.DEALERS) != DEALERS:
        raise RuntimeError(f"CodecBench.DEALERS is {bench.DEALERS}, bench/codec.py's {DEALERS}")
    timed: tuple[rfq_sbe.CreateRfq | rfq_sbe.RfqCreated, ...] = (CREATE_RFQ, RFQ_CREATED)
    for message, msg in enumerate(timed):  # CodecBench.CREATE_RFQ, RFQ_CREATED
        frame = bytes(bench.frame(message, msg.correlation_id))
        if frame != rfq_sbe.encode(msg):
            raise RuntimeError(f"Java and Python would time different {type(msg).__name__} frames")
    return bench


def java_stats(bench: Any, name: str, message: int, samples: int, ops: int) -> Stats:
    elapsed = bench.sample(message, samples, ops, 2_000_000)
    per_op = [int(e) / ops for e in elapsed]
    return stats(name, per_op, ops, float(bench.allocatedBytesPerOp(message, 1_000_000)))


# ------------------------------------------------------------------------------------------- report
def environment() -> list[str]:
    java = jvm.jclass("java.lang.System").getProperty("java.vm.version")
    load = os.getloadavg()
    return [
        f"- CPython {platform.python_version()} ({sys.executable}), numpy {np.__version__}",
        f"- JVM {java}, sbe-tool 1.38.1 generated Java codecs",
        f"- {os.cpu_count()} CPUs, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at the end"
        " (the machine is shared: compare Python and Java of the same run, not runs of different days)",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--samples", type=int, default=20_000, help="Python samples per message")
    parser.add_argument("--ops", type=int, default=10, help="Python round trips per sample")
    parser.add_argument("--java-samples", type=int, default=20_000, help="Java samples per message")
    parser.add_argument("--java-ops", type=int, default=100, help="Java round trips per sample")
    parser.add_argument("--batch", type=int, default=65_536, help="messages per batch-path sample")
    parser.add_argument("--batch-samples", type=int, default=40)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    bench = java_bench()
    java = [
        java_stats(
            bench, f"Java sbe-tool CreateRfq ({DEALERS} dealers)", 0, args.java_samples, args.java_ops
        ),
        java_stats(
            bench, f"Java sbe-tool RfqCreated ({DEALERS} dealers)", 1, args.java_samples, args.java_ops
        ),
    ]
    python: list[Stats] = []
    for name, msg in (
        (f"Python CreateRfq ({DEALERS} dealers)", CREATE_RFQ),
        (f"Python RfqCreated ({DEALERS} dealers)", RFQ_CREATED),
    ):
        per_op = python_samples(msg, args.samples, args.ops)
        python.append(stats(name, per_op, args.ops, python_alloc(msg)))
    batch = batch_samples(args.batch_samples, args.batch)
    batch_p50 = float(np.percentile(batch, 50))

    py, jv = python[0], java[0]
    ratio = py.p50 / jv.p50
    lines = [
        "# Codec round trip: encode + decode (JMH-like sample mode)",
        "",
        "`make bench-codec` (bench/codec.py). Python: `msg.encode(buf, 0)` then `rfq_sbe.decode(buf, 0, n)`,",
        "strict (every field range-checked, enums and strings validated, value object built). Java:",
        "sbe-tool's flyweights, encode then header check and decode of every field (no validation beyond",
        f"bounds). Both messages with a dealers group of {DEALERS} entries, every entry encoded and decoded.",
        "",
        *environment(),
        "",
        "| round trip | p50 ns | p90 ns | p99 ns | p99.9 ns | mean ns | alloc B/op | samples x ops |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
        *(s.row() for s in (*python, *java)),
        "",
        f"Python / Java at p50: CreateRfq {python[0].p50 / java[0].p50:.1f}x, "
        f"RfqCreated {python[1].p50 / java[1].p50:.1f}x.",
        "",
        f"Batch path (`rfq.codecs.batch.BatchCodec`, fixed-size messages only: SubmitQuote, {args.batch:,}"
        " messages a batch,",
        f"encode_into + validated zero-copy decode): p50 {batch_p50:.1f} ns per message, "
        f"p90 {float(np.percentile(batch, 90)):.1f} ns over {len(batch)} batches.",
        "",
        "Allocation: Python bytes left allocated per round trip (tracemalloc, results kept alive: the value",
        "object and its strings); Java bytes allocated per round trip by the thread (ThreadMXBean).",
        "",
        f"bench-codec: python_p50_ns={py.p50:.0f} python_p99_ns={py.p99:.0f} java_p50_ns={jv.p50:.1f} "
        f"ratio={ratio:.1f} batch_ns_per_msg={batch_p50:.1f}",
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
