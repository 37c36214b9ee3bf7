"""Test support: ``rfq run`` as a subprocess, as ``make run`` starts it (a node, the web gateway, the
demo), for the tests that drive the platform from outside: ``rfq run``'s own, the operator CLI's and
the README walk-through's (``tests/integration``).

:func:`start_platform` starts ``rfq run --base-dir B --web-port 0`` on free cluster ports, drains its
output on a thread, waits for "rfq: running", and reads the gateway's URL and the demo users' tokens
from the ``export`` lines it printed.
:meth:`Platform.stop` is a SIGINT to that one pid (Ctrl-C); :meth:`Platform.leftovers` lists the
/dev/shm folders named after it.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from rfq.topology import free_port_base

PROJECT = Path(__file__).resolve().parents[1]


@dataclass
class Platform:
    """A running ``rfq run``: its process, output lines, gateway URL and demo tokens."""

    process: subprocess.Popen[str]
    base_dir: Path | None
    """The ``--base-dir`` given; None: a temporary one (``rfq: log and archive in ...`` says where)."""
    lines: list[str] = field(default_factory=list)
    url: str = ""
    tokens: dict[str, str] = field(default_factory=dict)
    """Each demo user's token, from the ``export RFQ_TOKEN=... # name: ...`` lines it printed."""
    ready_after_s: float = 0.0
    """Seconds from the process start to "rfq: running" (the gateway answered /readyz before)."""

    def output(self) -> str:
        return "\n".join(self.lines)

    def env(self, token: str) -> dict[str, str]:
        """The environment of an operator CLI call or a README command as ``token``'s user."""
        path = f"{PROJECT / '.venv' / 'bin'}{os.pathsep}{Path(sys.executable).parent}{os.pathsep}"
        return {**os.environ, "RFQ_URL": self.url, "RFQ_TOKEN": token, "PATH": path + os.environ["PATH"]}

    def stop(self) -> int | None:
        """SIGINT, as Ctrl-C; the exit code (the process is killed if it does not stop in 60 s)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        return self.process.returncode

    def leftovers(self) -> list[Path]:
        """/dev/shm folders named after this process (Aeron's media driver and clients)."""
        return list(Path("/dev/shm").glob(f"*-{self.process.pid}-*"))


def start_platform(base_dir: Path | None, *options: str, wait_s: float = 120.0) -> Platform:
    """Start ``rfq run`` on ``base_dir`` (None: a temporary one) and return it once it says
    "rfq: running"."""
    started = time.monotonic()
    where = [] if base_dir is None else [f"--base-dir={base_dir}"]
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "rfq",
            "run",
            *where,
            "--web-port=0",
            "--fix-port=0",
            f"--port-base={free_port_base()}",
            *options,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=PROJECT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    platform = Platform(process, base_dir)
    running = threading.Event()

    def drain() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            platform.lines.append(line.rstrip("\n"))
            if line.startswith("rfq: running"):
                running.set()
        running.set()

    threading.Thread(target=drain, name="rfq-run-output", daemon=True).start()
    if not running.wait(wait_s) or process.poll() is not None:
        platform.stop()
        raise AssertionError(f"rfq run did not start:\n{platform.output()}")
    platform.ready_after_s = time.monotonic() - started
    for line in platform.lines:
        export = re.fullmatch(r"\s*export RFQ_(URL|TOKEN)=(\S+)(?:\s+# ([^:]+):.*)?", line)
        if export and export[1] == "URL":
            platform.url = export[2]
        elif export and export[3]:
            platform.tokens[export[3]] = export[2]
    return platform
