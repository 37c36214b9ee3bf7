"""Serving the web gateway: uvicorn in the foreground (``rfq gateway web``) or in a background thread
beside an embedded node (``rfq run``), against a cluster reached through a :class:`CommandClient`.

``serve_web(...)`` is the one call an embedding process needs; it returns a running
:class:`WebGatewayServer` whose ``stop()`` ends the streams, the server, the core and its session.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
import urllib.request
from pathlib import Path

import uvicorn
from fastapi import FastAPI

from rfq.gateway.cluster_client import ClientConfig
from rfq.gateway.core import TransportFactory
from rfq.gateway.transport import command_client_factory, embedded_client_config
from rfq.gateway.web.app import Gateway, WebSettings, create_app

DEFAULT_PORT = 8080
DEFAULT_GATEWAY_ID = 2
"""Gateway ids must be unique among a cluster's gateways; 1 is reserved (the demo's own session once
had it: ``rfq.demo`` now loads through the web gateway)."""
__all__ = ["WebGatewayServer", "command_client_factory", "embedded_client_config", "serve_web"]


class WebGatewayServer:
    """One web gateway served by uvicorn on ``host:port`` (port 0: any free port)."""

    def __init__(
        self,
        settings: WebSettings,
        transport_factory: TransportFactory,
        host: str = "127.0.0.1",
        port: int = DEFAULT_PORT,
        log_level: str = "warning",
    ) -> None:
        self.settings = settings
        self.app: FastAPI = create_app(settings, transport_factory)
        # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY on accepted connections only for sockets that
        # say TCP, and without it a keep-alive response written in two parts waits ~40 ms (Nagle
        # against the client's delayed ACK)
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._socket = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind((host, port))
        self.host = host
        self.port = int(self._socket.getsockname()[1])
        # uvloop and httptools, not asyncio's loop and h11: the event loop is the gateway's bottleneck
        # (it shares one GIL with the cluster thread, and embedded with the node), and they take ~30% of
        # its CPU off every request (bench-gateway: ~0.9 → ~0.6 ms for GET /v1/me, ~3.7 → ~2.7 ms for a
        # create). uvloop sets TCP_NODELAY on every accepted TCP socket too.
        self._server = uvicorn.Server(
            uvicorn.Config(
                self.app,
                loop="uvloop",
                http="httptools",
                log_level=log_level,
                lifespan="on",
                timeout_graceful_shutdown=5,
                access_log=False,
            )
        )
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def run(self) -> None:
        """Serve in this thread until stop() (or, in the main thread, uvicorn's SIGINT/SIGTERM
        handling; prefer :meth:`start` and :meth:`stop`, which end the event streams first)."""
        self._server.run(sockets=[self._socket])

    def start(self, ready_timeout_s: float = 60.0, wait_ready: bool = True) -> WebGatewayServer:
        """Serve in a background thread; return once ``/readyz`` says ready (``wait_ready``: the
        cluster answered) or ``/healthz`` answers (serving; the cluster may come later), or raise
        TimeoutError."""
        self._thread = threading.Thread(target=self.run, name="rfq-web-gateway", daemon=True)
        self._thread.start()
        probe = f"{self.url}/readyz" if wait_ready else f"{self.url}/healthz"
        deadline = time.monotonic() + ready_timeout_s
        while time.monotonic() < deadline:
            if self._thread is not None and not self._thread.is_alive():
                raise RuntimeError("the web gateway stopped while starting (see its log)")
            try:
                with urllib.request.urlopen(probe, timeout=2) as answer:
                    if answer.status == 200:
                        return self
            except OSError:
                pass
            time.sleep(0.1)
        raise TimeoutError(f"the web gateway was not ready within {ready_timeout_s} s")

    def stop(self) -> None:
        """End the event streams, then the server (its lifespan stops the core and its session)."""
        gateway: Gateway | None = getattr(self.app.state, "gateway", None)
        if gateway is not None and not gateway.loop.is_closed():
            with contextlib.suppress(RuntimeError):
                gateway.loop.call_soon_threadsafe(gateway.closing.set)
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(30)
            self._thread = None
        self._socket.close()

    def __enter__(self) -> WebGatewayServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve_web(
    client_config: ClientConfig,
    data_dir: Path,
    *,
    gateway_id: int = DEFAULT_GATEWAY_ID,
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    wait_ready: bool = True,
    outcome_timeout_s: float = 5.0,
    tune_collector: bool = False,
) -> WebGatewayServer:
    """Start the web gateway in a background thread against the cluster ``client_config`` reaches,
    and return it serving; call ``stop()`` when done (before closing an embedded node).

    An embedding process (``rfq run``) passes ``embedded_client_config(node.aeron_directory_name)``
    and ``wait_ready=True``: it returns once the gateway has loaded the cluster's state. A standalone
    gateway (``rfq gateway web``) passes ``wait_ready=False``: it serves at once (``/readyz`` says 503
    until the cluster answers), and ``tune_collector=True``: being its process's only server, it runs
    the garbage-collector policy of :mod:`rfq.collector` (why, and the figures, there)."""
    settings = WebSettings(
        data_dir=data_dir,
        gateway_id=gateway_id,
        outcome_timeout_s=outcome_timeout_s,
        tune_collector=tune_collector,
    )
    server = WebGatewayServer(settings, command_client_factory(client_config), host, port)
    return server.start(wait_ready=wait_ready)
