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


def test_rfq_run_loads_demo_data_and_stops_cleanly_on_sigint() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "rfq", "run", f"--port-base={free_port_base()}"],
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

    output = "\n".join(lines)
    assert process.returncode == 0, output
    assert output.count("rfq: demo: instrument ") == 6
    assert "RfqAccepted" in output
    assert "countered 101.40 over 101.25" in output
    assert lines[-1] == "rfq: stopped"
    leftovers = [p for p in Path("/dev/shm").glob(f"rfq-*-{process.pid}-*")]
    assert not leftovers, leftovers
    base_dir = next(line.split(" in ", 1)[1] for line in lines if line.startswith("rfq: log and archive in"))
    assert not Path(base_dir).exists(), "the temporary base folder outlived the run"
