"""`rfq run` (what `make run` starts): the platform comes up with demo data and stops cleanly on Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rfq.topology import free_port_base

pytestmark = pytest.mark.integration


def run_until_running_then_sigint(*options: str) -> tuple[list[str], int, int | None]:
    """Start `rfq run`, wait for "rfq: running", send SIGINT; return its lines, pid and exit code."""
    process = subprocess.Popen(
        [sys.executable, "-m", "rfq", "run", f"--port-base={free_port_base()}", *options],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert process.stdout is not None
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            lines.append(line.rstrip())
            if line.startswith("rfq: running"):
                break
        assert lines and lines[-1].startswith("rfq: running"), "\n".join(lines)
        process.send_signal(signal.SIGINT)
        rest, _ = process.communicate(timeout=60)
        lines.extend(rest.splitlines())
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return lines, process.pid, process.returncode


def demo_lines(lines: list[str]) -> list[str]:
    return [line.removeprefix("rfq: demo: ") for line in lines if line.startswith("rfq: demo: ")]


def test_rfq_run_loads_demo_data_and_stops_cleanly_on_sigint() -> None:
    lines, pid, returncode = run_until_running_then_sigint()

    output = "\n".join(lines)
    assert returncode == 0, output
    demo = demo_lines(lines)
    assert sum(line.startswith("instrument ") for line in demo) == 6, output
    # the traded RFQ: three dealers asked, two quote (one twice), one passes, a counter, then the hit
    assert "rfq 1: client 101 asks dealers 201, 202, 203 for a price to buy 5,000,000 912828YK0" in output
    assert "rfq 1: dealer 201 quotes 99.53125 (quote 1)" in demo
    assert "rfq 1: dealer 202 quotes 99.515625 (quote 2)" in demo
    assert "rfq 1: dealer 201 quotes 99.50 again, replacing quote 1 (quote 3)" in demo
    assert "rfq 1: dealer 203 passes" in demo
    assert "rfq 1: client 101 counters dealer 201: countered 99.484375 over 99.50 (counter 4)" in demo
    assert (
        "rfq 1: client 101 hits dealer 201's 99.50: trade 1, user 101 buys 5,000,000 912828YK0 "
        "from user 201 at 99.50 (cover 99.515625)"
    ) in demo
    # the live one and the open one
    assert "rfq 2: client 102 counters dealer 202: countered 101.40 over 101.25" in output
    assert any(line.startswith("rfq 3: client 101 asks dealers 201, 202, 203") for line in demo), output
    assert not any("demo stopped" in line or "refused" in line for line in demo), output
    assert lines[-1] == "rfq: stopped"
    leftovers = [p for p in Path("/dev/shm").glob(f"rfq-*-{pid}-*")]
    assert not leftovers, leftovers
    base_dir = next(line.split(" in ", 1)[1] for line in lines if line.startswith("rfq: log and archive in"))
    assert not Path(base_dir).exists(), "the temporary base folder outlived the run"


def test_a_second_run_on_the_same_base_dir_skips_the_demo_and_claims_nothing(tmp_path: Path) -> None:
    base_dir = tmp_path / "node"
    first, _, first_code = run_until_running_then_sigint(f"--base-dir={base_dir}")
    assert first_code == 0, "\n".join(first)
    assert any("trade 1" in line for line in demo_lines(first)), "\n".join(first)

    second, _, second_code = run_until_running_then_sigint(f"--base-dir={base_dir}")
    output = "\n".join(second)
    assert second_code == 0, output
    demo = demo_lines(second)
    assert demo[-1] == "demo RFQs skipped: the instruments were already loaded", output
    assert sum(line.startswith("instrument ") for line in demo) == 6, output
    assert not any(line.startswith("rfq ") for line in demo), output
    assert base_dir.is_dir(), "a given base folder is kept"
