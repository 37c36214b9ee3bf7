"""Serving the FIX gateway: its event loop in a background thread, in the foreground of ``rfq gateway
fix`` or beside an embedded node and the web gateway in ``rfq run``.

``serve_fix(...)`` is the one call an embedding process needs; it returns a running
:class:`FixGatewayServer` whose ``stop()`` logs the sessions out and closes the core and its session.
With ``metrics_port`` it also serves the gateway core's Prometheus metrics (``GET /metrics``: commands,
refusals, round trips, routed events, FIX sessions logged on) with prometheus-client's own server.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from pathlib import Path
from wsgiref.simple_server import WSGIServer

import uvloop
from prometheus_client import start_http_server

from rfq import jvm
from rfq.gateway.cluster_client import ClientConfig
from rfq.gateway.core import TransportFactory
from rfq.gateway.fix.gateway import DEFAULT_GATEWAY_ID, DEFAULT_PORT, Engine, FixGateway, FixSettings
from rfq.gateway.transport import command_client_factory


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on now (the engine needs a number, not 0)."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


class FixGatewayServer:
    """One FIX gateway whose event loop runs in a thread of its own."""

    def __init__(
        self,
        settings: FixSettings,
        transport_factory: TransportFactory,
        engine: Engine | None = None,
        metrics_port: int | None = None,
    ) -> None:
        """``metrics_port``: serve ``GET /metrics`` on ``settings.host`` at this port (0: any free);
        None: no metrics endpoint."""
        if settings.port == 0:
            settings = FixSettings(**{**settings.__dict__, "port": free_port(settings.host)})
        self.settings = settings
        self.gateway = FixGateway(settings, transport_factory, engine)
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._started = threading.Event()
        self._error: BaseException | None = None
        self._metrics_port = metrics_port
        self._metrics: WSGIServer | None = None

    @property
    def host(self) -> str:
        return self.settings.host

    @property
    def port(self) -> int:
        return self.settings.port

    @property
    def metrics_url(self) -> str | None:
        """``http://host:port`` of the metrics endpoint once started, None without one."""
        if self._metrics is None:
            return None
        return f"http://{self.settings.host}:{self._metrics.server_port}"

    def start(self, ready_timeout_s: float = 60.0, wait_ready: bool = True) -> FixGatewayServer:
        """Run in a background thread; return once listening and (``wait_ready``) once the cluster's
        state is loaded (logons are refused before that), or raise TimeoutError / the start's error."""
        self._thread = threading.Thread(target=self._run, name="rfq-fix-gateway", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + ready_timeout_s
        while not self._started.wait(0.05):
            if self._error is not None or not self._thread.is_alive():
                raise RuntimeError(f"the FIX gateway did not start: {self._error}") from self._error
            if time.monotonic() > deadline:
                raise TimeoutError("the FIX gateway did not start in time")
        if self._error is not None:
            raise RuntimeError(f"the FIX gateway did not start: {self._error}") from self._error
        while wait_ready and not self.gateway.ready:
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError(f"the FIX gateway was not ready within {ready_timeout_s} s")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        """Log every session out, stop the core and close the directory; idempotent."""
        loop, stopping = self._loop, self._stopping
        if loop is not None and stopping is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(stopping.set)
        if self._thread is not None:
            self._thread.join(30)
            self._thread = None
        if self._metrics is not None:
            self._metrics.shutdown()
            self._metrics.server_close()
            self._metrics = None

    def _run(self) -> None:
        try:
            # uvloop, as the web gateway: two threads (the engine's drain and the cluster thread) hand
            # the loop work with call_soon_threadsafe, which wakes uvloop without asyncio's self-pipe
            # write and read, each a system call that gives up and then waits for the GIL
            with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
                runner.run(self._main())
        except BaseException as error:  # reported by start()
            self._error = error
            self._started.set()
        finally:
            if jvm.is_started():
                with contextlib.suppress(Exception):
                    jvm.jclass("java.lang.Thread").detach()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        try:
            await self.gateway.start()
            self._serve_metrics()
        except BaseException:
            await self.gateway.stop()
            raise
        self._started.set()
        try:
            await self._stopping.wait()
        finally:
            await self.gateway.stop()

    def _serve_metrics(self) -> None:
        if self._metrics_port is None or self.gateway.core is None:
            return
        registry = self.gateway.core.metrics.registry
        self._metrics, _ = start_http_server(self._metrics_port, self.settings.host, registry)

    def __enter__(self) -> FixGatewayServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve_fix(
    client_config: ClientConfig,
    data_dir: Path,
    *,
    gateway_id: int = DEFAULT_GATEWAY_ID,
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    comp_id: str = "RFQGW",
    wait_ready: bool = True,
    metrics_port: int | None = None,
    tune_collector: bool = False,
) -> FixGatewayServer:
    """Start the FIX gateway in a background thread against the cluster ``client_config`` reaches, and
    return it listening; call ``stop()`` when done (before closing an embedded node). ``metrics_port``:
    see :class:`FixGatewayServer`; ``tune_collector``: see :class:`FixSettings` (only for a gateway
    alone in its process)."""
    settings = FixSettings(
        data_dir=data_dir,
        gateway_id=gateway_id,
        host=host,
        port=port,
        comp_id=comp_id,
        tune_collector=tune_collector,
    )
    server = FixGatewayServer(settings, command_client_factory(client_config), metrics_port=metrics_port)
    return server.start(wait_ready=wait_ready)
