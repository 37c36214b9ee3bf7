"""The ``rfq`` command line: run the platform, and (later) operate it.

Every command is a thin shell over the library: it parses options, builds a config object and hands
over, so that what the CLI does is what the tests exercise.
"""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from types import FrameType

import click

from rfq import __version__
from rfq.topology import DEFAULT_PORT_BASE, Topology


def wait_for_stop_signal() -> None:
    """Block the main thread until SIGINT or SIGTERM (Python, not the JVM, owns these signals)."""
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        while not stop.wait(0.5):
            pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="rfq")
def main() -> None:
    """RFQ cluster: request-for-quote negotiation on a replicated Aeron Cluster state machine."""


@main.command()
@click.option(
    "--base-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Keep the cluster log, archive and snapshots here (default: a temporary folder, deleted on exit).",
)
@click.option(
    "--port-base",
    type=int,
    default=DEFAULT_PORT_BASE,
    show_default=True,
    help="First port of the node's range.",
)
def run(base_dir: Path | None, port_base: int) -> None:
    """Start the embedded single-node cluster in this process; Ctrl-C stops it cleanly.

    For now the node hosts the echo service: every message a client sends comes back unchanged.
    """
    from rfq.cluster.echo import EchoService
    from rfq.cluster.node import EmbeddedNode, NodeConfig

    config = NodeConfig(topology=Topology(port_base=port_base), base_dir=base_dir)
    with EmbeddedNode(config, EchoService()) as node:
        click.echo(f"rfq: single-node cluster up (echo service); ingress {node.ingress_endpoints}")
        click.echo(f"rfq: log and archive in {node.base_dir}; Ctrl-C to stop")
        wait_for_stop_signal()
        click.echo("rfq: stopping")
    click.echo("rfq: stopped")
