"""A multi-node cluster on this machine: one ``rfq node`` process per member, on loopback.

Used by ``rfq cluster`` (``make cluster``), the system tests and ``make bench-cluster``. Each member
keeps its state in ``<base_dir>/node-<id>`` (log, archive, snapshots, snapshot digests) and writes its
output to ``<base_dir>/node-<id>.log``, so a killed member restarts from where it was; each serves its
status on the topology's status port (:meth:`LocalCluster.status_url`). Processes are
ended by PID, only the ones this object started.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO

from rfq.credentials import create_secret_file
from rfq.gateway.cluster_client import ClientConfig
from rfq.topology import STATUS_OFFSET, Topology

DIGEST_FILE = "snapshot-digests.txt"


class LocalCluster:
    """``members`` node processes sharing a topology, a base folder and a secret."""

    def __init__(
        self,
        base_dir: Path,
        topology: Topology,
        service: str = "rfq",
        node_args: Sequence[str] = (),
        launcher: Sequence[str] = (sys.executable, "-m", "rfq"),
    ) -> None:
        """``node_args``: more ``rfq node`` options for every member (e.g. failover timeouts).
        ``launcher``: the command line before ``node …`` (a bench runs the node through a wrapper of
        its own that names the Python threads for /proc; it must end up calling the ``rfq`` CLI)."""
        self.base_dir = base_dir
        self.topology = topology
        self.service = service
        self.node_args = tuple(node_args)
        self.launcher = tuple(launcher)
        self.secret_file = base_dir / "secret"
        self.secret = create_secret_file(self.secret_file)
        self._processes: dict[int, subprocess.Popen[bytes]] = {}
        self._logs: dict[int, IO[bytes]] = {}

    @property
    def members(self) -> range:
        return range(self.topology.size)

    def node_dir(self, member_id: int) -> Path:
        """Where member ``member_id`` keeps its state."""
        return self.base_dir / f"node-{member_id}"

    def aeron_dir(self, member_id: int) -> Path:
        """The member's media driver folder: fixed, so a crashed member's folder is reused, then removed."""
        tag = hashlib.sha256(str(self.base_dir.resolve()).encode()).hexdigest()[:10]
        parent = Path("/dev/shm") if Path("/dev/shm").is_dir() else self.base_dir
        return parent / f"rfq-local-{tag}-node-{member_id}"

    def cluster_dir(self, member_id: int) -> Path:
        """The member's Aeron cluster folder (what ClusterTool takes)."""
        return self.node_dir(member_id) / "cluster"

    def client_config(
        self, credentials: bytes | None = None, message_timeout_ms: int = 5_000
    ) -> ClientConfig:
        """A client of this cluster with its own media driver, presenting the cluster secret by default."""
        return ClientConfig(
            ingress_endpoints=self.topology.ingress_endpoints(),
            credentials=self.secret if credentials is None else credentials,
            message_timeout_ms=message_timeout_ms,
        )

    def start(self, member_id: int | None = None) -> None:
        """Start one member, or every member not running."""
        for member in self.members if member_id is None else (member_id,):
            if self.is_running(member):
                continue
            log = open(self.base_dir / f"node-{member}.log", "ab")  # noqa: SIM115 - closed in _reap
            self._logs[member] = log
            hosts = ",".join(self.topology.hosts)
            self._processes[member] = subprocess.Popen(
                [
                    *self.launcher, "node",
                    f"--id={member}", f"--hosts={hosts}", f"--port-base={self.topology.port_base}",
                    f"--base-dir={self.node_dir(member)}", f"--secret-file={self.secret_file}",
                    f"--aeron-dir={self.aeron_dir(member)}", f"--service={self.service}",
                    *self.node_args,
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )  # fmt: skip

    def status_url(self, member_id: int) -> str:
        """The base URL of the member's status endpoint (``/status``, ``/metrics``, ``POST /snapshot``)."""
        return f"http://{self.topology.endpoint(member_id, STATUS_OFFSET)}"

    def is_running(self, member_id: int) -> bool:
        process = self._processes.get(member_id)
        return process is not None and process.poll() is None

    def pid(self, member_id: int) -> int:
        return self._processes[member_id].pid

    def kill(self, member_id: int) -> None:
        """SIGKILL one member: no shutdown, no snapshot (a crash)."""
        process = self._processes[member_id]
        process.send_signal(signal.SIGKILL)
        process.wait()
        self._reap(member_id)

    def stop(self, member_id: int | None = None, timeout_s: float = 30.0) -> None:
        """SIGTERM one member, or all, and wait for a clean exit (SIGKILL after ``timeout_s``)."""
        members = [m for m in (self.members if member_id is None else (member_id,)) if m in self._processes]
        for member in members:
            if self._processes[member].poll() is None:
                self._processes[member].send_signal(signal.SIGTERM)
        for member in members:
            try:
                self._processes[member].wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self._processes[member].kill()
                self._processes[member].wait()
            self._reap(member)

    def take_snapshot(self, member_id: int) -> bool:
        """Ask the cluster, through member ``member_id`` (the leader), to snapshot every replica now."""
        return bool(self._cluster_tool("snapshot", member_id))

    def invalidate_latest_snapshot(self, member_id: int) -> bool:
        """Mark the member's latest snapshot invalid (member stopped): it restores an older one + log."""
        return bool(self._cluster_tool("invalidateLatestSnapshot", member_id))

    def _cluster_tool(self, action: str, member_id: int) -> object:
        from rfq import jvm

        jvm.start()
        tool = jvm.jclass("io.aeron.cluster.ClusterTool")
        cluster_dir = jvm.jclass("java.io.File")(str(self.cluster_dir(member_id)))
        out = jvm.jclass("java.lang.System").out
        if action == "snapshot":
            return tool.snapshot(cluster_dir, out)
        return tool.invalidateLatestSnapshot(out, cluster_dir)

    def digests(self, member_id: int) -> dict[int, str]:
        """The member's snapshot digests by log position (written by RfqService on each snapshot)."""
        path = self.node_dir(member_id) / DIGEST_FILE
        if not path.exists():
            return {}
        pairs = (line.split() for line in path.read_text().splitlines() if line.strip())
        return {int(position): digest for position, digest in pairs}

    def wait_for_digests(self, count: int, timeout_s: float) -> list[dict[int, str]]:
        """Wait until every member has at least ``count`` snapshot digests; return them all."""
        deadline = time.monotonic() + timeout_s
        while True:
            digests = [self.digests(member) for member in self.members]
            if all(len(d) >= count for d in digests) or time.monotonic() > deadline:
                return digests
            time.sleep(0.1)

    def log_tail(self, member_id: int, lines: int = 20) -> str:
        path = self.base_dir / f"node-{member_id}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def _reap(self, member_id: int) -> None:
        self._processes.pop(member_id, None)
        shutil.rmtree(self.aeron_dir(member_id), ignore_errors=True)
        log = self._logs.pop(member_id, None)
        if log is not None:
            log.close()

    def __enter__(self) -> LocalCluster:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
