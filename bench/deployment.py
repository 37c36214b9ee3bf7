"""The platform as the README deploys it, for the benches: one node (``rfq node``, a one-member
cluster with a secret) and gateways (``rfq gateway web``, ``rfq gateway fix``), each a process of its
own with its own GIL, in a temporary folder. Shared by bench/gateway.py and bench/fix.py.

:meth:`Deployment.stop` ends only the processes it started, by PID (gateways first, then the node),
and removes the folder and the Aeron folders they leave in /dev/shm (the node's is
:class:`LocalCluster`'s; a gateway's own media driver is ``rfq-client-<pid>-<n>``).
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import httpx

from rfq.cluster.local import LocalCluster
from rfq.jvm import DEFAULT_MAX_PARK_US
from rfq.topology import Topology, free_port_base

RFQ = (sys.executable, "-m", "rfq")
"""The ``rfq`` CLI, by default the command line every process starts with."""


def free_tcp_port() -> int:
    """A TCP port free on 127.0.0.1 now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Deployment:
    """One node and any gateways, each a process, sharing a temporary folder ``base``.

    ``launcher``: the command line before the ``rfq`` sub-command (``node …``, ``gateway web …``); a
    bench passes a wrapper of its own (bench/gateway.py names the Python threads for /proc and traces
    the web gateway) that must end up calling the ``rfq`` CLI with the arguments after it."""

    def __init__(
        self,
        prefix: str,
        launcher: Sequence[str] = RFQ,
        idle_max_park_us: int = DEFAULT_MAX_PARK_US,
        share_driver: bool = False,
    ) -> None:
        """``idle_max_park_us``: every process's ``--idle-max-park-us``. ``share_driver``: the gateways
        use the node's media driver (``--aeron-dir``, over IPC) instead of each launching one."""
        self.idle_args = (f"--idle-max-park-us={idle_max_park_us}",)
        self.share_driver = share_driver
        self.base = Path(tempfile.mkdtemp(prefix=prefix))
        self.gateway_dir = self.base / "gateway"
        """The gateways' data dir (the directory, ``gateway.sqlite``): seed it before they start."""
        self.gateway_dir.mkdir()
        self.launcher = tuple(launcher)
        self.cluster: LocalCluster | None = None
        self.gateways: dict[str, subprocess.Popen[bytes]] = {}
        """The gateway processes by kind (``web``, ``fix``)."""

    @property
    def node_pid(self) -> int:
        assert self.cluster is not None
        return self.cluster.pid(0)

    def start_node(self, launcher: Sequence[str] | None = None) -> None:
        """Start the one-member cluster (``launcher``: this process's, instead of the deployment's);
        the gateways connect once it has elected itself (their ``/readyz`` says when: :meth:`wait_ready`)."""
        topology = Topology(hosts=("localhost",), port_base=free_port_base())
        self.cluster = LocalCluster(
            self.base / "cluster", topology, node_args=self.idle_args, launcher=launcher or self.launcher
        )
        self.cluster.start()

    def start_gateway(
        self,
        kind: str,
        *args: str,
        env: dict[str, str] | None = None,
        launcher: Sequence[str] | None = None,
    ) -> subprocess.Popen[bytes]:
        """Start ``rfq gateway <kind> <args>`` against the node, its output in ``<base>/<kind>.log``;
        ``env`` adds to its environment, ``launcher`` replaces the deployment's for this process."""
        assert self.cluster is not None, "start_node first"
        command = [
            *(launcher or self.launcher),
            "gateway",
            kind,
            *args,
            *self.idle_args,
            f"--cluster={self.cluster.topology.ingress_endpoints()}",
            f"--secret-file={self.cluster.secret_file}",
            f"--data-dir={self.gateway_dir}",
            *((f"--aeron-dir={self.cluster.aeron_dir(0)}",) if self.share_driver else ()),
        ]
        with (self.base / f"{kind}.log").open("wb") as log:
            process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, **(env or {}), "PYTHONUNBUFFERED": "1"},
                start_new_session=True,  # a Ctrl-C reaches the bench, which stops it in order
            )
        self.gateways[kind] = process
        return process

    def wait_ready(self, url: str, kind: str = "web", timeout_s: float = 180.0) -> None:
        """Wait until the web gateway at ``url`` says ``/readyz`` 200 (it has loaded the cluster's state)."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            process = self.gateways[kind]
            if process.poll() is not None:
                raise RuntimeError(
                    f"rfq gateway {kind} exited ({process.returncode}):\n{self.log_tail(kind)}"
                )
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"rfq gateway {kind} was not ready in {timeout_s:.0f} s:\n{self.log_tail(kind)}"
                )
            time.sleep(0.2)

    def log_tail(self, kind: str, chars: int = 3000) -> str:
        path = self.base / f"{kind}.log"
        return path.read_text(errors="replace")[-chars:] if path.exists() else ""

    def stop_gateways(self, *kinds: str) -> None:
        """SIGTERM the gateways of ``kinds`` (all when none is named; each stops its server and session
        in order), SIGKILL after a minute; then the Aeron folders of their media drivers, if left."""
        stopping = {kind: process for kind, process in self.gateways.items() if not kinds or kind in kinds}
        for process in stopping.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for kind, process in stopping.items():
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(30)
            for leftover in glob.glob(f"/dev/shm/rfq-client-{process.pid}-*"):
                shutil.rmtree(leftover, ignore_errors=True)
            del self.gateways[kind]

    def stop(self) -> None:
        """The gateways, then the node, then the folder."""
        self.stop_gateways()
        if self.cluster is not None:
            self.cluster.stop()
            self.cluster = None
        shutil.rmtree(self.base, ignore_errors=True)
